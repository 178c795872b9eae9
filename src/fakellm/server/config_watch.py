"""`fakellm serve --reload`: watch the config file and serve it again when its content changes.

The path is followed as given, every time. A Kubernetes ConfigMap is mounted as
`config.yaml -> ..data/config.yaml`, `..data -> ..2026_12_01_x`, and updated by pointing `..data`
at a new directory: so the directory the path is in is watched (and the one it resolves to
now, for a link to a file elsewhere), and the file is read through the path each time, also
every few seconds without an event. A change counts when the content differs from the
content last acted on.

An editor saving a file may truncate it and write it a moment later. So a change is acted on
once two reads a moment apart agree, and content that does not load gets a short grace to
change before it is reported, once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from pathlib import Path
from typing import Awaitable, Callable

from ..config.schema import ConfigError

log = logging.getLogger("fakellm")

SETTLE_S = 0.1  # two reads this far apart must agree...
SETTLE_MAX_S = 2.0  # ...within this long; a file that keeps changing is taken as it is then
GRACE_S = 1.0  # content that does not load may be a save in progress: wait this long for it to change
LOOK_ANYWAY_S = 3.0  # with no change announced for this long, read the file anyway

Apply = Callable[[bytes | None], Awaitable[object]]  # serve this content (None: the file is not there)
Report = Callable[[ConfigError], None]  # the content does not load, and stays so


def read(path: Path) -> bytes | None:
    """The file's content through the path as given; None when it cannot be read (why is said
    when loading it)."""
    try:
        return path.read_bytes()
    except OSError:
        return None


async def settled(path: Path) -> bytes | None:
    """The content once two reads SETTLE_S apart agree, or as it is after SETTLE_MAX_S."""
    content = read(path)
    deadline = time.monotonic() + SETTLE_MAX_S
    while time.monotonic() < deadline:
        await asyncio.sleep(SETTLE_S)
        again = read(path)
        if again == content:
            break
        content = again
    return content


async def changes_within(path: Path, content: bytes | None, seconds: float) -> bool:
    """Whether the content changes from `content` within `seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        await asyncio.sleep(SETTLE_S)
        if read(path) != content:
            return True
    return False


async def follow(path: Path, last: bytes | None, apply: Apply, report: Report) -> bytes | None:
    """Act on the file's content if it is not `last`; returns the content acted on now."""
    content = await settled(path)
    while content != last:
        try:
            await apply(content)
            return content
        except ConfigError as e:
            if await changes_within(path, content, GRACE_S):
                content = await settled(path)
                continue
            report(e)
            return content
    return last


def watched_dirs(path: Path) -> tuple[Path, ...]:
    """The directory the path is in, and the one it resolves to now (when a link leads elsewhere)."""
    dirs = (path.absolute().parent, path.resolve().parent)
    return tuple(d for d in dict.fromkeys(dirs) if d.is_dir())


async def watch(path: Path, apply: Apply, report: Report, served: bytes | None) -> None:
    """Run until cancelled; `served` is the content being served (None: read it now). Nothing that
    goes wrong stops it: it is logged, and watching goes on."""
    from watchfiles import awatch

    last = served if served is not None else read(path)
    while True:
        dirs = watched_dirs(path)
        try:
            if not dirs:  # the directory is gone for now
                await asyncio.sleep(1)
                last = await follow(path, last, apply, report)
                continue
            # Not recursive: the directory of a config is often a project with many files below it.
            # Every few seconds without a change it looks anyway, for changes no event announced
            # (made while the watch was being set up, or on a file system that sends none).
            changes = awatch(*dirs, recursive=False, watch_filter=None, debounce=100, step=50,
                             rust_timeout=int(LOOK_ANYWAY_S * 1000), yield_on_timeout=True)
            async with contextlib.aclosing(changes):
                async for _ in changes:
                    last = await follow(path, last, apply, report)
                    if watched_dirs(path) != dirs:
                        break  # the link leads elsewhere now: watch there
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("fakellm: watching %s failed; watching it again", path)
            await asyncio.sleep(1)
