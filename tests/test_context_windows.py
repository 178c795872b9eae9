"""Context windows: a model's `context_window` and `max_output_tokens` refuse oversized requests with the
provider's real 400, before any rule is tried, through every official SDK against a real server.

Every boundary is computed from the usage fakellm reports for the same prompt on a model without limits,
so the tests hold whichever token counter is active.
"""

from __future__ import annotations

import anthropic
import httpx
import openai
import pytest
from google.genai import errors as genai_errors
from google.genai import types as genai_types

from fakellm import FakeLLM
from fakellm.config import ConfigError, parse_config
from helpers import gemini_client, ollama_client

GPT, CLAUDE, GEMINI = "gpt-ctx", "claude-ctx", "gemini-ctx"
UNLIMITED = "unlimited-model"  # in `models:` too, without limits: never refused
PROMPT = "The quick brown fox jumps over the lazy dog near the riverbank. " * 30
RULES = [{"name": "answer", "respond": {"content": "it fits"}}]


def config(window: int | None, most: int | None = None) -> dict:
    limits = {k: v for k, v in (("context_window", window), ("max_output_tokens", most)) if v is not None}
    return {"models": [{"id": m, **limits} for m in (GPT, CLAUDE, GEMINI)] + [UNLIMITED], "rules": RULES}


@pytest.fixture(scope="module")
def server():
    with FakeLLM(config(None)) as llm:
        yield llm


@pytest.fixture
def llm(server):
    server.set_config(config(None))
    server.reset()
    return server


@pytest.fixture
def oai(llm):
    return openai.OpenAI(base_url=llm.openai_base_url, api_key="sk-test", max_retries=0)


@pytest.fixture
def claude(llm):
    return anthropic.Anthropic(base_url=llm.anthropic_base_url, api_key="sk-ant-test", max_retries=0)


@pytest.fixture
def gemini(llm):
    return gemini_client(llm.url)


def user(text: str = PROMPT) -> list[dict]:
    return [{"role": "user", "content": text}]


def chat_prompt_tokens(oai, messages=None) -> int:
    reply = oai.chat.completions.create(model=UNLIMITED, messages=messages or user())
    return reply.usage.prompt_tokens


def still_serving(oai) -> None:
    reply = oai.chat.completions.create(model=UNLIMITED, messages=user("still there?"))
    assert reply.choices[0].message.content == "it fits"


# --------------------------------------------------------------------------- OpenAI chat


@pytest.mark.parametrize("key", ["max_tokens", "max_completion_tokens"])
def test_chat_just_under_passes_and_just_over_is_context_length_exceeded(llm, oai, key):
    p = chat_prompt_tokens(oai)
    llm.set_config(config(p + 50, 100))
    under = oai.chat.completions.create(model=GPT, messages=user(), **{key: 50})
    assert under.choices[0].message.content == "it fits" and under.usage.prompt_tokens == p
    with pytest.raises(openai.BadRequestError) as info:
        oai.chat.completions.create(model=GPT, messages=user(), **{key: 51})
    e = info.value
    assert e.status_code == 400 and e.code == "context_length_exceeded" and e.param == "messages"
    assert e.type == "invalid_request_error"
    assert e.body["message"] == (
        f"This model's maximum context length is {p + 50} tokens. However, you requested {p + 51} tokens "
        f"({p} in the messages, 51 in the completion). Please reduce the length of the messages or completion.")
    still_serving(oai)


def test_chat_without_max_tokens_counts_only_the_messages(llm, oai):
    p = chat_prompt_tokens(oai)
    llm.set_config(config(p))
    assert oai.chat.completions.create(model=GPT, messages=user()).choices[0].message.content == "it fits"
    llm.set_config(config(p - 1))
    with pytest.raises(openai.BadRequestError) as info:
        oai.chat.completions.create(model=GPT, messages=user())
    assert info.value.code == "context_length_exceeded"
    assert info.value.body["message"] == (
        f"This model's maximum context length is {p - 1} tokens. However, your messages resulted in {p} tokens. "
        f"Please reduce the length of the messages.")


