"""One Realtime socket's session: its settings, its conversation, and what each client event asks.

The conversation is the socket's: `conversation.item.create` adds items, each `response.create` is one
LLM request for the engine (api `openai.realtime`) over the items so far, and its output joins them.
fakellm simulates text only: a session asking for audio gets text and, once, an `error` event saying so.
"""

from __future__ import annotations

import itertools
from typing import Any

import orjson

from ....model import ErrorInfo, Message, Reply, Request
from ...base import InvalidRequest, SocketStep
from ..responses import offered_tools
from ..shapes import tool_choice
from .events import Events, new_session
from .items import client_item, messages_of, missing
from .response import RealtimeRequest, RealtimeResponse

API = "openai.realtime"
PATH = "/v1/realtime"
AUDIO_NOT_SIMULATED = "fakellm_audio_not_simulated"

CLIENT_EVENTS = ("session.update", "conversation.item.create", "conversation.item.delete",
                 "conversation.item.retrieve", "conversation.item.truncate", "response.create", "response.cancel",
                 "input_audio_buffer.append", "input_audio_buffer.commit", "input_audio_buffer.clear",
                 "output_audio_buffer.clear")
_AUDIO_EVENTS = frozenset({"input_audio_buffer.append", "input_audio_buffer.commit", "input_audio_buffer.clear",
                           "output_audio_buffer.clear", "conversation.item.truncate"})
_SUPPORTED = ", ".join(f"'{name}'" for name in CLIENT_EVENTS)

# A socket's conversation keeps its newest items up to this many; older ones drop out, as the real API
# truncates a conversation that outgrows its context (a long-lived socket must not grow without end).
MAX_ITEMS = 4096


