"""AWS Bedrock Runtime, driven through boto3's `bedrock-runtime` client and the anthropic SDK's
AnthropicBedrock against a real server, as apps use them."""

from __future__ import annotations

import base64
import json
import struct
import zlib

import anthropic
import boto3
import httpx
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, EventStreamError

from fakellm.testing import FakeLLM

RULES = [
    {"name": "weather_call", "when": {"tools_include": "get_weather", "turn": 1},
     "respond": {"tool_calls": [{"name": "get_weather", "arguments": {"city": "Paris"}}]}},
    {"name": "weather_answer", "when": {"tool_result_contains": "20 degrees"},
     "respond": {"content": "It is 20 degrees in Paris."}},
    {"name": "only_invoke", "when": {"api": "bedrock.invoke", "messages_contain": "which api"},
     "respond": {"content": "invoke it is"}},
    {"name": "only_converse", "when": {"api": "bedrock.converse", "messages_contain": "which api"},
     "respond": {"content": "converse it is"}},
    {"name": "pirate", "when": {"system_contains": "pirate"}, "respond": {"content": "Arr, matey!"}},
    {"name": "profile", "when": {"model_matches": "arn:aws:bedrock:*:inference-profile/us.anthropic.*"},
     "respond": {"content": "through the inference profile"}},
    {"name": "throttled_once", "when": {"messages_contain": "flaky"}, "times": 1,
     "respond": {"status": 429, "error": "Too many requests, please wait before trying again."}},
    {"name": "recovered", "when": {"messages_contain": "flaky"}, "respond": {"content": "recovered"}},
    {"name": "denied", "when": {"messages_contain": "forbidden"}, "respond": {"status": 403, "error": "no access"}},
    {"name": "slow_model", "when": {"messages_contain": "too slow"}, "respond": {"status": 408, "error": "timed out"}},
    {"name": "unavailable", "when": {"messages_contain": "unavailable"},
     "respond": {"status": 503, "error": "try later"}},
    {"name": "broken", "when": {"messages_contain": "broken"}, "respond": {"status": 500, "error": "it broke"}},
    {"name": "not_ready", "when": {"messages_contain": "not ready"},
     "respond": {"status": 429, "error": {"message": "warming up", "type": "ModelNotReadyException"}}},
    {"name": "throttled_mid_stream", "when": {"messages_contain": "throttle me midway"},
     "respond": {"content": "one two three four five six", "fault": {"type": "error_event", "after_chunks": 2,
                                                                     "status": 429, "error": "slow down"}}},
    {"name": "overloaded_mid_stream", "when": {"messages_contain": "overload me midway"},
     "respond": {"content": "one two three four five six", "fault": {"type": "error_event", "after_chunks": 2}}},
    {"name": "cut_short", "when": {"messages_contain": "cut short"},
     "respond": {"content": "one two three four five six", "fault": {"type": "truncate", "after_chunks": 2}}},
    {"name": "story", "when": {"messages_contain": "story"},
     "respond": {"content": "Once upon a time there was a small mock server."}},
]

