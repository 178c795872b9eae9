"""fakellm: a mock LLM API server for tests, driven by YAML rules."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.4.0"

__all__ = ["FakeLLM", "__version__"]

if TYPE_CHECKING:
    from .testing.fakellm import FakeLLM


def __getattr__(name: str) -> Any:
    # `FakeLLM` pulls in uvicorn and the server; importing `fakellm` alone stays cheap.
    if name == "FakeLLM":
        from .testing.fakellm import FakeLLM

        return FakeLLM
    raise AttributeError(f"module 'fakellm' has no attribute {name!r}")
