"""`respond.template`: Jinja2 in a sandbox with the request as data, through the official SDKs
against a real server (FakeLLM on 127.0.0.1), for every provider that generates text."""

from __future__ import annotations

import subprocess
import sys
import time

import anthropic
import ollama
import openai
import pytest
from google.genai import errors as genai_errors
from helpers import gemini_client, ollama_client

from fakellm import FakeLLM
from fakellm.config import ConfigError

TOOLS = [{"type": "function", "function": {"name": "web_search", "parameters": {"type": "object"}}}]
USER = [{"role": "user", "content": "hello there"}]


@pytest.fixture(scope="module")
def llm():
    with FakeLLM(rules=[]) as server:
        yield server


def use(llm: FakeLLM, template: str, **respond: object) -> None:
    """One catch-all rule named `t` answering with `template`; the journal starts empty."""
    llm.set_rules([{"name": "t", "respond": {"template": template, **respond}}])
    llm.reset()


def oai(llm: FakeLLM, **kw: object) -> openai.OpenAI:
    return openai.OpenAI(base_url=llm.openai_base_url, api_key="sk-test", max_retries=0, **kw)


def ant(llm: FakeLLM) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=llm.anthropic_base_url, api_key="sk-ant-test", max_retries=0)


def chat(client: openai.OpenAI, messages=USER, **kw: object) -> str:
    return client.chat.completions.create(model="gpt-4o-mini", messages=messages, **kw).choices[0].message.content


# --------------------------------------------------------------------------- the data


def test_each_data_name_reaches_the_client(llm):
    use(llm, "model={{ model }} last={{ last_user_message }} turn={{ turn }} conv={{ conversation_id }} "
             "scenario={{ headers['x-scenario'] }} temp={{ request.temperature }} "
             "roles={{ messages | map(attribute='role') | join(',') }} first={{ messages[0].content }} "
             "results={{ tool_results | length }}")
    client = oai(llm, default_headers={"X-Scenario": "happy", "X-Fakellm-Conversation-Id": "conv-7"})
    messages = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hello there"}]
    text = chat(client, messages, temperature=0.25)
    assert text == ("model=gpt-4o-mini last=hello there turn=1 conv=conv-7 scenario=happy temp=0.25 "
                    "roles=system,user first=be brief results=0")
    entry = llm.requests[-1]
    assert (entry.rule, entry.status, entry.content) == ("t", 200, text)


def test_turn_two_sees_the_tool_call_and_its_results():
    rules = [
        {"name": "search", "when": {"turn": 1}, "respond": {"tool_calls": [
            {"name": "web_search", "arguments": {"query": "fakellm"}}]}},
        {"name": "summary", "when": {"turn": 2}, "respond": {"template": (
            "Turn {{ turn }}: {{ messages[1].tool_calls[0].name }}({{ messages[1].tool_calls[0].arguments.query }})"
            " found {% for r in tool_results %}[{{ r }}]{% endfor %} for {{ last_user_message }}")}},
    ]
    with FakeLLM(rules=rules) as server:
        client = oai(server)
        messages = [{"role": "user", "content": "research fakellm"}]
        call = client.chat.completions.create(model="gpt-4o", messages=messages, tools=TOOLS).choices[0].message
        messages.append(call.model_dump(exclude_none=True))
        messages.append({"role": "tool", "tool_call_id": call.tool_calls[0].id, "content": "3 pages"})
        assert chat(client, messages, tools=TOOLS) == \
            "Turn 2: web_search(fakellm) found [3 pages] for research fakellm"


def test_anthropic_tool_results_and_last_user_message(llm):
    """An Anthropic tool result comes in a user message without text: last_user_message skips it."""
    use(llm, "{{ last_user_message }} / {{ tool_results | join('+') }} / "
             "{{ messages | map(attribute='tool_results') | map('length') | join(',') }}")
    reply = ant(llm).messages.create(model="claude-sonnet-4-5", max_tokens=100, messages=[
        {"role": "user", "content": "look it up"},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1", "name": "web_search", "input": {}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "found it"},
                                     {"type": "tool_result", "tool_use_id": "toolu_2", "content": "and more"}]},
    ])
    assert reply.content[0].text == "look it up / found it+and more / 0,0,2"


def test_request_is_the_raw_body_and_cannot_be_changed(llm):
    use(llm, "{{ request.messages[0].content | upper }} {{ request.get('seed', 'no seed') }} "
             "{{ request.metadata.team | default('none') }}")
    assert chat(oai(llm), metadata={"team": "qa"}, store=True) == "HELLO THERE no seed qa"
    # The body the journal keeps is the body the client sent (the sandbox is immutable).
    use(llm, "{{ request.messages.append(1) }}")
    with pytest.raises(openai.InternalServerError):
        chat(oai(llm))
    assert llm.requests[-1].request["messages"] == USER


