"""Hostile tenant against a running stack (scripts/up), over HTTP only.

One tenant without credit worth speaking of fires generated hostile requests (NUL and control
characters, bidi overrides, huge and negative numbers, deep JSON, oversized strings, both
dialects, hostile headers, clients that give up mid-request), many at once; meanwhile another
tenant sends normal requests. Then: no hostile request got a 5xx, the normal tenant's balance is
exactly its credit minus what it was charged, and every request of both is booked (no consumer
stalled). Usage: python loadtests/poison.py [HOSTILE_REQUESTS] [CONCURRENCY] [SEED], with
.tollgate/env sourced. POISON_CACHE=semantic (or exact) gives the hostile tenant's key that cache
mode and $5 of credit, so its requests reach the cache's embedding and verification."""

import concurrent.futures
import json
import os
import random
import subprocess
import sys
import time
import urllib.error
import urllib.request
from decimal import Decimal

URL = os.environ["TOLLGATE_URL"]
ADMIN = os.environ["TOLLGATE_ADMIN_TOKEN"]
TOTAL = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
CONCURRENCY = int(sys.argv[2]) if len(sys.argv) > 2 else 64
SEED = int(sys.argv[3]) if len(sys.argv) > 3 else random.randrange(1 << 32)
rng = random.Random(SEED)

TEXTS = ["\u0000", "a\u0000b", "\u001b[2J", "\u202eevil", "x\u2028y", "\ufffe", "x" * 20000, "",
         " ", "日本語", "demo-small", "a\"b\\c", "%00", "' OR 1=1 --", "=HYPERLINK(\"x\")"]
NUMBERS = [-1, 0, 1, 2**63 - 1, 2**64, -1e308, 1e308, 0.5, 10**40]


def value(depth=0):
    kind = rng.randrange(4 if depth > 2 else 6)
    if kind == 0:
        return rng.choice(TEXTS)
    if kind == 1:
        return rng.choice(NUMBERS)
    if kind == 2:
        return rng.random() < 0.5
    if kind == 3:
        return None
    if kind == 4:
        return [value(depth + 1) for _ in range(rng.randrange(4))]
    return {rng.choice(TEXTS): value(depth + 1) for _ in range(rng.randrange(4))}


def deep():
    v = "bottom"
    for _ in range(rng.randrange(200, 900)):  # past any parser limit (serde_json: 128)
        v = [v]
    return v


def hostile():
    anthropic = rng.random() < 0.5
    body = {"model": "demo-small", "max_tokens": 8, "messages": [{"role": "user", "content": "hostile"}]}
    field = rng.choice(["model", "max_tokens", "messages", "metadata", "tools", "tool_choice",
                        "stream", "content", "name", "user", "provider_preference", "n"])
    v = rng.choice([lambda: rng.choice(TEXTS), lambda: rng.choice(NUMBERS), deep, value])()
    if field == "content":
        body["messages"][0]["content"] = v
    elif field == "name":
        body["messages"][0]["name"] = v
    elif field == "metadata":
        body["metadata"] = {"user_id": v, "k": v}
    elif field == "tools":
        body["tools"] = [{"type": "function", "name": v, "function": {"name": v, "parameters": {}},
                          "input_schema": {}}]
    else:
        body[field] = v
    headers = {}
    if rng.random() < 0.3:
        headers["x-tollgate-route"] = rng.choice(["mock", "\u202ex", "a,b,,c", "z" * 300])
    if rng.random() < 0.2:
        headers["x-request-id"] = rng.choice(["\u0000", "x" * 500, "ok-id", "a b"])
    return ("/v1/messages" if anthropic else "/v1/chat/completions"), body, headers


def call(path, body, key, headers=None, timeout=30):
    data = json.dumps(body).encode()
    req = urllib.request.Request(URL + path, data=data, method="POST")
    req.add_header("Authorization", f"Bearer {key}")
    req.add_header("Content-Type", "application/json")
    for k, v in (headers or {}).items():
        req.add_header(k, v.encode("utf-8").decode("latin-1"))
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()
    except Exception as e:  # the client gave up (timeouts are part of the attack)
        return None, None, str(e).encode()


