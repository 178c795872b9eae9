// The smallest OpenAI chat call, with fetch: this package has no dependencies, so its own tests
// speak the wire format directly (tests/ts drives the package through the official SDKs).
export async function chat(server, text, headers = {}) {
  const response = await fetch(`${server.openaiBaseURL}/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: "Bearer sk-test", ...headers },
    body: JSON.stringify({ model: "gpt-4o-mini", messages: [{ role: "user", content: text }] }),
  });
  const body = await response.json();
  return { status: response.status, body, content: body.choices?.[0]?.message?.content };
}

/** Whether a process with this PID exists. */
export function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return error.code === "EPERM";
  }
}
