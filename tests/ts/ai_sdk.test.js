// fakellm driven through the Vercel AI SDK (`ai` 7 with @ai-sdk/openai, @ai-sdk/anthropic
// and @ai-sdk/google), as an app built on the AI SDK would call it.
//
// For each way the AI SDK talks to a provider (OpenAI Responses: `openai(model)`, the
// default; OpenAI Chat Completions: `openai.chat(model)`; Anthropic Messages; Gemini):
//   - generateText: the rule's text, finish reason and usage;
//   - streamText: the text arrives in several deltas, with finish reason and usage;
//   - a tool loop (generateText + tool() + stopWhen: isStepCount(3)): turn 1 the rule calls
//     the tool, the SDK runs it and sends the result, turn 2 a rule that sees the result
//     answers with a summary;
//   - structured output (generateText + Output.object, and the older generateObject, with a
//     zod schema): the rule's JSON text comes back parsed and validated.
// Then:
//   - OpenAI Responses with a reasoning model, `store: false` and
//     `include: ["reasoning.encrypted_content"]`: the reasoning reaches the result, its
//     encrypted content is carried into the second turn, and nothing is stored;
//   - the same agent prompt run again, with the tool now reporting an outage, gets the
//     answer for that run's tool result, not one remembered from the earlier run;
//   - a Google provider whose baseURL lacks `/v1beta` gets a 404 (an unknown path).
//
// Every test that reaches a rule also reads fakellm's request journal (GET /_fakellm/requests)
// for the requests it made: the API, path, turn and the rule that answered each, so it fails
// when the wrong rule (or no rule) answers, or when the SDK retries or makes an extra call.
// One fakellm server serves the whole file; each test starts its conversation with its own
// first user message.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { generateObject, generateText, isStepCount, Output, streamText, tool } from "ai";
import { createAnthropic } from "@ai-sdk/anthropic";
import { createGoogle } from "@ai-sdk/google";
import { createOpenAI } from "@ai-sdk/openai";
import { z } from "zod";
import { startFakeLLM } from "@fakellm/node";

// The tests check `warnings` themselves; keep the SDK from printing them too.
globalThis.AI_SDK_LOG_WARNINGS = false;

const GREETING = "Hello from fakellm, through the AI SDK.";
const WEATHER_SUMMARY = "It is 21 degrees and sunny in Paris.";
const WEATHER_UNAVAILABLE = "Sorry, the weather service is offline.";
const ADA = { name: "Ada Lovelace", born: 1815, fields: ["mathematics", "computing"] };
const FORECAST_THINKING = "The user asks about snow in Oslo; I should call get_forecast.";
const FORECAST_SUMMARY_THINKING = "The forecast tool says heavy snow.";
const FORECAST_SUMMARY = "Yes: heavy snow is expected in Oslo tomorrow.";

const CONFIG = `
rules:
  - name: greeting
    when: {last_message_contains: "say hello"}
    respond: {content: "${GREETING}"}

  # The tool loop: turn 1 calls the tool, turn 2 answers from its result.
  - name: weather_call
    when: {turn: 1, tools_include: get_weather}
    respond:
      tool_calls: [{name: get_weather, arguments: {city: Paris}}]
  - name: weather_summary
    when: {turn: 2, tool_result_contains: "21 degrees"}
    respond: {content: "${WEATHER_SUMMARY}"}
  - name: weather_unavailable
    when: {turn: 2, tool_result_contains: "offline"}
    respond: {content: "${WEATHER_UNAVAILABLE}"}

  # Structured output: the JSON text the schema describes.
  - name: ada_json
    when: {system_contains: "reply in json", last_message_contains: "ada lovelace"}
    respond:
      content: '${JSON.stringify(ADA)}'

  # A reasoning model's tool loop, with thinking on both turns.
  - name: forecast_call
    when: {turn: 1, tools_include: get_forecast}
    respond:
      thinking: "${FORECAST_THINKING}"
      tool_calls: [{name: get_forecast, arguments: {city: Oslo}}]
  - name: forecast_summary
    when: {turn: 2, tool_result_contains: "heavy snow"}
    respond:
      thinking: "${FORECAST_SUMMARY_THINKING}"
      content: "${FORECAST_SUMMARY}"
`;

// No retries: a failed call fails the test, and the journal shows every request once.
const NO_RETRIES = { maxRetries: 0 };

