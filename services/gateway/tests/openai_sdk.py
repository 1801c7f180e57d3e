"""Drives the gateway with the official OpenAI Python SDK (run by openai_sdk.rs).

Environment: TOLLGATE_URL, TOLLGATE_KEY. Exits non-zero with a message on any mismatch.
"""
import os
from decimal import Decimal

from openai import OpenAI

client = OpenAI(base_url=os.environ["TOLLGATE_URL"] + "/v1", api_key=os.environ["TOLLGATE_KEY"], max_retries=0)

models = [m.id for m in client.models.list()]
assert models == ["demo-large", "demo-small"], models

raw = client.chat.completions.with_raw_response.create(
    model="demo-small", messages=[{"role": "user", "content": "Hello from the OpenAI SDK"}]
)
plain = raw.parse()
assert plain.choices[0].message.content, plain
assert plain.usage.prompt_tokens > 0 and plain.usage.completion_tokens > 0, plain.usage
cost = Decimal(raw.headers["x-tollgate-cost"])
expected = (Decimal(plain.usage.prompt_tokens) * Decimal("0.15") + Decimal(plain.usage.completion_tokens) * Decimal("0.60")) / Decimal(1_000_000)
assert cost == expected, (cost, expected)

stream = client.chat.completions.create(
    model="demo-small",
    messages=[{"role": "user", "content": "Stream please"}],
    stream=True,
    stream_options={"include_usage": True},
)
text, usage = "", None
for chunk in stream:
    if chunk.choices and chunk.choices[0].delta.content:
        text += chunk.choices[0].delta.content
    if chunk.usage:
        usage = chunk.usage
assert text, "streamed no content"
assert usage and usage.completion_tokens > 0, usage
assert Decimal(usage.model_extra["cost_usd"]) > 0, usage

try:
    client.chat.completions.create(model="nope", messages=[{"role": "user", "content": "x"}])
    raise AssertionError("unknown model accepted")
except Exception as err:  # the SDK raises NotFoundError with the parsed OpenAI error body
    assert getattr(err, "status_code", None) == 404, err
    assert err.body["code"] == "model_not_found", err.body

print(f"openai-sdk ok: plain {plain.usage.total_tokens} tokens, stream {len(text)} chars, cost {cost}")
