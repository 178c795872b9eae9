"""Command line: fakellm init | serve | check."""

from __future__ import annotations

import signal
import sys
from pathlib import Path

import click

from . import __version__

DEFAULT_CONFIG = "fakellm.yaml"


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="fakellm")
def main() -> None:
    """fakellm: a mock LLM API server for tests (OpenAI and Anthropic wire formats)."""


@main.command()
@click.argument("path", default=DEFAULT_CONFIG, type=click.Path(dir_okay=False, path_type=Path))
def init(path: Path) -> None:
    """Write a commented starter config to PATH (default: fakellm.yaml)."""
    from .config.starter import starter_text

    if path.exists():
        click.echo(f"{path} already exists; not overwriting it. Remove it or pass another path.", err=True)
        sys.exit(1)
    try:
        path.write_text(starter_text(), encoding="utf-8")
    except OSError as e:
        click.echo(f"cannot write {path}: {e}", err=True)
        sys.exit(1)
    click.echo(f"Created {path}. Check it with `fakellm check --config {path}`, "
               f"serve it with `fakellm serve --config {path}`.")


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
    try:
        cfg = load_config(path)
        check_apis(cfg, registry.KNOWN_APIS)
        return cfg, path
    except ConfigError as e:
        click.echo(f"fakellm: {path} has {len(e.problems)} problem(s):", err=True)
        for problem in e.problems:
            click.echo(f"  {problem}", err=True)
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
def serve(host: str, port: int, config: Path | None, reload: bool, admin_token: str | None, loop: str) -> None:
    """Start the mock server."""
    import uvicorn

    from .app import build_app
    from .engine.tokens import load_accurate_encoding
    from .providers import registry

    cfg, path = _load(config)
    if reload and path is None:
        click.echo("--reload needs a config file; there is none to watch.", err=True)
        sys.exit(2)
    load_accurate_encoding()
    app = build_app(cfg, path, watch=reload, admin_token=admin_token)
    rules = len(cfg.rules)
    source = path if path is not None else cfg.source

    class Server(uvicorn.Server):
        def handle_exit(self, sig: int, frame: object) -> None:
            # uvicorn's own handler also re-raises the signal after shutting down, so the process
            # would end "killed by SIGTERM" (or with KeyboardInterrupt). A signal is how fakellm is
            # meant to stop: shut down gracefully and exit 0. A second Ctrl-C still forces it.
            if self.should_exit and sig == signal.SIGINT:
                self.force_exit = True
            else:
                self.should_exit = True

        async def shutdown(self, sockets=None) -> None:
            # Timed replies still being sent would outlive the grace period and be cancelled, each
            # with a traceback: instead they send the rest at once, and this says so in one line.
            hurried = app.deliveries.stop()
            if hurried:
                click.echo(f"fakellm: stopping; {hurried} timed repl{'y' if hurried == 1 else 'ies'} still being "
                           f"sent get the rest at once", err=True)
            await super().shutdown(sockets)

        async def startup(self, sockets=None) -> None:
            await super().startup(sockets)
            if self.should_exit or not self.servers:
                return
            import asyncio

            running = type(asyncio.get_running_loop()).__module__.split(".")[0]  # "uvloop" or "asyncio"
            bound_host, bound_port = self.servers[0].sockets[0].getsockname()[:2]
            shown = f"[{bound_host}]" if ":" in bound_host else bound_host
            base = f"http://{shown}:{bound_port}"
            if admin_token is None and not _is_loopback(bound_host):
                click.echo(_exposed_warning(bound_host, bound_port), err=True)
            click.echo(
                f"fakellm {__version__} serving {rules} rule(s) from {source}"
                + f" (event loop: {running})"
                + (" (reloading on change)" if reload else "")
                + "".join(f"\n  {label + ':':<20}{url}" for label, url in registry.base_urls(base))
                + f"\n  {'Dashboard:':<20}{base}/_fakellm"
                + f"\n  {'Admin API:':<20}"
                + ("token required" if admin_token else "no token: answers requests addressed to loopback or to this address")
                + f"\nfakellm ready on {base}",
            )
            sys.stdout.flush()

    server = Server(uvicorn.Config(
        app,
        host=host,
        port=port,
        loop=loop,
        http=_http_protocol(),
        lifespan="on",
        access_log=False,
        proxy_headers=False,  # a per-request middleware we do not need in a local mock
        server_header=False,
        log_level="warning",
        timeout_graceful_shutdown=2,
    ))
    server.run()


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


def _http_protocol() -> object:
    """uvicorn's httptools protocol sending each answer's head and body in one write; else uvicorn's choice."""
    try:
        from .server.protocol import HttpToolsHeadWithBody
    except ImportError:  # no httptools: uvicorn falls back to h11
        return "auto"
    return HttpToolsHeadWithBody


@main.command()
@click.option("--config", "config", type=click.Path(dir_okay=False, path_type=Path), default=Path(DEFAULT_CONFIG),
              show_default=True, help="Config file to check.")
def check(config: Path) -> None:
    """Validate a config: exit 0 when it is valid, 2 with every problem when not."""
    from .config.lint import lint
    from .config.schema import ConfigError, check_apis, load_config
    from .providers import registry

    try:
        cfg = load_config(config)
        check_apis(cfg, registry.KNOWN_APIS)
    except ConfigError as e:
        click.echo(f"{config}: {len(e.problems)} problem(s)", err=True)
        for problem in e.problems:
            click.echo(str(problem), err=True)
        sys.exit(2)
    warnings = lint(cfg)
    for warning in warnings:
        click.echo(f"warning: {warning}", err=True)
    click.echo(f"{config}: ok ({len(cfg.rules)} rule(s)" + (f", {len(warnings)} warning(s))" if warnings else ")"))


if __name__ == "__main__":
    main()