def test_chat_stream_is_refused_with_a_400_before_the_stream_starts(llm, oai):
    p = chat_prompt_tokens(oai)
    llm.set_config(config(p - 1))
    with pytest.raises(openai.BadRequestError) as info:
        oai.chat.completions.create(model=GPT, messages=user(), stream=True)
    assert info.value.status_code == 400 and info.value.code == "context_length_exceeded"
    llm.set_config(config(p))
    text = "".join(c.choices[0].delta.content or "" for c in
                   oai.chat.completions.create(model=GPT, messages=user(), stream=True) if c.choices)
    assert text == "it fits"


@pytest.mark.parametrize("key", ["max_tokens", "max_completion_tokens"])
def test_chat_output_above_max_output_tokens_is_invalid_value(llm, oai, key):
    llm.set_config(config(100_000, 4096))
    assert oai.chat.completions.create(model=GPT, messages=user("hi"), **{key: 4096}).choices
    with pytest.raises(openai.BadRequestError) as info:
        oai.chat.completions.create(model=GPT, messages=user("hi"), **{key: 5000})
    e = info.value
    assert e.code == "invalid_value" and e.param == key
    assert e.body["message"] == (f"{key} is too large: 5000. This model supports at most 4096 completion tokens, "
                                 f"whereas you provided 5000.")
    still_serving(oai)


def test_a_model_without_limits_is_never_refused(llm, oai, claude):
    llm.set_config(config(10, 5))
    huge = user("word " * 50_000)
    assert oai.chat.completions.create(model=UNLIMITED, messages=huge, max_tokens=1_000_000).choices
    assert claude.messages.create(model=UNLIMITED, max_tokens=1_000_000, messages=huge, timeout=30).content
    # A model missing from `models:` altogether has no limits either.
    assert oai.chat.completions.create(model="gpt-4o", messages=huge, max_tokens=1_000_000).choices


def test_only_max_output_tokens_limits_only_the_output(llm, oai):
    llm.set_config({"models": [{"id": GPT, "max_output_tokens": 10}], "rules": RULES})
    assert oai.chat.completions.create(model=GPT, messages=user("word " * 50_000), max_tokens=10).choices
    with pytest.raises(openai.BadRequestError) as info:
        oai.chat.completions.create(model=GPT, messages=user("hi"), max_tokens=11)
    assert info.value.code == "invalid_value"


def test_azure_deployments_answer_in_openai_shape(llm, oai):
    p = chat_prompt_tokens(oai)
    llm.set_config(config(p - 1))
    azure = openai.AzureOpenAI(azure_endpoint=llm.url, api_key="azure-key", api_version="2025-04-01-preview",
                               max_retries=0)
    with pytest.raises(openai.BadRequestError) as info:
        azure.chat.completions.create(model=GPT, messages=user())  # the deployment names the model
    assert info.value.code == "context_length_exceeded" and info.value.param == "messages"


def test_legacy_completions(llm, oai):
    p = oai.completions.create(model=UNLIMITED, prompt=PROMPT).usage.prompt_tokens
    llm.set_config(config(p + 5))
    assert oai.completions.create(model=GPT, prompt=PROMPT, max_tokens=5).choices[0].text == "it fits"
    with pytest.raises(openai.BadRequestError) as info:
        oai.completions.create(model=GPT, prompt=PROMPT, max_tokens=6)
    assert info.value.code == "context_length_exceeded"
    assert info.value.body["message"] == (
        f"This model's maximum context length is {p + 5} tokens, however you requested {p + 6} tokens ({p} in your "
        f"prompt; 6 for the completion). Please reduce your prompt; or completion length.")


# --------------------------------------------------------------------------- OpenAI Responses


