"""A cached answer replayed as a stream, read by the official OpenAI Python SDK (run by
cache.rs after it has cached the question below). Environment: TOLLGATE_URL, TOLLGATE_KEY."""
import os

from openai import OpenAI

client = OpenAI(base_url=os.environ["TOLLGATE_URL"] + "/v1", api_key=os.environ["TOLLGATE_KEY"], max_retries=0)
messages = [
    {"role": "system", "content": "Answer briefly."},
    {"role": "user", "content": "Describe streaming in one line."},
]
raw = client.chat.completions.with_raw_response.create(model="demo-small", messages=messages, stream=True)
assert raw.headers["x-tollgate-cache"] == "exact", raw.headers
text, finish, usage = "", None, None
for chunk in raw.parse():
    if chunk.usage:
        usage = chunk.usage
    for choice in chunk.choices:
        text += choice.delta.content or ""
        finish = choice.finish_reason or finish
assert text and finish == "stop", (text, finish)
assert usage and usage.completion_tokens > 0, usage

plain = client.chat.completions.create(model="demo-small", messages=messages)
assert plain.choices[0].message.content == text, (plain.choices[0].message.content, text)
print("cache-sdk ok")
