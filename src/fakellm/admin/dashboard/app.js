// fakellm dashboard: polls the admin API and renders the journal, conversations and rules.
//
// Safety: every value that comes from a request (or the config) reaches the page as a
// text node or an attribute value set from script. Nothing is ever parsed as HTML, and
// no link is built from data. The server's Content-Security-Policy forbids inline script.
"use strict";

const API = "/_fakellm";
const POLL_MS = 1000;
const HIDDEN_POLL_MS = 4000;
const JOURNAL_PAGE = 1000;  // the admin API's largest page
const PAGE_ROWS = 200;          // rows rendered at once; "show more" renders the next page
const TEXT_CAP = 2000;          // characters of one text shown before "show more"
const TEXT_STEP = 50000;        // characters each "show more" adds
const HAYSTACK_CAP = 1000000;   // characters of one request searched by the text filter
const PENDING_S = 120;          // re-fetch entries this young whose latency is not known yet (still streaming)
const NO_MATCH = "__fakellm_no_match__";  // the rule filter's value for "no match"

const state = {
  entries: [],                  // journal entries, oldest first
  byId: new Map(),
  lastId: 0,
  conversations: new Map(),     // id -> {id, entries: [], last}
  rulesInfo: null,
  view: "requests",
  selectedId: null,
  selectedConversation: null,
  requestLimit: PAGE_ROWS,
  conversationLimit: PAGE_ROWS,
  filters: { search: "", api: "", model: "", rule: "", status: "", misses: false },
  waitingForToken: false,       // a 401 showed the token form; polling waits for it
  seen: { api: new Set(), model: new Set(), rule: new Set(), status: new Set() },
};

// ---------------------------------------------------------------- DOM helpers

const $ = (id) => document.getElementById(id);

// el("div", {class: "x", onclick: fn, title: "t"}, child, "text", ...): strings become text nodes.
function el(tag, props, ...children) {
  const node = document.createElement(tag);
  if (props) {
    for (const [key, value] of Object.entries(props)) {
      if (value === undefined || value === null || value === false) continue;
      if (key === "class") node.className = value;
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else if (key === "dataset") Object.assign(node.dataset, value);
      else node.setAttribute(key, value === true ? "" : String(value));
    }
  }
  appendAll(node, children);
  return node;
}

function appendAll(node, children) {
  for (const child of children) {
    if (child === undefined || child === null || child === false) continue;
    if (Array.isArray(child)) appendAll(node, child);
    else if (child instanceof Node) node.appendChild(child);
    else node.appendChild(document.createTextNode(String(child)));
  }
}

function clear(node) {
  while (node.firstChild) node.removeChild(node.firstChild);
}

// A long text shown up to a cap, with a button that reveals more of it.
function longText(text, cls) {
  text = text == null ? "" : String(text);
  const box = el("div", { class: "text " + (cls || "") });
  const shown = document.createTextNode(text.slice(0, TEXT_CAP));
  box.appendChild(shown);
  if (text.length > TEXT_CAP) {
    let upto = TEXT_CAP;
    const more = el("button", { type: "button", class: "btn link show-more" });
    const label = () => { more.textContent = `show more (${(text.length - upto).toLocaleString()} more characters)`; };
    label();
    more.addEventListener("click", () => {
      const next = Math.min(text.length, upto + TEXT_STEP);
      shown.appendData(text.slice(upto, next));
      upto = next;
      if (upto >= text.length) more.remove(); else label();
    });
    box.appendChild(el("div", { class: "more-row" }, more));
  }
  return box;
}

function pretty(value) {
  if (typeof value === "string") {
    try { return JSON.stringify(JSON.parse(value), null, 2); } catch (e) { return value; }
  }
  try { return JSON.stringify(value, null, 2); } catch (e) { return String(value); }
}

