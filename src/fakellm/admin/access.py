"""Who may call the admin API (/_fakellm/*, /metrics).

With a token (`fakellm serve --admin-token`, FAKELLM_ADMIN_TOKEN) every admin call carries
`Authorization: Bearer <token>`, from any host and any origin. A page of another site cannot
add that header to its requests (fakellm grants no CORS), so the token also stops DNS
rebinding and cross-site requests.

Without a token, whoever can reach the socket is trusted, and what only a browser tricked by
another site sends is refused:

- a Host that is neither loopback (`localhost`, `*.localhost`, 127.0.0.0/8, `[::1]`, any port)
  nor the address the connection reached (the ASGI scope's `server`). DNS rebinding points the
  attacker's name at 127.0.0.1, so the browser names the attacker's host; it sends an IP
  literal only for a page of that very address.
- on a state-changing call (any method but GET and HEAD), an Origin whose host fails the same
  test, `null` included: a cross-site form or fetch. Reads need no such check: without CORS
  headers a page of another origin cannot read the answer.

A request without a Host header did not come from a browser, so it is not refused.
"""

from __future__ import annotations

import hmac
import ipaddress
import re
from dataclasses import dataclass
from typing import Any, Union

import orjson

from ..asgi import JSON, Receive, Send, send_response
from ..server.router import Handler

SAFE_METHODS = frozenset({"GET", "HEAD"})
# A Host header or an Origin's authority: a name or an IPv4 literal, or an IPv6 literal in brackets;
# then an optional port. Anything else (userinfo, paths, spaces) is not a host this server answers to.
_AUTHORITY = re.compile(r"(?:\[(?P<ipv6>[0-9A-Fa-f:.]+)\]|(?P<name>[A-Za-z0-9._~-]+))(?::[0-9]{1,5})?")
_ORIGIN = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://(?P<authority>[^/?#]*)")
# A token travels in a header: visible ASCII, no spaces.
_TOKEN = re.compile(r"[\x21-\x7e]+")
_SHOWN = 100  # characters of a refused Host or Origin quoted back

Host = Union[str, ipaddress.IPv4Address, ipaddress.IPv6Address]

USE_A_TOKEN = ("start fakellm with --admin-token (or FAKELLM_ADMIN_TOKEN) and send "
               "`Authorization: Bearer <token>`")


def check_token(token: str) -> str:
    """The token, or ValueError saying what is wrong with it (without quoting it)."""
    if not token:
        raise ValueError("the admin token is empty")
    if not _TOKEN.fullmatch(token):
        raise ValueError("the admin token must be printable ASCII without spaces (it travels in an HTTP header)")
    return token


@dataclass(frozen=True, slots=True)
class Denied:
    """Why an admin call is refused, as the admin API's JSON error."""

    status: int
    code: str
    message: str
    challenge: bytes | None = None  # WWW-Authenticate, for a 401

    def body(self) -> bytes:
        kind = "authentication_error" if self.status == 401 else "permission_error"
        return orjson.dumps({"error": {"message": self.message, "type": kind, "code": self.code}})


class AdminAccess:
    """The admin API's door: `check(scope)` says whether a call may proceed."""

    def __init__(self, token: str | None = None):
        self._token = check_token(token).encode() if token is not None else None

    def check(self, scope: dict[str, Any], *, holds_data: bool = True) -> Denied | None:
        """None when the call may proceed, else why not. `holds_data=False` is for the dashboard's
        static page and assets: they need no token (a browser opening the page cannot send one; the
        page asks for it), but without a token they get the Host check like every admin path."""
        host = origin = authorization = None
        for name, value in scope.get("headers") or ():
            if name == b"host":
                host = value
            elif name == b"origin":
                origin = value
            elif name == b"authorization":
                authorization = value
        if self._token is not None:
            return self._check_token(authorization) if holds_data else None
        server = _server_host(scope)
        if host is not None and not _trusted(_parse_authority(host.decode("latin-1")), server):
            return Denied(403, "host_not_allowed", (
                f"fakellm's admin API answers only requests addressed to loopback (localhost, 127.0.0.1, [::1]) "
                f"or to the address the server was reached at; this one was addressed to {_shown(host)}, as a "
                f"page using DNS rebinding would be. To use the admin API under another name, {USE_A_TOKEN}."))
        method = scope.get("method", "GET")
        if origin is not None and method not in SAFE_METHODS and not _trusted(_parse_origin(origin), server):
            return Denied(403, "foreign_origin", (
                f"a page of another site ({_shown(origin)}) may not change fakellm's state: {method} admin calls "
                f"with an Origin that is not loopback or this server are refused. Call it without an Origin "
                f"(curl, scripts, the SDKs), from the dashboard, or {USE_A_TOKEN}."))
        return None

    def _check_token(self, authorization: bytes | None) -> Denied | None:
        assert self._token is not None
        how = "send `Authorization: Bearer <token>` with the token fakellm was started with " \
              "(--admin-token or FAKELLM_ADMIN_TOKEN)"
        if authorization is None:
            return Denied(401, "admin_token_required", f"this fakellm's admin API requires a token: {how}.",
                          b'Bearer realm="fakellm"')
        scheme, _, given = authorization.partition(b" ")
        if scheme.lower() != b"bearer" or not hmac.compare_digest(given.strip(), self._token):
            return Denied(401, "invalid_admin_token", f"the admin token is wrong: {how}.",
                          b'Bearer realm="fakellm", error="invalid_token"')
        return None


def guard(route: Handler, access: AdminAccess, *, holds_data: bool = True) -> Handler:
    """`route`, answered only when `access` lets the call through."""

    async def guarded(app: Any, scope: dict[str, Any], receive: Receive, send: Send, params: dict[str, str]) -> None:
        denied = access.check(scope, holds_data=holds_data)
        if denied is None:
            await route(app, scope, receive, send, params)
            return
        headers = [(b"www-authenticate", denied.challenge)] if denied.challenge else []
        headers.append((b"cache-control", b"no-store"))
        body = b"" if scope.get("method") == "HEAD" else denied.body()
        await send_response(send, denied.status, body, JSON, headers)

    return guarded


def _trusted(host: Host | None, server: Host | None) -> bool:
    if host is None:
        return False
    if isinstance(host, str):
        if host == "localhost" or host.endswith(".localhost"):  # RFC 6761: never sent to DNS by browsers
            return True
    elif host.is_loopback:
        return True
    return server is not None and host == server


def _parse_authority(text: str) -> Host | None:
    """The host of a Host header or an Origin's authority; None when it is not shaped like one."""
    match = _AUTHORITY.fullmatch(text)
    if match is None:
        return None
    if match["ipv6"] is not None:
        try:
            return ipaddress.IPv6Address(match["ipv6"])
        except ValueError:
            return None
    return _host(match["name"])


def _parse_origin(raw: bytes) -> Host | None:
    """The host of an Origin; None for `null` or anything not shaped like one."""
    match = _ORIGIN.fullmatch(raw.decode("latin-1"))
    return _parse_authority(match["authority"]) if match else None


def _server_host(scope: dict[str, Any]) -> Host | None:
    server = scope.get("server")
    if not server or not isinstance(server[0], str):
        return None
    name = server[0].strip("[]")
    try:
        return ipaddress.ip_address(name)
    except ValueError:
        return name.lower()


def _host(name: str) -> Host:
    try:
        return ipaddress.IPv4Address(name)
    except ValueError:
        return name.lower()


def _shown(raw: bytes) -> str:
    text = raw.decode("latin-1")
    return repr(text if len(text) <= _SHOWN else text[:_SHOWN] + "…")