class RealtimeSession:
    """`SocketSession` for the OpenAI Realtime API (GA events, or the beta's with `beta`)."""

    def __init__(self, session_id: str, model: str, headers: dict[str, str], beta: bool):
        self.events = Events(session_id, beta)
        self.beta = beta
        self.headers = headers
        self.conversation_id = f"conv_{session_id}"
        self.settings = new_session(self.events, session_id, model)
        self.items: list[dict[str, Any]] = []
        self._session_id = session_id
        self._ids = itertools.count(1)
        self._audio_warned = False

    def new_id(self, prefix: str) -> str:
        return f"{prefix}_{self._session_id}{next(self._ids):04x}"

    def opening(self) -> list[bytes]:
        return [self._dump(self.events("session.created", session=self.settings))]

    # -- client events

    def receive(self, message: str | bytes, responding: bool) -> SocketStep:
        try:
            event = orjson.loads(message)
        except orjson.JSONDecodeError as e:
            return self._error(f"The client event is not valid JSON: {e}", code="invalid_json")
        if not isinstance(event, dict):
            return self._error("The client event must be a JSON object.", code="invalid_json")
        event_id = event.get("event_id") if isinstance(event.get("event_id"), str) else None
        kind = event.get("type")
        try:
            if kind is None:
                raise missing("type")
            if kind not in CLIENT_EVENTS:
                raise InvalidRequest(f"Invalid value: {kind!r}. Supported values are: {_SUPPORTED}.",
                                     param="type", code="invalid_value")
            if kind in _AUDIO_EVENTS:
                raise InvalidRequest(f"fakellm does not simulate audio: {kind} is not supported; send text items "
                                     f"(conversation.item.create) instead.", code=AUDIO_NOT_SIMULATED)
            if kind == "session.update":
                return self._update(event, event_id)
            if kind == "conversation.item.create":
                return self._create_item(event)
            if kind == "conversation.item.delete":
                return self._delete_item(event)
            if kind == "conversation.item.retrieve":
                index = self._index_of(event)
                return self._send(self.events("conversation.item.retrieved", item=self.items[index]))
            if kind == "response.cancel":
                if not responding:
                    raise InvalidRequest("Cancellation failed: no active response found.",
                                         code="response_cancel_not_active")
                return SocketStep(cancel=True)
            if responding:
                raise InvalidRequest("Conversation already has an active response in progress. Wait until the "
                                     "response is finished before creating a new one.",
                                     code="conversation_already_has_active_response")
            return self._response_create(event, event_id)
        except InvalidRequest as e:
            return self._error(e.message, code=e.code, param=e.param, event_id=event_id)

    def _update(self, event: dict[str, Any], event_id: str | None) -> SocketStep:
        session = event.get("session")
        if session is None:
            raise missing("session")
        if not isinstance(session, dict):
            raise InvalidRequest("Invalid type for 'session': expected an object.", param="session",
                                 code="invalid_type")
        if not self.beta:
            kind = session.get("type")
            if kind is None:
                raise missing("session.type")
            if kind != "realtime":
                raise InvalidRequest(f"fakellm simulates realtime sessions only, not session.type {kind!r}.",
                                     param="session.type", code="invalid_value")
        settings = {**self.settings, **{k: v for k, v in session.items() if k not in ("id", "object")}}
        self._settings_of(settings, "session")  # checks them before any is taken
        self.settings = settings
        step = self._send(self.events("session.updated", session=settings))
        step.send += self._audio_check(settings, event_id)
        return step

    def _create_item(self, event: dict[str, Any]) -> SocketStep:
        if "item" not in event or event["item"] is None:
            raise missing("item")
        item = client_item(event["item"], "item", lambda: self.new_id("item"))
        if any(existing["id"] == item["id"] for existing in self.items):
            raise InvalidRequest(f"Item with id '{item['id']}' already exists.", param="item.id",
                                 code="item_id_already_exists")
        previous = event.get("previous_item_id")
        if previous is None:
            at = len(self.items)
        elif previous == "root":
            at = 0
        else:
            at = 1 + self._index_of(event, "previous_item_id")
        self.items.insert(at, item)
        if len(self.items) > MAX_ITEMS:  # the oldest other than the one just added drops out
            oldest = 1 if at == 0 else 0
            del self.items[oldest]
            at -= oldest < at
        where = {"previous_item_id": self.items[at - 1]["id"] if at else None, "item": item}
        return self._send(self.events("conversation.item.added", **where), self.events("conversation.item.done", **where))

    def _delete_item(self, event: dict[str, Any]) -> SocketStep:
        index = self._index_of(event)
        item = self.items.pop(index)
        return self._send(self.events("conversation.item.deleted", item_id=item["id"]))

    def _index_of(self, event: dict[str, Any], key: str = "item_id") -> int:
        item_id = event.get(key)
        if item_id is None:
            raise missing(key)
        for i, item in enumerate(self.items):
            if item["id"] == item_id:
                return i
        raise InvalidRequest(f"Item with item_id '{item_id}' not found in the conversation.", param=key,
                             code="item_not_found")

    def _response_create(self, event: dict[str, Any], event_id: str | None) -> SocketStep:
        params = event.get("response") or {}
        if not isinstance(params, dict):
            raise InvalidRequest("Invalid type for 'response': expected an object.", param="response",
                                 code="invalid_type")
        settings = {**self.settings, **params}
        instructions, names, schemas, choice, max_tokens = self._settings_of(settings, "response")
        conversation = params.get("conversation", "auto")
        if conversation not in ("auto", "none"):
            raise InvalidRequest(f"Invalid value: {conversation!r}. Supported values are: 'auto' and 'none'.",
                                 param="response.conversation", code="invalid_value")
        items = self.items
        if params.get("input") is not None:
            items = self._input_items(params["input"])
        messages = [Message(role="system", text=instructions)] if instructions else []
        messages += messages_of(items)
        body = {"type": "response.create", "model": settings.get("model"), "instructions": instructions or None,
                "tools": settings.get("tools") or None, "tool_choice": settings.get("tool_choice"),
                "input": [{k: v for k, v in item.items() if k not in ("id", "object", "status")} for item in items]}
        metadata = params.get("metadata")
        request = RealtimeRequest(
            API, str(settings.get("model") or ""), messages, self.headers, body, PATH, names, True,
            max_tokens if isinstance(max_tokens, int) else None,
            conversation_id=self.conversation_id, tool_schemas=schemas or None, tool_choice=choice,
            client_event_id=event_id, into_conversation=conversation == "auto",
            metadata=metadata if isinstance(metadata, dict) else None, max_output_tokens=max_tokens)
        return SocketStep(self._audio_check(settings, event_id), request=request)

    def _input_items(self, raw: Any) -> list[dict[str, Any]]:
        """`response.input`: the context of an out-of-band response, instead of the conversation."""
        if not isinstance(raw, list):
            raise InvalidRequest("Invalid type for 'response.input': expected an array of items.",
                                 param="response.input", code="invalid_type")
        items = []
        for i, entry in enumerate(raw):
            if isinstance(entry, dict) and entry.get("type") == "item_reference":
                items.append(self.items[self._index_of({"id": entry.get("id")}, "id")])
            else:
                items.append(client_item(entry, f"response.input[{i}]", lambda: self.new_id("item")))
        return items

    def _settings_of(self, settings: dict[str, Any], where: str) -> tuple[str, list[str], dict[str, Any], Any, Any]:
        """Checks the settings rules read: (instructions, tool names, tool schemas, tool choice, max tokens)."""
        instructions = settings.get("instructions")
        if instructions is not None and not isinstance(instructions, str):
            raise InvalidRequest(f"Invalid type for '{where}.instructions': expected a string.",
                                 param=f"{where}.instructions", code="invalid_type")
        tools = settings.get("tools") or []
        if not isinstance(tools, list):
            raise InvalidRequest(f"Invalid type for '{where}.tools': expected an array.", param=f"{where}.tools",
                                 code="invalid_type")
        names, schemas = offered_tools(tools)
        choice = tool_choice(settings, schemas, flat=True)
        key = self.events.max_tokens_key()
        max_tokens = settings.get(key, "inf")
        if max_tokens != "inf" and (not isinstance(max_tokens, int) or isinstance(max_tokens, bool)
                                    or max_tokens < 1):
            raise InvalidRequest(f"Invalid value for '{where}.{key}': expected an integer of at least 1 or 'inf'.",
                                 param=f"{where}.{key}", code="invalid_value")
        modalities = settings.get(self.events.modalities_key())
        if modalities is not None and (not isinstance(modalities, list)
                                       or any(m not in ("text", "audio") for m in modalities)):
            raise InvalidRequest(f"Invalid value for '{where}.{self.events.modalities_key()}': expected a list of "
                                 f"'text' and 'audio'.", param=f"{where}.{self.events.modalities_key()}",
                                 code="invalid_value")
        return instructions or "", names, schemas, choice, max_tokens

    def _audio_check(self, settings: dict[str, Any], event_id: str | None) -> list[bytes]:
        """The one `error` event of a session that asks for audio output."""
        if self._audio_warned or "audio" not in (settings.get(self.events.modalities_key()) or ()):
            return []
        self._audio_warned = True
        return [self._dump(self.events.error(
            "fakellm does not simulate audio: responses are text only (output_modalities ['text']). "
            "This is said once per session.", code=AUDIO_NOT_SIMULATED, event_id=event_id))]

    # -- responses

    def respond(self, reply: Reply, request: Request, response_id: str) -> RealtimeResponse:
        assert isinstance(request, RealtimeRequest)
        return RealtimeResponse(self, reply, request, response_id)

    def failed(self, status: int, error: ErrorInfo, request: Request, response_id: str) -> list[bytes]:
        event_id = request.client_event_id if isinstance(request, RealtimeRequest) else None
        return [self._dump(self.events.error_info(status, error, event_id))]

    def keep(self, output: list[dict[str, Any]]) -> None:
        """A response's output joins the conversation."""
        self.items.extend(output)
        del self.items[:-MAX_ITEMS]

    # -- helpers

    def _send(self, *events: dict[str, Any] | None) -> SocketStep:
        return SocketStep([self._dump(e) for e in events if e is not None])

    def _error(self, message: str, *, code: str | None = None, param: str | None = None,
               event_id: str | None = None) -> SocketStep:
        return SocketStep([self._dump(self.events.error(message, code=code, param=param, event_id=event_id))])

    @staticmethod
    def _dump(event: dict[str, Any]) -> bytes:
        return orjson.dumps(event)
