// AWS Bedrock Runtime through the official `@aws-sdk/client-bedrock-runtime` npm package:
// ConverseStream (the AWS event-stream framing), Converse, and errors as the SDK's exceptions.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import {
  AccessDeniedException,
  BedrockRuntimeClient,
  ConverseCommand,
  ConverseStreamCommand,
  ThrottlingException,
} from "@aws-sdk/client-bedrock-runtime";
import { NodeHttpHandler } from "@smithy/node-http-handler";
import { startFakeLLM } from "@fakellm/node";

const CONFIG = `
rules:
  - name: weather_call
    when: {tools_include: get_weather, turn: 1}
    respond:
      tool_calls: [{name: get_weather, arguments: {city: Paris}}]
  - name: denied
    when: {messages_contain: forbidden}
    respond: {status: 403, error: "no access"}
  - name: throttled_mid_stream
    when: {messages_contain: "throttle me"}
    respond:
      content: "one two three four five six"
      fault: {type: error_event, after_chunks: 2, status: 429, error: "slow down"}
  - name: story
    when: {messages_contain: story}
    respond: {content: "Once upon a time there was a small mock server."}
`;
const MODEL = "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-3-5-sonnet-20241022-v2:0";
const STORY = "Once upon a time there was a small mock server.";
const user = (text) => ({ role: "user", content: [{ text }] });

let server;
let client;
before(async () => {
  server = await startFakeLLM({ config: CONFIG });
  client = new BedrockRuntimeClient({
    endpoint: server.url, region: "us-east-1", maxAttempts: 1,
    // The client speaks HTTP/2 by default (as Bedrock does); fakellm serves HTTP/1.1.
    requestHandler: new NodeHttpHandler(),
    credentials: { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "secret" },
  });
});
after(() => server?.stop());

test("ConverseStream: text deltas, messageStop, metadata", async () => {
  const response = await client.send(new ConverseStreamCommand({ modelId: MODEL, messages: [user("tell me a story")] }));
  const events = [];
  for await (const event of response.stream) events.push(event);
  assert.deepEqual(events[0], { messageStart: { role: "assistant" } });
  const text = events.filter((e) => e.contentBlockDelta).map((e) => e.contentBlockDelta.delta.text).join("");
  assert.equal(text, STORY);
  assert.equal(events.at(-2).messageStop.stopReason, "end_turn");
  assert.ok(events.at(-1).metadata.usage.outputTokens > 0);
});

test("ConverseStream: tool use", async () => {
  const response = await client.send(new ConverseStreamCommand({
    modelId: MODEL, messages: [user("weather in Paris?")],
    toolConfig: { tools: [{ toolSpec: { name: "get_weather", inputSchema: { json: { type: "object" } } } }] },
  }));
  const events = [];
  for await (const event of response.stream) events.push(event);
  const start = events.find((e) => e.contentBlockStart).contentBlockStart;
  assert.equal(start.start.toolUse.name, "get_weather");
  const input = events.filter((e) => e.contentBlockDelta).map((e) => e.contentBlockDelta.delta.toolUse.input).join("");
  assert.deepEqual(JSON.parse(input), { city: "Paris" });
  assert.equal(events.find((e) => e.messageStop).messageStop.stopReason, "tool_use");
});

test("ConverseStream: an exception frame mid-stream throws mid-iteration", async () => {
  const response = await client.send(new ConverseStreamCommand({ modelId: MODEL, messages: [user("throttle me")] }));
  const deltas = [];
  await assert.rejects(async () => {
    for await (const event of response.stream) if (event.contentBlockDelta) deltas.push(event);
  }, (error) => error instanceof ThrottlingException && error.message === "slow down");
  assert.equal(deltas.length, 2);
});

test("Converse: errors are the SDK's exception classes", async () => {
  const reply = await client.send(new ConverseCommand({ modelId: MODEL, messages: [user("story")] }));
  assert.equal(reply.output.message.content[0].text, STORY);
  await assert.rejects(client.send(new ConverseCommand({ modelId: MODEL, messages: [user("forbidden")] })),
    (error) => error instanceof AccessDeniedException && error.$metadata.httpStatusCode === 403);
});