def test_responses_over_the_window(llm, oai):
    p = oai.responses.create(model=UNLIMITED, input=PROMPT).usage.input_tokens
    llm.set_config(config(p + 20, 50))
    assert oai.responses.create(model=GPT, input=PROMPT, max_output_tokens=20).output_text == "it fits"
    for stream in (False, True):
        with pytest.raises(openai.BadRequestError) as info:
            oai.responses.create(model=GPT, input=PROMPT, max_output_tokens=21, stream=stream)
        e = info.value
        assert e.status_code == 400 and e.code == "context_length_exceeded" and e.param == "input"
        assert e.body["message"] == ("Your input exceeds the context window of this model. "
                                     "Please adjust your input and try again.")
    with pytest.raises(openai.BadRequestError) as info:
        oai.responses.create(model=GPT, input="hi", max_output_tokens=51)
    assert info.value.code == "invalid_value" and info.value.param == "max_output_tokens"
    assert info.value.body["message"].startswith("max_output_tokens is too large: 51.")


def test_responses_chain_counts_the_stored_history(llm, oai):
    """previous_response_id brings the stored conversation into the prompt, as the real API counts it."""
    p = oai.responses.create(model=UNLIMITED, input=PROMPT).usage.input_tokens
    llm.set_config(config(p + 10))
    first = oai.responses.create(model=GPT, input=PROMPT)
    assert first.output_text == "it fits"
    with pytest.raises(openai.BadRequestError) as info:
        oai.responses.create(model=GPT, input=PROMPT, previous_response_id=first.id)
    assert info.value.code == "context_length_exceeded"


# --------------------------------------------------------------------------- Anthropic


def anthropic_prompt_tokens(claude) -> int:
    return claude.messages.create(model=UNLIMITED, max_tokens=10, messages=user()).usage.input_tokens


def test_anthropic_prompt_too_long_and_prompt_plus_max_tokens(llm, claude):
    p = anthropic_prompt_tokens(claude)
    llm.set_config(config(p + 30, 64))
    assert claude.messages.create(model=CLAUDE, max_tokens=30, messages=user()).content[0].text == "it fits"
    with pytest.raises(anthropic.BadRequestError) as info:
        claude.messages.create(model=CLAUDE, max_tokens=31, messages=user())
    assert info.value.status_code == 400 and info.value.type == "invalid_request_error"
    assert info.value.body["error"]["message"] == (
        f"input length and `max_tokens` exceed context limit: {p} + 31 > {p + 30}, "
        f"decrease input length or `max_tokens` and try again")
    llm.set_config(config(p - 1, 64))
    with pytest.raises(anthropic.BadRequestError) as info:
        claude.messages.create(model=CLAUDE, max_tokens=1, messages=user())
    assert info.value.body["error"]["message"] == f"prompt is too long: {p} tokens > {p - 1} maximum"


def test_anthropic_max_tokens_above_the_models_output_limit(llm, claude):
    llm.set_config(config(200_000, 64_000))
    with pytest.raises(anthropic.BadRequestError) as info:
        # A timeout: without one the SDK refuses so large a max_tokens unstreamed before sending it.
        claude.messages.create(model=CLAUDE, max_tokens=100_000, messages=user("hi"), timeout=30)
    assert info.value.body["error"] == {
        "type": "invalid_request_error",
        "message": f"max_tokens: 100000 > 64000, which is the maximum allowed number of output tokens for {CLAUDE}"}
    assert claude.messages.create(model=CLAUDE, max_tokens=64_000, messages=user("hi"), timeout=30).content


def test_anthropic_streams_are_refused_before_they_start(llm, claude):
    p = anthropic_prompt_tokens(claude)
    llm.set_config(config(p - 1))
    with pytest.raises(anthropic.BadRequestError) as info:
        claude.messages.create(model=CLAUDE, max_tokens=10, messages=user(), stream=True)
    assert info.value.status_code == 400
    with pytest.raises(anthropic.BadRequestError):
        with claude.messages.stream(model=CLAUDE, max_tokens=10, messages=user()) as stream:
            stream.get_final_message()
    with claude.messages.stream(model=UNLIMITED, max_tokens=10, messages=user()) as stream:
        assert stream.get_final_text() == "it fits"


