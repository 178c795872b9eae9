"""Write tests/constraints.txt: the exact version of every package `pip install -e '.[test,docs]'` brings in.

Run it after installing the test dependencies (or upgrading one on purpose); `scripts/test`
installs with these constraints, so a new release of a framework or SDK cannot change CI
until someone re-runs this and commits the result.

Usage (from the repository root): python3 scripts/freeze_test_constraints.py
"""

from __future__ import annotations

import re
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parent.parent


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def closure(root: str, extras: set[str]) -> dict[str, str]:
    """Installed name -> version for `root[extras]` and everything it requires, recursively."""
    pins: dict[str, str] = {}
    todo = [(root, frozenset(extras))]
    seen: set[tuple[str, frozenset[str]]] = set()
    while todo:
        name, wanted = todo.pop()
        if (canonical(name), wanted) in seen:
            continue
        seen.add((canonical(name), wanted))
        dist = metadata.distribution(name)
        if canonical(name) != canonical(root):
            pins[canonical(dist.metadata["Name"])] = dist.version
        for line in dist.requires or []:
            req = Requirement(line)
            environments = [{"extra": e} for e in wanted] or [{"extra": ""}]
            if req.marker is not None and not any(req.marker.evaluate(env) for env in environments):
                continue
            todo.append((req.name, frozenset(req.extras)))
    return pins


def main() -> None:
    pins = closure("fakellm", {"test", "accurate", "docs"})
    lines = [f"{name}=={version}" for name, version in sorted(pins.items())]
    header = ("# Exact versions for the test dependencies (scripts/test installs with -c this file).\n"
              "# Regenerate with: python3 scripts/freeze_test_constraints.py\n")
    (ROOT / "tests" / "constraints.txt").write_text(header + "\n".join(lines) + "\n")
    print(f"wrote {len(lines)} pins to tests/constraints.txt")


if __name__ == "__main__":
    main()
