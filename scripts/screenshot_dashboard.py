"""Take the README's dashboard screenshots: serve a demo config, send some traffic, photograph the page.

Usage (from the repository root, after `pip install -e '.[test]'`):
    python scripts/screenshot_dashboard.py [--out docs]

Needs Chromium at /usr/bin/chromium (`apt-get install chromium`, or set CHROMIUM to another
binary). Writes dashboard.png (a request in detail), dashboard-miss.png (why no rule matched),
dashboard-conversation.png and dashboard-rules.png into the output folder.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import anthropic
import openai
from playwright.sync_api import sync_playwright

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
WIDTH, HEIGHT = int(os.environ.get("SHOT_WIDTH", 1600)), int(os.environ.get("SHOT_HEIGHT", 940))
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync", "--disable-quic"]

DEMO_CONFIG = """\
version: 1
rules:
  - name: plan_research
    when: {turn: 1, messages_contain: "research"}
    respond:
      tool_calls:
        - name: web_search
          arguments: {query: "fakellm mock server release notes"}
  - name: summarize_findings
    when: {turn: 2, tool_result_contains: "release"}
    respond:
      content: "fakellm 0.4 adds a live dashboard, Prometheus metrics and miss explanations. The release notes list 12 fixes."
  - name: greeting
    when: {last_message_contains: "hello"}
    respond: {content: "Hi! This answer comes from fakellm."}
  - name: sentiment
    when: {system_contains: "classifier", messages_match: "sentiment of .+"}
    respond: {content: "positive"}
  - name: rate_limited
    when: {last_message_contains: "burst"}
    respond:
      - {status: 429, error: "Rate limit reached for requests", headers: {retry-after: "1"}}
      - {content: "Recovered after the retry."}
  - name: weather_tool
    when: {tools_include: get_weather, api: anthropic}
    respond:
      tool_calls:
        - {name: get_weather, arguments: {city: "Paris"}}
  - name: legacy_fallback
    when: {model_matches: "gpt-3.5-*", turn: 3}
    respond: {content: "never used in this demo"}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(config: Path) -> tuple[subprocess.Popen[str], str]:
    """`fakellm serve` on a free port, run next to the config so the page shows just its file name."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "fakellm", "serve", "--port", str(port), "--config", config.name],
                            cwd=config.parent, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        if "fakellm ready on" in line:
            return proc, f"http://127.0.0.1:{port}"
    proc.terminate()
    raise RuntimeError("fakellm serve did not start")


def traffic(url: str) -> None:
    """A small, realistic mix: a two-turn agent, a stream, a classifier, a retried 429, misses."""
    oa = openai.OpenAI(base_url=f"{url}/v1", api_key="sk-demo", max_retries=0)
    an = anthropic.Anthropic(base_url=url, api_key="sk-ant-demo", max_retries=0)

    an.messages.create(model="claude-sonnet-4-6", max_tokens=200, messages=[{"role": "user", "content": "hello there"}])
    with oa.chat.completions.create(model="gpt-4o-mini", stream=True,
                                    messages=[{"role": "user", "content": "Say hello to the team"}]) as stream:
        for _ in stream:
            pass
    oa.chat.completions.create(model="gpt-4o-mini", messages=[
        {"role": "system", "content": "You are a sentiment classifier. Answer positive or negative."},
        {"role": "user", "content": "What is the sentiment of this review: 'the new dashboard is great'"}])
    retrying = openai.OpenAI(base_url=f"{url}/v1", api_key="sk-demo", max_retries=2)
    retrying.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "send a burst of traffic"}])
    an.messages.create(model="claude-haiku-4-5", max_tokens=100, tools=[{
        "name": "get_weather", "description": "Current weather for a city",
        "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}}],
        messages=[{"role": "user", "content": "Should I take an umbrella in Paris today?"}])
    oa.chat.completions.create(model="gpt-4.1", messages=[
        {"role": "system", "content": "You are a translator."},
        {"role": "user", "content": "Translate 'good morning' into French"}])

    # The agent: turn 1 asks for a tool, turn 2 reads its result.
    system = "You are a research assistant. Use web_search, then summarise what you found."
    question = "Please research what changed in the latest fakellm release."
    tools = [{"type": "function", "function": {"name": "web_search", "description": "Search the web",
              "parameters": {"type": "object", "properties": {"query": {"type": "string"}}, "required": ["query"]}}}]
    messages: list = [{"role": "system", "content": system}, {"role": "user", "content": question}]
    first = oa.chat.completions.create(model="gpt-4o", messages=messages, tools=tools)
    call = first.choices[0].message.tool_calls[0]
    messages.append({"role": "assistant", "content": None, "tool_calls": [
        {"id": call.id, "type": "function", "function": {"name": call.function.name, "arguments": call.function.arguments}}]})
    messages.append({"role": "tool", "tool_call_id": call.id, "content": json.dumps({"results": [
        {"title": "fakellm 0.4.0 release notes", "snippet": "Live dashboard, /metrics, miss explanations, 12 fixes."}]})})
    oa.chat.completions.create(model="gpt-4o", messages=messages, tools=tools)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs"), help="folder for the PNG files [docs]")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "fakellm.yaml"
        config.write_text(DEMO_CONFIG)
        proc, url = serve(config)
        try:
            traffic(url)
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                page = browser.new_page(viewport={"width": WIDTH, "height": HEIGHT}, device_scale_factor=1)
                page.goto(f"{url}/_fakellm")
                rows = page.locator("#request-rows tr")
                rows.first.wait_for()
                page.locator("#request-rows tr", has_text="summarize_findings").click()
                page.locator("#request-detail .detail-head").wait_for()
                page.screenshot(path=str(args.out / "dashboard.png"))
                page.locator("#request-rows tr", has_text="no match").first.click()
                page.locator("#request-detail .explanation").wait_for()
                page.screenshot(path=str(args.out / "dashboard-miss.png"))
                page.locator("#request-detail button", has_text="conv-").first.click()
                page.locator("#transcript .turn").first.wait_for()
                page.locator(".conv-item", has_text="2 requests").first.click()
                page.locator("#transcript .turn").nth(1).wait_for()
                page.screenshot(path=str(args.out / "dashboard-conversation.png"))
                page.locator(".tab[data-view=rules]").click()
                page.locator("#rule-rows tr").first.wait_for()
                page.screenshot(path=str(args.out / "dashboard-rules.png"))
                browser.close()
        finally:
            proc.terminate()
            proc.wait(timeout=10)
    print(f"wrote {', '.join(p.name for p in sorted(args.out.glob('dashboard*.png')))} to {args.out}")


if __name__ == "__main__":
    main()