function clock(ts) {
  const d = new Date(ts * 1000);
  const p = (n, w) => String(n).padStart(w || 2, "0");
  return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`;
}

function ago(ts) {
  const s = Math.max(0, Date.now() / 1000 - ts);
  if (s < 1) return "just now";
  if (s < 60) return `${Math.floor(s)}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ago`;
  return new Date(ts * 1000).toLocaleString();
}

function latency(ms) {
  if (ms === null || ms === undefined) return "–";
  if (ms < 1) return `${ms.toFixed(2)} ms`;
  if (ms < 1000) return `${ms.toFixed(ms < 10 ? 1 : 0)} ms`;
  return `${(ms / 1000).toFixed(2)} s`;
}

function shortId(id) {
  id = String(id || "");
  return id.length > 17 ? id.slice(0, 16) + "…" : id;
}

function statusPill(status) {
  const cls = status >= 500 ? "bad" : status >= 400 ? "warn" : "ok";
  return el("span", { class: "pill status " + cls }, String(status));
}

function ruleChip(rule, onclick) {
  if (rule === null || rule === undefined) return el("span", { class: "chip miss" }, "no match");
  return el("span", { class: "chip rule" + (onclick ? " clickable" : ""), title: `rule ${rule}`, onclick }, rule);
}

function roleBadge(role) {
  const known = ["system", "developer", "user", "assistant", "model", "tool", "function"];
  const cls = known.includes(role) ? role : "other";
  return el("span", { class: "role " + cls }, role || "?");
}

// ---------------------------------------------------------------- reading request bodies

// Any API's body as a list of {role, parts}; a part is one of
// {t: "text"|"thinking", text} {t: "call", name, id, args} {t: "result", id, name, text, error}
// {t: "media", text} {t: "json", label, value}.
function messagesOf(body) {
  const out = [];
  if (!body || typeof body !== "object") return out;
  const sys = body.system;
  if (typeof sys === "string") out.push({ role: "system", parts: [{ t: "text", text: sys }] });
  else if (Array.isArray(sys)) out.push({ role: "system", parts: blocks(sys) });
  if (typeof body.instructions === "string") out.push({ role: "system", parts: [{ t: "text", text: body.instructions }] });
  const si = body.systemInstruction || body.system_instruction;
  if (si) out.push({ role: "system", parts: typeof si === "string" ? [{ t: "text", text: si }] : geminiParts(si.parts) });

  if (Array.isArray(body.messages)) {
    for (const m of body.messages) out.push(chatMessage(m));
  }
  if (body.input !== undefined) inputItems(body.input, out);
  if (Array.isArray(body.contents)) {
    for (const c of body.contents) {
      if (typeof c === "string") out.push({ role: "user", parts: [{ t: "text", text: c }] });
      else if (c && typeof c === "object") out.push({ role: c.role || "user", parts: geminiParts(c.parts) });
    }
  } else if (typeof body.contents === "string") {
    out.push({ role: "user", parts: [{ t: "text", text: body.contents }] });
  }
  if (body.content && typeof body.content === "object" && Array.isArray(body.content.parts)) {
    out.push({ role: body.content.role || "user", parts: geminiParts(body.content.parts) });
  }
  if (Array.isArray(body.requests)) {
    for (const r of body.requests) {
      if (r && r.content) out.push({ role: r.content.role || "user", parts: geminiParts(r.content.parts) });
    }
  }
  if (body.prompt !== undefined) {
    const prompts = Array.isArray(body.prompt) ? body.prompt : [body.prompt];
    for (const p of prompts) out.push({ role: "user", parts: [typeof p === "string" ? { t: "text", text: p } : { t: "json", label: "prompt", value: p }] });
  }
  return out;
}

function chatMessage(m) {
  if (!m || typeof m !== "object") return { role: "?", parts: [{ t: "json", label: "message", value: m }] };
  const role = String(m.role || "?");
  let parts = blocks(m.content);
  if (m.reasoning_content || m.thinking) parts.unshift({ t: "thinking", text: String(m.reasoning_content || m.thinking) });
  if (Array.isArray(m.tool_calls)) {
    for (const c of m.tool_calls) {
      const fn = (c && c.function) || {};
      parts.push({ t: "call", name: fn.name || c.name || "?", id: c.id, args: fn.arguments !== undefined ? fn.arguments : c.arguments });
    }
  }
  if (m.function_call) parts.push({ t: "call", name: m.function_call.name, args: m.function_call.arguments });
  if (role === "tool" || role === "function") {
    const text = parts.filter((p) => p.t === "text").map((p) => p.text).join("\n");
    parts = [{ t: "result", id: m.tool_call_id, name: m.name, text }, ...parts.filter((p) => p.t !== "text")];
  }
  return { role, parts };
}

// Content blocks of OpenAI chat, Anthropic and Responses messages.
function blocks(content) {
  if (content === undefined || content === null) return [];
  if (typeof content === "string") return [{ t: "text", text: content }];
  if (!Array.isArray(content)) return [{ t: "json", label: "content", value: content }];
  const parts = [];
  for (const b of content) {
    if (typeof b === "string") { parts.push({ t: "text", text: b }); continue; }
    if (!b || typeof b !== "object") continue;
    switch (b.type) {
      case "text": case "input_text": case "output_text":
        parts.push({ t: "text", text: String(b.text ?? "") }); break;
      case "thinking":
        parts.push({ t: "thinking", text: String(b.thinking ?? "") }); break;
      case "redacted_thinking":
        parts.push({ t: "media", text: "redacted thinking" }); break;
      case "tool_use": case "server_tool_use":
        parts.push({ t: "call", name: b.name, id: b.id, args: b.input }); break;
      case "tool_result":
        parts.push({ t: "result", id: b.tool_use_id, text: resultText(b.content), error: !!b.is_error }); break;
      case "image_url":
        parts.push({ t: "media", text: "image " + mediaRef((b.image_url || {}).url) }); break;
      case "image": case "input_image": case "document": case "input_file": case "file": case "input_audio":
        parts.push({ t: "media", text: b.type.replace("input_", "") + " " + mediaRef(b.image_url || b.file_id || b.filename || (b.source && (b.source.url || b.source.media_type))) }); break;
      default:
        parts.push({ t: "json", label: b.type || "block", value: b });
    }
  }
  return parts;
}

function resultText(content) {
  if (typeof content === "string") return content;
  if (Array.isArray(content)) return content.map((b) => (b && typeof b.text === "string" ? b.text : pretty(b))).join("\n");
  return content === undefined ? "" : pretty(content);
}

function mediaRef(ref) {
  if (!ref) return "";
  ref = String(ref);
  if (ref.startsWith("data:")) return `(${ref.slice(5, ref.indexOf(";") > 0 ? ref.indexOf(";") : 30)}, ${Math.round(ref.length / 1024)} KB inline)`;
  return ref.length > 120 ? ref.slice(0, 119) + "…" : ref;
}

// Responses `input` (a string or items), embeddings `input` (strings or token arrays).
function inputItems(input, out) {
  if (typeof input === "string") { out.push({ role: "user", parts: [{ t: "text", text: input }] }); return; }
  if (!Array.isArray(input)) { out.push({ role: "user", parts: [{ t: "json", label: "input", value: input }] }); return; }
  for (const item of input) {
    if (typeof item === "string") out.push({ role: "user", parts: [{ t: "text", text: item }] });
    else if (!item || typeof item !== "object") out.push({ role: "user", parts: [{ t: "json", label: "input", value: item }] });
    else if (item.type === "function_call") out.push({ role: "assistant", parts: [{ t: "call", name: item.name, id: item.call_id, args: item.arguments }] });
    else if (item.type === "function_call_output") out.push({ role: "tool", parts: [{ t: "result", id: item.call_id, text: resultText(item.output) }] });
    else if (item.type === "reasoning") out.push({ role: "assistant", parts: [{ t: "thinking", text: (item.summary || []).map((s) => s.text || "").join("\n") }] });
    else if (item.role) out.push({ role: item.role, parts: blocks(item.content) });
    else out.push({ role: "user", parts: [{ t: "json", label: item.type || "item", value: item }] });
  }
}

function geminiParts(parts) {
  if (!Array.isArray(parts)) return [];
  const out = [];
  for (const p of parts) {
    if (!p || typeof p !== "object") continue;
    if (typeof p.text === "string") out.push({ t: p.thought ? "thinking" : "text", text: p.text });
    else if (p.functionCall || p.function_call) { const c = p.functionCall || p.function_call; out.push({ t: "call", name: c.name, id: c.id, args: c.args }); }
    else if (p.functionResponse || p.function_response) { const r = p.functionResponse || p.function_response; out.push({ t: "result", id: r.id, name: r.name, text: pretty(r.response) }); }
    else if (p.inlineData || p.inline_data) { const d = p.inlineData || p.inline_data; out.push({ t: "media", text: `inline ${d.mimeType || d.mime_type || "data"} (${Math.round(String(d.data || "").length / 1024)} KB)` }); }
    else if (p.fileData || p.file_data) { const d = p.fileData || p.file_data; out.push({ t: "media", text: `file ${mediaRef(d.fileUri || d.file_uri)}` }); }
    else out.push({ t: "json", label: "part", value: p });
  }
  return out;
}

function toolNames(body) {
  if (!body || !Array.isArray(body.tools)) return [];
  const names = [];
  for (const tool of body.tools) {
    if (!tool || typeof tool !== "object") continue;
    if (tool.function && tool.function.name) names.push(tool.function.name);
    else if (Array.isArray(tool.functionDeclarations || tool.function_declarations)) {
      for (const f of tool.functionDeclarations || tool.function_declarations) names.push(f.name);
    } else if (tool.name) names.push(tool.name);
    else if (tool.type) names.push(tool.type);
    else names.push(Object.keys(tool)[0] || "?");
  }
  return names;
}

const SHOWN_KEYS = new Set(["model", "messages", "system", "tools", "input", "instructions", "contents",
  "systemInstruction", "system_instruction", "prompt", "stream", "content", "requests"]);

// ---------------------------------------------------------------- rendering parts

function renderPart(p) {
  switch (p.t) {
    case "text":
      return longText(p.text);
    case "thinking":
      return el("div", { class: "part thinking" }, el("div", { class: "part-label" }, "thinking"), longText(p.text));
    case "call":
      return el("div", { class: "part call" },
        el("div", { class: "part-label" }, "tool call ", el("strong", null, String(p.name ?? "?")), p.id ? el("span", { class: "muted" }, "  " + p.id) : null),
        longText(pretty(p.args === undefined ? {} : p.args), "mono"));
    case "result":
      return el("div", { class: "part result" + (p.error ? " error" : "") },
        el("div", { class: "part-label" }, p.error ? "tool error" : "tool result", p.name ? el("strong", null, " " + p.name) : null,
          p.id ? el("span", { class: "muted" }, "  " + p.id) : null),
        longText(p.text, "mono"));
    case "media":
      return el("div", { class: "part media" }, p.text);
    default:
      return el("div", { class: "part json" }, el("div", { class: "part-label" }, String(p.label)), longText(pretty(p.value), "mono"));
  }
}

function renderMessage(m) {
  return el("div", { class: "msg role-" + (m.role || "other") },
    el("div", { class: "msg-head" }, roleBadge(m.role)),
    el("div", { class: "msg-body" }, m.parts.length ? m.parts.map(renderPart) : el("span", { class: "muted" }, "(empty)")));
}

function renderReply(reply, entry) {
  const parts = [];
  if (reply.error) {
    parts.push(el("div", { class: "part error-box" },
      el("div", { class: "part-label" }, "error", reply.error.type ? el("strong", null, " " + reply.error.type) : null,
        reply.error.code ? el("span", { class: "muted" }, "  code " + reply.error.code) : null),
      longText(reply.error.message)));
  }
  if (reply.content !== null && reply.content !== undefined && reply.content !== "") parts.push(longText(reply.content));
  for (const call of reply.tool_calls || []) parts.push(renderPart({ t: "call", name: call.name, id: call.id, args: call.arguments }));
  if (!parts.length) parts.push(el("span", { class: "muted" }, "(empty reply)"));
  return el("div", { class: "msg reply" },
    el("div", { class: "msg-head" }, el("span", { class: "role fakellm" }, "fakellm"), statusPill(reply.status),
      entry ? ruleChip(entry.rule) : null),
    el("div", { class: "msg-body" }, parts));
}

function section(title, ...children) {
  return el("section", { class: "card" }, el("h3", null, title), ...children);
}

// ---------------------------------------------------------------- the request detail

function renderDetail() {
  const box = $("request-detail");
  clear(box);
  const entry = state.byId.get(state.selectedId);
  if (!entry) {
    box.appendChild(el("div", { class: "placeholder" }, state.selectedId ? `Request #${state.selectedId} is no longer in the journal.` : "Select a request to see what was sent, what fakellm answered, and which rule decided it."));
    return;
  }
  const body = entry.request || {};
  box.appendChild(el("div", { class: "detail-head" },
    el("h2", null, `#${entry.id}`, el("span", { class: "api" }, entry.api), entry.stream ? el("span", { class: "tag stream" }, "stream") : null),
    el("div", { class: "detail-sub" }, statusPill(entry.reply.status), ruleChip(entry.rule, entry.rule ? () => filterByRule(entry.rule) : null),
      el("code", { class: "path" }, entry.path))));

  box.appendChild(el("dl", { class: "meta" },
    el("dt", null, "Time"), el("dd", null, new Date(entry.time * 1000).toLocaleDateString() + " " + clock(entry.time)),
    el("dt", null, "Model"), el("dd", null, entry.model || "–"),
    el("dt", null, "Conversation"), el("dd", null, el("button", { type: "button", class: "btn link mono", title: "Open this conversation", onclick: () => openConversation(entry.conversation_id) }, entry.conversation_id)),
    el("dt", null, "Turn"), el("dd", null, String(entry.turn)),
    el("dt", null, "Latency"), el("dd", null, latency(entry.latency_ms))));

  if (entry.explanation) box.appendChild(renderExplanation(entry.explanation));

  const messages = messagesOf(body);
  const tools = toolNames(body);
  const params = Object.keys(body).filter((k) => !SHOWN_KEYS.has(k));
  box.appendChild(section(`Request · ${messages.length} message${messages.length === 1 ? "" : "s"}`,
    tools.length ? el("div", { class: "tools" }, el("span", { class: "muted" }, "tools "), tools.map((t) => el("span", { class: "chip tool" }, String(t)))) : null,
    el("div", { class: "messages" }, messages.length ? messages.map(renderMessage) : el("span", { class: "muted" }, "(no messages)")),
    params.length ? el("dl", { class: "params" }, params.map((k) => [el("dt", null, k), el("dd", null, longText(pretty(body[k]), "mono"))])) : null));

  box.appendChild(section("Reply",
    entry.rule === null ? el("p", { class: "muted small fallback" }, entry.reply.error
      ? "No rule matched, so strict mode (defaults.fallback: error) answered with this error."
      : "No rule matched, so fakellm answered with its fallback: a stable echo of the request.") : null,
    renderReply(entry.reply, null)));

  const headers = Object.entries(entry.headers || {});
  box.appendChild(el("details", { class: "card" }, el("summary", null, `Headers (${headers.length})`),
    el("table", { class: "kv" }, el("tbody", null, headers.map(([k, v]) => el("tr", null, el("th", null, k), el("td", null, v)))))));
  box.appendChild(el("details", { class: "card" }, el("summary", null, "Raw request body"), longText(pretty(body), "mono")));
}

