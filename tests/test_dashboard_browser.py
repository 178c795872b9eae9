"""The dashboard in a real browser: Debian's Chromium driven by Playwright, against `fakellm serve`.

Traffic comes from the official SDKs; the page must show it live, explain misses, report an
invalid config inline, and render every value from a request as text.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import httpx
import openai
import pytest
from helpers import Served, gemini_client, ollama_client
from playwright.sync_api import Browser, Page, expect, sync_playwright

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync", "--disable-quic"]

CONFIG = """\
version: 1
rules:
  - name: kickoff_research
    when: {turn: 1, messages_contain: research}
    respond:
      tool_calls:
        - {name: web_search, arguments: {query: fakellm}}
  - name: summarize
    when: {turn: 2, tool_result_contains: found}
    respond: {content: "Summary: we found it."}
  - name: greeting
    when: {last_message_contains: hello}
    respond: {content: "Hi from the greeting rule"}
  - name: busy
    when: {last_message_contains: burst}
    respond: {status: 429, error: "slow down please"}
  - name: flaky
    when: {last_message_contains: flaky}
    respond:
      - {status: 503, error: "overloaded", headers: {retry-after-ms: "10"}}
      - {content: "worked the second time"}
  - name: never_used
    when: {model_matches: "nothing-*"}
    respond: {content: unused}
