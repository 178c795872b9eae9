"""Writing the recorded rules: the whole file each time, to a temporary file renamed over the old one,
so a recording interrupted at any moment (even by SIGKILL) leaves the last complete file."""

from __future__ import annotations

import os
from pathlib import Path


def write_atomically(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