function renderExplanation(exp) {
  const rows = (exp.conditions || []).map((c) => el("tr", { class: c.held ? "held" : "failed" },
    el("td", { class: "mark" }, c.held ? "✓" : "✗"), el("td", { class: "mono" }, c.condition), el("td", null, c.held ? "holds" : c.detail)));
  return el("section", { class: "card explanation" },
    el("h3", null, "Why no rule matched"),
    exp.closest_rule ? el("p", null, "Closest rule: ", ruleChip(exp.closest_rule)) : null,
    rows.length ? el("table", { class: "conditions" }, el("tbody", null, rows)) : null,
    exp.note ? el("p", { class: "note" }, exp.note) : null,
    !rows.length && !exp.note && exp.summary ? el("p", { class: "note" }, exp.summary) : null);
}

// ---------------------------------------------------------------- the request list

function haystack(entry) {
  if (entry._hay === undefined) {
    const bits = [entry.id, entry.api, entry.model, entry.path, entry.conversation_id, entry.rule || "no match", entry.reply.status];
    for (const m of messagesOf(entry.request)) {
      for (const p of m.parts) bits.push(p.text ?? "", p.name ?? "", p.args !== undefined ? JSON.stringify(p.args) : "", p.value !== undefined ? JSON.stringify(p.value) : "");
    }
    bits.push(entry.reply.content || "", JSON.stringify(entry.reply.tool_calls || []), entry.reply.error ? entry.reply.error.message : "");
    if (entry.explanation) bits.push(entry.explanation.summary || "");
    entry._hay = bits.join("\n").slice(0, HAYSTACK_CAP).toLowerCase();
  }
  return entry._hay;
}