# --------------------------------------------------------------------------- every provider


def test_openai_chat_streamed_like_content(llm):
    use(llm, "{% for word in last_user_message.split() %}<{{ word }}> {% endfor %}on turn {{ turn }}")
    stream = oai(llm).chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "one two three"}],
                                              stream=True, stream_options={"include_usage": True})
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "<one> <two> <three> on turn 1"
    assert sum(1 for c in chunks if c.choices and c.choices[0].delta.content) > 1  # chunked, not one piece
    assert chunks[-1].usage.completion_tokens > 0


def test_openai_responses_and_completions(llm):
    use(llm, "{{ model }} says {{ last_user_message }}")
    client = oai(llm)
    assert client.responses.create(model="gpt-4o", input="hi").output_text == "gpt-4o says hi"
    with client.responses.stream(model="gpt-4o", input="streamed") as stream:
        assert stream.get_final_response().output_text == "gpt-4o says streamed"
    completion = client.completions.create(model="gpt-3.5-turbo-instruct", prompt="plain prompt")
    assert completion.choices[0].text == "gpt-3.5-turbo-instruct says plain prompt"


def test_anthropic_streamed(llm):
    use(llm, "Hello {{ headers['x-user'] }}, you said: {{ last_user_message }}")
    client = anthropic.Anthropic(base_url=llm.anthropic_base_url, api_key="sk-ant-test", max_retries=0,
                                 default_headers={"X-User": "Ada"})
    with client.messages.stream(model="claude-sonnet-4-5", max_tokens=100,
                                messages=[{"role": "user", "content": "ping"}]) as stream:
        assert "".join(stream.text_stream) == "Hello Ada, you said: ping"
        assert stream.get_final_message().stop_reason == "end_turn"


def test_gemini_plain_and_streamed(llm):
    use(llm, "{{ model }}: {{ last_user_message }} ({{ messages | length }} message)")
    client = gemini_client(llm.url)
    reply = client.models.generate_content(model="gemini-2.5-flash", contents="hi gemini")
    assert reply.text == "gemini-2.5-flash: hi gemini (1 message)"
    streamed = "".join(c.text or "" for c in client.models.generate_content_stream(
        model="gemini-2.5-flash", contents="hi again"))
    assert streamed == "gemini-2.5-flash: hi again (1 message)"


def test_ollama_chat_and_generate(llm):
    use(llm, "{{ model }} -> {{ last_user_message }}")
    client = ollama_client(llm.url)
    reply = client.chat(model="llama3.2", messages=[{"role": "user", "content": "hey"}])
    assert reply.message.content == "llama3.2 -> hey"
    streamed = "".join(part.message.content for part in
                       client.chat(model="llama3.2", messages=[{"role": "user", "content": "hey"}], stream=True))
    assert streamed == "llama3.2 -> hey"
    assert client.generate(model="llama3.2", prompt="prompted").response == "llama3.2 -> prompted"


def test_stop_sequences_and_max_tokens_cut_the_rendered_text(llm):
    use(llm, "{{ last_user_message }} END and more words after the end")
    reply = oai(llm).chat.completions.create(model="gpt-4o", messages=USER, stop=["END"])
    assert (reply.choices[0].message.content, reply.choices[0].finish_reason) == ("hello there ", "stop")
    message = ant(llm).messages.create(model="claude-sonnet-4-5", max_tokens=2, messages=USER)
    assert message.stop_reason == "max_tokens"
    assert message.usage.output_tokens <= 2
    assert "hello there END and more words after the end".startswith(message.content[0].text)


def test_template_beside_tool_calls(llm):
    use(llm, "Searching for {{ last_user_message }}", tool_calls=[{"name": "web_search", "arguments": {"q": "x"}}])
    message = oai(llm).chat.completions.create(model="gpt-4o", messages=USER, tools=TOOLS).choices[0].message
    assert message.content == "Searching for hello there"
    assert message.tool_calls[0].function.name == "web_search"


# --------------------------------------------------------------------------- errors at request time


