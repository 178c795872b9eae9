"""A minimal ASGI app: the ceiling for W1 on this machine's uvicorn.

It reads the body and answers every request with one fixed OpenAI-shaped
chat completion, so bench/run.py can show how much of the raw uvicorn budget
fakellm's own code uses. Run by run.py as `uvicorn raw_asgi:app`.
"""

import json

BODY = json.dumps({
    "id": "chatcmpl-reference",
    "object": "chat.completion",
    "created": 0,
    "model": "gpt-4o-mini",
    "choices": [{
        "index": 0,
        "message": {"role": "assistant", "content": "Hello from the fakellm benchmark."},
        "finish_reason": "stop",
    }],
    "usage": {"prompt_tokens": 5, "completion_tokens": 8, "total_tokens": 13},
}).encode()
HEADERS = [(b"content-type", b"application/json"), (b"content-length", str(len(BODY)).encode())]


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    await send({"type": "http.response.body", "body": BODY})