"""


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def server(tmp_path: Path):
    config = tmp_path / "fakellm.yaml"
    config.write_text(CONFIG)
    with Served("--config", str(config)) as served:
        served.config_file = config  # type: ignore[attr-defined]
        yield served


class Watched:
    """A page that records every dialog (none may open) and every script error."""

    def __init__(self, browser: Browser, url: str):
        self.context = browser.new_context(viewport={"width": 1440, "height": 900})
        self.page: Page = self.context.new_page()
        self.dialogs: list[str] = []
        self.errors: list[str] = []
        self.page.on("dialog", self._dialog)
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.page.goto(url)
        expect(self.page.locator("#live")).to_have_class("live on")
        # Set once: if the page ever reloads, this marker is gone.
        self.page.evaluate("window.__notReloaded = true")

    def _dialog(self, dialog) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def still_same_document(self) -> bool:
        return self.page.evaluate("window.__notReloaded === true")


@pytest.fixture
def watched(browser: Browser, server):
    w = Watched(browser, f"{server.url}/_fakellm")
    yield w
    w.context.close()
    assert w.dialogs == [], f"a dialog opened: {w.dialogs}"
    assert w.errors == [], f"script errors: {w.errors}"


def rows(page: Page):
    return page.locator("#request-rows tr")


def chat(client: openai.OpenAI, text: str, **kw):
    return client.chat.completions.create(model=kw.pop("model", "gpt-4o-mini"),
                                          messages=[{"role": "user", "content": text}], **kw)


def test_requests_appear_live_and_open_with_their_content_and_rule(server, watched):
    page = watched.page
    expect(page.locator("#request-empty")).to_be_visible()
    oa, an = server.openai(), server.anthropic()

    chat(oa, "hello there")
    expect(rows(page)).to_have_count(1)
    expect(rows(page).first).to_contain_text("greeting")

    # A two-turn Anthropic agent: tool_use, then the tool_result.
    first = an.messages.create(model="claude-haiku-4-5", max_tokens=100,
                               messages=[{"role": "user", "content": "please research fakellm"}])
    tool_use = next(b for b in first.content if b.type == "tool_use")
    an.messages.create(model="claude-haiku-4-5", max_tokens=100, messages=[
        {"role": "user", "content": "please research fakellm"},
        {"role": "assistant", "content": [{"type": "tool_use", "id": tool_use.id, "name": tool_use.name,
                                           "input": tool_use.input}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": tool_use.id,
                                      "content": "found 3 pages about fakellm"}]},
    ])
    for _ in chat(oa, "hello, streamed", stream=True):
        pass
    expect(rows(page)).to_have_count(4)
    assert watched.still_same_document()

    # Newest first, with api, model, stream flag, turn, rule, status and latency.
    newest = rows(page).nth(0)
    expect(newest).to_contain_text("openai.chat")
    expect(newest.locator(".tag.stream")).to_have_text("stream")
    agent_turn2 = rows(page).nth(1)
    expect(agent_turn2).to_contain_text("anthropic.messages")
    expect(agent_turn2).to_contain_text("claude-haiku-4-5")
    expect(agent_turn2).to_contain_text("summarize")
    expect(agent_turn2.locator("td").nth(5)).to_have_text("2")  # turn
    expect(agent_turn2).to_contain_text("200")
    expect(agent_turn2.locator("td").last).to_contain_text("ms")

    agent_turn2.click()
    detail = page.locator("#request-detail")
    expect(detail.locator(".detail-head")).to_contain_text("anthropic.messages")
    expect(detail.locator(".detail-head .chip.rule")).to_have_text("summarize")
    messages = detail.locator(".messages .msg")
    expect(messages).to_have_count(3)
    expect(messages.nth(0)).to_contain_text("please research fakellm")
    expect(messages.nth(1).locator(".part.call")).to_contain_text("web_search")
    expect(messages.nth(2).locator(".part.result")).to_contain_text("found 3 pages about fakellm")
    expect(detail.locator(".msg.reply")).to_contain_text("Summary: we found it.")
    # Headers, with the API key redacted (the SDK sends it as x-api-key or authorization).
    detail.locator("summary", has_text="Headers").click()
    expect(detail.locator("table.kv")).to_contain_text("anthropic-version")
    expect(detail.locator("table.kv")).to_contain_text("[redacted]")
    expect(detail.locator("table.kv")).not_to_contain_text("sk-ant-test")

    # A reply that is an error shows the error.
    with pytest.raises(openai.RateLimitError):
        chat(oa, "a burst of traffic")
    expect(rows(page)).to_have_count(5)
    rows(page).first.click()
    expect(detail.locator(".error-box")).to_contain_text("slow down please")
    expect(detail.locator(".detail-head .pill.status")).to_have_text("429")


def test_other_apis_bodies_are_rendered_readably(server, watched):
    """Responses `input` items, Gemini `contents` parts, Ollama chat, legacy prompts and embedding inputs."""
    from google.genai import types

    page = watched.page
    detail = page.locator("#request-detail")
    oa = server.openai()
    oa.responses.create(model="gpt-4o", instructions="answer briefly", input=[
        {"role": "user", "content": "please research the weather"},
        {"type": "function_call", "call_id": "call_w1", "name": "get_weather", "arguments": '{"city": "Oslo"}'},
        {"type": "function_call_output", "call_id": "call_w1", "output": "found: 4 degrees and rain"},
    ])
    gemini = gemini_client(server.url)
    gemini.models.generate_content(
        model="gemini-2.5-flash",
        contents=[
            types.Content(role="user", parts=[types.Part(text="hello gemini")]),
            types.Content(role="model", parts=[types.Part(function_call=types.FunctionCall(
                name="get_weather", args={"city": "Paris"}))]),
            types.Content(role="user", parts=[types.Part(function_response=types.FunctionResponse(
                name="get_weather", response={"temp": 21}))]),
        ],
        config=types.GenerateContentConfig(system_instruction="be nice to the user"),
    )
    ollama_client(server.url).chat(model="llama3.2", messages=[{"role": "user", "content": "hello llama"}])
    oa.completions.create(model="gpt-3.5-turbo-instruct", prompt="hello, legacy prompt")
    oa.embeddings.create(model="text-embedding-3-small", input=["first text to embed", "second text"])
    expect(rows(page)).to_have_count(5)

    def open_row(api: str) -> None:
        rows(page).filter(has_text=api).first.click()
        expect(detail.locator(".detail-head")).to_contain_text(api)

    open_row("openai.responses")
    messages = detail.locator(".messages .msg")
    expect(messages.nth(0)).to_contain_text("systemanswer briefly")
    expect(messages.nth(1)).to_contain_text("please research the weather")
    expect(messages.nth(2).locator(".part.call")).to_contain_text("get_weather")
    expect(messages.nth(2).locator(".part.call")).to_contain_text('"city": "Oslo"')
    expect(messages.nth(3).locator(".part.result")).to_contain_text("found: 4 degrees and rain")
    expect(detail.locator(".msg.reply")).to_contain_text("Summary: we found it.")  # turn 2, a tool result

    open_row("gemini")
    expect(messages.nth(0)).to_contain_text("be nice to the user")
    expect(messages.nth(1)).to_contain_text("hello gemini")
    expect(messages.nth(2).locator(".role")).to_have_text("model")
    expect(messages.nth(2).locator(".part.call")).to_contain_text("get_weather")
    expect(messages.nth(3).locator(".part.result")).to_contain_text('"temp": 21')

    open_row("ollama")
    expect(messages.nth(0)).to_contain_text("hello llama")
    expect(detail.locator(".msg.reply")).to_contain_text("Hi from the greeting rule")

    open_row("openai.completions")
    expect(messages.nth(0)).to_contain_text("hello, legacy prompt")

    open_row("openai.embeddings")
    expect(messages).to_have_count(2)
    expect(messages.nth(0)).to_contain_text("first text to embed")


def test_a_miss_is_explained_condition_by_condition(server, watched):
    page = watched.page
    chat(server.openai(), "translate good morning into French")
    expect(rows(page)).to_have_count(1)
    expect(rows(page).first).to_contain_text("no match")
    rows(page).first.click()
    explanation = page.locator("#request-detail .explanation")
    expect(explanation).to_contain_text("Why no rule matched")
    expect(explanation).to_contain_text("kickoff_research")  # the closest rule
    held = explanation.locator("tr.held")
    failed = explanation.locator("tr.failed")
    expect(held).to_have_count(1)
    expect(held).to_contain_text("turn 1")
    expect(failed).to_have_count(1)
    expect(failed).to_contain_text(re.compile(r"messages_contain .research."))
    expect(failed).to_contain_text("not found in the 1 message")


def test_filters_and_search(server, watched):
    page = watched.page
    oa, an = server.openai(), server.anthropic()
    chat(oa, "hello from openai")
    chat(oa, "an unknown question about penguins", model="gpt-4.1")
    an.messages.create(model="claude-haiku-4-5", max_tokens=50, messages=[{"role": "user", "content": "hello"}])
    with pytest.raises(openai.RateLimitError):
        chat(oa, "burst")
    expect(rows(page)).to_have_count(4)

    page.select_option("#f-api", "anthropic.messages")
    expect(rows(page)).to_have_count(1)
    expect(rows(page).first).to_contain_text("claude-haiku-4-5")
    page.click("#f-clear")
    expect(rows(page)).to_have_count(4)

    page.check("#f-misses")
    expect(rows(page)).to_have_count(1)
    expect(rows(page).first).to_contain_text("gpt-4.1")
    page.uncheck("#f-misses")

    page.select_option("#f-status", "429")
    expect(rows(page)).to_have_count(1)
    expect(rows(page).first).to_contain_text("busy")
    page.select_option("#f-status", "")

    page.select_option("#f-rule", "greeting")
    expect(rows(page)).to_have_count(2)
    page.select_option("#f-model", "gpt-4o-mini")
    expect(rows(page)).to_have_count(1)
    page.click("#f-clear")

    page.fill("#f-search", "PENGUINS")
    expect(rows(page)).to_have_count(1)
    expect(page.locator("#f-count")).to_have_text("1 of 4 requests")
    # A new request that does not match the search stays hidden; one that does shows up live.
    chat(oa, "hello again")
    chat(oa, "more about penguins")
    expect(rows(page)).to_have_count(2)
    expect(page.locator("#f-count")).to_have_text("2 of 6 requests")


def test_conversations_read_like_a_transcript(server, watched):
    page = watched.page
    oa = server.openai()
    tools = [{"type": "function", "function": {"name": "web_search", "parameters": {"type": "object"}}}]
    messages: list = [{"role": "system", "content": "You are an agent."},
                      {"role": "user", "content": "research the fakellm dashboard"}]
    first = oa.chat.completions.create(model="gpt-4o", messages=messages, tools=tools)
    call = first.choices[0].message.tool_calls[0]
    messages += [
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": call.id, "type": "function", "function": {"name": "web_search", "arguments": call.function.arguments}}]},
        {"role": "tool", "tool_call_id": call.id, "content": "found: the dashboard is live"},
    ]
    oa.chat.completions.create(model="gpt-4o", messages=messages, tools=tools)
    chat(oa, "hello, separate conversation")
    expect(rows(page)).to_have_count(3)

    page.click(".tab[data-view=conversations]")
    items = page.locator(".conv-item")
    expect(items).to_have_count(2)
    agent = items.filter(has_text="2 requests")
    expect(agent).to_contain_text("turn 2")
    agent.click()
    turns = page.locator("#transcript .turn")
    expect(turns).to_have_count(2)
    expect(turns.nth(0).locator(".turn-no")).to_have_text("Turn 1")
    expect(turns.nth(0)).to_contain_text("research the fakellm dashboard")
    expect(turns.nth(0).locator(".msg.reply")).to_contain_text("web_search")
    expect(turns.nth(0).locator(".msg.reply .chip.rule")).to_have_text("kickoff_research")
    expect(turns.nth(1).locator(".turn-no")).to_have_text("Turn 2")
    expect(turns.nth(1)).to_contain_text("found: the dashboard is live")
    expect(turns.nth(1).locator(".msg.reply")).to_contain_text("Summary: we found it.")
    # Turn 2 shows what it added, not the whole history again.
    expect(turns.nth(1)).not_to_contain_text("research the fakellm dashboard")

    # From the request view, the conversation link opens the same transcript.
    page.click(".tab[data-view=requests]")
    rows(page).nth(1).click()
    page.locator("#request-detail dd button").click()
    expect(page.locator("#view-conversations")).to_be_visible()
    expect(page.locator("#transcript .turn")).to_have_count(2)

    # The SDK retries a 503: the transcript says the second request is a retry.
    retrying = server.openai(max_retries=1)
    assert chat(retrying, "a flaky call").choices[0].message.content == "worked the second time"
    flaky = items.filter(has_text="1 error")
    expect(flaky).to_contain_text("2 requests")
    flaky.click()
    expect(turns).to_have_count(2)
    expect(turns.nth(0).locator(".error-box")).to_contain_text("overloaded")
    expect(turns.nth(1)).to_contain_text("a retry")
    expect(turns.nth(1).locator(".msg")).to_have_count(1)  # only the reply: nothing new was sent
    expect(turns.nth(1).locator(".msg.reply")).to_contain_text("worked the second time")


def test_rules_view_shows_hits_last_hit_and_never_fired_rules(server, watched):
    page = watched.page
    oa = server.openai()
    chat(oa, "hello")
    chat(oa, "hello you")
    page.click(".tab[data-view=rules]")
    table = page.locator("#rule-rows")
    expect(table.locator("tr")).to_have_count(6)
    greeting = table.locator("tr", has_text="greeting")
    expect(greeting.locator("td.hits")).to_have_text("2")
    expect(greeting.locator("td").last).to_have_text(re.compile(r"just now|\d+s ago"))
    expect(table.locator("tr", has_text="never_used").locator("td").last).to_have_text("–")
    expect(greeting).to_contain_text(re.compile(r"last_message_contains .hello."))
    never = table.locator("tr", has_text="never_used")
    expect(never).to_have_class("cold")
    expect(never.locator(".never")).to_have_text("never fired")
    expect(page.locator("#rules-summary")).to_contain_text("5 never fired")
    expect(page.locator("#config-path")).to_have_text(str(server.config_file))
    # Hits update live while the view is open.
    chat(oa, "hello a third time")
    expect(greeting.locator("td.hits")).to_have_text("3")
    # A rule's name leads to its requests.
    greeting.locator(".chip.rule").click()
    expect(page.locator("#view-requests")).to_be_visible()
    expect(rows(page)).to_have_count(3)


def test_reload_shows_an_invalid_config_inline_then_recovers(server, watched):
    page = watched.page
    server.config_file.write_text("version: 1\nrules:\n  - name: broken\n    respnd: {content: x}\n")
    page.click("#btn-reload")
    problems = page.locator("#problems")
    expect(problems).to_be_visible()
    expect(problems).to_contain_text("still serving the previous config")
    expect(problems).to_contain_text("fakellm.yaml:4:")
    expect(problems).to_contain_text("respnd")
    page.click(".tab[data-view=rules]")
    expect(page.locator("#rule-rows tr")).to_have_count(6)  # the old rules still serve
    # The server agrees: the old config answers.
    assert chat(server.openai(), "hello").choices[0].message.content == "Hi from the greeting rule"

    server.config_file.write_text("version: 1\nrules:\n  - name: fresh_rule\n    respond: {content: fresh}\n")
    page.click("#btn-reload")
    expect(page.locator("#notice")).to_contain_text("Reloaded 1 rule")
    expect(problems).to_be_hidden()
    expect(page.locator("#rule-rows tr")).to_have_count(1)
    expect(page.locator("#rule-rows")).to_contain_text("fresh_rule")
    expect(page.locator("#rule-rows .never")).to_have_text("never fired")


def test_reset_and_clear_journal(server, watched):
    page = watched.page
    oa = server.openai()
    chat(oa, "hello")
    chat(oa, "hello", extra_headers={"x-fakellm-conversation-id": "other"})
    expect(rows(page)).to_have_count(2)

    page.click("#btn-reset")
    expect(page.locator("#notice")).to_contain_text("Forgot 2 conversations")
    assert httpx.get(f"{server.url}/_fakellm/conversations").json()["total"] == 0
    expect(rows(page)).to_have_count(2)  # the journal stays

    page.click("#btn-clear")
    expect(page.locator("#notice")).to_contain_text("Cleared 2 requests")
    expect(rows(page)).to_have_count(0)
    expect(page.locator("#request-empty")).to_be_visible()
    assert httpx.get(f"{server.url}/_fakellm/requests").json()["requests"] == []

    # New traffic shows up again; a clear by another client empties the page too.
    chat(oa, "hello again")
    expect(rows(page)).to_have_count(1)
    httpx.delete(f"{server.url}/_fakellm/requests")
    expect(rows(page)).to_have_count(0)


def test_a_restarted_server_is_followed_from_its_new_journal(server, watched, tmp_path):
    page = watched.page
    oa = server.openai()
    for i in range(3):
        chat(oa, f"hello before the restart {i}")
    expect(rows(page)).to_have_count(3)
    server.proc.terminate()  # by its PID; the fixture's stop() then finds it already ended
    server.proc.wait(timeout=10)
    expect(page.locator("#live")).to_have_class("live off")
    # The same port again: the new process numbers its journal from 1.
    again = Served("--config", str(server.config_file))
    again.port, again.url = server.port, server.url
    again.args[again.args.index("--port") + 1] = str(server.port)
    with again:
        expect(page.locator("#live")).to_have_class("live on", timeout=15_000)
        chat(again.openai(), "hello after the restart")
        expect(rows(page)).to_have_count(1)
        expect(rows(page).first).to_contain_text("#1")
        rows(page).first.click()
        expect(page.locator("#request-detail .msg.role-user")).to_contain_text("hello after the restart")


ADMIN_TOKEN = "dashboard-t0ken_9"


def test_a_token_protected_server_asks_for_the_token_once_and_keeps_it_for_the_tab(browser, tmp_path):
    config = tmp_path / "fakellm.yaml"
    config.write_text(CONFIG)
    with Served("--config", str(config), env={"FAKELLM_ADMIN_TOKEN": ADMIN_TOKEN}) as server:
        oa = server.openai()
        chat(oa, "hello before the page opened")
        context = browser.new_context(viewport={"width": 1440, "height": 900})
        page = context.new_page()
        dialogs: list[str] = []
        errors: list[str] = []
        page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(f"{server.url}/_fakellm")

        # The page loads without a token, then the admin API's 401 makes it ask, in the page.
        form = page.locator("#token-form")
        expect(form).to_be_visible()
        expect(form).to_contain_text("FAKELLM_ADMIN_TOKEN")
        expect(page.locator("#live-text")).to_have_text("token needed")
        expect(page.locator("#token-input")).to_be_focused()
        expect(rows(page)).to_have_count(0)

        page.fill("#token-input", "not-the-token")
        page.click("#token-submit")
        expect(page.locator("#token-error")).to_have_text("That token was not accepted.")
        expect(form).to_be_visible()
        expect(rows(page)).to_have_count(0)

        page.fill("#token-input", ADMIN_TOKEN)
        page.press("#token-input", "Enter")
        expect(form).to_be_hidden()
        expect(page.locator("#live")).to_have_class("live on")
        expect(rows(page)).to_have_count(1)
        expect(rows(page).first).to_contain_text("greeting")
        chat(oa, "hello while the page is open")
        expect(rows(page)).to_have_count(2)

        # The buttons' admin calls carry the token too.
        page.click("#btn-clear")
        expect(page.locator("#notice")).to_contain_text("Cleared 2 requests")
        expect(rows(page)).to_have_count(0)
        auth = {"authorization": f"Bearer {ADMIN_TOKEN}"}
        assert httpx.get(f"{server.url}/_fakellm/requests", headers=auth).json()["requests"] == []

        # Asked once: reloading the tab keeps the token (sessionStorage), nowhere else.
        page.evaluate("window.__before = true")
        page.reload()
        chat(oa, "hello after the reload")
        expect(rows(page)).to_have_count(1)
        assert page.evaluate("window.__before") is None  # it did reload
        expect(form).to_be_hidden()
        assert page.evaluate("sessionStorage.getItem('fakellm.adminToken')") == ADMIN_TOKEN
        assert page.evaluate("localStorage.length") == 0 and ADMIN_TOKEN not in page.url
        assert context.cookies() == []

        # Another tab has its own session storage: it asks again.
        other = context.new_page()
        other.goto(f"{server.url}/_fakellm")
        expect(other.locator("#token-form")).to_be_visible()
        context.close()
        assert dialogs == [] and errors == []
    assert ADMIN_TOKEN not in "".join(server.output)


def test_dns_rebinding_in_a_real_browser_gets_no_data_and_changes_nothing(browser, tmp_path):
    """Chromium resolves evil.example to 127.0.0.1, as a rebound DNS name would: a page of that origin
    can send same-origin requests to fakellm, and fakellm must refuse them by their Host."""
    config = tmp_path / "fakellm.yaml"
    config.write_text(CONFIG)
    with Served("--config", str(config)) as server:
        chat(server.openai(), "hello, my secret prompt 5521")
        # A browser of its own: the name mapping is a launch flag.
        chromium = browser.browser_type.launch(executable_path=CHROMIUM,
                                      args=[*CHROMIUM_ARGS, "--host-resolver-rules=MAP evil.example 127.0.0.1"])
        try:
            page = chromium.new_page()
            evil = f"http://evil.example:{server.port}"
            dashboard = page.goto(f"{evil}/_fakellm")
            assert dashboard.status == 403 and "host_not_allowed" in dashboard.text()
            page.goto(f"{evil}/")  # the attacker's page, now on fakellm's address
            seen = page.evaluate("""async () => {
                const out = {};
                for (const path of ["/_fakellm/requests", "/_fakellm/config", "/metrics"]) {
                    const r = await fetch(path);
                    out[path] = [r.status, await r.text()];
                }
                const reset = await fetch("/_fakellm/requests", {method: "DELETE"});
                out.delete = [reset.status, await reset.text()];
                const put = await fetch("/_fakellm/config", {method: "PUT", body: "rules: []"});
                out.put = [put.status, await put.text()];
                return out;
            }""")
            for status, text in seen.values():
                assert status == 403 and "secret prompt" not in text and "host_not_allowed" in text
        finally:
            chromium.close()
        journal = httpx.get(f"{server.url}/_fakellm/requests").json()["requests"]
        assert [e["request"]["messages"][0]["content"] for e in journal] == ["hello, my secret prompt 5521"]
        assert len(httpx.get(f"{server.url}/_fakellm/rules").json()["rules"]) == 6


XSS = [
    "<script>alert('script tag')</script>",
    "<img src=x onerror=\"alert('img onerror');window.__pwned=1\">",
    "javascript:alert('javascript url')",
    "<a href=\"javascript:alert('link')\">click me</a>",
    "<svg onload=alert('svg')><iframe srcdoc=\"<script>alert(1)</script>\"></iframe>",
    "\"><img src=x onerror=alert('attr breakout')>",
]


def test_values_from_requests_are_shown_as_text_never_run(server, watched):
    page = watched.page
    oa, an = server.openai(), server.anthropic()
    for payload in XSS:
        chat(oa, payload)
    # HTML in the model name, the conversation id (from a header), other headers, a tool call and a tool result.
    hostile = XSS[1]
    oa.chat.completions.create(
        model="<img src=x onerror=alert('model')>",
        messages=[
            {"role": "system", "content": XSS[0]},
            {"role": "user", "content": "hello"},
            {"role": "assistant", "content": None, "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "<b onmouseover=alert(1)>tool</b>",
                                                                  "arguments": json.dumps({"q": hostile})}}]},
            {"role": "tool", "tool_call_id": "call_1", "content": hostile},
        ],
        extra_headers={"x-fakellm-conversation-id": "<svg onload=alert('conversation')>", "x-evil": hostile},
    )
    an.messages.create(model="claude-haiku-4-5", max_tokens=50,
                       system=XSS[4], messages=[{"role": "user", "content": [{"type": "text", "text": XSS[5]}]}])
    expect(rows(page)).to_have_count(len(XSS) + 2)

    # Open every request, every view, and search: nothing may execute.
    for i in range(len(XSS) + 2):
        rows(page).nth(i).click()
        page.locator("#request-detail summary", has_text="Headers").click()
        page.locator("#request-detail summary", has_text="Raw request body").click()
    page.click(".tab[data-view=conversations]")
    for i in range(page.locator(".conv-item").count()):
        page.locator(".conv-item").nth(i).click()
    page.click(".tab[data-view=rules]")
    page.click(".tab[data-view=requests]")
    page.fill("#f-search", "<script>")
    expect(rows(page)).to_have_count(4)  # XSS[0] and XSS[4], as prompts and as system prompts
    page.fill("#f-search", "")
    page.wait_for_timeout(300)

    assert watched.dialogs == []
    assert page.evaluate("window.__pwned") is None
    # No element came from the data: no img, iframe, svg, link to javascript:, or extra script.
    assert page.evaluate("document.querySelectorAll('img, iframe, svg, object, embed').length") == 0
    assert page.evaluate("document.querySelectorAll('a[href^=\"javascript\" i]').length") == 0
    assert page.evaluate("document.scripts.length") == 1
    handlers = "[...document.querySelectorAll('*')].some(e => [...e.attributes].some(a => a.name.startsWith('on')))"
    assert page.evaluate(handlers) is False

    # The text is shown literally.
    page.click(".tab[data-view=requests]")
    for i, payload in enumerate(XSS):
        rows(page).nth(len(XSS) + 1 - i).click()
        expect(page.locator("#request-detail .msg.role-user")).to_have_text("user" + payload)
    rows(page).nth(0).click()
    detail = page.locator("#request-detail")
    expect(detail.locator(".msg.role-system")).to_contain_text(XSS[4])
    expect(detail.locator(".msg.role-user")).to_contain_text(XSS[5])
    rows(page).nth(1).click()
    expect(detail.locator("dl.meta")).to_contain_text("<img src=x onerror=alert('model')>")
    expect(detail.locator("dl.meta")).to_contain_text("<svg onload=alert('conversation')>")
    expect(detail.locator(".part.call")).to_contain_text("<b onmouseover=alert(1)>tool</b>")
    expect(detail.locator(".part.result")).to_contain_text(hostile)
    detail.locator("summary", has_text="Headers").click()
    expect(detail.locator("table.kv")).to_contain_text(hostile)
    assert watched.dialogs == []


def test_a_full_journal_with_long_contents_stays_responsive(server, browser):
    long_text = "the quick brown fox jumps over the lazy dog. " * 8000  # ~360 KB
    with httpx.Client(base_url=server.url) as client:
        for i in range(1000):
            content = f"{long_text} needle-{i}" if i % 100 == 7 else f"request number {i} needle-{i}"
            response = client.post("/v1/chat/completions", json={
                "model": "gpt-4o-mini", "messages": [{"role": "user", "content": content}]})
            assert response.status_code == 200
    journal = httpx.get(f"{server.url}/_fakellm/requests", params={"after": 0, "limit": 1000}).json()
    assert len(journal["requests"]) == 1000 and journal["has_more"] is False

    started = time.monotonic()
    w = Watched(browser, f"{server.url}/_fakellm")
    page = w.page
    try:
        expect(page.locator("#f-count")).to_have_text("1000 requests")
        loaded = time.monotonic() - started
        assert loaded < 10, f"the page took {loaded:.1f}s to show a full journal"
        # Only a page of rows is in the DOM; the rest is a click away.
        assert rows(page).count() == 200
        expect(page.locator("#request-more")).to_have_text("Show 200 more (800 not shown)")
        page.click("#request-more")
        expect(rows(page)).to_have_count(400)

        # A long prompt is capped, and "show more" reveals more of it.
        page.fill("#f-search", "needle-907")
        expect(rows(page)).to_have_count(1)
        rows(page).first.click()
        text = page.locator("#request-detail .msg.role-user .text").first
        assert len(text.inner_text()) < 2100
        more = page.locator("#request-detail .msg.role-user .show-more")
        expect(more).to_contain_text("more characters")
        more.click()
        assert len(text.inner_text()) > 50000

        # Searching the whole journal is quick.
        started = time.monotonic()
        page.fill("#f-search", "request number 321")
        expect(rows(page)).to_have_count(1)
        assert time.monotonic() - started < 3
        # New traffic still arrives live on top of a full journal.
        page.fill("#f-search", "")
        chat(server.openai(), "hello after the flood")
        expect(rows(page).first).to_contain_text("greeting")
        expect(page.locator("#f-count")).to_have_text("1000 requests")
        assert w.errors == [] and w.dialogs == []
    finally:
        w.context.close()
