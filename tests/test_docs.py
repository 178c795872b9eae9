"""The code in README.md and docs/ is tested code.

A fenced block preceded by an HTML comment (invisible on GitHub and on the docs site) is run:

- `<!-- docs-test: config -->` on a YAML block: a config, which must validate; the page's later
  `run` and `pytest` blocks use it (earlier ones, and pages without one, get the starter config).
- `<!-- docs-test: run -->` on a Python block: run as a script (in this process, to import the
  SDKs once) against a real `fakellm serve` on 127.0.0.1, its `127.0.0.1:9999` rewritten to the
  server's port; it must not raise.
- `<!-- docs-test: output -->` on the block after a `run` block: what that script must print.
- `<!-- docs-test: pytest -->` on a Python block: a test file run by pytest (`pytester`) in a fresh
  directory, with the page's config as `fakellm.yaml`; every test in it must pass.

Every other Python block must at least compile.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from fakellm.config import parse_config
from helpers import Served

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^(?:<!-- docs-test: (\w+) -->\n)?```(\w*)\n(.*?)^```$", re.M | re.S)


@dataclass(frozen=True)
class Block:
    page: Path
    line: int
    lang: str
    marker: str | None
    code: str
    config: str | None  # the YAML of the page's last `config` block before this one
    output: str | None  # for a `run` block: the `output` block after it

    @property
    def where(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"


def blocks_of(page: Path) -> list[Block]:
    text = page.read_text()
    found = []
    config = None
    for m in FENCE.finditer(text):
        marker, lang, code = m.group(1), m.group(2), m.group(3).rstrip("\n")
        line = text.count("\n", 0, m.start(3))  # the opening fence's line, from 1
        if marker == "output":
            previous = found[-1] if found else None
            assert previous is not None and previous.marker == "run", f"{page.name}:{line}: output without a run block"
            found[-1] = Block(**{**previous.__dict__, "output": code})
            continue
        found.append(Block(page, line, lang, marker, code, config, None))
        if marker == "config":
            config = code
    return found


ALL = [block for page in PAGES for block in blocks_of(page)]
PYTHON = [b for b in ALL if b.lang == "python"]
RUN = [b for b in ALL if b.marker == "run"]
PYTEST = [b for b in ALL if b.marker == "pytest"]
CONFIGS = [b for b in ALL if b.marker == "config"]


def ids(blocks: list[Block]) -> list[str]:
    return [b.where for b in blocks]


def clean_env() -> dict[str, str]:
    """This process's environment without what would steer the SDKs or pytest in a child."""
    prefixes = ("PYTEST_", "OPENAI_", "ANTHROPIC_", "GEMINI_", "GOOGLE_", "OLLAMA_", "FAKELLM_")
    return {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}


def test_the_readme_quickstart_agent_and_fixture_are_all_tested():
    # A marker deleted by an edit must not quietly turn these tests into nothing.
    readme = [b for b in ALL if b.page.name == "README.md"]
    assert [b.marker for b in readme if b.marker] == ["run", "config", "run", "pytest"]
    assert [b.output for b in readme if b.marker == "run"] == [
        "Hi there! This is a mock response from fakellm.",
        "Based on the search, I found what you were looking for.",
    ]
    assert len(RUN) >= 10 and len(PYTEST) >= 4


@pytest.mark.parametrize("block", PYTHON, ids=ids(PYTHON))
def test_python_block_compiles(block: Block):
    compile(block.code, block.where, "exec")


@pytest.mark.parametrize("block", CONFIGS, ids=ids(CONFIGS))
def test_config_block_is_a_valid_config(block: Block):
    config = parse_config(block.code, block.where)
    assert config.rules


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    """`fakellm serve` per config (None: the starter config, served from a directory without a fakellm.yaml)."""
    started: dict[str | None, Served] = {}

    def serve(config: str | None) -> Served:
        if config not in started:
            directory = tmp_path_factory.mktemp("serve")
            args = ()
            if config is not None:
                (directory / "fakellm.yaml").write_text(config)
                args = ("--config", "fakellm.yaml")
            started[config] = Served(*args, cwd=directory, env=clean_env()).__enter__()
        return started[config]

    yield serve
    for server in started.values():
        server.stop()


@pytest.mark.parametrize("block", RUN, ids=ids(RUN))
def test_run_block_runs_against_fakellm_serve(block: Block, servers, monkeypatch, capsys):
    server = servers(block.config)
    code = block.code.replace("http://127.0.0.1:9999", server.url).replace("127.0.0.1:9999", server.url[len("http://"):])
    for name in os.environ.keys() - clean_env().keys():
        monkeypatch.delenv(name)
    # In this process, as a script would run it: the SDKs are imported once for all the blocks.
    exec(compile(code, block.where, "exec"), {"__name__": "__main__"})
    printed = capsys.readouterr().out
    if block.output is not None:
        assert printed.strip() == block.output.strip(), f"{block.where} printed {printed!r}"
    assert server.proc is not None and server.proc.poll() is None, "the server must keep serving"


@pytest.mark.parametrize("block", PYTEST, ids=ids(PYTEST))
def test_pytest_block_passes(block: Block, pytester):
    first_line = block.code.splitlines()[0]
    name = first_line[2:-3] if re.fullmatch(r"# test_\w+\.py", first_line) else "test_block"
    pytester.makepyfile(**{name: block.code})
    if block.config is not None:
        pytester.makefile(".yaml", fakellm=block.config)
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=len(re.findall(r"^def test_", block.code, re.M)))
