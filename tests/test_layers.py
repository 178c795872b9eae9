"""The package's imports point one way, down the layers (docs/architecture.md):
cli, testing -> app, record -> admin -> server -> providers, traffic -> engine -> store -> config -> model.

A module may import its own layer and any layer below, never one above; providers and
traffic sit side by side. Read from the source with `ast`, so a back-arrow fails here
before it tangles the packages.
"""

from __future__ import annotations

import ast
from pathlib import Path

import fakellm

PACKAGE = Path(fakellm.__file__).parent
LAYERS = {
    "model": 0, "asgi": 0,
    "config": 1,
    "store": 2,
    "engine": 3,
    "providers": 4, "traffic": 4,
    "server": 5,
    "admin": 6,
    "app": 7,
    "record": 7,
    "testing": 8, "cli": 8, "workers": 8, "serving": 8,
    "__init__": 9, "__main__": 9,
}


def imports_of(path: Path) -> list[str]:
    """The fakellm modules a file imports (relative imports resolved), at any depth of the file."""
    parts = list(path.relative_to(PACKAGE).with_suffix("").parts)
    package = parts[:-1]
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = package[: len(package) - (node.level - 1)]
            if node.module:
                out.append(".".join([*base, node.module]))
            else:
                out.extend(".".join([*base, alias.name]) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("fakellm."):
            out.append(node.module.removeprefix("fakellm."))
    return out


def test_every_module_sits_in_a_known_layer():
    tops = {p.relative_to(PACKAGE).parts[0].removesuffix(".py") for p in PACKAGE.rglob("*.py")}
    assert tops <= set(LAYERS), tops - set(LAYERS)


def test_imports_point_down():
    upward = []
    for path in PACKAGE.rglob("*.py"):
        me = path.relative_to(PACKAGE).parts[0].removesuffix(".py")
        for target in imports_of(path):
            top = target.split(".")[0] or "__init__"
            if top != me and LAYERS.get(top, 0) > LAYERS[me]:
                upward.append(f"{path.relative_to(PACKAGE)} imports {target}")
    assert upward == []