MODEL = "anthropic.claude-3-5-sonnet-20241022-v2:0"
PROFILE_ARN = "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-3-5-sonnet-20241022-v2:0"
WEATHER_TOOLS = {"tools": [{"toolSpec": {
    "name": "get_weather", "description": "Current weather",
    "inputSchema": {"json": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}}]}
ANTHROPIC_WEATHER_TOOL = {"name": "get_weather", "description": "Current weather",
                          "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}}


@pytest.fixture(scope="module")
def llm():
    with FakeLLM(rules=RULES) as server:
        yield server


@pytest.fixture(autouse=True)
def fresh(llm):
    llm.reset()


def bedrock(llm: FakeLLM, **config) -> object:
    """boto3's bedrock-runtime client pointed at fakellm; no retries unless asked for."""
    config.setdefault("retries", {"mode": "standard", "total_max_attempts": 1})
    return boto3.client("bedrock-runtime", endpoint_url=llm.url, region_name="us-east-1",
                        aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                        config=Config(**config))


def user(text: str) -> dict:
    return {"role": "user", "content": [{"text": text}]}


def invoke_body(text: str, **extra) -> str:
    return json.dumps({"anthropic_version": "bedrock-2023-05-31", "max_tokens": 256,
                       "messages": [{"role": "user", "content": text}], **extra})


def anthropic_bedrock(llm: FakeLLM) -> anthropic.AnthropicBedrock:
    return anthropic.AnthropicBedrock(aws_access_key="AKIDEXAMPLE", aws_secret_key="secret", aws_region="us-east-1",
                                      base_url=llm.url, max_retries=0)


# --------------------------------------------------------------------------- Converse

def test_converse_text(llm):
    out = bedrock(llm).converse(modelId=MODEL, messages=[user("tell me a story")],
                                inferenceConfig={"maxTokens": 100, "temperature": 0.5})
    assert out["output"]["message"] == {"role": "assistant",
                                        "content": [{"text": "Once upon a time there was a small mock server."}]}
    assert out["stopReason"] == "end_turn"
    usage = out["usage"]
    assert usage["outputTokens"] > 0 and usage["totalTokens"] == usage["inputTokens"] + usage["outputTokens"]
    assert "latencyMs" in out["metrics"]
    assert out["ResponseMetadata"]["RequestId"].startswith("req_")


def test_converse_system_prompt(llm):
    out = bedrock(llm).converse(modelId=MODEL, messages=[user("hello")], system=[{"text": "You are a pirate."}])
    assert out["output"]["message"]["content"][0]["text"] == "Arr, matey!"


def test_inference_profile_arn_arrives_decoded(llm):
    out = bedrock(llm).converse(modelId=PROFILE_ARN, messages=[user("hello")])
    assert out["output"]["message"]["content"][0]["text"] == "through the inference profile"
    assert llm.requests[-1].model == PROFILE_ARN
    assert llm.requests[-1].path == f"/model/{PROFILE_ARN}/converse"


def test_converse_tool_use_two_turns(llm):
    client = bedrock(llm)
    messages = [user("What is the weather in Paris?")]
    first = client.converse(modelId=MODEL, messages=messages, toolConfig=WEATHER_TOOLS)
    assert first["stopReason"] == "tool_use"
    [block] = first["output"]["message"]["content"]
    use = block["toolUse"]
    assert use["name"] == "get_weather" and use["input"] == {"city": "Paris"} and use["toolUseId"]
    messages += [first["output"]["message"],
                 {"role": "user", "content": [{"toolResult": {"toolUseId": use["toolUseId"],
                                                              "content": [{"json": {"temp": "20 degrees"}}]}}]}]
    second = client.converse(modelId=MODEL, messages=messages, toolConfig=WEATHER_TOOLS)
    assert second["output"]["message"]["content"] == [{"text": "It is 20 degrees in Paris."}]
    assert second["stopReason"] == "end_turn"
    assert [r.rule for r in llm.requests] == ["weather_call", "weather_answer"]
    assert llm.requests[0].tool_calls[0].id == use["toolUseId"]


def test_converse_forced_tool_choice(llm):
    out = bedrock(llm).converse(modelId=MODEL, messages=[user("tell me a story")],
                                toolConfig={**WEATHER_TOOLS, "toolChoice": {"tool": {"name": "get_weather"}}})
    assert out["stopReason"] == "tool_use"
    assert out["output"]["message"]["content"][0]["toolUse"]["name"] == "get_weather"


# --------------------------------------------------------------------------- ConverseStream

def test_converse_stream_text(llm):
    events = list(bedrock(llm).converse_stream(modelId=MODEL, messages=[user("tell me a story")])["stream"])
    assert events[0] == {"messageStart": {"role": "assistant"}}
    deltas = [e["contentBlockDelta"] for e in events if "contentBlockDelta" in e]
    assert len(deltas) > 3 and all(d["contentBlockIndex"] == 0 for d in deltas)
    assert "".join(d["delta"]["text"] for d in deltas) == "Once upon a time there was a small mock server."
    assert not any("contentBlockStart" in e for e in events)  # text blocks have none
    assert events[-3] == {"contentBlockStop": {"contentBlockIndex": 0}}
    assert events[-2] == {"messageStop": {"stopReason": "end_turn"}}
    metadata = events[-1]["metadata"]
    assert metadata["usage"]["outputTokens"] > 0 and "latencyMs" in metadata["metrics"]


def test_converse_stream_tool_use(llm):
    events = list(bedrock(llm).converse_stream(modelId=MODEL, messages=[user("weather in Paris?")],
                                               toolConfig=WEATHER_TOOLS)["stream"])
    start = next(e["contentBlockStart"] for e in events if "contentBlockStart" in e)
    assert start["contentBlockIndex"] == 0 and start["start"]["toolUse"]["name"] == "get_weather"
    pieces = [e["contentBlockDelta"]["delta"]["toolUse"]["input"] for e in events if "contentBlockDelta" in e]
    assert json.loads("".join(pieces)) == {"city": "Paris"}
    assert {"messageStop": {"stopReason": "tool_use"}} in events


def test_converse_stream_exception_mid_iteration(llm):
    stream = bedrock(llm).converse_stream(modelId=MODEL, messages=[user("throttle me midway")])["stream"]
    seen = []
    with pytest.raises(EventStreamError) as caught:
        for event in stream:
            seen.append(event)
    assert caught.value.response["Error"]["Code"] == "throttlingException"
    assert caught.value.response["Error"]["Message"] == "slow down"
    assert sum("contentBlockDelta" in e for e in seen) == 2  # raised after the chunks before the fault


def test_converse_stream_other_faults_are_model_stream_errors(llm):
    stream = bedrock(llm).converse_stream(modelId=MODEL, messages=[user("overload me midway")])["stream"]
    with pytest.raises(EventStreamError) as caught:
        list(stream)
    assert caught.value.response["Error"]["Code"] == "modelStreamErrorException"


def test_truncate_fault_counts_binary_frames_as_chunks(llm):
    events = list(bedrock(llm).converse_stream(modelId=MODEL, messages=[user("cut short")])["stream"])
    assert sum("contentBlockDelta" in e for e in events) == 2
    assert not any("messageStop" in e for e in events)


# --------------------------------------------------------------------------- InvokeModel

def test_invoke_model_text(llm):
    out = bedrock(llm).invoke_model(modelId=MODEL, body=invoke_body("tell me a story"))
    assert out["contentType"] == "application/json"
    message = json.loads(out["body"].read())
    assert message["content"] == [{"type": "text", "text": "Once upon a time there was a small mock server."}]
    assert message["stop_reason"] == "end_turn" and message["model"] == MODEL


def test_invoke_model_tool_use_two_turns(llm):
    client = bedrock(llm)
    messages = [{"role": "user", "content": "weather in Paris?"}]
    first = json.loads(client.invoke_model(modelId=MODEL, body=invoke_body(
        "weather in Paris?", tools=[ANTHROPIC_WEATHER_TOOL]))["body"].read())
    assert first["stop_reason"] == "tool_use"
    use = first["content"][0]
    assert use["type"] == "tool_use" and use["input"] == {"city": "Paris"}
    messages += [{"role": "assistant", "content": first["content"]},
                 {"role": "user", "content": [{"type": "tool_result", "tool_use_id": use["id"],
                                               "content": "20 degrees"}]}]
    second = json.loads(client.invoke_model(modelId=MODEL, body=json.dumps({
        "anthropic_version": "bedrock-2023-05-31", "max_tokens": 100, "messages": messages,
        "tools": [ANTHROPIC_WEATHER_TOOL]}))["body"].read())
    assert second["content"][0]["text"] == "It is 20 degrees in Paris."


def test_invoke_model_with_response_stream(llm):
    out = bedrock(llm).invoke_model_with_response_stream(modelId=MODEL, body=invoke_body("tell me a story"))
    events = [json.loads(e["chunk"]["bytes"]) for e in out["body"]]
    assert [e["type"] for e in events[:2]] == ["message_start", "content_block_start"]
    text = "".join(e["delta"]["text"] for e in events if e["type"] == "content_block_delta")
    assert text == "Once upon a time there was a small mock server."
    assert events[-2]["delta"]["stop_reason"] == "end_turn"
    assert events[-1]["type"] == "message_stop"
    assert events[-1]["amazon-bedrock-invocationMetrics"]["outputTokenCount"] > 0


def test_invoke_stream_exception_mid_iteration(llm):
    out = bedrock(llm).invoke_model_with_response_stream(modelId=MODEL, body=invoke_body("throttle me midway"))
    seen = []
    with pytest.raises(EventStreamError) as caught:
        for event in out["body"]:
            seen.append(json.loads(event["chunk"]["bytes"]))
    assert caught.value.response["Error"]["Code"] == "throttlingException"
    assert sum(e["type"] == "content_block_delta" for e in seen) == 2


def test_when_api_names(llm):
    client = bedrock(llm)
    conv = client.converse(modelId=MODEL, messages=[user("which api?")])
    assert conv["output"]["message"]["content"][0]["text"] == "converse it is"
    inv = json.loads(client.invoke_model(modelId=MODEL, body=invoke_body("which api?"))["body"].read())
    assert inv["content"][0]["text"] == "invoke it is"
    assert [r.api for r in llm.requests] == ["bedrock.converse", "bedrock.invoke"]


# --------------------------------------------------------------------------- errors

@pytest.mark.parametrize("text, status, code", [
    ("flaky", 429, "ThrottlingException"),
    ("forbidden", 403, "AccessDeniedException"),
    ("too slow", 408, "ModelTimeoutException"),
    ("unavailable", 503, "ServiceUnavailableException"),
    ("broken", 500, "InternalServerException"),
    ("not ready", 429, "ModelNotReadyException"),
])
def test_rule_errors_are_client_error_codes(llm, text, status, code):
    client = bedrock(llm)
    for call in (lambda: client.converse(modelId=MODEL, messages=[user(text)]),
                 lambda: client.invoke_model(modelId=MODEL, body=invoke_body(text))):
        llm.reset()
        with pytest.raises(ClientError) as caught:
            call()
        error = caught.value.response
        assert error["Error"]["Code"] == code
        assert error["ResponseMetadata"]["HTTPStatusCode"] == status
        assert error["Error"]["Message"]


def test_throttled_call_is_retried_by_standard_mode(llm):
    client = bedrock(llm, retries={"mode": "standard", "total_max_attempts": 3})
    out = client.converse(modelId=MODEL, messages=[user("flaky")])
    assert out["output"]["message"]["content"][0]["text"] == "recovered"
    assert out["ResponseMetadata"]["RetryAttempts"] == 1
    assert [(r.rule, r.status) for r in llm.requests] == [("throttled_once", 429), ("recovered", 200)]


# Bodies botocore would refuse before sending (parameter_validation=False lets them through to the server).
BAD_CONVERSE = [
    ({"messages": [{"role": "assistant", "content": [{"text": "hi"}]}]}, "must start with a user message"),
    ({"messages": [user("a"), user("b")]}, "must alternate between user and assistant"),
    ({"messages": [{"role": "robot", "content": [{"text": "hi"}]}]}, "messages.0.member.role"),
    ({"messages": [{"role": "user"}]}, "messages.0.member.content' failed to satisfy constraint: Member must not be null"),
    ({"messages": [{"role": "user", "content": [{"text": "a", "image": {}}]}]}, "exactly one member"),
    ({"messages": [user("hi")], "inferenceConfig": {"maxTokens": 0}}, "inferenceConfig.maxTokens"),
    ({"messages": [user("hi")], "inferenceConfig": {"temperature": 1.5}}, "less than or equal to 1"),
    ({"messages": [user("hi")], "toolConfig": {"tools": []}}, "toolConfig.tools"),
    ({"messages": [user("hi")], "toolConfig": {"tools": [{"toolSpec": {"name": "bad name!", "inputSchema": {
        "json": {}}}}]}}, "regular expression pattern"),
    ({"messages": [user("hi")], "toolConfig": {**WEATHER_TOOLS, "toolChoice": {"tool": {"name": "nope"}}}},
     "not among the tools"),
    ({"messages": [user("hi"), {"role": "assistant", "content": [{"toolUse": {
        "toolUseId": "t1", "name": "get_weather", "input": {}}}]}, user("and?")]}, "toolConfig field must be defined"),
]


@pytest.mark.parametrize("kwargs, message", BAD_CONVERSE)
def test_bad_converse_requests_are_validation_errors(llm, kwargs, message):
    client = bedrock(llm, parameter_validation=False)
    with pytest.raises(ClientError) as caught:
        client.converse(modelId=MODEL, **kwargs)
    assert caught.value.response["Error"]["Code"] == "ValidationException"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert message in caught.value.response["Error"]["Message"]
    # and the server keeps serving
    assert client.converse(modelId=MODEL, messages=[user("story")])["stopReason"] == "end_turn"


@pytest.mark.parametrize("body, message", [
    ({"max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}, "required key [anthropic_version]"),
    ({"anthropic_version": "x", "model": "m", "max_tokens": 10, "messages": []}, "extraneous key [model]"),
    ({"anthropic_version": "x", "max_tokens": 10}, "messages"),
    ({"anthropic_version": "x", "messages": [{"role": "user", "content": "hi"}]}, "max_tokens"),
])
def test_bad_invoke_bodies_are_validation_errors(llm, body, message):
    client = bedrock(llm)
    with pytest.raises(ClientError) as caught:
        client.invoke_model(modelId=MODEL, body=json.dumps(body))
    assert caught.value.response["Error"]["Code"] == "ValidationException"
    assert message in caught.value.response["Error"]["Message"]
    assert json.loads(client.invoke_model(modelId=MODEL, body=invoke_body("story"))["body"].read())["content"]


def test_unknown_model_operation_is_bedrock_shaped_404(llm):
    response = httpx.post(f"{llm.url}/model/{MODEL}/generate", json={})
    assert response.status_code == 404 and "message" in response.json()


# --------------------------------------------------------------------------- journal

def test_journal_shows_access_key_id_but_never_the_signature(llm):
    bedrock(llm).converse(modelId=MODEL, messages=[user("story")])
    [recorded] = llm.requests
    auth = recorded.headers["authorization"]
    assert auth == "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/[redacted]"
    assert "Signature" not in auth
    admin = httpx.get(f"{llm.url}/_fakellm/requests").json()["requests"][-1]
    assert admin["headers"]["authorization"] == auth
    assert "x-amz-date" in admin["headers"]


# --------------------------------------------------------------------------- AnthropicBedrock

def test_anthropic_bedrock_messages(llm):
    client = anthropic_bedrock(llm)
    message = client.messages.create(model=MODEL, max_tokens=100,
                                     messages=[{"role": "user", "content": "tell me a story"}])
    assert message.content[0].text == "Once upon a time there was a small mock server."
    assert message.stop_reason == "end_turn"
    recorded = llm.requests[-1]
    assert recorded.api == "bedrock.invoke" and recorded.model == MODEL
    assert recorded.request["anthropic_version"]  # whatever version the SDK sends is accepted
    assert "model" not in recorded.request


def test_anthropic_bedrock_stream(llm):
    with anthropic_bedrock(llm).messages.stream(model=PROFILE_ARN, max_tokens=100,
                                                messages=[{"role": "user", "content": "hello"}]) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == "through the inference profile" and final.stop_reason == "end_turn"
    assert llm.requests[-1].path == f"/model/{PROFILE_ARN}/invoke-with-response-stream"


def test_anthropic_bedrock_tools(llm):
    client = anthropic_bedrock(llm)
    first = client.messages.create(model=MODEL, max_tokens=100, tools=[ANTHROPIC_WEATHER_TOOL],
                                   messages=[{"role": "user", "content": "weather in Paris?"}])
    use = first.content[0]
    assert first.stop_reason == "tool_use" and use.name == "get_weather" and use.input == {"city": "Paris"}
    second = client.messages.create(model=MODEL, max_tokens=100, tools=[ANTHROPIC_WEATHER_TOOL], messages=[
        {"role": "user", "content": "weather in Paris?"},
        {"role": "assistant", "content": first.content},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": use.id, "content": "20 degrees"}]}])
    assert second.content[0].text == "It is 20 degrees in Paris."


def test_anthropic_bedrock_errors_and_mid_stream_exception(llm):
    client = anthropic_bedrock(llm)
    with pytest.raises(anthropic.RateLimitError):
        client.messages.create(model=MODEL, max_tokens=10, messages=[{"role": "user", "content": "flaky"}])
    with pytest.raises(anthropic.APIStatusError) as caught:
        with client.messages.stream(model=MODEL, max_tokens=10,
                                    messages=[{"role": "user", "content": "throttle me midway"}]) as stream:
            list(stream.text_stream)
    assert caught.value.body["error"]["type"] == "throttlingException"


# --------------------------------------------------------------------------- the framing itself

def parse_frames(raw: bytes) -> list[tuple[dict[str, str], bytes]]:
    """Every event-stream frame of a body, read by hand: each length and CRC checked."""
    frames, at = [], 0
    while at < len(raw):
        total, headers_length = struct.unpack(">II", raw[at:at + 8])
        assert struct.unpack(">I", raw[at + 8:at + 12])[0] == zlib.crc32(raw[at:at + 8]), "prelude CRC"
        message = raw[at:at + total]
        assert len(message) == total, "the total length runs past the body"
        assert struct.unpack(">I", message[-4:])[0] == zlib.crc32(message[:-4]), "message CRC"
        headers, h = {}, 12
        while h < 12 + headers_length:
            name_length = message[h]
            name = message[h + 1:h + 1 + name_length].decode()
            h += 1 + name_length
            assert message[h] == 7, "every header is a string"
            value_length = struct.unpack(">H", message[h + 1:h + 3])[0]
            headers[name] = message[h + 3:h + 3 + value_length].decode()
            h += 3 + value_length
        assert h == 12 + headers_length, "the headers length"
        frames.append((headers, message[h:-4]))
        at += total
    return frames


def test_every_frame_has_right_lengths_and_crcs(llm):
    response = httpx.post(f"{llm.url}/model/{MODEL}/converse-stream",
                          json={"messages": [user("weather?")], "toolConfig": WEATHER_TOOLS})
    assert response.headers["content-type"] == "application/vnd.amazon.eventstream"
    frames = parse_frames(response.content)
    assert [h[":event-type"] for h, _ in frames] == [
        "messageStart", "contentBlockStart", "contentBlockDelta", "contentBlockDelta", "contentBlockDelta",
        "contentBlockStop", "messageStop", "metadata"]
    for headers, payload in frames:
        assert headers[":message-type"] == "event" and headers[":content-type"] == "application/json"
        json.loads(payload)

    invoke = httpx.post(f"{llm.url}/model/{MODEL}/invoke-with-response-stream",
                        content=invoke_body("story"))
    chunks = parse_frames(invoke.content)
    assert {h[":event-type"] for h, _ in chunks} == {"chunk"}
    assert json.loads(base64.b64decode(json.loads(chunks[0][1])["bytes"]))["type"] == "message_start"

    broken = httpx.post(f"{llm.url}/model/{MODEL}/converse-stream", json={"messages": [user("throttle me midway")]})
    headers, payload = parse_frames(broken.content)[-1]
    assert headers == {":exception-type": "throttlingException", ":content-type": "application/json",
                       ":message-type": "exception"}
    assert json.loads(payload) == {"message": "slow down"}
