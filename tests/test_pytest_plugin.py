"""The pytest plugin, run through pytest's own `pytester`.

Inner sessions run in-process (`runpytest`) where they can, and in a subprocess
where the point is a fresh interpreter (import laziness) or xdist workers.
"""

from __future__ import annotations

import textwrap

import pytest

pytest_plugins = ["pytester"]

AGENT_TEST = '''
import json
import pytest
from openai import OpenAI

AGENT_RULES = [
    {"name": "kickoff_research", "when": {"turn": 1, "messages_contain": "research"},
     "respond": {"tool_calls": [{"name": "web_search", "arguments": {"query": "fakellm"}}]}},
    {"name": "summarize_results", "when": {"turn": 2, "tool_result_contains": "found"},
     "respond": {"content": "Based on the search, I found what you were looking for."}},
]
TOOLS = [{"type": "function", "function": {"name": "web_search", "parameters": {"type": "object"}}}]


def run_my_agent(prompt):
    client = OpenAI()  # OPENAI_BASE_URL and OPENAI_API_KEY come from the fixture
    messages = [{"role": "user", "content": prompt}]
    for _ in range(5):
        message = client.chat.completions.create(model="gpt-4o-mini", messages=messages, tools=TOOLS).choices[0].message
        if not message.tool_calls:
            return message.content
        messages.append(message.model_dump(exclude_none=True))
        for call in message.tool_calls:
            messages.append({"role": "tool", "tool_call_id": call.id, "content": "found 3 pages"})


@pytest.mark.fakellm(rules=AGENT_RULES)
def test_agent_handles_search(fakellm):
    assert "found what you were looking for" in run_my_agent("Please research fakellm")
    fakellm.assert_called(rule="kickoff_research", times=1)
    fakellm.assert_called(rule="summarize_results", times=1)
    fakellm.assert_tool_called("web_search", arguments={"query": "fakellm"})
    fakellm.assert_no_unmatched()
    assert fakellm.requests[-1].turn == 2
'''


def test_two_turn_agent_through_the_fixture(pytester):
    pytester.makepyfile(test_agent=AGENT_TEST)
    result = pytester.runpytest()
    result.assert_outcomes(passed=1)


def test_retry_on_429_with_default_retries(pytester):
    pytester.makepyfile('''
        import pytest
        from openai import OpenAI

        @pytest.mark.fakellm(rules=[{
            "name": "rate_limited_once",
            "respond": [
                {"status": 429, "error": "slow down", "headers": {"retry-after": "0.01"}},
                {"content": "recovered"},
            ],
        }])
        def test_client_retries(fakellm):
            reply = OpenAI().chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
            assert reply.choices[0].message.content == "recovered"
            fakellm.assert_called(rule="rate_limited_once", times=2)
            assert [r.status for r in fakellm.requests] == [429, 200]
    ''')
    pytester.runpytest().assert_outcomes(passed=1)


def test_every_test_starts_reset_with_its_own_rules(pytester):
    pytester.makepyfile('''
        import pytest
        from anthropic import Anthropic

        SEQ = [{"name": "seq", "respond": [{"content": "first"}, {"content": "second"}]}]

        def ask():
            client = Anthropic()
            reply = client.messages.create(model="claude-test-model", max_tokens=20,
                                           messages=[{"role": "user", "content": "same question"}])
            return reply.content[0].text

        @pytest.mark.fakellm(rules=SEQ)
        def test_a(fakellm):
            assert [ask(), ask()] == ["first", "second"]

        @pytest.mark.fakellm(rules=SEQ)
        def test_b_starts_over(fakellm):
            assert fakellm.requests == []
            assert ask() == "first"

        def test_c_without_marker_has_no_rules(fakellm):
            assert ask().startswith("[mock response for claude-test-model")
            assert fakellm.requests[0].rule is None

        def test_d_set_rules_inside_the_test(fakellm):
            fakellm.set_rules([{"name": "inline", "respond": {"content": "set inside"}}])
            assert ask() == "set inside"
            fakellm.assert_called(rule="inline")
    ''')
    pytester.runpytest("-p", "no:randomly").assert_outcomes(passed=4)