function matches(entry) {
  const f = state.filters;
  if (f.misses && entry.rule !== null) return false;
  if (f.api && entry.api !== f.api) return false;
  if (f.model && entry.model !== f.model) return false;
  if (f.rule && (entry.rule === null ? NO_MATCH : entry.rule) !== f.rule) return false;
  if (f.status && String(entry.reply.status) !== f.status) return false;
  if (f.search && !haystack(entry).includes(f.search)) return false;
  return true;
}

function requestRow(entry) {
  const tr = el("tr", { class: "row" + (entry.rule === null ? " miss" : "") + (entry.id === state.selectedId ? " selected" : ""), dataset: { id: entry.id } },
    el("td", { class: "time", title: new Date(entry.time * 1000).toLocaleString() }, el("span", { class: "id" }, "#" + entry.id), clock(entry.time).slice(0, 8)),
    el("td", { title: entry.api }, entry.api),
    el("td", null, entry.stream ? el("span", { class: "tag stream", title: "streamed" }, "stream") : null),
    el("td", { class: "model", title: entry.model }, entry.model),
    el("td", { class: "conv mono", title: entry.conversation_id }, entry.conversation_id),
    el("td", { class: "num turn" }, String(entry.turn)),
    el("td", null, ruleChip(entry.rule)),
    el("td", { class: "num" }, statusPill(entry.reply.status)),
    el("td", { class: "num muted lat" }, latency(entry.latency_ms)));
  return tr;
}

// Rebuild the visible rows (newest first, up to the current page limit).
function renderRequests() {
  const tbody = $("request-rows");
  const frag = document.createDocumentFragment();
  let shown = 0, total = 0;
  for (let i = state.entries.length - 1; i >= 0; i--) {
    const entry = state.entries[i];
    if (!matches(entry)) continue;
    total++;
    if (shown < state.requestLimit) { frag.appendChild(requestRow(entry)); shown++; }
  }
  clear(tbody);
  tbody.appendChild(frag);
  state.shownRows = shown;
  state.matchingRows = total;
  updateRequestFooter();
}

// New entries arrived: put the matching ones on top without touching the rest.
function prependRequests(newEntries) {
  const tbody = $("request-rows");
  for (const entry of newEntries) {
    if (!matches(entry)) continue;
    tbody.insertBefore(requestRow(entry), tbody.firstChild);
    state.shownRows++;
    state.matchingRows++;
  }
  // Keep the DOM bounded: drop rows past the page limit from the bottom.
  while (state.shownRows > state.requestLimit && tbody.lastChild) {
    tbody.removeChild(tbody.lastChild);
    state.shownRows--;
  }
  updateRequestFooter();
}

function updateRequestFooter() {
  const more = $("request-more");
  const hidden = state.matchingRows - state.shownRows;
  more.hidden = hidden <= 0;
  more.textContent = `Show ${Math.min(hidden, PAGE_ROWS)} more (${hidden} not shown)`;
  $("request-empty").hidden = state.entries.length > 0 && state.matchingRows > 0;
  $("request-empty").textContent = state.entries.length ? "No request matches these filters." : "No requests yet. Point an SDK at this server and they appear here as they arrive.";
  const filtered = state.matchingRows !== state.entries.length;
  $("f-count").textContent = filtered ? `${state.matchingRows} of ${state.entries.length} requests` : `${state.entries.length} requests`;
}

function selectRequest(id) {
  state.selectedId = id;
  for (const row of $("request-rows").querySelectorAll("tr.selected")) row.classList.remove("selected");
  const row = $("request-rows").querySelector(`tr[data-id="${Number(id)}"]`);
  if (row) row.classList.add("selected");
  renderDetail();
  $("request-detail").scrollTop = 0;
  setHash();
}

