"""Token counting: approximate by default; tiktoken only from its local cache, only for OpenAI."""

from __future__ import annotations

import tiktoken.load as tiktoken_load
import tiktoken.registry
from helpers import anthropic_client, app_from, openai_client

from fakellm.engine import tokens

CONFIG = "rules:\n  - respond: {content: 'alpha beta gamma delta epsilon zeta eta theta'}\n"


def test_without_a_cached_encoding_nothing_is_downloaded(monkeypatch, tmp_path):
    fetched: list[str] = []

    def no_network(blobpath: str) -> bytes:
        fetched.append(blobpath)
        raise AssertionError("fakellm tried to download a tiktoken encoding")

    monkeypatch.setattr(tiktoken_load, "read_file", no_network)
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path))  # an empty cache
    monkeypatch.setattr(tokens, "_encode", None)
    # Encodings another library in this process loaded already (LangChain, LiteLLM) are forgotten.
    monkeypatch.setattr(tiktoken.registry, "ENCODINGS", {})
    assert tokens.load_accurate_encoding() is False
    assert fetched == []
    assert tokens.counter("openai.chat") is tokens.count  # the approximation stays


def test_accurate_counts_apply_to_openai_only(monkeypatch):
    # Stand in for a loaded encoding: one token per character, easy to tell from len // 4.
    monkeypatch.setattr(tokens, "_encode", lambda text: list(text))
    app = app_from(CONFIG)
    text = "alpha beta gamma delta epsilon zeta eta theta"

    chat = openai_client(app).chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
    assert chat.usage.completion_tokens == len(text)
    assert chat.usage.prompt_tokens == 2

    message = anthropic_client(app).messages.create(model="claude-x", max_tokens=100,
                                                    messages=[{"role": "user", "content": "hi"}])
    assert message.usage.output_tokens == len(text) // 4


def test_max_tokens_truncates_with_the_same_counter(monkeypatch):
    monkeypatch.setattr(tokens, "_encode", lambda text: list(text))
    chat = openai_client(app_from(CONFIG)).chat.completions.create(
        model="gpt-4o", max_tokens=11, messages=[{"role": "user", "content": "hi"}])
    assert chat.choices[0].finish_reason == "length"
    assert chat.choices[0].message.content == "alpha beta"  # whole pieces, at most 11 "tokens"
    assert chat.usage.completion_tokens == len("alpha beta")


def test_approximate_counts_are_len_over_four():
    assert tokens.count("") == 0
    assert tokens.count("abc") == 1
    assert tokens.count("a" * 40) == 10