def test_environment_variables_are_set_for_the_test_only(pytester, monkeypatch):
    monkeypatch.setenv("OPENAI_BASE_URL", "https://api.openai.com/v1")
    pytester.makepyfile('''
        import os

        import ollama

        NAMES = ["OPENAI_BASE_URL", "OPENAI_API_KEY", "ANTHROPIC_BASE_URL", "ANTHROPIC_API_KEY",
                 "GOOGLE_GEMINI_BASE_URL", "GEMINI_API_KEY", "OLLAMA_HOST"]

        def test_with_fixture(fakellm):
            assert os.environ["OPENAI_BASE_URL"] == fakellm.url + "/v1"
            assert os.environ["ANTHROPIC_BASE_URL"] == fakellm.url
            assert os.environ["GOOGLE_GEMINI_BASE_URL"] == fakellm.url
            assert os.environ["OLLAMA_HOST"] == fakellm.ollama_host == fakellm.url
            # A client built without a host finds the server.
            reply = ollama.Client().chat(model="llama3.2", messages=[{"role": "user", "content": "hi"}])
            assert reply.message.content.startswith("[mock response for llama3.2")
            assert fakellm.requests[-1].api == "ollama.chat"
            assert fakellm.url.startswith("http://127.0.0.1:")
            assert all(os.environ.get(name) for name in NAMES)

        def test_after(request):
            assert os.environ["OPENAI_BASE_URL"] == "https://api.openai.com/v1"
    ''')
    pytester.runpytest("-p", "no:randomly").assert_outcomes(passed=2)


ADMIN_TOKEN_TEST = '''
    import httpx

    def test_admin_api_needs_the_token(fakellm):
        assert httpx.get(fakellm.url + "/_fakellm/rules").status_code == 401
        assert httpx.get(fakellm.url + "/_fakellm/rules", headers={"authorization": "Bearer TOKEN"}).status_code == 200
        assert httpx.get(fakellm.url + "/_fakellm/rules", headers=fakellm.admin_headers).status_code == 200
        fakellm.set_rules([{"name": "x", "respond": {"content": "still works"}}])  # in-process: no token

    def test_the_next_test_is_reset_through_the_same_lock(fakellm):
        assert fakellm.requests == [] and len(fakellm.config.rules) == 0
'''


def test_the_admin_token_comes_from_the_environment_or_the_ini(pytester, monkeypatch):
    monkeypatch.setenv("FAKELLM_ADMIN_TOKEN", "from-env")
    pytester.makepyfile(ADMIN_TOKEN_TEST.replace("TOKEN", "from-env"))
    pytester.runpytest().assert_outcomes(passed=2)

    monkeypatch.delenv("FAKELLM_ADMIN_TOKEN")
    pytester.makeini("[pytest]\nfakellm_admin_token = from-ini\n")
    pytester.makepyfile(ADMIN_TOKEN_TEST.replace("TOKEN", "from-ini"))
    pytester.runpytest().assert_outcomes(passed=2)

    monkeypatch.setenv("FAKELLM_ADMIN_TOKEN", "env-wins")  # over the ini
    pytester.makepyfile(ADMIN_TOKEN_TEST.replace("TOKEN", "env-wins"))
    pytester.runpytest().assert_outcomes(passed=2)

    monkeypatch.setenv("FAKELLM_ADMIN_TOKEN", "two words")
    result = pytester.runpytest()
    result.assert_outcomes(errors=2)
    result.stdout.fnmatch_lines(["*FAKELLM_ADMIN_TOKEN / fakellm_admin_token: the admin token must be printable*"])
    assert "two words" not in result.stdout.str()