function filterByRule(rule) {
  state.filters = { search: "", api: "", model: "", rule: rule, status: "", misses: false };
  syncFilterInputs();
  showView("requests");
  state.requestLimit = PAGE_ROWS;
  renderRequests();
}

// ---------------------------------------------------------------- filters

function refreshFilterOptions() {
  fillSelect($("f-api"), "All APIs", [...state.seen.api].sort(), state.filters.api);
  fillSelect($("f-model"), "All models", [...state.seen.model].sort(), state.filters.model);
  const rules = new Set(state.seen.rule);
  for (const r of (state.rulesInfo && state.rulesInfo.rules) || []) rules.add(r.name);
  const ruleOptions = [...rules].sort().map((r) => [r, r]);
  ruleOptions.unshift([NO_MATCH, "no match"]);
  fillSelect($("f-rule"), "All rules", ruleOptions, state.filters.rule);
  fillSelect($("f-status"), "Any status", [...state.seen.status].sort(), state.filters.status);
}

function fillSelect(select, allLabel, values, current) {
  const key = JSON.stringify(values);
  if (select.dataset.key === key) return;
  select.dataset.key = key;
  clear(select);
  select.appendChild(el("option", { value: "" }, allLabel));
  for (const v of values) {
    const [value, label] = Array.isArray(v) ? v : [v, v];
    select.appendChild(el("option", { value }, label));
  }
  select.value = current;
}

function syncFilterInputs() {
  const f = state.filters;
  $("f-search").value = f.search;
  refreshFilterOptions();
  $("f-api").value = f.api; $("f-model").value = f.model; $("f-rule").value = f.rule; $("f-status").value = f.status;
  $("f-misses").checked = f.misses;
}

function readFilters() {
  state.filters = {
    search: $("f-search").value.trim().toLowerCase(),
    api: $("f-api").value, model: $("f-model").value, rule: $("f-rule").value, status: $("f-status").value,
    misses: $("f-misses").checked,
  };
  state.requestLimit = PAGE_ROWS;
  renderRequests();
}

// ---------------------------------------------------------------- conversations

function conversationList() {
  return [...state.conversations.values()].sort((a, b) => b.last - a.last);
}

function renderConversations() {
  const list = $("conversation-list");
  clear(list);
  const all = conversationList();
  const frag = document.createDocumentFragment();
  for (const conv of all.slice(0, state.conversationLimit)) {
    const misses = conv.entries.filter((e) => e.rule === null).length;
    const errors = conv.entries.filter((e) => e.reply.status >= 400).length;
    const rules = [...new Set(conv.entries.map((e) => e.rule).filter((r) => r !== null))];
    const last = conv.entries[conv.entries.length - 1];
    frag.appendChild(el("button", { type: "button", class: "conv-item" + (conv.id === state.selectedConversation ? " selected" : ""), dataset: { conv: conv.id },
      onclick: () => openConversation(conv.id) },
      el("div", { class: "conv-top" }, el("span", { class: "mono conv-id", title: conv.id }, shortId(conv.id)), el("span", { class: "muted" }, ago(conv.last))),
      el("div", { class: "conv-bottom" },
        el("span", null, `${conv.entries.length} request${conv.entries.length === 1 ? "" : "s"} · turn ${last.turn} · ${last.model}`),
        el("span", { class: "conv-marks" },
          errors ? el("span", { class: "chip err" }, `${errors} error${errors === 1 ? "" : "s"}`) : null,
          misses ? el("span", { class: "chip miss" }, `${misses} miss${misses === 1 ? "" : "es"}`) : null)),
      rules.length ? el("div", { class: "conv-rules" }, rules.slice(0, 4).map((r) => ruleChip(r)), rules.length > 4 ? el("span", { class: "muted" }, ` +${rules.length - 4}`) : null) : null));
  }
  list.appendChild(frag);
  $("conversation-empty").hidden = all.length > 0;
  const more = $("conversation-more");
  more.hidden = all.length <= state.conversationLimit;
  more.textContent = `Show more (${all.length - state.conversationLimit} not shown)`;
  $("tab-count-conversations").textContent = String(all.length);
}

// Each request of the conversation in order: the messages it added, then fakellm's reply.
function renderTranscript() {
  const box = $("transcript");
  clear(box);
  const conv = state.conversations.get(state.selectedConversation);
  if (!conv) {
    box.appendChild(el("div", { class: "placeholder" }, state.selectedConversation ? "This conversation is no longer in the journal." : "Select a conversation to read it turn by turn."));
    return;
  }
  box.appendChild(el("div", { class: "detail-head" }, el("h2", null, "Conversation ", el("span", { class: "mono" }, conv.id)),
    el("div", { class: "detail-sub muted" }, `${conv.entries.length} request${conv.entries.length === 1 ? "" : "s"} in the journal, oldest first`)));
  let previous = null;
  for (const entry of conv.entries) {
    const messages = messagesOf(entry.request);
    const key = JSON.stringify(messages);
    let fresh = messages, note = null;
    if (previous && key === previous.key) {
      fresh = [];
      note = "the same messages again (a retry)";
    } else if (previous) {
      const start = previous.count;
      if (messages.length > start) {
        fresh = messages.slice(start);
        // The assistant message that repeats our previous reply was already shown as that reply.
        if (previous.replied && fresh.length && (fresh[0].role === "assistant" || fresh[0].role === "model")) fresh = fresh.slice(1);
      } else {
        note = "the full request (it does not extend the previous one)";
      }
    }
    previous = { count: messages.length, replied: !entry.reply.error, key };
    box.appendChild(el("section", { class: "turn" },
      el("div", { class: "turn-head" },
        el("span", { class: "turn-no" }, `Turn ${entry.turn}`),
        el("button", { type: "button", class: "btn link", title: "Open this request", onclick: () => { showView("requests"); selectRequest(entry.id); } }, `#${entry.id}`),
        el("span", { class: "muted" }, `${clock(entry.time)} · ${entry.api} · ${entry.model}`),
        entry.stream ? el("span", { class: "tag stream" }, "stream") : null,
        note ? el("span", { class: "muted" }, `· ${note}`) : null),
      el("div", { class: "messages" }, fresh.map(renderMessage), renderReply(entry.reply, entry)),
      entry.explanation ? el("div", { class: "turn-miss" }, "no rule matched: ", entry.explanation.summary || "") : null));
  }
}

