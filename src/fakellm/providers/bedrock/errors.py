"""Bedrock's errors: `x-amzn-errortype` names the exception (botocore and the AWS JS SDK take the
`ClientError` code from it) and the body is `{"message": ...}`. Mid-stream, an exception frame."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ...model import ErrorInfo
from ..base import dumps
from . import eventstream

if TYPE_CHECKING:
    from ...traffic.delivery import Answered

# A status's exception, as Bedrock Runtime answers it.
EXCEPTIONS = {
    400: "ValidationException",
    403: "AccessDeniedException",
    404: "ResourceNotFoundException",
    408: "ModelTimeoutException",
    424: "ModelErrorException",
    429: "ThrottlingException",
    500: "InternalServerException",
    503: "ServiceUnavailableException",
}


def exception_name(status: int, error: ErrorInfo | None = None) -> str:
    """The exception for an error: the one a rule names (`error.type: ModelNotReadyException`), else its status's."""
    if error is not None and error.type and error.type.endswith("Exception"):
        return error.type[0].upper() + error.type[1:]
    if status in EXCEPTIONS:
        return EXCEPTIONS[status]
    return "InternalServerException" if status >= 500 else "ValidationException"


def error_body(status: int, error: ErrorInfo, request_id: str = "") -> bytes:
    return dumps({"message": error.message})


def error_headers(status: int, error: ErrorInfo) -> list[tuple[bytes, bytes]]:
    return [(b"x-amzn-errortype", exception_name(status, error).encode())]


def stream_exception(status: int, error: ErrorInfo, members: frozenset[str]) -> bytes:
    """The exception frame for a fault mid-stream: the stream's own member for the error (throttlingException
    for a 429, ...); anything it has no member for is a modelStreamErrorException carrying the status."""
    named = status in EXCEPTIONS or (error.type or "").endswith("Exception")
    name = exception_name(status, error) if named else "ModelStreamErrorException"  # 529 (overloaded), ...
    member = name[0].lower() + name[1:]
    payload: dict[str, Any] = {"message": error.message}
    if member not in members:
        member = "modelStreamErrorException"
        payload.update(originalStatusCode=status, originalMessage=error.message)
    return eventstream.exception(member, dumps(payload))


# The exception members of each stream (botocore's service model).
CONVERSE_STREAM_EXCEPTIONS = frozenset({"internalServerException", "modelStreamErrorException", "validationException",
                                        "throttlingException", "serviceUnavailableException"})
INVOKE_STREAM_EXCEPTIONS = CONVERSE_STREAM_EXCEPTIONS | {"modelTimeoutException"}


class BedrockErrors:
    """The adapters' error hooks, the same for Converse and InvokeModel but for the exception members
    their streams may carry (`stream_exceptions`)."""

    stream_exceptions: frozenset[str]

    def render_error(self, status: int, error: ErrorInfo, request_id: str) -> bytes:
        return error_body(status, error)

    def error_headers(self, status: int, error: ErrorInfo) -> list[tuple[bytes, bytes]]:
        return error_headers(status, error)

    def render_stream_error(self, status: int, error: ErrorInfo, answered: Answered) -> bytes:
        return stream_exception(status, error, self.stream_exceptions)