def test_without_a_token_the_fixture_admin_api_answers_loopback(pytester, monkeypatch):
    monkeypatch.delenv("FAKELLM_ADMIN_TOKEN", raising=False)
    pytester.makepyfile('''
        import httpx

        def test_open_on_loopback(fakellm):
            assert fakellm.admin_headers == {}
            assert httpx.get(fakellm.url + "/_fakellm/rules").status_code == 200
            assert httpx.get(fakellm.url + "/_fakellm/rules", headers={"host": "evil.example"}).status_code == 403
    ''')
    pytester.runpytest().assert_outcomes(passed=1)


def test_config_files_from_the_marker_the_option_and_the_ini(pytester):
    pytester.mkdir("sub")
    pytester.path.joinpath("sub", "scenario.yaml").write_text(
        "rules:\n  - name: from_marker_file\n    respond: {content: marker file}\n")
    pytester.path.joinpath("default.yaml").write_text(
        "rules:\n  - name: from_default\n    respond: {content: default file}\n")
    pytester.path.joinpath("other.yaml").write_text(
        "rules:\n  - name: from_option\n    respond: {content: option file}\n")
    pytester.makeini("[pytest]\nfakellm_config = default.yaml\n")
    pytester.path.joinpath("sub", "test_configs.py").write_text(textwrap.dedent('''
        import os
        import pytest
        from openai import OpenAI

        def ask():
            return OpenAI().chat.completions.create(
                model="m", messages=[{"role": "user", "content": "q"}]).choices[0].message.content

        @pytest.mark.fakellm(config="scenario.yaml")
        def test_marker_config_is_relative_to_the_test_file(fakellm):
            assert ask() == "marker file"

        @pytest.mark.fakellm(config={"rules": [{"respond": {"content": "inline mapping"}}]})
        def test_marker_config_mapping(fakellm):
            assert ask() == "inline mapping"

        def test_default(fakellm):
            assert ask() == os.environ["EXPECTED_DEFAULT"]
    '''))
    pytester.makeconftest("")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("EXPECTED_DEFAULT", "default file")
        pytester.runpytest().assert_outcomes(passed=3)
        mp.setenv("EXPECTED_DEFAULT", "option file")
        pytester.runpytest("--fakellm-config", "other.yaml").assert_outcomes(passed=3)


def test_invalid_marker_rules_fail_with_every_problem(pytester):
    pytester.makepyfile('''
        import pytest

        @pytest.mark.fakellm(rules=[{"name": "x", "whne": {"turn": 1}}, {"respond": {"status": "nope"}}])
        def test_bad_rules(fakellm):
            pass

        @pytest.mark.fakellm(rules=[], config="x.yaml")
        def test_both(fakellm):
            pass

        @pytest.mark.fakellm(rulez=[])
        def test_unknown_keyword(fakellm):
            pass

        @pytest.mark.fakellm(config="missing.yaml")
        def test_missing_file(fakellm):
            pass
    ''')
    result = pytester.runpytest()
    result.assert_outcomes(errors=4)
    result.stdout.fnmatch_lines([
        "*fakellm: the config for this test is invalid:*",
        "*unknown key 'whne' in rule (did you mean 'when'?)*",
    ])
    result.stdout.fnmatch_lines(["*rules[[]1[]]*status*"])
    result.stdout.fnmatch_lines(["*takes rules= or config=, not both*"])
    result.stdout.fnmatch_lines(["*takes only the keywords rules=, config= and strict= (got rulez)*"])
    result.stdout.fnmatch_lines(["*missing.yaml: config file not found*"])


