"""Drives the gateway's /v1/messages with the official Anthropic Python SDK (run by
anthropic_sdk.rs): plain, streamed, a tool call, an error. The model behind `claude` is
served by an Anthropic-format upstream, `demo-small` by an OpenAI-format one.

Environment: TOLLGATE_URL, TOLLGATE_KEY. Exits non-zero with a message on any mismatch.
"""
import os
from decimal import Decimal

import anthropic

client = anthropic.Anthropic(base_url=os.environ["TOLLGATE_URL"], api_key=os.environ["TOLLGATE_KEY"], max_retries=0)

for model in ["claude", "demo-small"]:
    raw = client.messages.with_raw_response.create(
        model=model, max_tokens=64, system="Be brief.",
        messages=[{"role": "user", "content": "Hello from the Anthropic SDK"}],
    )
    message = raw.parse()
    assert message.type == "message" and message.role == "assistant", message
    assert message.content[0].type == "text" and message.content[0].text, message
    assert message.stop_reason == "end_turn", message.stop_reason
    assert message.usage.input_tokens > 0 and message.usage.output_tokens > 0, message.usage
    assert Decimal(raw.headers["x-tollgate-cost"]) > 0, raw.headers

    with client.messages.stream(
        model=model, max_tokens=64, messages=[{"role": "user", "content": "Stream please"}]
    ) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text and final.content[0].text == text, (text, final)
    assert final.usage.output_tokens > 0, final.usage

tools = [{"name": "lookup", "description": "Look something up", "input_schema": {"type": "object", "properties": {"query": {"type": "string"}}}}]
used = client.messages.create(
    model="claude", max_tokens=64, tools=tools, messages=[{"role": "user", "content": "Look up Oslo"}]
)
assert used.stop_reason == "tool_use", used
call = next(block for block in used.content if block.type == "tool_use")
assert call.name == "lookup" and call.input["query"] == "Look up Oslo", call
answer = client.messages.create(
    model="claude", max_tokens=64, tools=tools,
    messages=[
        {"role": "user", "content": "Look up Oslo"},
        {"role": "assistant", "content": used.content},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "capital of Norway"}]},
    ],
)
assert answer.stop_reason == "end_turn" and answer.content[0].type == "text", answer

try:
    client.messages.create(model="nope", max_tokens=8, messages=[{"role": "user", "content": "x"}])
    raise AssertionError("unknown model accepted")
except anthropic.NotFoundError as err:
    assert err.body["error"]["type"] == "not_found_error", err.body

print(f"anthropic-sdk ok: {message.usage.output_tokens} output tokens, tool {call.name}")
