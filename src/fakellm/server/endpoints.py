"""Plain JSON endpoints beside the LLM calls: model listings, stored responses, token counts.

They do not run the rules engine; this module gives them the same bounded body
reading, JSON decoding and provider-shaped errors as `FakeLLMApp.serve_llm`.
"""

from __future__ import annotations

import inspect
import logging
from typing import TYPE_CHECKING

from ..asgi import JSON, BodyTooLarge, ClientGone, query_params, read_body, send_response
from ..model import ErrorInfo
from ..providers.base import Call, EndpointFn, ErrorRenderer, InvalidRequest
from ..store.base import StateUnavailable
from .bodies import json_object

if TYPE_CHECKING:
    from .app import FakeLLMApp

log = logging.getLogger("fakellm")

DRAIN_LIMIT = 8 * 1024 * 1024


def json_endpoint(fn: EndpointFn, render_error: ErrorRenderer, *, with_body: bool = False,
                  request_id_headers: tuple[str, ...] = ("x-request-id",)):
    """A route that answers with `fn`'s JSON; `with_body` reads a JSON object body first."""
    names = [name.encode() for name in request_id_headers]

    async def route(app: FakeLLMApp, scope, receive, send, params) -> None:
        request_id = "req_" + app.engine.next_id()
        headers_out = [(name, request_id.encode()) for name in names]
        call = Call(
            path=scope["path"],
            params=params,
            query=query_params(scope),
            headers={k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]},
            request_id=request_id,
            catalog=app.catalog,
            store=app.store,
        )
        try:
            limit = app.config.defaults.max_body_bytes if with_body else DRAIN_LIMIT
            raw = await read_body(receive, limit)
            if with_body:
                call.body = json_object(raw)
            result = fn(call)
            status, out = await result if inspect.isawaitable(result) else result
        except ClientGone:
            return
        except BodyTooLarge:
            status = 413
            out = render_error(413, ErrorInfo("Request body is too large"), request_id)
        except InvalidRequest as e:
            status, out = e.status, render_error(e.status, e.as_error(), request_id)
        except StateUnavailable as e:
            status, out = 503, render_error(503, app.state_alarm(e), request_id)
        except Exception as e:  # a fakellm bug: answer in the provider's shape, keep serving
            log.exception("fakellm: internal error")
            status = 500
            out = render_error(500, ErrorInfo(f"fakellm internal error: {type(e).__name__}: {e}"), request_id)
        await send_response(send, status, out, JSON, headers_out)

    return route