def admin(method, path, body=None):
    req = urllib.request.Request(URL + path, method=method,
                                 data=None if body is None else json.dumps(body).encode())
    req.add_header("Authorization", f"Bearer {ADMIN}")
    req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read() or b"null")


def tenant(name, credit, cache="off"):
    t = admin("POST", "/api/v1/tenants", {"name": name})["id"]
    key = admin("POST", f"/api/v1/tenants/{t}/keys", {"name": name, "cache": cache})["key"]
    admin("POST", f"/api/v1/tenants/{t}/credits", {"amount_usd": credit, "idempotency_key": name})
    return t, key


def entries(t):
    """How many ledger entries the tenant has (the ledger API, page by page)."""
    count, before = 0, ""
    while True:
        page = admin("GET", f"/api/v1/tenants/{t}/ledger?limit=1000{before}")["data"]
        count += len(page)
        if len(page) < 1000:
            return count
        before = f"&before={page[-1]['event_id']}"


def wait_entries(t, n, seconds=120):
    deadline = time.time() + seconds
    while entries(t) < n:
        if time.time() > deadline:
            sys.exit(f"seed {SEED}: the ledger booked {entries(t)} of {n} entries for {t}: stalled")
        time.sleep(0.2)


def main():
    stamp = int(time.time())
    cache = os.environ.get("POISON_CACHE", "off")
    attacker, attacker_key = tenant(f"attacker-{stamp}", "0.01" if cache == "off" else "5", cache)
    victim, victim_key = tenant(f"victim-{stamp}", "100")
    wait_entries(attacker, 1)
    wait_entries(victim, 1)
    started = time.time()
    statuses, charged, normal, reached = {}, Decimal(0), 0, 0
    with concurrent.futures.ThreadPoolExecutor(CONCURRENCY) as pool:
        attacks = []
        for i in range(TOTAL):
            path, body, headers = hostile()
            timeout = 0.05 if rng.random() < 0.05 else 30  # some clients give up mid-request
            attacks.append(pool.submit(call, path, body, attacker_key, headers, timeout))
            if i % 20 == 0:
                attacks.append(("normal", pool.submit(call, "/v1/chat/completions",
                                {"model": "demo-small", "messages": [{"role": "user", "content": f"fine {i}"}]},
                                victim_key)))
        for a in attacks:
            if isinstance(a, tuple):
                status, headers, _ = a[1].result()
                assert status == 200, f"seed {SEED}: a normal request got {status}"
                charged += Decimal(headers["x-tollgate-cost"])
                normal += 1
                continue
            status, headers, text = a.result()
            statuses[status] = statuses.get(status, 0) + 1
            if status is not None and status >= 500:
                sys.exit(f"seed {SEED}: hostile request got {status}: {text[:300]!r}")
            # Only what reached the gateway has a request id (and an event): a header actix's
            # parser refuses (a NUL in it) is a 400 before authentication.
            if headers is not None and headers.get("x-request-id"):
                reached += 1
    elapsed = time.time() - started
    wait_entries(victim, normal + 1)
    balance = Decimal(admin("GET", f"/api/v1/tenants/{victim}/balance")["balance_usd"])
    assert balance == Decimal(100) - charged, f"seed {SEED}: victim balance {balance} != {100 - charged}"
    # Every request the gateway answered produced one event; gave-up ones at most one more each.
    wait_entries(attacker, reached + 1)
    time.sleep(2)
    booked = entries(attacker) - 1
    print(json.dumps({"seed": SEED, "hostile": TOTAL, "concurrency": CONCURRENCY,
                      "seconds": round(elapsed, 1), "statuses": {str(k): v for k, v in sorted(
                          statuses.items(), key=lambda kv: (kv[0] is None, kv[0] or 0))},
                      "hostile_reached_gateway": reached, "hostile_booked": booked, "normal": normal, "normal_charged_usd": str(charged),
                      "normal_balance_exact": True}))
    assert reached <= booked <= TOTAL, f"seed {SEED}: {booked} hostile events booked for {TOTAL} requests"


if __name__ == "__main__":
    main()