function openConversation(id) {
  state.selectedConversation = id;
  showView("conversations");
  renderConversations();
  renderTranscript();
  $("transcript").scrollTop = 0;
  setHash();
}

// ---------------------------------------------------------------- rules

function renderRules() {
  const info = state.rulesInfo;
  if (!info) return;
  const tbody = $("rule-rows");
  clear(tbody);
  const never = info.rules.filter((r) => r.hits === 0).length;
  for (const rule of info.rules) {
    tbody.appendChild(el("tr", { class: rule.hits ? "" : "cold" },
      el("td", { class: "num muted" }, String(rule.index)),
      el("td", null, el("div", { class: "rule-name" }, ruleChip(rule.name, () => filterByRule(rule.name))),
        rule.times !== null ? el("div", { class: "muted small" }, `at most ${rule.times}× per conversation`) : null,
        rule.cycle ? el("div", { class: "muted small" }, "cycles its answers") : null),
      el("td", null, rule.when.length ? rule.when.map((c) => el("span", { class: "cond mono" }, c)) : el("span", { class: "muted" }, "always")),
      el("td", { class: "responds" }, rule.respond.length > 1
        ? el("ol", null, rule.respond.map((r) => el("li", null, r)))
        : (rule.respond[0] || "")),
      el("td", { class: "num hits" }, rule.hits ? String(rule.hits) : el("span", { class: "never" }, "never fired")),
      el("td", { class: "muted", title: rule.last_hit ? new Date(rule.last_hit * 1000).toLocaleString() : "" }, rule.last_hit ? ago(rule.last_hit) : "–")));
  }
  $("rules-empty").hidden = info.rules.length > 0;
  clear($("rules-summary"));
  $("rules-summary").append(
    el("span", null, el("strong", null, String(info.rules.length)), ` rule${info.rules.length === 1 ? "" : "s"}`),
    el("span", { class: never ? "never" : "muted" }, `${never} never fired`),
    el("span", null, el("strong", null, String(info.totals.requests)), " requests"),
    el("span", { class: info.totals.unmatched ? "miss-text" : "" }, el("strong", null, String(info.totals.unmatched)), " matched no rule"),
    el("span", { class: "muted" }, "Rules are tried top to bottom; the first whose conditions all hold answers."));
}

function renderHeader() {
  const info = state.rulesInfo;
  if (!info) return;
  $("version").textContent = info.version ? "v" + info.version : "";
  $("config-path").textContent = info.path || `${info.source} (not from a file; nothing to reload)`;
  $("config-path").title = info.path || info.source || "";
  $("btn-reload").disabled = !info.path;
  $("config-meta").textContent = `${info.rules.length} rule${info.rules.length === 1 ? "" : "s"}` + (info.reloads ? ` · reloaded ${info.reloads}×` : "");
  $("tab-count-rules").textContent = String(info.rules.length);
  clear($("totals"));
  $("totals").append(
    el("span", null, el("strong", null, String(info.totals.requests)), " requests"),
    el("span", { class: info.totals.unmatched ? "miss-text" : "" }, el("strong", null, String(info.totals.unmatched)), info.totals.unmatched === 1 ? " miss" : " misses"),
    el("span", null, el("strong", null, String(info.totals.conversations)), info.totals.conversations === 1 ? " active conversation" : " active conversations"));
  showProblems(info.last_reload_error);
}

// ---------------------------------------------------------------- notices and actions

let noticeTimer = null;
function notice(kind, text) {
  const box = $("notice");
  if (!box.hidden && box.dataset.text === text && box.className === "notice " + kind) return;  // e.g. a 403 each poll
  box.dataset.text = text;
  clear(box);
  box.className = "notice " + kind;
  box.append(el("span", null, text), el("button", { type: "button", class: "btn link", onclick: () => { box.hidden = true; } }, "dismiss"));
  box.hidden = false;
  clearTimeout(noticeTimer);
  if (kind === "ok") noticeTimer = setTimeout(() => { box.hidden = true; }, 6000);
}

function showProblems(problems) {
  const box = $("problems");
  if (!problems || !problems.length) { box.hidden = true; clear(box); box.dataset.key = ""; return; }
  const key = JSON.stringify(problems);
  if (box.dataset.key === key && !box.hidden) return;
  box.dataset.key = key;
  clear(box);
  box.append(
    el("div", { class: "problems-title" }, `The config file is invalid (${problems.length} problem${problems.length === 1 ? "" : "s"}); fakellm is still serving the previous config.`),
    el("ul", null, problems.map((p) => el("li", null,
      el("code", null, `${p.source}${p.line ? ":" + p.line : ""}${p.column ? ":" + p.column : ""}`), " ", p.message))));
  box.hidden = false;
}

// ---------------------------------------------------------------- the admin token

// When fakellm runs with --admin-token, every admin call carries it as a bearer token. The page asks
// for it once (on the first 401) and keeps it in sessionStorage: this tab only, gone when it closes.
const TOKEN_KEY = "fakellm.adminToken";
let memoryToken = null;  // when sessionStorage is unavailable (e.g. disabled storage)

function storedToken() {
  try { return sessionStorage.getItem(TOKEN_KEY); } catch (e) { return memoryToken; }
}

function storeToken(token) {
  memoryToken = token;
  try {
    if (token === null) sessionStorage.removeItem(TOKEN_KEY); else sessionStorage.setItem(TOKEN_KEY, token);
  } catch (e) { /* kept in memory only */ }
}

function adminHeaders() {
  const headers = { accept: "application/json" };
  const token = storedToken();
  if (token) headers.authorization = "Bearer " + token;
  return headers;
}

// A 401: show the token form (once, however many calls were refused) and stop polling until it is used.
function askForToken(error) {
  const sent = storedToken();
  if (sent) storeToken(null);
  state.waitingForToken = true;
  setLive(false, "token needed");
  if (sent) $("token-error").textContent = error && error.code === "invalid_admin_token" ? "That token was not accepted." : "";
  const form = $("token-form");
  if (form.hidden) {
    form.hidden = false;
    $("token-input").focus();
  }
}

