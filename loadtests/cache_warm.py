"""Fills a gateway's cache for the cache benchmark (scripts/bench, CACHE_RATE).

Creates a funded tenant with a semantic-cache key, stores the anchor prompts of the labelled
evaluation set's paraphrase pairs plus FILLER synthetic prompts (for the memory figure), then
asks each paraphrase once and keeps those served from the semantic tier. Writes, into OUT:
exact.json (cached prompts), semantic.json (paraphrases that hit semantically; asked again,
their embeddings come from the gateway's memo), semantic-cold.json (a reworded question for
each filler prompt, never asked before: every one needs the model; a sample of COLD_SAMPLE
is asked here to report the hit rate and left out of the file) and key.txt.

  python3 loadtests/cache_warm.py URL ADMIN_TOKEN PAIRS OUT FILLER
"""
import json
import pathlib
import sys
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor

url, admin, pairs_path, out, filler = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
out = pathlib.Path(out)
out.mkdir(parents=True, exist_ok=True)


def call(method, path, body, token, headers=None):
    req = urllib.request.Request(url + path, method=method, data=json.dumps(body).encode())
    req.add_header("Authorization", f"Bearer {token}")
    req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req, timeout=30) as res:
        return res.headers, json.loads(res.read() or b"null")


tenant = call("POST", "/api/v1/tenants", {"name": "cache bench"}, admin)[1]["id"]
key = call("POST", f"/api/v1/tenants/{tenant}/keys", {"name": "cache bench", "cache": "semantic"}, admin)[1]["key"]
call("POST", f"/api/v1/tenants/{tenant}/credits",
     {"amount_usd": "1000", "idempotency_key": str(uuid.uuid4())}, admin)


def ask(prompt):
    body = {"model": "demo-small", "max_tokens": 32, "messages": [{"role": "user", "content": prompt}]}
    for _ in range(50):  # the credit takes a moment to reach admission
        try:
            return call("POST", "/v1/chat/completions", body, key)[0]["x-tollgate-cache"]
        except urllib.error.HTTPError as e:
            if e.code != 402:
                raise
            __import__("time").sleep(0.1)
    raise SystemExit("the bench tenant's credit never arrived")


pairs = [json.loads(line) for line in open(pairs_path)]
paraphrases = [p for p in pairs if p["kind"] == "paraphrase"]
anchors = sorted({p["a"] for p in paraphrases})
synthetic = [f"Benchmark filler question number {i}: what does item {i} do?" for i in range(filler)]
with ThreadPoolExecutor(8) as pool:
    list(pool.map(ask, anchors + synthetic))
__import__("time").sleep(2)  # stores run in the background after each answer
exact = [a for a in anchors if ask(a) == "exact"]
semantic = [p["b"] for p in paraphrases if p["b"] not in anchors and ask(p["b"]) == "semantic"]
(out / "exact.json").write_text(json.dumps(exact))
(out / "semantic.json").write_text(json.dumps(semantic))
COLD_SAMPLE = 40


def reworded(i):
    return f"what does item {i} do? benchmark filler question number {i}"


cold_hits = sum(ask(reworded(i)) == "semantic" for i in range(COLD_SAMPLE))
(out / "semantic-cold.json").write_text(json.dumps([reworded(i) for i in range(COLD_SAMPLE, filler)]))
(out / "key.txt").write_text(key)
print(f"{len(anchors) + filler} prompts stored; {len(exact)} exact and {len(semantic)} semantic hit prompts; "
      f"reworded filler questions: {cold_hits} of {COLD_SAMPLE} sampled hit semantically")
