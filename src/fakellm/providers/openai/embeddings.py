"""OpenAI embeddings: POST /v1/embeddings (wire.md §4).

Each input becomes a user message, so `messages_contain` and the other text
conditions see the inputs. Vectors are deterministic (see `vectors.py`) unless
the matching rule gives `respond.embedding`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Union

from ...engine import tokens, vectors
from ...engine.catalog import Catalog
from ...model import ErrorInfo, Message, Reply, Request
from ..base import InvalidRequest, check, dumps, positive_int, require
from .chat import error_body

MAX_INPUTS = 2048

EmbeddingInput = Union[str, list[int]]


@dataclass(slots=True)
class EmbeddingsRequest(Request):
    inputs: list[EmbeddingInput] = field(default_factory=list)
    dimensions: int = 0
    base64: bool = False


def parse_inputs(value: Any) -> list[EmbeddingInput]:
    """`input`: a string, a list of strings, a token array, or a list of token arrays."""
    if isinstance(value, str):
        inputs: list[EmbeddingInput] = [value]
    elif isinstance(value, list) and value and all(_is_token(t) for t in value):
        inputs = [value]
    elif isinstance(value, list) and value:
        inputs = value
    else:
        raise InvalidRequest("input: Input should be a non-empty string, array of strings, array of tokens, "
                             "or array of token arrays", param="input")
    if len(inputs) > MAX_INPUTS:
        raise InvalidRequest(f"input: at most {MAX_INPUTS} inputs per request, got {len(inputs)}", param="input")
    for i, item in enumerate(inputs):
        if isinstance(item, str):
            if not item:
                raise InvalidRequest(f"input[{i}]: the input must not be an empty string", param="input")
        elif not (isinstance(item, list) and item and all(_is_token(t) for t in item)):
            raise InvalidRequest(f"input[{i}]: Input should be a non-empty string or a non-empty array of tokens",
                                 param="input")
    return inputs


def _is_token(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _text(item: EmbeddingInput) -> str:
    return item if isinstance(item, str) else " ".join(map(str, item))


class OpenAIEmbeddings:
    api = "openai.embeddings"
    request_id_header = "x-request-id"

    def __init__(self, catalog: Callable[[], Catalog]):
        self._catalog = catalog

    def parse(self, body: dict[str, Any], headers: dict[str, str], path: str, params: dict[str, str]) -> Request:
        model = require(body, "model", str, "a valid string")
        if "input" not in body:
            raise InvalidRequest("input: Field required", param="input")
        inputs = parse_inputs(body["input"])
        fmt = check(body, "encoding_format", str, "'float' or 'base64'") or "float"
        if fmt not in ("float", "base64"):
            raise InvalidRequest(f"encoding_format: Input should be 'float' or 'base64', got {fmt!r}",
                                 param="encoding_format")
        native = self._catalog().embedding_dimensions(model)
        dimensions = positive_int(body, "dimensions") or native
        if dimensions > native:
            raise InvalidRequest(
                f"dimensions: {model} gives vectors of at most {native} dimensions, got {dimensions} "
                f"(the `models:` list of the config can give a model more)", param="dimensions")
        check(body, "user", str, "a valid string")
        return EmbeddingsRequest(
            api=self.api,
            model=model,
            messages=[Message(role="user", text=_text(item)) for item in inputs],
            headers=headers,
            body=body,
            path=path,
            generates_text=False,
            inputs=inputs,
            dimensions=dimensions,
            base64=fmt == "base64",
        )

    def render(self, reply: Reply, request: Request, response_id: str) -> bytes:
        assert isinstance(request, EmbeddingsRequest)
        fixed = reply.embedding
        if fixed:
            vectors_out = vectors.rule_vectors(fixed, len(request.inputs))
        else:
            vectors_out = [vectors.embed(_seed(item), request.dimensions) for item in request.inputs]
        encode = vectors.to_base64 if request.base64 else (lambda v: v)
        prompt_tokens = reply.usage.input_tokens
        if any(not isinstance(item, str) for item in request.inputs):
            count = tokens.counter(request.api)
            prompt_tokens = sum(len(item) if isinstance(item, list) else count(item) for item in request.inputs)
        return dumps({
            "object": "list",
            "data": [{"object": "embedding", "index": i, "embedding": encode(v)} for i, v in enumerate(vectors_out)],
            "model": request.model,
            "usage": {"prompt_tokens": prompt_tokens, "total_tokens": prompt_tokens},
        })

    def render_stream(self, reply: Reply, request: Request, response_id: str) -> list[bytes]:
        return [self.render(reply, request, response_id)]  # embeddings never stream

    def render_error(self, status: int, error: ErrorInfo, request_id: str) -> bytes:
        return error_body(status, error)


def _seed(item: EmbeddingInput) -> str:
    # A token array is not the same input as the text of its numbers.
    return item if isinstance(item, str) else "\x00tokens:" + _text(item)
