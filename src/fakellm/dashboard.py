"""The HTML page at GET /_fakellm: totals, rule hits, recent requests, conversations.

Every value that comes from a request or the config is HTML-escaped.
"""

from __future__ import annotations

import time
from html import escape
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .server import FakeLLMApp

RECENT = 50
CONVERSATIONS = 50


def _e(value: Any) -> str:
    return "" if value is None else escape(str(value), quote=True)


def _when(ts: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(ts))


def render(app: FakeLLMApp) -> str:
    state = app.engine.state
    stats = state.stats
    rules = "".join(
        f"<tr><td>{_e(rule.name)}</td><td>{stats.by_rule.get(rule.name, 0)}</td>"
        f"<td>{_e(_when(stats.last_hit[rule.name])) if rule.name in stats.last_hit else 'never'}</td></tr>"
        for rule in app.engine.rules
    )
    recent = "".join(
        f"<tr><td>{_e(_when(e.time))}</td><td>{_e(e.api)}</td><td>{_e(e.model)}</td>"
        f"<td>{'yes' if e.stream else 'no'}</td><td>{_e(e.conversation_id)}</td><td>{e.turn}</td>"
        f"<td>{_e(e.rule) if e.rule is not None else '<em>no match</em>'}</td><td>{e.status}</td>"
        f"<td class=c>{_e((e.content or (e.error or {}).get('message') or '')[:200])}</td></tr>"
        for e in list(state.journal)[-RECENT:][::-1]
    )
    total_convs, convs = state.conversations(CONVERSATIONS, 0)
    conv_rows = "".join(
        f"<tr><td>{_e(c['id'])}</td><td>{c['requests']}</td><td>{c['turn']}</td><td>{c['tool_results_seen']}</td></tr>"
        for c in convs
    )
    source = app.config_path if app.config_path is not None else app.config.source
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>fakellm</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 1100px; margin: 2rem auto; padding: 0 1rem; color: #222; }}
h1 {{ font-size: 1.4rem; }} h2 {{ font-size: 1.1rem; margin-top: 2rem; }}
table {{ border-collapse: collapse; width: 100%; font-size: .9rem; }}
th, td {{ text-align: left; padding: .35rem .6rem; border-bottom: 1px solid #eee; vertical-align: top; }}
th {{ background: #f7f7f7; }} td.c {{ max-width: 28rem; overflow-wrap: anywhere; }}
</style></head><body>
<h1>fakellm</h1>
<p>Config: <code>{_e(source)}</code> &middot; Requests: <strong>{stats.total}</strong>
&middot; Unmatched: <strong>{stats.unmatched}</strong> &middot; Conversations: <strong>{total_convs}</strong></p>
<h2>Rules</h2>
<table><tr><th>Rule</th><th>Hits</th><th>Last hit</th></tr>{rules or '<tr><td colspan=3>no rules</td></tr>'}</table>
<h2>Recent requests</h2>
<table><tr><th>Time</th><th>API</th><th>Model</th><th>Stream</th><th>Conversation</th><th>Turn</th><th>Rule</th><th>Status</th><th>Reply</th></tr>
{recent or '<tr><td colspan=9>none yet</td></tr>'}</table>
<h2>Conversations (most recent {CONVERSATIONS} of {total_convs})</h2>
<table><tr><th>ID</th><th>Requests</th><th>Turn</th><th>Tool results seen</th></tr>
{conv_rows or '<tr><td colspan=4>none yet</td></tr>'}</table>
</body></html>"""
