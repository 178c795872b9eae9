"""fakellm: a mock LLM API server for tests, driven by YAML rules."""

from __future__ import annotations

__version__ = "0.4.0"

__all__ = ["__version__"]
