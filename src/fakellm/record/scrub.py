"""Keeping secrets out of recorded rules: API keys, bearer tokens and e-mail addresses are replaced
wherever they appear in the text a rule would carry."""

from __future__ import annotations

import re
from typing import Any, Iterable

REDACTED = "[redacted]"

# Key-like strings: OpenAI (sk-..., sk-proj-...) and Anthropic (sk-ant-...) keys, Google API keys
# (AIza...), bearer tokens, e-mail addresses.
_SECRETS = re.compile(
    r"sk-(?:ant-)?[A-Za-z0-9_\-]{8,}"
    r"|AIza[0-9A-Za-z_\-]{20,}"
    r"|(?i:bearer)\s+[A-Za-z0-9._~+/=\-]{8,}"
    r"|[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)+"
)


class Scrubber:
    """Replaces key-like strings, e-mail addresses and the exact credentials clients sent (`learn`)."""

    def __init__(self) -> None:
        self._known: set[str] = set()

    def learn(self, secrets: Iterable[str]) -> None:
        """Credentials a client sent (header values, a `key` query parameter): never written, in any form."""
        for secret in secrets:
            secret = secret.strip()
            if secret.lower().startswith("bearer "):
                secret = secret[7:].strip()
            if len(secret) >= 6:
                self._known.add(secret)

    def text(self, value: str) -> str:
        for secret in self._known:
            if secret in value:
                value = value.replace(secret, REDACTED)
        return _SECRETS.sub(REDACTED, value)

    def data(self, value: Any) -> Any:
        """`value` with every string in it (keys of mappings too) scrubbed."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {self.text(k) if isinstance(k, str) else k: self.data(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.data(v) for v in value]
        return value