let server;
let openai;
let anthropic;
let google;
before(async () => {
  server = await startFakeLLM({ config: CONFIG });
  openai = createOpenAI({ baseURL: `${server.url}/v1`, apiKey: "sk-test" });
  anthropic = createAnthropic({ baseURL: `${server.url}/v1`, apiKey: "sk-ant-test" });
  google = createGoogle({ baseURL: `${server.url}/v1beta`, apiKey: "gemini-test" });
});
after(() => server?.stop());

// How each provider reaches fakellm, and where its request carries the structured-output schema.
const PROVIDERS = [
  {
    label: "openai responses",
    model: () => openai("gpt-4o-mini"),
    api: "openai.responses",
    path: "/v1/responses",
    streamPath: "/v1/responses",
    sentSchema: (body) => body.text.format.schema,
  },
  {
    label: "openai chat",
    model: () => openai.chat("gpt-4o-mini"),
    api: "openai.chat",
    path: "/v1/chat/completions",
    streamPath: "/v1/chat/completions",
    sentSchema: (body) => body.response_format.json_schema.schema,
  },
  {
    label: "anthropic",
    model: () => anthropic("claude-sonnet-4-5"),
    api: "anthropic.messages",
    path: "/v1/messages",
    streamPath: "/v1/messages",
    sentSchema: (body) => body.output_config.format.schema,
  },
  {
    label: "google",
    model: () => google("gemini-2.5-flash"),
    api: "gemini.generate",
    path: "/v1beta/models/gemini-2.5-flash:generateContent",
    streamPath: "/v1beta/models/gemini-2.5-flash:streamGenerateContent",
    sentSchema: (body) => body.generationConfig.responseJsonSchema,
  },
];

// -- helpers

async function getJson(path) {
  const response = await fetch(`${server.url}${path}`);
  assert.equal(response.status, 200, `GET ${path}`);
  return response.json();
}

/** Run `call` and return its result with the journal entries of the requests it made, oldest first. */
async function journaled(call) {
  const newest = (await getJson("/_fakellm/requests?limit=1")).requests.at(-1)?.id ?? 0;
  const result = await call();
  const { requests } = await getJson(`/_fakellm/requests?after=${newest}`);
  return { result, entries: requests };
}

/** A journal entry as the fields that say which request it was and which rule answered. */
function hit(entry) {
  return { api: entry.api, path: entry.path, stream: entry.stream, turn: entry.turn, rule: entry.rule };
}

function assertUsage(usage) {
  assert.ok(usage.inputTokens > 0, `inputTokens ${usage.inputTokens}`);
  assert.ok(usage.outputTokens > 0, `outputTokens ${usage.outputTokens}`);
  assert.equal(usage.totalTokens, usage.inputTokens + usage.outputTokens);
}

/** A get_weather tool that records the cities it was asked about and answers with `answer(city)`. */
function weatherTool(answer) {
  const cities = [];
  const getWeather = tool({
    description: "The current weather in a city",
    inputSchema: z.object({ city: z.string() }),
    execute: async ({ city }) => {
      cities.push(city);
      return answer(city);
    },
  });
  return { getWeather, cities };
}

// -- the same four checks for every provider