function useToken(event) {
  event.preventDefault();
  const token = $("token-input").value.trim();
  if (!token) { $("token-error").textContent = "Enter the token."; return; }
  storeToken(token);
  $("token-input").value = "";
  $("token-error").textContent = "";
  $("token-form").hidden = true;
  state.waitingForToken = false;
  poll();
}

// A refused admin call: true when it was (the caller stops), after asking for the token or saying why.
function refused(status, data) {
  const error = (data && data.error) || {};
  if (status === 401) { askForToken(error); return true; }
  if (status === 403) { notice("error", error.message || "The server refused this admin call (HTTP 403)."); return true; }
  return false;
}

class AdminCallFailed extends Error {
  constructor(path, status, data) {
    super(`${path}: HTTP ${status}`);
    this.status = status;
    this.data = data;
  }
}

async function call(method, path) {
  const response = await fetch(API + path, { method, headers: adminHeaders() });
  let data = null;
  try { data = await response.json(); } catch (e) { /* not JSON */ }
  return { ok: response.ok, status: response.status, data };
}

async function reload() {
  $("btn-reload").disabled = true;
  try {
    const r = await call("POST", "/reload");
    if (refused(r.status, r.data)) return;
    if (r.ok) {
      showProblems(null);
      notice("ok", `Reloaded ${r.data.rules} rule${r.data.rules === 1 ? "" : "s"} from ${r.data.source}.`);
    } else {
      const err = (r.data && r.data.error) || {};
      if (err.problems && err.problems.length) { showProblems(err.problems); $("notice").hidden = true; }
      else notice("error", err.message || `Reload failed (HTTP ${r.status}).`);
    }
    await refreshRules();
  } catch (e) {
    notice("error", "Reload failed: the server did not answer.");
  } finally {
    $("btn-reload").disabled = !(state.rulesInfo && state.rulesInfo.path);
  }
}

async function reset() {
  try {
    const r = await call("POST", "/reset");
    if (refused(r.status, r.data)) return;
    notice(r.ok ? "ok" : "error", r.ok ? `Forgot ${r.data.cleared_conversations} conversation${r.data.cleared_conversations === 1 ? "" : "s"}: turn and sequence counters start over.` : `Reset failed (HTTP ${r.status}).`);
    await refreshRules();
  } catch (e) {
    notice("error", "Reset failed: the server did not answer.");
  }
}

async function clearJournal() {
  try {
    const r = await call("DELETE", "/requests");
    if (refused(r.status, r.data)) return;
    if (!r.ok) { notice("error", `Clearing the journal failed (HTTP ${r.status}).`); return; }
    if (dropEntries(() => true)) renderAll();
    notice("ok", `Cleared ${r.data.cleared_requests} request${r.data.cleared_requests === 1 ? "" : "s"} from the journal.`);
  } catch (e) {
    notice("error", "Clearing the journal failed: the server did not answer.");
  }
}

// ---------------------------------------------------------------- data

function addEntries(list) {
  let newOptions = false;
  for (const entry of list) {
    if (state.byId.has(entry.id)) continue;
    state.entries.push(entry);
    state.byId.set(entry.id, entry);
    state.lastId = Math.max(state.lastId, entry.id);
    let conv = state.conversations.get(entry.conversation_id);
    if (!conv) { conv = { id: entry.conversation_id, entries: [], last: 0 }; state.conversations.set(conv.id, conv); }
    conv.entries.push(entry);
    conv.last = Math.max(conv.last, entry.time);
    for (const [key, value] of [["api", entry.api], ["model", entry.model], ["rule", entry.rule], ["status", String(entry.reply.status)]]) {
      if (value !== null && value !== undefined && !state.seen[key].has(value)) { state.seen[key].add(value); newOptions = true; }
    }
  }
  if (newOptions) refreshFilterOptions();
}

// Forget entries (evicted or cleared on the server); true when any were dropped. The caller re-renders.
function dropEntries(predicate) {
  const keep = state.entries.filter((e) => !predicate(e));
  if (keep.length === state.entries.length) return false;
  state.entries = [];
  state.byId.clear();
  state.conversations.clear();
  for (const key of Object.keys(state.seen)) state.seen[key].clear();
  addEntries(keep);
  refreshFilterOptions();
  return true;
}

// An entry fetched again: only its latency can have changed (it is set when the answer is sent).
function updateEntry(entry) {
  const held = state.byId.get(entry.id);
  if (!held || held.latency_ms === entry.latency_ms) return;
  held.latency_ms = entry.latency_ms;
  const row = $("request-rows").querySelector(`tr[data-id="${Number(entry.id)}"]`);
  if (row) row.lastChild.textContent = latency(entry.latency_ms);
  if (state.selectedId === entry.id && state.view === "requests") renderDetail();
}

// The poll cursor: the last id held, or just before the oldest young entry still being answered.
function cursor() {
  const now = Date.now() / 1000;
  let after = state.lastId;
  for (let i = state.entries.length - 1; i >= 0; i--) {
    const e = state.entries[i];
    if (now - e.time > PENDING_S) break;
    if (e.latency_ms === null || e.latency_ms === undefined) after = Math.min(after, e.id - 1);
  }
  return after;
}

async function getJSON(path) {
  const response = await fetch(API + path, { headers: adminHeaders(), cache: "no-store" });
  if (!response.ok) {
    let data = null;
    try { data = await response.json(); } catch (e) { /* not JSON */ }
    throw new AdminCallFailed(path, response.status, data);
  }
  return response.json();
}

async function refreshRules() {
  const info = await getJSON("/rules");
  // A restarted server numbers its journal from 1 again: start over from an empty page.
  if (state.serverStarted !== undefined && info.started !== state.serverStarted) state.restarted = true;
  state.serverStarted = info.started;
  // Re-render only what changed, so a click is never lost to a rebuild under the pointer.
  const key = JSON.stringify(info);
  if (key === state.rulesKey) return;
  state.rulesKey = key;
  state.rulesInfo = info;
  renderHeader();
  refreshFilterOptions();
  if (state.view === "rules") renderRules();
}

