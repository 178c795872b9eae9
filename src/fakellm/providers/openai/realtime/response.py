"""One Realtime response: the engine's reply as the events of `response.create`, and how the response
ends when it is cut short (cancelled, truncated, failed), with its output kept in the conversation."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson

from ....model import LENGTH, ErrorInfo, Reply, Request
from ...base import split_json, text_pieces
from .events import Events, function_call_item, message_item, output_so_far, response_object, usage_object

if TYPE_CHECKING:
    from .session import RealtimeSession

# The rate-limit headers the OpenAI family sets under a limit, as `rate_limits.updated` lists them.
_LIMIT_HEADERS = (("requests", "x-ratelimit-limit-requests", "x-ratelimit-remaining-requests",
                   "x-ratelimit-reset-requests"),
                  ("tokens", "x-ratelimit-limit-tokens", "x-ratelimit-remaining-tokens", "x-ratelimit-reset-tokens"))
_GO_DURATION = re.compile(r"(?:(\d+)h)?(?:(\d+)m(?!s))?(?:([\d.]+)s)?(?:(\d+)ms)?")


@dataclass(slots=True)
class RealtimeRequest(Request):
    """A `response.create`, with what its response needs besides the engine's reply."""

    client_event_id: str | None = None
    into_conversation: bool = True  # `conversation: "none"` keeps the output out of the conversation
    metadata: dict[str, Any] | None = None
    max_output_tokens: Any = "inf"
    conversation_items: list[dict[str, Any]] = field(default_factory=list)