for (const provider of PROVIDERS) {
  const { label, api, path, streamPath } = provider;

  test(`${label}: generateText returns the rule's text, finish reason and usage`, async () => {
    const { result, entries } = await journaled(() => generateText({
      ...NO_RETRIES,
      model: provider.model(),
      prompt: `Please say hello (generateText, ${label})`,
    }));
    assert.equal(result.text, GREETING);
    assert.equal(result.finishReason, "stop");
    assert.equal(result.steps.length, 1);
    assertUsage(result.usage);
    assert.deepEqual(result.warnings, []);
    assert.deepEqual(entries.map(hit), [{ api, path, stream: false, turn: 1, rule: "greeting" }]);
  });

  test(`${label}: streamText streams the rule's text in deltas, then finish reason and usage`, async () => {
    const { result, entries } = await journaled(async () => {
      const stream = streamText({
        ...NO_RETRIES,
        model: provider.model(),
        prompt: `Please say hello (streamText, ${label})`,
      });
      const deltas = [];
      for await (const delta of stream.textStream) deltas.push(delta);
      return { deltas, finishReason: await stream.finishReason, usage: await stream.usage };
    });
    assert.ok(result.deltas.length > 1, `${result.deltas.length} text deltas`);
    assert.equal(result.deltas.join(""), GREETING);
    assert.equal(result.finishReason, "stop");
    assertUsage(result.usage);
    assert.deepEqual(entries.map(hit), [{ api, path: streamPath, stream: true, turn: 1, rule: "greeting" }]);
  });

  test(`${label}: tool loop - turn 1 calls the tool, the SDK runs it, turn 2 summarises its result`, async () => {
    const { getWeather, cities } = weatherTool((city) => `${city}: 21 degrees and sunny`);
    const { result, entries } = await journaled(() => generateText({
      ...NO_RETRIES,
      model: provider.model(),
      prompt: `What is the weather in Paris? (tool loop, ${label})`,
      tools: { get_weather: getWeather },
      stopWhen: isStepCount(3),
    }));

    assert.deepEqual(cities, ["Paris"]);
    assert.equal(result.steps.length, 2);
    const [first, second] = result.steps;
    assert.equal(first.finishReason, "tool-calls");
    assert.deepEqual(first.toolCalls.map((call) => [call.toolName, call.input]), [["get_weather", { city: "Paris" }]]);
    assert.deepEqual(first.toolResults.map((r) => [r.toolCallId, r.output]),
      [[first.toolCalls[0].toolCallId, "Paris: 21 degrees and sunny"]]);
    assert.equal(second.finishReason, "stop");
    assert.deepEqual(second.toolCalls, []);
    assert.equal(result.text, WEATHER_SUMMARY);
    assert.equal(result.finishReason, "stop");
    assertUsage(result.usage);
    assert.deepEqual(entries.map(hit), [
      { api, path, stream: false, turn: 1, rule: "weather_call" },
      { api, path, stream: false, turn: 2, rule: "weather_summary" },
    ]);
  });

  test(`${label}: Output.object parses the rule's JSON text against the zod schema`, async () => {
    const schema = z.object({ name: z.string(), born: z.number().int(), fields: z.array(z.string()) });
    const { result, entries } = await journaled(() => generateText({
      ...NO_RETRIES,
      model: provider.model(),
      instructions: "Reply in JSON.",
      prompt: `Describe Ada Lovelace (structured output, ${label})`,
      output: Output.object({ schema }),
    }));
    assert.deepEqual(result.output, ADA);
    assert.equal(result.finishReason, "stop");
    assert.deepEqual(entries.map(hit), [{ api, path, stream: false, turn: 1, rule: "ada_json" }]);
    // The SDK asked for structured output in the provider's own way, with the schema's fields.
    const sent = provider.sentSchema(entries[0].request);
    assert.deepEqual(Object.keys(sent.properties).sort(), ["born", "fields", "name"]);
  });

  // generateObject is deprecated in ai 7 in favour of Output.object, but apps written for
  // earlier versions still call it.
  test(`${label}: generateObject parses the rule's JSON text against the zod schema`, async () => {
    const schema = z.object({ name: z.string(), born: z.number().int(), fields: z.array(z.string()) });
    const { result, entries } = await journaled(() => generateObject({
      ...NO_RETRIES,
      model: provider.model(),
      system: "Reply in JSON.",
      prompt: `Describe Ada Lovelace (generateObject, ${label})`,
      schema,
    }));
    assert.deepEqual(result.object, ADA);
    assert.equal(result.finishReason, "stop");
    assert.deepEqual(entries.map(hit), [{ api, path, stream: false, turn: 1, rule: "ada_json" }]);
  });
}

// -- OpenAI Responses with a reasoning model and no server-side storage

