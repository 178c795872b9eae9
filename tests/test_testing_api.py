"""The Python API: `from fakellm import FakeLLM`, driven through the official SDKs."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading

import anthropic
import httpx
import httpx2
import openai
import pytest

from fakellm import FakeLLM
from fakellm.config import ConfigError

AGENT_RULES = [
    {"name": "kickoff_research", "when": {"turn": 1, "messages_contain": "research"},
     "respond": {"tool_calls": [{"name": "web_search", "arguments": {"query": "fakellm", "depth": 2}}]}},
    {"name": "summarize_results", "when": {"turn": 2, "tool_result_contains": "found"},
     "respond": {"content": "Based on the search, I found what you were looking for."}},
]
TOOLS = [{"type": "function", "function": {"name": "web_search", "parameters": {"type": "object"}}}]


def run_openai_agent(client: openai.OpenAI, prompt: str) -> str:
    messages = [{"role": "user", "content": prompt}]
    for _ in range(5):
        message = client.chat.completions.create(model="gpt-4o-mini", messages=messages, tools=TOOLS).choices[0].message
        if not message.tool_calls:
            return message.content
        messages.append(message.model_dump(exclude_none=True))
        for call in message.tool_calls:
            messages.append({"role": "tool", "tool_call_id": call.id, "content": "found 3 pages"})
    raise AssertionError("agent did not finish")


def run_anthropic_agent(client: anthropic.Anthropic, prompt: str) -> str:
    messages = [{"role": "user", "content": prompt}]
    tools = [{"name": "web_search", "input_schema": {"type": "object"}}]
    for _ in range(5):
        reply = client.messages.create(model="claude-test-model", max_tokens=200, messages=messages, tools=tools)
        calls = [b for b in reply.content if b.type == "tool_use"]
        if not calls:
            return "".join(b.text for b in reply.content if b.type == "text")
        messages.append({"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in reply.content]})
        messages.append({"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": c.id, "content": "found 3 pages"} for c in calls]})
    raise AssertionError("agent did not finish")


def test_two_turn_agent_with_the_issue_example():
    with FakeLLM(rules=AGENT_RULES) as llm:
        client = openai.OpenAI(base_url=llm.openai_base_url, api_key="x")
        assert "found what you were looking for" in run_openai_agent(client, "Please research fakellm")
        first, last = llm.requests
        assert first.rule == "kickoff_research"
        assert first.tool_calls[0].name == "web_search"
        assert first.tool_calls[0].arguments == {"query": "fakellm", "depth": 2}
        assert first.tool_calls[0].id.startswith("call_")
        assert last.rule == "summarize_results" and last.turn == 2
        assert last.content == "Based on the search, I found what you were looking for."
        assert last.request["messages"][-1]["role"] == "tool"
        assert (last.api, last.model, last.status, last.error, last.explanation) == (
            "openai.chat", "gpt-4o-mini", 200, None, None)
        assert last.conversation_id == first.conversation_id
        assert last.headers["authorization"] == "[redacted]"


def test_two_turn_agent_over_anthropic_and_the_tool_call_id_matches_what_the_sdk_saw():
    with FakeLLM(rules=AGENT_RULES) as llm:
        client = anthropic.Anthropic(base_url=llm.anthropic_base_url, api_key="x")
        assert "found what you were looking for" in run_anthropic_agent(client, "research this")
        call = llm.assert_tool_called("web_search", arguments={"query": "fakellm"})
        tool_result = llm.requests[-1].request["messages"][-1]["content"][0]
        assert tool_result["tool_use_id"] == call.id
        assert [r.api for r in llm.requests] == ["anthropic.messages"] * 2


def test_config_from_a_yaml_file_and_from_a_mapping(tmp_path):
    path = tmp_path / "fakellm.yaml"
    path.write_text("rules:\n  - name: from_file\n    respond: {content: file says hi}\n")
    with FakeLLM(str(path)) as llm:
        client = openai.OpenAI(base_url=llm.openai_base_url, api_key="x", max_retries=0)
        ask = lambda: client.chat.completions.create(model="m", messages=[{"role": "user", "content": "q"}])
        assert ask().choices[0].message.content == "file says hi"
        # The file is the config's source: POST /_fakellm/reload re-reads it.
        path.write_text("rules:\n  - name: edited\n    respond: {content: edited file}\n")
        assert httpx.post(f"{llm.url}/_fakellm/reload").status_code == 200
        assert ask().choices[0].message.content == "edited file"
    with FakeLLM(config={"rules": [{"name": "m", "respond": {"content": "mapping says hi"}}]}) as llm:
        reply = openai.OpenAI(base_url=llm.openai_base_url, api_key="x").chat.completions.create(
            model="m", messages=[{"role": "user", "content": "q"}])
        assert reply.choices[0].message.content == "mapping says hi"


def test_invalid_rules_raise_config_error_with_every_problem():
    with pytest.raises(ConfigError) as raised:
        FakeLLM(rules=[{"name": "a", "whne": {}}, {"respond": {"status": "teapot"}}])
    text = str(raised.value)
    assert "unknown key 'whne' in rule (did you mean 'when'?)" in text
    assert "rules[1]" in text and "status" in text
    assert len(raised.value.problems) == 2
    with pytest.raises(ConfigError, match="config file not found"):
        FakeLLM("does-not-exist.yaml")
    with pytest.raises(TypeError, match="either a config or rules"):
        FakeLLM(config={}, rules=[])


def test_urls_lifecycle_and_clean_stop():
    llm = FakeLLM()
    with pytest.raises(RuntimeError, match="not running"):
        llm.url  # noqa: B018
    with llm:
        assert llm.running
        assert llm.url.startswith("http://127.0.0.1:")
        assert llm.openai_base_url == llm.url + "/v1"
        assert llm.anthropic_base_url == llm.url == llm.gemini_base_url
        url = llm.url
        assert httpx.get(url + "/_fakellm/health").json()["status"] == "ok"
        thread = llm._thread
        assert thread is not None and thread.name == "fakellm-server" and thread in threading.enumerate()
    assert not llm.running
    # Its own thread has ended (another test's session server may still run in this process).
    assert not thread.is_alive() and thread not in threading.enumerate()
    with pytest.raises(httpx.ConnectError):
        httpx.get(url + "/_fakellm/health")
    llm.stop()  # twice is fine
    with llm:  # and it can start again
        assert httpx.get(llm.url + "/_fakellm/health").status_code == 200


def test_a_fixed_port_is_reusable_and_a_busy_one_is_a_clear_error():
    with FakeLLM() as first:
        port = int(first.url.rsplit(":", 1)[1])
        with pytest.raises(RuntimeError, match=f"cannot listen on 127.0.0.1:{port}"):
            FakeLLM(port=port).start()
    with FakeLLM(port=port) as again:  # right after the first one closed it
        assert again.url == f"http://127.0.0.1:{port}"
        assert httpx.get(again.url + "/_fakellm/health").status_code == 200


def test_two_servers_at_once_get_their_own_ports_and_state():
    with FakeLLM(rules=[{"respond": {"content": "one"}}]) as a, FakeLLM(rules=[{"respond": {"content": "two"}}]) as b:
        assert a.url != b.url
        for llm, expected in ((a, "one"), (b, "two")):
            reply = openai.OpenAI(base_url=llm.openai_base_url, api_key="x").chat.completions.create(
                model="m", messages=[{"role": "user", "content": "q"}])
            assert reply.choices[0].message.content == expected
            assert len(llm.requests) == 1


def test_set_rules_keeps_strict_defaults_and_reset_empties_everything():
    with FakeLLM(rules=[{"name": "a", "respond": [{"content": "1"}, {"content": "2"}]}], strict=True) as llm:
        client = openai.OpenAI(base_url=llm.openai_base_url, api_key="x", max_retries=0)
        ask = lambda text="q": client.chat.completions.create(model="m", messages=[{"role": "user", "content": text}])
        assert ask().choices[0].message.content == "1"
        llm.set_rules([{"name": "b", "when": {"messages_contain": "yes"}, "respond": {"content": "b!"}}])
        assert ask("yes").choices[0].message.content == "b!"
        with pytest.raises(openai.NotFoundError, match='messages_contain "yes": not found'):
            ask("no")
        assert [r.rule for r in llm.requests] == ["a", "b", None]
        miss = llm.unmatched[0]
        assert miss.status == 404 and miss.error.code == "fakellm_no_match"
        assert miss.explanation.closest_rule == "b"
        assert 'messages_contain "yes": not found in the 1 message' in miss.explanation
        assert [(c.condition, c.held) for c in miss.explanation.conditions] == [('messages_contain "yes"', False)]
        llm.reset()
        assert llm.requests == []


def test_requests_from_many_threads_are_all_journaled():
    with FakeLLM(rules=[{"name": "r", "respond": {"content": "ok"}}]) as llm:
        client = openai.OpenAI(base_url=llm.openai_base_url, api_key="x", max_retries=0)

        def work(i: int) -> None:
            for k in range(5):
                client.chat.completions.create(model="m", messages=[{"role": "user", "content": f"{i}-{k}"}])

        threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        llm.assert_called(rule="r", times=20)
        assert len({r.id for r in llm.requests}) == 20


def test_async_with_and_async_clients():
    async def main() -> tuple[str, str, int]:
        async with FakeLLM(rules=AGENT_RULES) as llm:
            client = openai.AsyncOpenAI(base_url=llm.openai_base_url, api_key="x")
            first = await client.chat.completions.create(
                model="gpt-4o", messages=[{"role": "user", "content": "research please"}])
            stream = await client.chat.completions.create(
                model="gpt-4o", stream=True, messages=[{"role": "user", "content": "hello"}])
            text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
            return first.choices[0].message.tool_calls[0].function.name, text, len(llm.requests)

    name, text, count = asyncio.run(main())
    assert name == "web_search" and text.startswith("[mock response for gpt-4o") and count == 2


def test_app_serves_in_process_without_a_socket():
    llm = FakeLLM(rules=AGENT_RULES)

    async def main() -> tuple[int, str]:
        raw = httpx.AsyncClient(transport=httpx.ASGITransport(app=llm.app), base_url="http://fakellm")
        response = await raw.post("/v1/chat/completions", json={
            "model": "gpt-4o", "messages": [{"role": "user", "content": "research"}]})
        # The SDKs of this generation take an httpx2 client; the same app works behind it.
        sdk = openai.AsyncOpenAI(base_url="http://fakellm/v1", api_key="x", http_client=httpx2.AsyncClient(
            transport=httpx2.ASGITransport(app=llm.app)))
        reply = await sdk.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
        return response.status_code, reply.choices[0].message.content

    status, content = asyncio.run(main())
    assert status == 200 and content.startswith("[mock response for gpt-4o")
    assert not llm.running
    assert [r.rule for r in llm.requests] == ["kickoff_research", None]
    llm.assert_tool_called("web_search")


def test_an_admin_token_locks_the_admin_api_over_http_but_not_the_python_api():
    with FakeLLM(rules=AGENT_RULES, admin_token="t0ken-for-tests") as llm:
        client = openai.OpenAI(base_url=llm.openai_base_url, api_key="any", max_retries=0)
        assert "found what you were looking for" in run_openai_agent(client, "Please research fakellm")
        refused = httpx.get(f"{llm.url}/_fakellm/requests")
        assert refused.status_code == 401 and refused.json()["error"]["code"] == "admin_token_required"
        assert refused.headers["www-authenticate"].startswith("Bearer")
        assert llm.admin_headers == {"Authorization": "Bearer t0ken-for-tests"}
        journal = httpx.get(f"{llm.url}/_fakellm/requests", headers=llm.admin_headers).json()["requests"]
        assert [e["rule"] for e in journal] == ["kickoff_research", "summarize_results"]
        # The Python API reaches the server in-process: no token needed.
        assert [r.rule for r in llm.requests] == ["kickoff_research", "summarize_results"]
        llm.set_rules([{"name": "only", "respond": {"content": "swapped"}}])
        llm.reset()
        assert llm.requests == []
        assert client.chat.completions.create(model="m", messages=[{"role": "user", "content": "q"}]) \
            .choices[0].message.content == "swapped"
    with FakeLLM() as open_llm:
        assert open_llm.admin_headers == {}
        assert httpx.get(f"{open_llm.url}/_fakellm/requests").status_code == 200
    with pytest.raises(ValueError, match="admin token"):
        FakeLLM(admin_token="two words")


def test_environ_points_clients_built_without_arguments_at_the_server(monkeypatch):
    with FakeLLM(rules=[{"respond": {"content": "env works"}}]) as llm:
        for name, value in llm.environ().items():
            monkeypatch.setenv(name, value)
        assert openai.OpenAI().chat.completions.create(
            model="m", messages=[{"role": "user", "content": "q"}]).choices[0].message.content == "env works"
        assert anthropic.Anthropic().messages.create(
            model="claude-test-model", max_tokens=20, messages=[{"role": "user", "content": "q"}]).content[0].text == "env works"


def test_ollama_host_and_environment(monkeypatch):
    import ollama

    with FakeLLM(rules=[{"name": "o", "when": {"api": "ollama"}, "respond": {"content": "hi from ollama"}}]) as llm:
        assert llm.ollama_host == llm.url
        client = ollama.Client(host=llm.ollama_host)
        assert client.chat(model="llama3.2", messages=[{"role": "user", "content": "q"}]).message.content == \
            "hi from ollama"
        assert llm.environ()["OLLAMA_HOST"] == llm.url
        for name, value in llm.environ().items():
            monkeypatch.setenv(name, value)
        assert ollama.Client().generate(model="llama3.2", prompt="q").response == "hi from ollama"
        assert [r.rule for r in llm.requests] == ["o", "o"]


def test_gemini_base_url_and_environment(monkeypatch):
    from google import genai
    from google.genai import types

    with FakeLLM(rules=[{"name": "g", "when": {"api": "gemini"}, "respond": {"content": "hi from gemini"}}]) as llm:
        client = genai.Client(api_key="x", http_options=types.HttpOptions(base_url=llm.gemini_base_url))
        assert client.models.generate_content(model="gemini-2.5-flash", contents="hello").text == "hi from gemini"
        monkeypatch.delenv("GOOGLE_API_KEY", raising=False)
        for name, value in llm.environ().items():
            monkeypatch.setenv(name, value)
        env_client = genai.Client()
        assert env_client.models.generate_content(model="gemini-2.5-flash", contents="again").text == "hi from gemini"
        assert [r.rule for r in llm.requests] == ["g", "g"]
        assert llm.requests[0].headers["x-goog-api-key"] == "[redacted]"


# --------------------------------------------------------------------------- assertion messages


@pytest.fixture(scope="module")
def agent_run():
    with FakeLLM(rules=AGENT_RULES) as llm:
        client = openai.OpenAI(base_url=llm.openai_base_url, api_key="x", max_retries=0)
        run_openai_agent(client, "Please research fakellm")
        client.chat.completions.create(model="gpt-4o", messages=[
            {"role": "system", "content": "s"}, {"role": "user", "content": "unrelated"}])
        yield llm


def test_assert_called_passes_and_returns_the_requests(agent_run):
    assert [r.turn for r in agent_run.assert_called(rule="kickoff_research", times=1)] == [1]
    assert len(agent_run.assert_called()) == 3
    agent_run.assert_called(rule="never_defined", times=0)


def test_assert_called_failure_says_what_happened(agent_run):
    with pytest.raises(AssertionError) as raised:
        agent_run.assert_called(rule="summarize_results", times=2)
    text = str(raised.value)
    assert 'expected rule "summarize_results" to be called exactly 2 times, it was called 1 time.' in text
    assert "Requests (3):" in text
    assert '#1 openai.chat gpt-4o-mini turn 1, last message "Please research fakellm" -> rule "kickoff_research" (200)' \
           ': tool calls web_search({"query": "fakellm", "depth": 2})' in text
    assert 'no rule matched (200): closest rule "kickoff_research": messages_contain "research": ' \
           'not found in the 2 messages' in text


def test_assert_called_names_the_rules_when_the_name_is_unknown(agent_run):
    with pytest.raises(AssertionError, match=r'No rule is named "kickof"; the rules are: kickoff_research, '
                                             r'summarize_results\.'):
        agent_run.assert_called(rule="kickof")


def test_assert_tool_called_matches_arguments_as_a_subset(agent_run):
    call = agent_run.assert_tool_called("web_search", arguments={"query": "fakellm"})
    assert call.arguments == {"query": "fakellm", "depth": 2}
    agent_run.assert_tool_called("web_search", arguments={"query": "fakellm", "depth": 2}, times=1)
    agent_run.assert_tool_called("web_search")


def test_assert_tool_called_failure_lists_the_calls_made(agent_run):
    with pytest.raises(AssertionError) as raised:
        agent_run.assert_tool_called("web_search", arguments={"query": "other"})
    text = str(raised.value)
    assert 'no call to tool "web_search" with arguments including {"query": "other"}.' in text
    assert 'Tool calls made (1):\n  web_search({"query": "fakellm", "depth": 2}) (request #1, rule "kickoff_research")' \
           in text
    with pytest.raises(AssertionError, match='expected 2 calls to tool "web_search", found 1'):
        agent_run.assert_tool_called("web_search", times=2)
    with pytest.raises(AssertionError, match='no call to tool "fetch_page"'):
        agent_run.assert_tool_called("fetch_page")


def test_assert_tool_called_when_no_tools_were_called():
    with FakeLLM() as llm:
        with pytest.raises(AssertionError, match=r"No tool calls were made \(0 requests\)"):
            llm.assert_tool_called("web_search")


def test_assert_no_unmatched_shows_each_explanation(agent_run):
    with pytest.raises(AssertionError) as raised:
        agent_run.assert_no_unmatched()
    assert str(raised.value) == (
        'fakellm: 1 request matched no rule:\n'
        '  #3 openai.chat gpt-4o turn 1: closest rule "kickoff_research": '
        'messages_contain "research": not found in the 2 messages')


def test_importing_fakellm_stays_cheap():
    code = ("import sys, fakellm; "
            "heavy = [m for m in ('uvicorn', 'fakellm.testing.fakellm', 'fakellm.server.app', 'pydantic', 'yaml') if m in sys.modules]; "
            "print(heavy); "
            "from fakellm import FakeLLM; print(FakeLLM.__module__)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split("\n")
    assert out[:2] == ["[]", "fakellm.testing.fakellm"]
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        import fakellm

        fakellm.Nope  # noqa: B018


def test_journal_entries_are_typed_for_misses_and_errors():
    with FakeLLM(rules=[{"name": "boom", "when": {"messages_contain": "boom"},
                         "respond": {"status": 500, "error": {"message": "kaput", "type": "server_error"}}}]) as llm:
        client = openai.OpenAI(base_url=llm.openai_base_url, api_key="x", max_retries=0)
        with pytest.raises(openai.InternalServerError):
            client.chat.completions.create(model="m", messages=[{"role": "user", "content": "boom"}])
        (entry,) = llm.requests
        assert (entry.status, entry.error.message, entry.error.type, entry.content) == (500, "kaput", "server_error", None)
        assert entry.matched and entry.tool_calls == ()
        assert "error" in entry.describe() and "kaput" in entry.describe()
        json.dumps(entry.request)  # the body is plain JSON data