def test_an_undefined_value_is_a_clear_500_and_the_server_keeps_serving(llm):
    llm.set_rules([
        {"name": "needs_header", "when": {"messages_contain": "header"},
         "respond": {"template": "scenario {{ headers['x-scenario'] }}"}},
        {"name": "fine", "respond": {"template": "fine: {{ last_user_message }}"}},
    ])
    llm.reset()
    client = openai.OpenAI(base_url=llm.openai_base_url, api_key="sk-test")  # default retries: not used on it
    started = time.monotonic()
    with pytest.raises(openai.InternalServerError) as caught:
        chat(client, [{"role": "user", "content": "header please"}])
    assert time.monotonic() - started < 2  # x-should-retry: false, so no retries with back-off
    error = caught.value
    assert error.status_code == 500
    assert error.body["message"] == ("fakellm: template of rule 'needs_header' failed: "
                                     "line 1: 'dict object' has no attribute 'x-scenario'")
    assert error.body["code"] == "fakellm_template_error"
    assert chat(client, [{"role": "user", "content": "next"}]) == "fine: next"
    failed, ok = llm.requests
    assert (failed.rule, failed.status, failed.content) == ("needs_header", 500, None)
    assert failed.error.message == error.body["message"]
    assert (ok.rule, ok.status) == ("fine", 200)


def test_the_error_comes_in_each_provider_shape(llm):
    use(llm, "{% if turn > 0 %}\n{{ request.nothing | default(messages[5]) }}\n{% endif %}")
    message = "fakellm: template of rule 't' failed: line 2: list object has no element 5"
    with pytest.raises(anthropic.InternalServerError) as caught:
        ant(llm).messages.create(model="claude-sonnet-4-5", max_tokens=10, messages=USER)
    assert caught.value.body["error"] == {"type": "api_error", "message": message,
                                          "details": {"error_code": "fakellm_template_error"}}
    gemini = gemini_client(llm.url)
    with pytest.raises(genai_errors.ServerError) as gemini_error:
        gemini.models.generate_content(model="gemini-2.5-flash", contents="hi")
    assert gemini_error.value.code == 500 and gemini_error.value.message == message
    with pytest.raises(ollama.ResponseError) as ollama_error:
        ollama_client(llm.url).chat(model="llama3.2", messages=USER)
    assert ollama_error.value.status_code == 500 and ollama_error.value.error == message
    with pytest.raises(openai.InternalServerError) as streamed:
        list(oai(llm).chat.completions.create(model="gpt-4o", messages=USER, stream=True))
    assert streamed.value.body["message"] == message
    assert [r.status for r in llm.requests] == [500] * 4


@pytest.mark.parametrize("template, says", [
    ("{{ model + 1 }}", "TypeError: can only concatenate str"),
    ("{{ turn / 0 }}", "ZeroDivisionError: division by zero"),
    ("{{ 'x' * 100000000 }}", "would exceed 1048576"),
    ("{{ 10 ** 100000 }}", "too large for a template"),
    ("{% set ns = namespace(n=3) %}{% for _ in range(40) %}{% set ns.n = ns.n * ns.n %}{% endfor %}",
     "too large for a template"),
    ("{% for i in range(100000) %}{{ 'abcdefghij' * 100 }}{% endfor %}", "output is longer than 1048576"),
    ("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
     "ranges together go past 100000"),
    ("{{ range(10 ** 9) | list }}", "ranges together go past 100000"),
    ("{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}", "RecursionError"),
    ("{{ model.rjust(10 ** 9) }}", "1000000000 is larger than a template's output may be"),
    ("{{ model | center(10 ** 9) }}", "1000000000 is larger than a template's output may be"),
])
def test_runaway_and_broken_templates_fail_quickly(llm, template, says):
    use(llm, template)
    started = time.monotonic()
    with pytest.raises(openai.InternalServerError) as caught:
        chat(oai(llm))
    assert time.monotonic() - started < 5
    assert caught.value.body["message"].startswith("fakellm: template of rule 't' failed: ")
    assert says in caught.value.body["message"]
    use(llm, "still {{ 'serving' }}")
    assert chat(oai(llm)) == "still serving"


# --------------------------------------------------------------------------- the sandbox

SECRETS = ("root:", "<class", "<function", "__builtins__", "<module", "Context", "environment")


@pytest.mark.parametrize("template, unsafe", [
    ("{{ ''.__class__.__mro__ }}", "__class__"),
    ("{{ cycler.__init__.__globals__ }}", "__init__"),
    ("{{ self._TemplateReference__context }}", "_TemplateReference__context"),
    ("{{ request.__class__.__subclasses__() }}", "__class__"),
    ("{{ range.__self__ }}", "__self__"),
    ("{{ joiner.__call__.__globals__ }}", "__call__"),
    ("{{ request | attr('__class__') }}", "__class__"),
    ("{{ '{0.__class__}'.format(model) }}", "__class__"),
    ("{{ messages.clear() }}", "clear"),
])
def test_escapes_end_in_an_error_that_reveals_nothing(llm, template, unsafe):
    use(llm, template)
    with pytest.raises(openai.InternalServerError) as caught:
        chat(oai(llm))
    message = caught.value.body["message"]
    assert f"access to attribute '{unsafe}'" in message and "is unsafe" in message
    assert not any(secret in message for secret in SECRETS)
    assert llm.requests[-1].status == 500


