"""Record real traffic as fakellm rules: a proxy that forwards requests to an upstream API and
passes its answers back unchanged (proxy.py), what each exchange said (assembly/), the rules they
become (rules.py), written safely (output.py) and free of secrets (scrub.py). `fakellm serve
--upstream` uses the same proxy for the requests its rules do not answer (hybrid.py)."""