def test_failing_test_gets_its_journal_in_the_report(pytester):
    pytester.makepyfile('''
        import pytest
        from openai import OpenAI

        @pytest.mark.fakellm(rules=[{"name": "greet", "when": {"messages_contain": "hello"},
                                     "respond": {"content": "hi there"}}])
        def test_fails(fakellm):
            client = OpenAI()
            client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hello"}])
            client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "goodbye"}])
            assert False, "the app did something wrong"

        def test_passes(fakellm):
            OpenAI().chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "quiet"}])
    ''')
    result = pytester.runpytest("-p", "no:randomly")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines([
        "*- fakellm journal -*",
        '#* openai.chat gpt-4o turn 1, last message "hello" -> rule "greet" (200): "hi there"',
        '#* openai.chat gpt-4o turn 1, last message "goodbye" -> no rule matched (200): closest rule "greet": '
        'messages_contain "hello": not found in the 1 message',
    ])
    # Only the failing test's report carries a journal, and only its own requests.
    assert result.stdout.str().count("fakellm journal") == 1
    assert '"quiet"' not in result.stdout.str()


def test_assertion_failures_read_well_in_the_report(pytester):
    pytester.makepyfile('''
        import pytest
        from openai import OpenAI

        @pytest.mark.fakellm(rules=[{"name": "search", "respond": {"tool_calls": [
            {"name": "web_search", "arguments": {"query": "cats"}}]}}])
        def test_wrong_arguments(fakellm):
            OpenAI().chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "q"}])
            fakellm.assert_tool_called("web_search", arguments={"query": "dogs"})
    ''')
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([
        '*AssertionError: fakellm: no call to tool "web_search" with arguments including {"query": "dogs"}.',
        "*Tool calls made (1):",
        '*web_search({"query": "cats"}) (request #*, rule "search")',
    ])


STRICT_TESTS = '''
import openai
import pytest
from openai import OpenAI

RULES = [{"name": "kickoff_research", "when": {"turn": 1, "messages_contain": "research"},
          "respond": {"content": "researching"}}]

def swallowing_app():
    """An app that hides LLM errors from its caller."""
    try:
        return OpenAI().chat.completions.create(
            model="gpt-4o", messages=[{"role": "system", "content": "s"}, {"role": "user", "content": "hello"}]
        ).choices[0].message.content
    except openai.APIError:
        return "sorry"

@pytest.mark.fakellm(rules=RULES)
def test_miss_is_swallowed_by_the_app(fakellm):
    swallowing_app()

@pytest.mark.fakellm(rules=RULES)
def test_miss_raises_in_the_test(fakellm):
    OpenAI().chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hello"}])

@pytest.mark.fakellm(rules=RULES)
def test_all_matched(fakellm):
    assert OpenAI().chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": "research"}]).choices[0].message.content == "researching"
'''


def test_strict_ini_fails_a_test_with_the_explanation(pytester):
    pytester.makeini("[pytest]\nfakellm_strict = true\n")
    pytester.makepyfile(test_strict=STRICT_TESTS)
    result = pytester.runpytest("-p", "no:randomly")
    result.assert_outcomes(passed=1, failed=2)
    result.stdout.fnmatch_lines([
        "*test_miss_is_swallowed_by_the_app*",
        "*AssertionError: fakellm: 1 request matched no rule:",
        '*#* openai.chat gpt-4o turn 1: closest rule "kickoff_research": messages_contain "research": '
        "not found in the 2 messages",
    ])
    # The request that raised shows the 404 the SDK saw, explanation included.
    result.stdout.fnmatch_lines([
        "*NotFoundError*fakellm: no rule matched this request: closest rule*kickoff_research*"
        "messages_contain*research*not found in the 1 message*",
    ])
    result.stdout.fnmatch_lines(["*FAILED test_strict.py::test_miss_raises_in_the_test*"])


def test_without_strict_misses_pass_and_the_marker_can_turn_strict_on(pytester):
    pytester.makepyfile(test_strict=STRICT_TESTS + '''
@pytest.mark.fakellm(rules=RULES, strict=True)
def test_strict_by_marker(fakellm):
    assert swallowing_app() == "sorry"
''')
    result = pytester.runpytest("-p", "no:randomly")
    result.assert_outcomes(passed=3, failed=1)
    result.stdout.fnmatch_lines([
        "*_ test_strict_by_marker _*",
        "E   AssertionError: fakellm: 1 request matched no rule:",
        '*closest rule "kickoff_research": messages_contain "research": not found in the 2 messages',
        "*FAILED test_strict.py::test_strict_by_marker*",
    ])