def test_self_and_harmless_globals_render_harmlessly(llm):
    use(llm, "{{ self }} {% set ns = namespace(n=1) %}{% for _ in range(3) %}{% set ns.n = ns.n * 2 %}{% endfor %}"
             "{{ ns.n }} {{ dict(a=1) }} {% set c = cycler('x', 'y') %}{{ c.next() }}{{ c.next() }}")
    assert chat(oai(llm)) == "<TemplateReference None> 8 {'a': 1} xy"


@pytest.mark.parametrize("template, says", [
    ("{% include '/etc/passwd' %}", "cannot use {% include %}"),
    ("{% import '/etc/passwd' as p %}", "cannot use {% import %}"),
    ("{% from '/etc/passwd' import x %}", "cannot use {% from ... import %}"),
    ("{% extends '/etc/passwd' %}", "cannot use {% extends %}"),
    ("{% include request.path %}", "cannot use {% include %}"),
    ("{{ lipsum.__globals__ }}", "unknown variable 'lipsum'"),
])
def test_templates_that_would_read_files_are_config_errors(llm, template, says):
    use(llm, "before")
    with pytest.raises(ConfigError) as caught:
        llm.set_rules([{"name": "t", "respond": {"template": template}}])
    assert says in str(caught.value) and "rules[0] (t).respond.template" in str(caught.value)
    assert chat(oai(llm)) == "before"  # the old rules keep serving


def test_without_a_loader_an_include_fails_at_render_too():
    """The config refuses {% include %}; should one get past it, the environment has no loader."""
    from fakellm.engine.templates import TemplateFailed, compile_template, render

    with pytest.raises(TemplateFailed, match="no loader"):
        render(compile_template("{% include '/etc/passwd' %}"), {})


# --------------------------------------------------------------------------- config problems


def test_template_with_content_or_embedding_is_a_config_error():
    for other in ({"content": "fixed"}, {"embedding": [0.1, 0.2]}):
        with pytest.raises(ConfigError) as caught:
            FakeLLM(rules=[{"name": "both", "respond": {"template": "{{ model }}", **other}}])
        key = next(iter(other))
        assert f"rules[0] (both).respond: give template or {key}, not both" in str(caught.value)


def fakellm_check(tmp_path, text: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "fakellm.yaml").write_text(text)
    return subprocess.run([sys.executable, "-m", "fakellm", "check"], cwd=tmp_path, capture_output=True, text=True,
                          timeout=30)


def test_check_reports_a_syntax_error_with_file_line_col(tmp_path):
    r = fakellm_check(tmp_path, (
        "rules:\n"
        "  - name: greet\n"
        "    respond:\n"
        "      template: |\n"
        "        Hello {{ last_user_message }}\n"
        "        {% for m in messages %}{{ m.role }\n"
    ))
    assert r.returncode == 2
    assert ("fakellm.yaml:4:17: rules[0] (greet).respond.template: invalid template: unexpected '}' "
            "(line 2 of the template: '{% for m in messages %}{{ m.role }')") in r.stderr.splitlines()


def test_check_reports_an_unknown_variable_with_a_suggestion(tmp_path):
    r = fakellm_check(tmp_path, (
        "rules:\n"
        "  - name: greet\n"
        "    respond: {template: 'You said {{ usr_message }}'}\n"
        "  - name: fine\n"
        "    respond: {template: '{% set x = 1 %}{{ x }} {{ model }}{% for m in messages %}{{ loop.index }}{% endfor %}'}\n"
    ))
    assert r.returncode == 2
    assert r.stderr.splitlines()[1:] == [
        "fakellm.yaml:3:25: rules[0] (greet).respond.template: unknown variable 'usr_message' "
        "(did you mean 'last_user_message'?) in the template; known: model, messages, last_user_message, turn, "
        "conversation_id, tool_results, headers, request"]


def test_check_passes_a_good_template(tmp_path):
    r = fakellm_check(tmp_path, "rules:\n  - name: greet\n    respond: {template: 'Hi {{ last_user_message }}'}\n")
    assert r.returncode == 0, r.stderr
    assert "ok (1 rule" in r.stdout


def test_the_starter_config_shows_a_template(tmp_path):
    from fakellm.config.starter import starter_text

    (tmp_path / "fakellm.yaml").write_text(starter_text())
    with FakeLLM(tmp_path / "fakellm.yaml") as server:
        text = chat(oai(server), [{"role": "user", "content": "please echo this"}], temperature=0.5)
        assert text == "gpt-4o-mini heard: please echo this (turn 1, temperature 0.5)"
