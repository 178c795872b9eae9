"""The Realtime API's WebSocket endpoint: the handshake (model, dialect, subprotocol) and a session per socket."""

from __future__ import annotations

from ....model import ErrorInfo
from ...base import InvalidRequest
from ..chat import error_body
from .events import CONTENT_EVENT_MARKERS
from .session import API, RealtimeSession

# What browsers offer as subprotocols (they cannot set headers): the protocol, the key, and the beta flag.
SUBPROTOCOL = "realtime"
BETA_SUBPROTOCOL = "openai-beta.realtime-v1"


class OpenAIRealtime:
    """`SocketOpener` for `/v1/realtime`."""

    api = API
    content_event_markers = CONTENT_EVENT_MARKERS

    def subprotocol(self, offered: list[str]) -> str | None:
        return SUBPROTOCOL if SUBPROTOCOL in offered else None

    def open(self, headers: dict[str, str], query: dict[str, str], subprotocols: list[str],
             session_id: str) -> RealtimeSession:
        model = query.get("model")
        if not model:
            raise InvalidRequest("Missing required parameter: 'model'. fakellm serves Realtime sessions named by "
                                 "model (GET /v1/realtime?model=...), not calls (call_id).", param="model",
                                 code="missing_required_parameter")
        beta = "realtime=v1" in headers.get("openai-beta", "") or BETA_SUBPROTOCOL in subprotocols
        return RealtimeSession(session_id, model, headers, beta)

    def render_error(self, status: int, error: ErrorInfo, request_id: str) -> bytes:
        return error_body(status, error)