def test_a_session_without_the_fixture_starts_nothing(pytester):
    pytester.makepyfile('''
        import sys
        import threading

        def test_plugin_is_loaded_but_idle(request):
            assert request.config.pluginmanager.has_plugin("fakellm")
            for heavy in ("uvicorn", "fakellm.testing.fakellm", "fakellm.server.app"):
                assert heavy not in sys.modules, heavy
            assert not any(t.name == "fakellm-server" for t in threading.enumerate())
    ''')
    pytester.runpytest_subprocess().assert_outcomes(passed=1)


def test_marker_is_registered(pytester):
    pytester.makepyfile('''
        import pytest

        @pytest.mark.fakellm(rules=[])
        def test_x():
            pass
    ''')
    pytester.runpytest("--strict-markers").assert_outcomes(passed=1)
    result = pytester.runpytest("--markers")
    result.stdout.fnmatch_lines(["@pytest.mark.fakellm(rules=None, config=None, strict=None):*"])


def test_xdist_workers_each_run_their_own_server(pytester, monkeypatch):
    out = pytester.mkdir("urls")
    monkeypatch.setenv("FAKELLM_URL_DIR", str(out))
    pytester.makepyfile(test_agent=AGENT_TEST)
    pytester.makepyfile(test_workers='''
        import os
        import pathlib
        import pytest
        from openai import OpenAI

        @pytest.mark.parametrize("i", range(6))
        def test_record_worker_url(fakellm, i):
            worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
            pathlib.Path(os.environ["FAKELLM_URL_DIR"], f"{worker}-{i}.url").write_text(fakellm.url)
            OpenAI().chat.completions.create(model="m", messages=[{"role": "user", "content": str(i)}])
            assert len(fakellm.requests) == 1
    ''')
    result = pytester.runpytest_subprocess("-n", "2")
    result.assert_outcomes(passed=7)
    urls: dict[str, set[str]] = {}
    for path in out.glob("*.url"):
        urls.setdefault(path.name.split("-")[0], set()).add(path.read_text())
    assert set(urls) == {"gw0", "gw1"}, urls
    assert all(len(u) == 1 for u in urls.values())  # one server per worker for the whole session
    assert urls["gw0"] != urls["gw1"]


STATE_TEST = '''
import httpx
import openai
import pytest

@pytest.mark.fakellm(rules=[{"respond": {"content": "shared"}}])
def test_state_in_redis(fakellm):
    client = openai.OpenAI(base_url=fakellm.openai_base_url, api_key="k", max_retries=0)
    assert client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}]) \\
        .choices[0].message.content == "shared"
    entry = httpx.get(fakellm.url + "/_fakellm/requests").json()["requests"][-1]
    assert "worker" in entry  # answered by a Redis-backed server: its entries name the worker
'''


def test_the_state_comes_from_the_environment_or_the_ini(pytester, monkeypatch, redis_url, redis_prefix):
    url = f"{redis_url}?prefix={redis_prefix}"
    monkeypatch.delenv("FAKELLM_ADMIN_TOKEN", raising=False)
    monkeypatch.setenv("FAKELLM_STATE", url)
    pytester.makepyfile(STATE_TEST)
    pytester.runpytest().assert_outcomes(passed=1)

    monkeypatch.delenv("FAKELLM_STATE")
    pytester.makeini(f"[pytest]\nfakellm_state = {url}\n")
    pytester.runpytest().assert_outcomes(passed=1)

    monkeypatch.setenv("FAKELLM_STATE", "redis://:pw-secret@127.0.0.1:1/0")  # the variable wins; nothing listens
    result = pytester.runpytest()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*FAKELLM_STATE / fakellm_state: cannot use Redis at redis://:***@127.0.0.1:1/0*"])
    assert "pw-secret" not in result.stdout.str()
