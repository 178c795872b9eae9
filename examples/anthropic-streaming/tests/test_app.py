"""The streaming app against fakellm: chunks, their pacing, and a stream that breaks."""

import time

import anthropic
import pytest

from app import StreamBroken, stream_answer

STORY = "Once upon a time a test streamed a story, one word at a time."


@pytest.mark.fakellm(rules=[{"name": "story", "respond": {"content": STORY, "chunk_size": 2}}])
def test_text_arrives_in_pieces_and_adds_up(fakellm):
    pieces = []
    assert stream_answer("Tell me a story.", on_text=pieces.append) == STORY
    assert len(pieces) > 3
    assert "".join(pieces) == STORY
    (request,) = fakellm.requests
    assert request.stream and request.api == "anthropic.messages"


@pytest.mark.fakellm(rules=[{"name": "slow", "respond": {"content": "one two three", "ttft_ms": 100,
                                                         "chunk_delay_ms": 50}}])
def test_each_piece_is_shown_when_it_arrives(fakellm):
    arrivals = []
    start = time.monotonic()
    stream_answer("Go slowly.", on_text=lambda _text: arrivals.append(time.monotonic() - start))
    assert arrivals[0] >= 0.1  # time to first token
    assert arrivals[-1] - arrivals[0] >= 0.05  # later pieces came later, not all at once


@pytest.mark.fakellm(rules=[{"name": "breaks", "respond": {
    "content": "one two three four five six", "fault": {"type": "error_event", "after_chunks": 2}}}])
def test_a_stream_that_breaks_keeps_what_arrived(fakellm):
    with pytest.raises(StreamBroken, match="the answer stopped: Overloaded") as broken:
        stream_answer("Tell me a story.", on_text=lambda _text: None)
    assert broken.value.partial == "one two"


@pytest.mark.fakellm(rules=[{"name": "overloaded", "respond": {"status": 529, "error": "Overloaded"}}])
def test_an_error_before_the_stream_starts(fakellm):
    client = anthropic.Anthropic(max_retries=0)
    with pytest.raises(StreamBroken, match="the answer stopped: Overloaded") as broken:
        stream_answer("Tell me a story.", on_text=lambda _text: None, client=client)
    assert broken.value.partial == ""
    assert isinstance(broken.value.__cause__, anthropic.APIStatusError)
    assert broken.value.__cause__.status_code == 529
