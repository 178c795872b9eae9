"""For tests: `FakeLLM` (a server in a thread) and the pytest plugin.

`FakeLLM` is imported on first use, so loading the pytest plugin stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .fakellm import FakeLLM

__all__ = ["FakeLLM"]


def __getattr__(name: str) -> Any:
    if name == "FakeLLM":
        from .fakellm import FakeLLM

        return FakeLLM
    raise AttributeError(f"module 'fakellm.testing' has no attribute {name!r}")