test("openai responses, reasoning model with store: false: reasoning reaches the result and its encrypted_content is carried into turn 2", async () => {
  const forecasts = [];
  const getForecast = tool({
    description: "Tomorrow's forecast for a city",
    inputSchema: z.object({ city: z.string() }),
    execute: async ({ city }) => {
      forecasts.push(city);
      return `${city} tomorrow: heavy snow`;
    },
  });
  const { result, entries } = await journaled(() => generateText({
    ...NO_RETRIES,
    model: openai("gpt-5-mini"),
    prompt: "Will it snow in Oslo tomorrow? (reasoning, store: false)",
    tools: { get_forecast: getForecast },
    stopWhen: isStepCount(3),
    providerOptions: {
      openai: {
        store: false,
        include: ["reasoning.encrypted_content"],
        reasoningEffort: "low",
        reasoningSummary: "auto",
      },
    },
  }));

  // What the SDK parsed: both turns' reasoning, the tool call, the final answer.
  assert.deepEqual(forecasts, ["Oslo"]);
  assert.equal(result.steps.length, 2);
  const [first, second] = result.steps;
  assert.equal(first.reasoningText, FORECAST_THINKING);
  assert.deepEqual(first.toolCalls.map((call) => [call.toolName, call.input]), [["get_forecast", { city: "Oslo" }]]);
  assert.ok(first.usage.outputTokenDetails.reasoningTokens > 0);
  assert.equal(second.reasoningText, FORECAST_SUMMARY_THINKING);
  assert.equal(result.finalStep.reasoningText, FORECAST_SUMMARY_THINKING);
  assert.equal(result.text, FORECAST_SUMMARY);
  assert.equal(result.finishReason, "stop");
  const [reasoning] = first.content.filter((part) => part.type === "reasoning");
  const encrypted = reasoning.providerMetadata.openai.reasoningEncryptedContent;
  assert.equal(typeof encrypted, "string", "turn 1's reasoning item carries encrypted_content");
  assert.ok(encrypted.length > 0);
  // Without encrypted_content the SDK warns and drops the reasoning from turn 2.
  assert.deepEqual(result.warnings, []);

  // What the SDK sent, and which rules answered.
  assert.deepEqual(entries.map(hit), [
    { api: "openai.responses", path: "/v1/responses", stream: false, turn: 1, rule: "forecast_call" },
    { api: "openai.responses", path: "/v1/responses", stream: false, turn: 2, rule: "forecast_summary" },
  ]);
  const [turn1, turn2] = entries.map((entry) => entry.request);
  for (const body of [turn1, turn2]) {
    assert.equal(body.store, false);
    assert.deepEqual(body.include, ["reasoning.encrypted_content"]);
    assert.equal(body.reasoning.summary, "auto");
  }
  const carried = turn2.input.filter((item) => item.type === "reasoning");
  assert.deepEqual(carried.map((item) => [item.encrypted_content, item.summary.map((s) => s.text)]),
    [[encrypted, [FORECAST_THINKING]]]);

  // store: false: turn 1's response was not kept.
  const stored = await fetch(`${server.url}/v1/responses/${first.response.id}`, {
    headers: { authorization: "Bearer sk-test" },
  });
  assert.equal(stored.status, 404);
});

// -- tool results belong to the request that carries them

test("openai chat: the same prompt run again, with the tool reporting an outage, is answered from that run's tool result, not the earlier run's", async () => {
  const prompt = "What is the weather in Paris? (the same prompt, twice)";
  const run = (getWeather) => journaled(() => generateText({
    ...NO_RETRIES,
    model: openai.chat("gpt-4o-mini"),
    prompt,
    tools: { get_weather: getWeather },
    stopWhen: isStepCount(3),
  }));
  const api = "openai.chat";
  const path = "/v1/chat/completions";

  const working = weatherTool((city) => `${city}: 21 degrees and sunny`);
  const sunny = await run(working.getWeather);
  assert.equal(sunny.result.text, WEATHER_SUMMARY);
  assert.deepEqual(sunny.entries.map(hit), [
    { api, path, stream: false, turn: 1, rule: "weather_call" },
    { api, path, stream: false, turn: 2, rule: "weather_summary" },
  ]);

  const failing = weatherTool(() => "error: the weather service is offline");
  const offline = await run(failing.getWeather);
  assert.deepEqual(failing.cities, ["Paris"]);
  assert.deepEqual(offline.result.toolResults.map((r) => r.output), ["error: the weather service is offline"]);
  assert.equal(offline.result.text, WEATHER_UNAVAILABLE);
  assert.deepEqual(offline.entries.map(hit), [
    { api, path, stream: false, turn: 1, rule: "weather_call" },
    { api, path, stream: false, turn: 2, rule: "weather_unavailable" },
  ]);
});

// -- the Google provider's base URL

test("google: a baseURL without /v1beta gets a 404 that names the /v1beta path", async () => {
  const misconfigured = createGoogle({ baseURL: server.url, apiKey: "gemini-test" });
  await assert.rejects(
    generateText({ ...NO_RETRIES, model: misconfigured("gemini-2.5-flash"), prompt: "Please say hello (no /v1beta)" }),
    (error) => {
      assert.equal(error.url, `${server.url}/models/gemini-2.5-flash:generateContent`);
      assert.equal(error.statusCode, 404, `status ${error.statusCode}: ${error.responseBody}`);
      assert.match(error.message, /\/v1beta/, "the error says which path to use");
      return true;
    },
  );
});
