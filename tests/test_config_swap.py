"""A big config is loaded off the event loop (issue 12, item 8): while a 20,000-rule config is read,
validated and compiled (seconds), `fakellm serve` keeps answering; then the new config is swapped
in whole. 0.3.x did all of it on the event loop and answered nothing for 6 s and more."""

from __future__ import annotations

import threading
import time

import httpx
import pytest
from helpers import Served

RULES = 20_000
# Generous for a loaded CI machine; the old code stalled every request for the whole load (6-18 s).
PROMPT_S = 1.0


def big_config(answer: str) -> str:
    return "rules:\n" + "".join(
        f"  - name: r{i}\n    when: {{messages_contain: 'word{i} ', turn: 1}}\n    respond: {{content: '{answer} {i}'}}\n"
        for i in range(RULES))


def ask(client, text: str) -> str:
    return client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": text}]) \
        .choices[0].message.content


@pytest.mark.parametrize("how", ["PUT /_fakellm/config", "POST /_fakellm/reload"])
def test_requests_are_answered_promptly_while_a_20000_rule_config_loads(tmp_path, how):
    path = tmp_path / "fakellm.yaml"
    path.write_text("rules: [{name: small, respond: {content: small config}}]\n")
    with Served("--config", str(path), cwd=tmp_path) as server:
        client = server.openai(timeout=60)
        assert ask(client, "hello") == "small config"
        text = big_config("big")
        if how.startswith("POST"):
            path.write_text(text)
        outcome: dict[str, httpx.Response] = {}

        def load() -> None:
            if how.startswith("PUT"):
                outcome["response"] = httpx.put(f"{server.url}/_fakellm/config", content=text, timeout=120)
            else:
                outcome["response"] = httpx.post(f"{server.url}/_fakellm/reload", timeout=120)

        loading = threading.Thread(target=load)
        loading.start()
        latencies: list[float] = []
        with httpx.Client(timeout=60) as http:
            while loading.is_alive():
                started = time.monotonic()
                assert http.get(f"{server.url}/_fakellm/health").status_code == 200
                ask(client, "hello")  # the old config answers until the new one is swapped in
                latencies.append(time.monotonic() - started)
                time.sleep(0.02)
        loading.join()
        response = outcome["response"]
        assert response.status_code == 200, response.text
        assert response.json()["rules"] == RULES
        assert max(latencies) < PROMPT_S, f"a request waited {max(latencies):.2f}s while the config loaded"
        assert len(latencies) >= 3, "the requests did not overlap the load"
        assert ask(client, "say word19999 please") == "big 19999"
        assert ask(client, "say word0 please") == "big 0"
