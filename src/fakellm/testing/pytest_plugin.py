"""pytest plugin: the `fakellm` fixture, the `fakellm` marker, strict mode, the journal on failure.

pytest loads it in every session where fakellm is installed (entry point
`pytest11`), so it imports nothing heavy and starts no server until a test asks
for the fixture. Then one server runs per session (per xdist worker), and each
test gets it reset, with its own rules and the SDK environment variables set.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

import pytest

if TYPE_CHECKING:
    from ..config.schema import Config
    from .fakellm import FakeLLM

# The handle a test used, and whether it runs strict: set by the fixture, read by the hooks below.
_USED = pytest.StashKey["FakeLLM"]()
_STRICT = pytest.StashKey[bool]()
_REPORTED = pytest.StashKey[bool]()
# Config files already parsed this session, by resolved path.
_CONFIG_CACHE = pytest.StashKey[dict]()

ADMIN_TOKEN_ENV = "FAKELLM_ADMIN_TOKEN"  # the same variable `fakellm serve` reads
STATE_ENV = "FAKELLM_STATE"  # likewise

MARKER_HELP = (
    "fakellm(rules=None, config=None, strict=None): what the `fakellm` fixture serves in this test: "
    "a list of rules, or a config (a YAML path relative to the test file, or a mapping); "
    "strict=True fails the test on any request no rule matched."
)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("fakellm", "fakellm mock LLM server")
    group.addoption("--fakellm-config", dest="fakellm_config", default=None, metavar="PATH",
                    help="config the `fakellm` fixture serves when a test gives no rules "
                         "(overrides the fakellm_config ini option)")
    parser.addini("fakellm_config", "config the `fakellm` fixture serves when a test gives no rules "
                  "(relative to the ini file)", default="")
    parser.addini("fakellm_strict", "fail a test that sends a request no rule matched (and answer it with a "
                  "404 fakellm_no_match)", type="bool", default=False)
    parser.addini("fakellm_state", "where the fixture's server keeps its state: `memory` (the default) or a "
                  "redis:// URL shared with other fakellm processes, e.g. pytest-xdist workers (the "
                  "FAKELLM_STATE environment variable overrides it)", default="")
    parser.addini("fakellm_admin_token", "require `Authorization: Bearer <token>` on the fixture's admin API "
                  "over HTTP (the FAKELLM_ADMIN_TOKEN environment variable overrides it)", default="")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", MARKER_HELP)


@pytest.fixture(scope="session")
def _fakellm_session(pytestconfig: pytest.Config) -> Iterator[FakeLLM]:
    """The session's server (one per xdist worker); tests use `fakellm`, which resets it."""
    from ..admin.access import check_token
    from ..store.base import StateUnavailable
    from .fakellm import FakeLLM

    token = os.environ.get(ADMIN_TOKEN_ENV) or pytestconfig.getini("fakellm_admin_token") or None
    state = os.environ.get(STATE_ENV) or pytestconfig.getini("fakellm_state") or None
    try:
        if token is not None:
            check_token(token)
    except ValueError as e:  # says what is wrong with the token without quoting it
        pytest.fail(f"fakellm: {ADMIN_TOKEN_ENV} / fakellm_admin_token: {e}", pytrace=False)
    try:
        llm = FakeLLM(admin_token=token, state=state).start()
    except (ValueError, StateUnavailable) as e:  # neither message shows a password
        pytest.fail(f"fakellm: {STATE_ENV} / fakellm_state: {e}", pytrace=False)
    try:
        yield llm
    finally:
        llm.stop()


@pytest.fixture
def fakellm(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, _fakellm_session: FakeLLM) -> FakeLLM:
    """A running fakellm server, reset, serving this test's rules.

    Rules come from `@pytest.mark.fakellm(rules=[...])` or `(config="x.yaml")`,
    else from `--fakellm-config` / the `fakellm_config` ini option, else none
    (every request gets the deterministic echo). The OpenAI, Anthropic,
    Gemini and Ollama SDK environment variables (OPENAI_BASE_URL,
    ANTHROPIC_BASE_URL, GOOGLE_GEMINI_BASE_URL, OLLAMA_HOST, and API keys)
    point at the server for this test.
    """
    llm = _fakellm_session
    strict = _strict(request)
    llm.reset()
    llm.set_config(_config_for(request), strict=True if strict else None)
    for name, value in llm.environ().items():
        monkeypatch.setenv(name, value)
    request.node.stash[_USED] = llm
    request.node.stash[_STRICT] = strict
    return llm


def _strict(request: pytest.FixtureRequest) -> bool:
    marker = request.node.get_closest_marker("fakellm")
    if marker is not None and marker.kwargs.get("strict") is not None:
        return bool(marker.kwargs["strict"])
    return bool(request.config.getini("fakellm_strict"))


def _config_for(request: pytest.FixtureRequest) -> Config:
    """The config a test asked for: its marker's rules or config, else the session default."""
    from ..config.schema import ConfigError
    from .fakellm import build_config

    marker = request.node.get_closest_marker("fakellm")
    try:
        if marker is not None:
            unknown = set(marker.kwargs) - {"rules", "config", "strict"}
            if marker.args or unknown:
                pytest.fail("@pytest.mark.fakellm takes only the keywords rules=, config= and strict="
                            + (f" (got {', '.join(sorted(unknown))})" if unknown else " (got positional arguments)"),
                            pytrace=False)
            rules, config = marker.kwargs.get("rules"), marker.kwargs.get("config")
            if rules is not None and config is not None:
                pytest.fail("@pytest.mark.fakellm takes rules= or config=, not both", pytrace=False)
            if isinstance(config, (str, Path)):
                return _load(request.config, Path(request.path).parent / config)
            if config is not None:
                return build_config(config, source="@pytest.mark.fakellm")
            if rules is not None:
                return build_config(rules=rules, base=_default_config(request.config), source="@pytest.mark.fakellm")
        return _default_config(request.config) or build_config()
    except ConfigError as e:
        pytest.fail(f"fakellm: the config for this test is invalid:\n{e}", pytrace=False)


def _default_config(config: pytest.Config) -> Config | None:
    option = config.getoption("fakellm_config")
    if option:
        return _load(config, Path(config.invocation_params.dir) / option)
    ini = config.getini("fakellm_config")
    if ini:
        base = config.inipath.parent if config.inipath is not None else config.rootpath
        return _load(config, base / ini)
    return None


def _load(config: pytest.Config, path: Path) -> Config:
    from ..config.schema import load_config

    cache = config.stash.setdefault(_CONFIG_CACHE, {})
    key = path.resolve()
    if key not in cache:
        cache[key] = load_config(path)
    return cache[key]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    """Strict mode: a test that passed still fails if a request matched no rule."""
    result = yield
    llm = item.stash.get(_USED, None)
    if llm is not None and item.stash.get(_STRICT, False):
        __tracebackhide__ = True
        llm.assert_no_unmatched()
    return result


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[Any]) -> Iterator[Any]:
    """A failing test that used the fixture gets its fakellm journal in the report."""
    report = yield
    if report.failed and not item.stash.get(_REPORTED, False):
        llm = item.stash.get(_USED, None)
        if llm is not None:
            item.stash[_REPORTED] = True
            report.sections.append(("fakellm journal", llm.journal_text()))
    return report