class RealtimeResponse:
    """`SocketResponse` for one reply: `head` and `events` as bytes, their dicts kept to rebuild the
    output of a response cut short."""

    def __init__(self, session: RealtimeSession, reply: Reply, request: RealtimeRequest, response_id: str):
        self.session = session
        self.request = request
        self.reply = reply
        self.id = "resp_" + response_id
        ev = session.events
        self._ev = ev
        conversation_id = session.conversation_id if request.into_conversation else None
        self._conversation_id = conversation_id
        created = ev("response.created", response=self._object("in_progress", []))
        if reply.error is not None:
            head = [created]
            body = [ev.error_info(reply.status, reply.error, request.client_event_id),
                    ev("response.done", response=self._object("failed", [], details=_failed(ev, reply)))]
        else:
            head = [created, ev("rate_limits.updated", rate_limits=_rate_limits(reply.headers))]
            body = self._output_events(reply, response_id)
        self._head_dicts = head
        self._dicts = [e for e in body if e is not None]
        self.head = [orjson.dumps(e) for e in head]
        self.events = [orjson.dumps(e) for e in self._dicts]

    def _object(self, status: str, output: list[dict[str, Any]], *, details: dict[str, Any] | None = None,
                usage: dict[str, Any] | None = None) -> dict[str, Any]:
        r = self.request
        return response_object(self._ev, self.id, self._conversation_id, status, output, usage=usage,
                               status_details=details, max_tokens=r.max_output_tokens, metadata=r.metadata)

    def _output_events(self, reply: Reply, response_id: str) -> list[dict[str, Any] | None]:
        ev = self._ev
        out: list[dict[str, Any] | None] = []
        items: list[dict[str, Any]] = []
        if reply.content:
            index = len(items)
            item_id = self.session.new_id("item")
            where = {"item_id": item_id, "output_index": index, "content_index": 0, "response_id": self.id}
            text = reply.content
            out.append(ev("response.output_item.added", response_id=self.id, output_index=index,
                          item=message_item(item_id, "assistant", [], "in_progress")))
            out.append(ev("response.content_part.added", **where, part={"type": "text", "text": ""}))
            out.extend(ev("response.output_text.delta", **where, delta=piece) for piece in text_pieces(reply, text))
            out.extend(self._text_done(where, text, "completed"))
            items.append(message_item(item_id, "assistant", [ev.output_text_part(text)]))
        for k, call in enumerate(reply.tool_calls):
            index = len(items)
            item_id = self.session.new_id("item")
            if not call.id:
                call.id = f"call_{response_id}{k}"
            out.append(ev("response.output_item.added", response_id=self.id, output_index=index,
                          item=function_call_item(item_id, call.id, call.name, "", "in_progress")))
            where = {"item_id": item_id, "output_index": index, "call_id": call.id, "response_id": self.id}
            out.extend(ev("response.function_call_arguments.delta", **where, delta=piece)
                       for piece in split_json(call.arguments))
            item = function_call_item(item_id, call.id, call.name, call.arguments)
            out.extend(self._call_done(where, item))
            items.append(item)
        status, details = "completed", None
        if reply.finish_reason == LENGTH:
            status, details = "incomplete", {"type": "incomplete", "reason": "max_output_tokens"}
        out.append(ev("response.done", response=self._object(status, items, details=details, usage=self._usage())))
        return out

    def _text_done(self, where: dict[str, Any], text: str, status: str) -> list[dict[str, Any] | None]:
        ev = self._ev
        return [ev("response.output_text.done", **where, text=text),
                ev("response.content_part.done", **where, part={"type": "text", "text": text}),
                ev("response.output_item.done", response_id=self.id, output_index=where["output_index"],
                   item=message_item(where["item_id"], "assistant", [ev.output_text_part(text)], status))]

    def _call_done(self, where: dict[str, Any], item: dict[str, Any]) -> list[dict[str, Any] | None]:
        ev = self._ev
        return [ev("response.function_call_arguments.done", **where, name=item["name"], arguments=item["arguments"]),
                ev("response.output_item.done", response_id=self.id, output_index=where["output_index"], item=item)]

    def _usage(self) -> dict[str, Any]:
        usage = self.reply.usage
        return usage_object(usage.input_tokens, usage.output_tokens)

    def end(self, sent: int, how: str, error: tuple[int, ErrorInfo] | None = None) -> list[bytes]:
        """See `SocketResponse.end`."""
        if how == "done" or self.reply.error is not None:
            if how == "done" and self.reply.error is None:
                self._keep(self._dicts[-1]["response"]["output"])
            return []
        ev = self._ev
        output = output_so_far(self._dicts[:sent], ev.output_text_part("")["type"])
        closing: list[dict[str, Any] | None] = []
        if output and output[-1]["status"] == "in_progress":  # the item the cut interrupted
            index = len(output) - 1
            item = output[index] = {**output[index], "status": "incomplete"}
            if item["type"] == "message":
                if item["content"]:
                    text = item["content"][0]["text"]
                    closing += self._text_done({"item_id": item["id"], "output_index": index, "content_index": 0,
                                                "response_id": self.id}, text, "incomplete")
                else:
                    closing.append(ev("response.output_item.done", response_id=self.id, output_index=index,
                                      item=item))
            else:
                closing += self._call_done({"item_id": item["id"], "output_index": index, "call_id": item["call_id"],
                                            "response_id": self.id}, item)
        if how == "cancelled":
            status, details = "cancelled", {"type": "cancelled", "reason": "client_cancelled"}
        elif how == "error_event" and error is not None:
            closing.append(ev.error_info(error[0], error[1], self.request.client_event_id))
            status, details = "failed", {"type": "failed", "error": closing[-1]["error"]}
        else:  # truncate: the stream stopped early
            status, details = "incomplete", {"type": "incomplete", "reason": None}
        closing.append(ev("response.done", response=self._object(status, output, details=details,
                                                                   usage=self._usage())))
        self._keep(output)
        return [orjson.dumps(e) for e in closing if e is not None]

    def _keep(self, output: list[dict[str, Any]]) -> None:
        if self.request.into_conversation:
            self.session.keep(output)


def _failed(ev: Events, reply: Reply) -> dict[str, Any]:
    error = ev.error_info(reply.status, reply.error)["error"] if reply.error is not None else {}
    return {"type": "failed", "error": {"type": error.get("type"), "code": error.get("code"),
                                        "message": error.get("message")}}


def _rate_limits(headers: dict[str, str]) -> list[dict[str, Any]]:
    """The limits a reply's rate-limit headers report (none: no limit is configured)."""
    out = []
    for name, limit, remaining, reset in _LIMIT_HEADERS:
        if limit in headers:
            out.append({"name": name, "limit": int(headers[limit]), "remaining": int(headers.get(remaining, 0)),
                        "reset_seconds": _seconds(headers.get(reset, "0s"))})
    return out


def _seconds(duration: str) -> float:
    """A Go duration ("1.5s", "17ms", "6m0s", "1h2m3s") in seconds."""
    m = _GO_DURATION.fullmatch(duration)
    if m is None:
        return 0.0
    hours, minutes, secs, ms = m.groups()
    return round(int(hours or 0) * 3600 + int(minutes or 0) * 60 + float(secs or 0) + int(ms or 0) / 1000, 3)