# --------------------------------------------------------------------------- Gemini


def gemini_prompt_tokens(gemini) -> int:
    return gemini.models.generate_content(model=UNLIMITED, contents=PROMPT).usage_metadata.prompt_token_count


def test_gemini_input_over_the_window_is_invalid_argument(llm, gemini):
    p = gemini_prompt_tokens(gemini)
    llm.set_config(config(p - 1))
    with pytest.raises(genai_errors.ClientError) as info:
        gemini.models.generate_content(model=GEMINI, contents=PROMPT)
    e = info.value
    assert e.code == 400 and e.status == "INVALID_ARGUMENT"
    assert e.message == f"The input token count ({p}) exceeds the maximum number of tokens allowed ({p - 1})."
    with pytest.raises(genai_errors.ClientError) as info:
        list(gemini.models.generate_content_stream(model=GEMINI, contents=PROMPT))
    assert info.value.code == 400
    assert gemini.models.generate_content(model=UNLIMITED, contents=PROMPT).text == "it fits"


def test_gemini_counts_its_output_limit_apart_from_the_input(llm, gemini):
    """Gemini's inputTokenLimit and outputTokenLimit are separate: a prompt that fits passes whatever
    maxOutputTokens asks (up to the output limit); above the output limit is its own 400."""
    p = gemini_prompt_tokens(gemini)
    llm.set_config(config(p, 100))
    fits = genai_types.GenerateContentConfig(max_output_tokens=100)
    assert gemini.models.generate_content(model=GEMINI, contents=PROMPT, config=fits).text == "it fits"
    with pytest.raises(genai_errors.ClientError) as info:
        gemini.models.generate_content(model=GEMINI, contents="hi",
                                       config=genai_types.GenerateContentConfig(max_output_tokens=101))
    assert info.value.status == "INVALID_ARGUMENT"
    assert info.value.message == ("Unable to submit request because it has a maxOutputTokens value of 101 but the "
                                  "supported range is from 1 (inclusive) to 101 (exclusive). Update the value and "
                                  "try again.")


def test_listings_show_the_declared_limits(llm, gemini, claude):
    llm.set_config(config(32_768, 4_096))
    model = gemini.models.get(model=GEMINI)
    assert (model.input_token_limit, model.output_token_limit) == (32_768, 4_096)
    info = claude.models.retrieve(CLAUDE)
    assert (info.max_input_tokens, info.max_tokens) == (32_768, 4_096)


# --------------------------------------------------------------------------- Ollama


def test_ollama_is_left_alone_it_truncates_rather_than_refuses(llm):
    llm.set_config(config(5, 5))
    reply = ollama_client(llm.url).chat(model=GPT, messages=user(), options={"num_predict": 100})
    assert reply.message.content == "it fits"


# --------------------------------------------------------------------------- journal, rules, turns


def test_a_refusal_is_journaled_with_a_note_and_uses_up_no_rule(llm, oai):
    p = chat_prompt_tokens(oai)
    llm.set_config({**config(p), "rules": [{"name": "once", "times": 1, "respond": {"content": "it fits"}}]})
    llm.reset()
    same_conversation = {"x-fakellm-conversation-id": "trimming-app"}
    messages = user() + [{"role": "assistant", "content": "earlier"}, {"role": "user", "content": "go on"}]
    with pytest.raises(openai.BadRequestError):
        oai.chat.completions.create(model=GPT, messages=messages, extra_headers=same_conversation)
    refused = llm.requests[-1]
    assert refused.status == 400 and refused.rule is None and refused.turn == 2
    assert refused.error.code == "context_length_exceeded"
    assert refused.error.message.startswith(f"This model's maximum context length is {p} tokens.")
    assert "refused before any rule was tried" in str(refused.explanation)
    assert f"context_window ({p})" in str(refused.explanation)
    # The same conversation, trimmed: the `times: 1` rule was not used up by the refusal.
    trimmed = [{"role": "user", "content": "short"}] + messages[1:]
    ok = oai.chat.completions.create(model=GPT, messages=trimmed, extra_headers=same_conversation)
    assert ok.choices[0].message.content == "it fits"
    assert llm.requests[-1].rule == "once" and llm.requests[-1].turn == 2
    journal = httpx.get(f"{llm.url}/_fakellm/requests").json()["requests"]
    assert journal[0]["explanation"]["summary"].startswith("refused before any rule was tried")
    assert journal[0]["reply"]["error"]["code"] == "context_length_exceeded"


