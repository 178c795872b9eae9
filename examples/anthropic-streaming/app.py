"""Stream Claude's answer as it arrives."""

from __future__ import annotations

from typing import Callable

import anthropic

MODEL = "claude-sonnet-4-5"


class StreamBroken(Exception):
    """The stream ended with an error; `partial` is the text that arrived before it."""

    def __init__(self, message: str, partial: str):
        super().__init__(message)
        self.partial = partial


def stream_answer(question: str, on_text: Callable[[str], None] = print,
                  client: anthropic.Anthropic | None = None) -> str:
    """Send `question`, hand each piece of text to `on_text` as it arrives, and return the whole answer."""
    client = client or anthropic.Anthropic()
    pieces: list[str] = []
    try:
        with client.messages.stream(model=MODEL, max_tokens=1024,
                                    messages=[{"role": "user", "content": question}]) as stream:
            for text in stream.text_stream:
                pieces.append(text)
                on_text(text)
    except anthropic.APIError as e:
        raise StreamBroken(f"the answer stopped: {_reason(e)}", "".join(pieces)) from e
    return "".join(pieces)


def _reason(error: anthropic.APIError) -> str:
    """The API's own message: Anthropic's error body is {"type": "error", "error": {"message": ...}}."""
    body = error.body
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        return str(body["error"].get("message", error.message))
    return error.message


if __name__ == "__main__":
    import sys

    stream_answer(" ".join(sys.argv[1:]) or "Tell me a story.", on_text=lambda t: print(t, end="", flush=True))
    print()
