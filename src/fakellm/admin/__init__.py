"""The admin API under /_fakellm, the dashboard and the Prometheus metrics."""
