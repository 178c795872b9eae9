"""The dashboard at GET /_fakellm: one static page that polls the admin API.

The page (index.html, app.js, style.css) is package data, read once and served
as is: no templating, so nothing from a request ever reaches the HTML. The
script renders every value with textContent, and a strict Content-Security-Policy
(no inline script, no external origin) backs that up.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any

from ...asgi import HTML, Receive, Send, send_response

if TYPE_CHECKING:
    from ...server.router import Router
    from ..access import AdminAccess

PREFIX = "/_fakellm"
ASSET_TYPES = {
    "app.js": b"text/javascript; charset=utf-8",
    "style.css": b"text/css; charset=utf-8",
}
SECURITY_HEADERS = [
    (b"content-security-policy",
     b"default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; "
     b"base-uri 'none'; form-action 'none'; frame-ancestors 'none'"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    # The page is small; always revalidate so an upgraded fakellm serves its new page.
    (b"cache-control", b"no-cache"),
]


@cache
def asset(name: str) -> bytes:
    """The bytes of one file of the page, read from package data once."""
    return resources.files(__name__).joinpath(name).read_bytes()


def _file_route(name: str, content_type: bytes):
    async def route(app: Any, scope: dict[str, Any], receive: Receive, send: Send, params: dict[str, str]) -> None:
        body = asset(name)
        await send_response(send, 200, b"" if scope["method"] == "HEAD" else body, content_type, SECURITY_HEADERS)

    return route


def register(router: Router, access: AdminAccess) -> None:
    """Serve the page at /_fakellm (and /_fakellm/) and its assets under /_fakellm/assets/. They hold
    no data, so they need no admin token (the page asks for one when the API wants it)."""
    from ..access import guard

    page = guard(_file_route("index.html", HTML), access, holds_data=False)
    router.add("GET", PREFIX, page)
    router.add("GET", PREFIX + "/", page)
    for name, content_type in ASSET_TYPES.items():
        router.add("GET", f"{PREFIX}/assets/{name}", guard(_file_route(name, content_type), access, holds_data=False))