let pollTimer = null;
let polling = false;

async function poll() {
  if (polling || state.waitingForToken) return;
  polling = true;
  clearTimeout(pollTimer);
  let more = false;  // the journal has more pages after this one: fetch the next one right away
  try {
    const [journal] = await Promise.all([getJSON(`/requests?after=${cursor()}&limit=${JOURNAL_PAGE}`), refreshRules()]);
    more = journal.has_more === true;
    if (state.restarted) {
      state.restarted = false;
      state.lastId = 0;
      dropEntries(() => true);
      renderAll();
      notice("ok", "fakellm restarted: showing its new journal.");
      return;  // the finally clause polls again, from the start of the new journal
    }
    // Entries older than the journal's oldest were evicted, or cleared by someone else.
    const oldest = journal.oldest_id;
    const dropped = dropEntries((e) => (oldest === null || oldest === undefined ? true : e.id < oldest));
    const fresh = [];
    const latencies = journal.latency_ms || {};
    for (const e of journal.requests) {
      e.latency_ms = latencies[e.id] ?? null;
      if (state.byId.has(e.id)) updateEntry(e); else fresh.push(e);
    }
    if (fresh.length) addEntries(fresh);
    if (dropped) {
      renderAll();
    } else if (fresh.length) {
      prependRequests(fresh);
      if (state.view === "conversations") {
        renderConversations();
        if (fresh.some((e) => e.conversation_id === state.selectedConversation)) renderTranscript();
      }
      // A request selected by the URL (#requests/12) arrives with the first poll.
      if (state.selectedId && fresh.some((e) => e.id === state.selectedId)) renderDetail();
    }
    $("tab-count-requests").textContent = String(state.entries.length);
    $("tab-count-conversations").textContent = String(state.conversations.size);
    setLive(true);
  } catch (e) {
    if (!(e instanceof AdminCallFailed && refused(e.status, e.data))) setLive(false);
    else if (e.status === 403) setLive(false, "refused");
  } finally {
    polling = false;
    if (!state.waitingForToken) pollTimer = setTimeout(poll, more ? 0 : document.hidden ? HIDDEN_POLL_MS : POLL_MS);
  }
}

function setLive(ok, why) {
  $("live").className = "live " + (ok ? "on" : "off");
  $("live-text").textContent = ok ? "live" : (why || "offline, retrying");
}

// ---------------------------------------------------------------- views and navigation

function showView(view) {
  state.view = view;
  for (const tab of document.querySelectorAll(".tab")) tab.classList.toggle("active", tab.dataset.view === view);
  for (const name of ["requests", "conversations", "rules"]) $("view-" + name).hidden = name !== view;
  if (view === "conversations") { renderConversations(); renderTranscript(); }
  if (view === "rules") renderRules();
  setHash();
}

function renderAll() {
  renderRequests();
  if (state.view === "conversations") { renderConversations(); renderTranscript(); }
  if (state.selectedId !== null) renderDetail();
  $("tab-count-requests").textContent = String(state.entries.length);
  $("tab-count-conversations").textContent = String(state.conversations.size);
}

function setHash() {
  let hash = "#" + state.view;
  if (state.view === "requests" && state.selectedId) hash += "/" + state.selectedId;
  if (state.view === "conversations" && state.selectedConversation) hash += "/" + encodeURIComponent(state.selectedConversation);
  if (location.hash !== hash) history.replaceState(null, "", hash);
}

function readHash() {
  const [view, arg] = location.hash.slice(1).split("/");
  if (view === "conversations" && arg) state.selectedConversation = decodeURIComponent(arg);
  if (view === "requests" && arg && /^\d+$/.test(arg)) state.selectedId = Number(arg);
  return ["requests", "conversations", "rules"].includes(view) ? view : "requests";
}

function moveSelection(step) {
  const rows = [...$("request-rows").children];
  if (!rows.length) return;
  let i = rows.findIndex((r) => r.classList.contains("selected"));
  i = i < 0 ? 0 : Math.min(rows.length - 1, Math.max(0, i + step));
  selectRequest(Number(rows[i].dataset.id));
  rows[i].scrollIntoView({ block: "nearest" });
}

function init() {
  for (const tab of document.querySelectorAll(".tab")) tab.addEventListener("click", () => showView(tab.dataset.view));
  $("request-rows").addEventListener("click", (event) => {
    const row = event.target.closest("tr.row");
    if (row) selectRequest(Number(row.dataset.id));
  });
  $("request-more").addEventListener("click", () => { state.requestLimit += PAGE_ROWS; renderRequests(); });
  $("conversation-more").addEventListener("click", () => { state.conversationLimit += PAGE_ROWS; renderConversations(); });
  let searchTimer = null;
  $("f-search").addEventListener("input", () => { clearTimeout(searchTimer); searchTimer = setTimeout(readFilters, 150); });
  for (const id of ["f-api", "f-model", "f-rule", "f-status", "f-misses"]) $(id).addEventListener("change", readFilters);
  $("filters").addEventListener("submit", (event) => event.preventDefault());
  $("f-clear").addEventListener("click", () => { state.filters = { search: "", api: "", model: "", rule: "", status: "", misses: false }; syncFilterInputs(); readFilters(); });
  $("btn-reload").addEventListener("click", reload);
  $("btn-reset").addEventListener("click", reset);
  $("btn-clear").addEventListener("click", clearJournal);
  $("token-form").addEventListener("submit", useToken);
  document.addEventListener("keydown", (event) => {
    if (state.view !== "requests" || event.target.closest("input, select, textarea")) return;
    if (event.key === "ArrowDown" || event.key === "j") { moveSelection(1); event.preventDefault(); }
    if (event.key === "ArrowUp" || event.key === "k") { moveSelection(-1); event.preventDefault(); }
  });
  document.addEventListener("visibilitychange", () => { if (!document.hidden) poll(); });
  // Relative times ("3s ago") stay current between changes.
  setInterval(() => { if (state.view === "rules") renderRules(); }, 10000);
  showView(readHash());
  renderRequests();
  poll();
}

document.addEventListener("DOMContentLoaded", init);