def test_an_apps_trimming_path_drops_the_oldest_messages_until_it_fits(llm, oai):
    """What the feature is for: an app that drops its oldest turns on context_length_exceeded and retries."""
    history = []
    for i in range(12):
        history += [{"role": "user", "content": f"question {i}: " + "detail " * 40},
                    {"role": "assistant", "content": f"answer {i}: " + "more " * 40}]
    history.append({"role": "user", "content": "and finally?"})
    full = chat_prompt_tokens(oai, history)
    llm.set_config(config(full // 3))

    def ask(messages: list[dict]) -> tuple[str, int]:
        dropped = 0
        while True:
            try:
                reply = oai.chat.completions.create(model=GPT, messages=messages, max_tokens=16)
                return reply.choices[0].message.content, dropped
            except openai.BadRequestError as e:
                if e.code != "context_length_exceeded" or len(messages) <= 1:
                    raise
                messages = messages[2:]  # the oldest question and its answer
                dropped += 2

    answer, dropped = ask(list(history))
    assert answer == "it fits"
    assert 0 < dropped < len(history) - 1
    statuses = [r.status for r in llm.requests if r.model == GPT]
    assert statuses == [400] * (dropped // 2) + [200]


# --------------------------------------------------------------------------- config


@pytest.mark.parametrize("entry, fragment", [
    ("{id: m, context_window: 0}", "models[0].context_window: Input should be greater than or equal to 1"),
    ("{id: m, context_window: -100}", "models[0].context_window: Input should be greater than or equal to 1"),
    ("{id: m, context_window: '128000'}", "models[0].context_window: expected an integer, got a string"),
    ("{id: m, context_window: true}", "models[0].context_window: expected an integer, got a boolean"),
    ("{id: m, max_output_tokens: 0}", "models[0].max_output_tokens: Input should be greater than or equal to 1"),
    ("{id: m, max_output_tokens: 1.5}", "models[0].max_output_tokens: expected an integer"),
    ("{id: m, context_window: 1000, max_output_tokens: 1001}",
     "models[0].max_output_tokens: must not exceed context_window (1000), got 1001"),
    ("{id: m, context_windw: 1000}", "did you mean 'context_window'"),
])
def test_bad_limits_are_config_problems_with_a_position(entry, fragment):
    with pytest.raises(ConfigError) as info:
        parse_config(f"rules: []\nmodels:\n  - {entry}\n", "limits.yaml")
    message = str(info.value)
    assert fragment in message
    assert message.startswith("limits.yaml:3:")


def test_a_bad_config_changes_nothing_on_a_running_server(llm, oai):
    p = chat_prompt_tokens(oai)
    llm.set_config(config(p - 1))
    with pytest.raises(ConfigError):
        llm.set_config(config(100, 200))
    with pytest.raises(openai.BadRequestError):  # the previous limits still apply
        oai.chat.completions.create(model=GPT, messages=user())
    response = httpx.put(f"{llm.url}/_fakellm/config", content="models: [{id: x, context_window: 0}]\n",
                         headers={"content-type": "application/yaml"})
    assert response.status_code == 400 and "context_window" in response.text
    still_serving(oai)
