"""Command line: fakellm init | serve | check | schema | record."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Callable

import click

from . import __version__

DEFAULT_CONFIG = "fakellm.yaml"
# Written by `fakellm init` next to the config, which names it in its first line (editors read it offline).
SCHEMA_FILE = "fakellm.schema.json"
STATE_ENV = "FAKELLM_STATE"  # the same variable the pytest plugin reads


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="fakellm")
def main() -> None:
    """fakellm: a mock LLM API server for tests, driven by YAML rules. It speaks the wire formats of
    OpenAI (chat, Responses, completions, embeddings, Azure OpenAI, Realtime over WebSocket),
    Anthropic, Gemini, Google Vertex AI (Gemini and Claude), Ollama and AWS Bedrock (Converse, InvokeModel)."""


@main.command()
@click.argument("path", default=DEFAULT_CONFIG, type=click.Path(dir_okay=False, path_type=Path))
def init(path: Path) -> None:
    """Write a commented starter config to PATH (default: fakellm.yaml), and its JSON Schema beside it.

    The config's first line names the schema (fakellm.schema.json, in the same folder) for editors that
    use the YAML language server (VS Code's YAML extension, Neovim, Helix...): they complete and check
    rules as you type, offline. `fakellm schema -o` writes the schema again after an upgrade."""
    from .config.starter import starter_text

    if path.exists():
        click.echo(f"{path} already exists; not overwriting it. Remove it or pass another path.", err=True)
        sys.exit(1)
    schema_path = path.parent / SCHEMA_FILE
    try:
        path.write_text(f"# yaml-language-server: $schema={SCHEMA_FILE}\n" + starter_text(), encoding="utf-8")
        schema_path.write_text(_schema_text(), encoding="utf-8")
    except OSError as e:
        click.echo(f"cannot write {e.filename or path}: {e.strerror or e}", err=True)
        sys.exit(1)
    click.echo(f"Created {path} (and {schema_path}, its schema for editors). Check it with "
               f"`fakellm check --config {path}`, serve it with `fakellm serve --config {path}`.")


@main.command()
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the schema to this file instead of printing it.")
def schema(output: Path | None) -> None:
    """Print the config's JSON Schema (draft 7), for editors and other tools.

    Generated from the models `fakellm check` validates with; `when.api` lists the APIs this
    version serves. A few checks are beyond JSON Schema (a regex or template that does not compile,
    turn_in low above high...): `fakellm check` still makes them."""
    text = _schema_text()
    if output is None:
        click.echo(text, nl=False)
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as e:
        click.echo(f"cannot write {output}: {e.strerror or e}", err=True)
        sys.exit(1)
    click.echo(f"Wrote {output}.")


def _schema_text() -> str:
    import json

    from .config.json_schema import config_json_schema
    from .providers import registry

    return json.dumps(config_json_schema(registry.KNOWN_APIS), indent=2) + "\n"


def _load(config: Path | None):
    """The config to serve and its path (None for the built-in starter)."""
    from .config.schema import ConfigError, check_apis, load_config
    from .config.starter import STARTER_NAME, starter_config
    from .providers import registry

    path = config
    if path is None and Path(DEFAULT_CONFIG).exists():
        path = Path(DEFAULT_CONFIG)
    if path is None:
        click.echo(f"No {DEFAULT_CONFIG} here and no --config given: serving the {STARTER_NAME} "
                   f"(`fakellm init` writes it to a file you can edit).", err=True)
        return starter_config(), None
    _require_file(path, "or leave out --config to serve the built-in one")
    try:
        cfg = load_config(path)
        check_apis(cfg, registry.KNOWN_APIS)
        return cfg, path
    except ConfigError as e:
        click.echo(f"fakellm: {path} has {len(e.problems)} problem(s):", err=True)
        for problem in e.problems:
            click.echo(f"  {problem}", err=True)
        sys.exit(2)


def _require_file(path: Path, otherwise: str) -> None:
    """A config named but missing: say how to get one (exit 2, like any config problem)."""
    import shlex

    if not path.exists():
        click.echo(f"fakellm: config file {path} not found. `fakellm init {shlex.quote(str(path))}` writes a "
                   f"commented starter config there ({otherwise}).", err=True)
        sys.exit(2)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to bind.")
@click.option("--port", default=9999, show_default=True, type=click.IntRange(0, 65535), help="Port (0: any free port).")
@click.option("--config", "config", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help=f"Config file [default: ./{DEFAULT_CONFIG}, else the built-in starter config].")
@click.option("--reload", is_flag=True, help="Reload the config file whenever it changes.")
@click.option("--admin-token", envvar="FAKELLM_ADMIN_TOKEN", show_envvar=True, default=None, metavar="TOKEN",
              callback=lambda ctx, param, value: _admin_token(value),
              help="Require `Authorization: Bearer TOKEN` on the admin API (/_fakellm, /metrics). Without it, "
                   "admin calls are answered only when addressed to loopback. Prefer the environment variable: "
                   "a flag is visible to other users in the process list.")
@click.option("--loop", type=click.Choice(["auto", "asyncio", "uvloop"]), default="asyncio", show_default=True,
              callback=lambda ctx, param, value: _loop(value),
              help="Event loop. asyncio (the standard library's) answers every connection promptly under thousands "
                   "of them; uvloop gives more requests a second on few connections, but once it is busy it accepts "
                   "new connections slowly, and some wait many seconds. auto: uvloop when installed. "
                   "See docs/benchmarks.md, \"Event loop\".")
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 256),
              help="Worker processes serving one port. More than one needs --state: a Redis URL, so that they "
                   "answer as one mock, or `memory` for separate state per worker.")
@click.option("--state", envvar=STATE_ENV, show_envvar=True, default=None, metavar="URL",
              help="Where the state lives (conversations, sequences, `times`, rate limits, stored responses, the "
                   "journal, stats): `memory` (this process; the default with one worker) or "
                   "redis://[:password@]host:port/db[?prefix=name], shared by every fakellm process on it.")
@click.option("--replay-speed", "replay_speed", default=1.0, show_default=True, type=click.FloatRange(min=0),
              help="Scale every wait the rules set (delay_ms, ttft_ms, chunk_delay_ms, tokens_per_second): "
                   "2 replays twice as fast, 0 without any wait.")
@click.option("--upstream", default=None, metavar="URL",
              help="Hybrid mode: requests no rule matches go to this API (openai, anthropic, gemini, or a URL) "
                   "with the client's own credentials, instead of the fallback.")
@click.option("--record-to", "record_to", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="With --upstream: record what the upstream answers as rules in this file, and serve them "
                   "from then on.")
def serve(host: str, port: int, config: Path | None, reload: bool, admin_token: str | None, loop: str,
          workers: int, state: str | None, replay_speed: float, upstream: str | None,
          record_to: Path | None) -> None:
    """Start the mock server."""
    from . import serving
    from .app import build_app, open_store
    from .engine.tokens import load_accurate_encoding
    from .store.base import StateUnavailable

    if record_to is not None and upstream is None:
        click.echo("--record-to needs --upstream: the API whose answers are recorded.", err=True)
        sys.exit(2)
    if upstream is not None and workers > 1:
        click.echo("--upstream serves from one process: drop --workers.", err=True)
        sys.exit(2)
    hybrid = None
    if upstream is not None:
        cfg, path, hybrid = _hybrid(config, upstream, record_to)
    else:
        cfg, path = _load(config)
    if reload and path is None:
        click.echo("--reload needs a config file; there is none to watch.", err=True)
        sys.exit(2)
    if workers > 1 and state is None:
        click.echo(NEEDS_STATE.format(workers=workers), err=True)
        sys.exit(2)
    try:
        store = open_store(state, cfg)  # checks Redis now: a clear error before anything listens
    except ValueError as e:
        raise click.BadParameter(str(e), param_hint="'--state' / FAKELLM_STATE") from None
    except StateUnavailable as e:
        click.echo(f"fakellm: {e}", err=True)
        sys.exit(1)
    load_accurate_encoding()

    def banner(server: serving.FakeLLMServer) -> None:  # runs in the server's loop: names the one running
        _print_banner(cfg, path, server.address(), admin_token, reload, serving.running_loop_name(), workers, store)

    try:  # bound here, for one worker too: a busy port is a message, not uvicorn's log line
        sock = serving.listening_socket(host, port)
    except OSError as e:
        click.echo(_cannot_listen(host, port, e), err=True)
        sys.exit(1)

    if workers == 1:
        app = build_app(cfg, path, watch=reload, admin_token=admin_token, store=store, replay_speed=replay_speed,
                        on_miss=hybrid.on_miss if hybrid is not None else None)
        if hybrid is not None:
            hybrid.attach(app)
        serving.FakeLLMServer(serving.uvicorn_config(app, host, port, loop), app, on_ready=banner).run(sockets=[sock])
        return

    from .workers import Workers

    def serve_one(shared: object, ready: Callable[[], None]) -> int:
        # In the worker: its own app and store (connections are not shared across processes).
        app = build_app(cfg, path, watch=reload, admin_token=admin_token, state=state, replay_speed=replay_speed)
        server = serving.FakeLLMServer(serving.uvicorn_config(app, host, port, loop), app,
                                       on_ready=lambda _server: ready())
        server.run(sockets=[shared])
        return 0 if server.started else 3  # 3: uvicorn's "could not start" (e.g. Redis refused the config)

    pool = Workers(workers, sock, serve_one, lambda line: click.echo(line, err=True))
    try:
        pool.start()
    except RuntimeError as e:
        if pool.stopping:  # told to stop while starting: a clean stop
            sys.exit(0)
        click.echo(f"fakellm: {e}", err=True)
        sys.exit(1)
    host_shown, port_bound = sock.getsockname()[:2]
    _print_banner(cfg, path, (host_shown, port_bound), admin_token, reload, _loop_name(loop), workers, store)
    code = pool.wait()
    sock.close()
    sys.exit(code)


def _hybrid(config: Path | None, upstream: str, record_to: Path | None):
    """The config, its path and the Hybrid of `serve --upstream`: without --config, no rules but the
    recorded ones (the starter config's catch-all would answer everything)."""
    from .config.schema import ConfigError, config_from_data
    from .record.forward import upstream_url
    from .record.hybrid import Hybrid

    try:
        url = upstream_url(upstream)
    except ValueError as e:
        raise click.BadParameter(str(e), param_hint="'--upstream'") from None
    if config is None and not Path(DEFAULT_CONFIG).exists():
        cfg, path = config_from_data({}, "no config"), None
    else:
        cfg, path = _load(config)
    try:
        hybrid = Hybrid(cfg, url, record_to)
        served = hybrid.config()
    except ConfigError as e:
        click.echo(f"fakellm: {record_to} has {len(e.problems)} problem(s):", err=True)
        for problem in e.problems:
            click.echo(f"  {problem}", err=True)
        sys.exit(2)
    except OSError as e:
        click.echo(f"fakellm: cannot write {record_to}: {e}", err=True)
        sys.exit(1)
    return served, path, hybrid


def _cannot_listen(host: str, port: int, error: OSError) -> str:
    import errno

    if error.errno == errno.EADDRINUSE:
        where = "" if host == "127.0.0.1" else f" on {host}"
        return f"fakellm: port {port}{where} is in use; pass --port N (or 0 for a free one)"
    return f"fakellm: cannot listen on {host}:{port}: {error.strerror or error}"


NEEDS_STATE = """\
--workers {workers} needs to know where the workers keep their state.
  To have them answer as one mock (sequences, `times`, rate limits, the journal shared), start Redis
  and pass its URL, e.g.:
      redis-server --port 6379 --save '' --appendonly no      (or: docker run -p 6379:6379 redis)
      fakellm serve --workers {workers} --state redis://127.0.0.1:6379/0
  For pure throughput, `--state memory` gives each worker its own state instead: sequences, `times`,
  rate limits, conversations, stored responses, the journal and stats are then per worker."""


def _print_banner(cfg, path: Path | None, address: tuple[str, int], admin_token: str | None, reload: bool,
                  loop_name: str, workers: int, store: object) -> None:
    from .providers import registry

    bound_host, bound_port = address
    shown = f"[{bound_host}]" if ":" in bound_host else bound_host
    base = f"http://{shown}:{bound_port}"
    if admin_token is None and not _is_loopback(bound_host):
        click.echo(_exposed_warning(bound_host, bound_port), err=True)
    source = path if path is not None else cfg.source
    shared = getattr(store, "url", None)  # a Redis URL without its password
    if shared is not None:
        state = f"state in Redis at {shared} (prefix {store.prefix}), shared with every fakellm process on it"
    elif workers > 1:
        state = "state in each worker's memory: sequences, times, rate limits and the journal are per worker"
    else:
        state = "state in memory"
    click.echo(
        f"fakellm {__version__} serving {len(cfg.rules)} rule(s) from {source}"
        + f" (event loop: {loop_name})"
        + (" (reloading on change)" if reload else "")
        + (f"\n  {workers} workers; {state}" if workers > 1 else f"\n  {state}" if shared else "")
        + "".join(f"\n  {label + ':':<20}{url}" for label, url in registry.base_urls(base))
        + f"\n  {'Dashboard:':<20}{base}/_fakellm"
        + f"\n  {'Admin API:':<20}"
        + ("token required" if admin_token else "no token: answers requests addressed to loopback or to this address")
        + f"\nTry it{' (the starter config answers hello with a greeting)' if path is None else ''}:"
        + f"\n  {_example_curl(base)}"
        + "\nPress Ctrl+C to stop."
        + f"\nfakellm ready on {base}",
    )
    sys.stdout.flush()


def _example_curl(base: str) -> str:
    """One request anyone can paste: the OpenAI chat wire format, which the starter's greeting rule answers."""
    body = '{"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hello"}]}'
    return f"curl -s {base}/v1/chat/completions -H 'content-type: application/json' -d '{body}'"


def _loop_name(choice: str) -> str:
    """The loop a --loop choice runs: "auto" is uvloop when it can be imported."""
    if choice != "auto":
        return choice
    try:
        import uvloop  # noqa: F401
    except ImportError:
        return "asyncio"
    return "uvloop"


def _admin_token(value: str | None) -> str | None:
    """The token as given, or a usage error (exit 2) that does not quote it."""
    from .admin.access import check_token

    if value is None:
        return None
    try:
        return check_token(value)
    except ValueError as e:
        raise click.BadParameter(str(e), param_hint="'--admin-token' / FAKELLM_ADMIN_TOKEN") from None


def _loop(value: str) -> str:
    """The loop as given, or a usage error (exit 2) when it is uvloop and uvloop cannot be imported."""
    if value == "uvloop":
        try:
            import uvloop  # noqa: F401
        except ImportError:
            raise click.BadParameter("uvloop is not installed (pip install uvloop; it does not exist on Windows); "
                                     "use --loop asyncio.", param_hint="'--loop'") from None
    return value


def _is_loopback(address: str) -> bool:
    import ipaddress

    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def _exposed_warning(address: str, port: int) -> str:
    where = "every network interface" if address in ("0.0.0.0", "::") else "a network interface"
    return (f"WARNING: fakellm is listening on {address} ({where}) without --admin-token: anyone who can reach "
            f"port {port} can read the journal (prompts, headers, replies) and replace the config, with any HTTP "
            f"client (the Host and Origin checks stop only browsers). Set FAKELLM_ADMIN_TOKEN (or pass "
            f"--admin-token) to require a bearer token on the admin API.")


@main.command()
@click.option("--config", "config", type=click.Path(dir_okay=False, path_type=Path), default=Path(DEFAULT_CONFIG),
              show_default=True, help="Config file to check.")
def check(config: Path) -> None:
    """Validate a config: exit 0 when it is valid, 2 with every problem when not."""
    from .config.lint import lint
    from .config.schema import ConfigError, Problem, check_apis, load_config
    from .providers import registry

    _require_file(config, "then edit it and check it again")
    try:
        cfg = load_config(config)
        check_apis(cfg, registry.KNOWN_APIS)
    except ConfigError as e:
        click.echo(f"{config}: {len(e.problems)} problem(s)", err=True)
        for problem in e.problems:
            click.echo(str(problem), err=True)
        sys.exit(2)
    warnings = lint(cfg)
    for warning in warnings:  # file:line:col: warning: ..., as compilers write them (editors link the place)
        click.echo(str(Problem(warning.source, warning.line, warning.col, f"warning: {warning.message}")), err=True)
    click.echo(f"{config}: ok ({len(cfg.rules)} rule(s)" + (f", {len(warnings)} warning(s))" if warnings else ")"))


@main.command()
@click.option("--upstream", required=True, metavar="URL",
              help="The API to record: openai, anthropic, gemini (their real base URLs) or a URL.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to bind.")
@click.option("--port", default=9999, show_default=True, type=click.IntRange(0, 65535), help="Port (0: any free port).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=Path("recorded.yaml"),
              show_default=True, help="The rules file written (rewritten after every exchange).")
def record(upstream: str, host: str, port: int, out: Path) -> None:
    """Record real traffic as rules: a proxy to the upstream that writes one rule per exchange."""
    import uvicorn

    from .record.forward import Upstream, shown_url, upstream_url
    from .record.proxy import Recorder, RecordingProxy
    from .record.recording import Recording

    try:
        url = upstream_url(upstream)
    except ValueError as e:
        raise click.BadParameter(str(e), param_hint="'--upstream'") from None
    try:
        recording = Recording(out, shown_url(url))
    except OSError as e:
        click.echo(f"fakellm: cannot write {out}: {e}", err=True)
        sys.exit(1)
    proxy = RecordingProxy(Recorder(Upstream(url), recording))

    class Server(uvicorn.Server):
        async def startup(self, sockets=None) -> None:
            await super().startup(sockets)
            if self.should_exit or not self.servers:
                return
            from .providers import registry

            bound_host, bound_port = self.servers[0].sockets[0].getsockname()[:2]
            base = f"http://{bound_host}:{bound_port}"
            click.echo(f"fakellm {__version__} recording {shown_url(url)} into {out}"
                       + "".join(f"\n  {label + ':':<20}{u}" for label, u in registry.base_urls(base))
                       + f"\nfakellm recording on {base}")
            sys.stdout.flush()

    Server(uvicorn.Config(proxy, host=host, port=port, lifespan="on", access_log=False, log_level="warning",
                          proxy_headers=False, server_header=False)).run()
    click.echo(f"fakellm: recorded {proxy.recorder.recorded} exchange(s) into {out}", err=True)


if __name__ == "__main__":
    main()
