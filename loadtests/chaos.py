"""Fault injection against a running stack (scripts/chaos starts it): a steady load of mixed
plain and streamed chat completions while components are killed with SIGKILL and healed by
scripts/up, one at a time and then two at once; afterwards every request the client got a
complete 200 for must have exactly one ledger entry, balances must equal credits minus costs,
`tollgate-ledger rebuild` must equal the live ledger and no event id may be booked twice.

Usage: python3 chaos.py FAULTS OUTAGE_SECS RATE   (FAULTS: comma-separated, `+` joins two,
e.g. "nats,postgres,ledger,gateway,nats+ledger"). Reads .tollgate-style state from
TOLLGATE_STATE and the stack's settings from the environment (TOLLGATE_URL, ...). Prints one
line per fault and a JSON summary; exits 1 if anything was lost or doubled.
"""

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

URL = os.environ["TOLLGATE_URL"]
ADMIN = os.environ["TOLLGATE_ADMIN_TOKEN"]
STATE = os.environ["TOLLGATE_STATE"]
ROOT = os.environ["TOLLGATE_ROOT"]
PSQL = os.environ["PSQL"]
DATABASE_URL = os.environ["DATABASE_URL"]
BIN = os.environ["TOLLGATE_BIN"]
FAULTS = [f.split("+") for f in sys.argv[1].split(",") if f]
OUTAGE = float(sys.argv[2])
RATE = float(sys.argv[3])


def call(method, path, body=None, token=ADMIN, timeout=10):
    req = urllib.request.Request(URL + path, method=method,
                                 data=None if body is None else json.dumps(body).encode())
    req.add_header("Authorization", f"Bearer {token}")
    req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return r.status, json.loads(r.read() or b"null")


def sql(query):
    out = subprocess.run([PSQL, DATABASE_URL, "-tAc", query], check=True, capture_output=True, text=True)
    return out.stdout.strip()


# A tenant of its own, funded, booked before the load starts.
tenant = call("POST", "/api/v1/tenants", {"name": "chaos"})[1]["id"]
key = call("POST", f"/api/v1/tenants/{tenant}/keys", {"name": "chaos"})[1]["key"]
call("POST", f"/api/v1/tenants/{tenant}/credits",
     {"amount_usd": "1000", "idempotency_key": "chaos-funding", "note": "chaos run"})
for _ in range(200):
    if sql(f"SELECT count(*) FROM ledger_entries WHERE tenant_id = '{tenant}'") == "1":
        break
    time.sleep(0.1)

results = []  # (started, finished, served, request_id, error)
lock = threading.Lock()
stop = threading.Event()


def one_request(n):
    stream = n % 2 == 1
    body = {"model": "demo-small", "stream": stream,
            "messages": [{"role": "user", "content": f"chaos request {n}"}]}
    req = urllib.request.Request(URL + "/v1/chat/completions", data=json.dumps(body).encode(), method="POST")
    req.add_header("Authorization", f"Bearer {key}")
    req.add_header("Content-Type", "application/json")
    started = time.time()
    request_id, served, error = None, False, None
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            request_id = r.headers.get("x-request-id")
            text = r.read().decode()
            served = r.status == 200 and ("data: [DONE]" in text if stream else '"choices"' in text)
            if not served:
                error = f"incomplete {r.status}"
    except urllib.error.HTTPError as e:
        error = f"http {e.code}"
    except Exception as e:  # connection refused or reset: the gateway is down
        error = type(e).__name__
    with lock:
        results.append((started, time.time(), served, request_id, error))


def load(worker, workers):
    n, interval = worker, workers / RATE
    next_at = time.time()
    while not stop.is_set():
        one_request(n)
        n += workers
        next_at += interval
        time.sleep(max(0.0, next_at - time.time()))


def pid_of(component):
    if component == "nats":
        return [int(open(f"{STATE}/nats/pid").read())]
    if component == "postgres":
        master = int(open(f"{STATE}/pg/postmaster.pid").readline())
        children = subprocess.run(["pgrep", "-P", str(master)], capture_output=True, text=True).stdout.split()
        return [master] + [int(c) for c in children]
    return [int(open(f"{STATE}/{component}.pid").read())]


def heal():
    # Without NATS_URL / DATABASE_URL, scripts/up restarts its own NATS and Postgres if down.
    env = {k: v for k, v in os.environ.items() if k not in ("NATS_URL", "DATABASE_URL")}
    subprocess.run([f"{ROOT}/scripts/up"], check=True, env=env, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, timeout=300)


def spool_counters():
    """(appended, replayed) from the gateway's /metrics; None while it is down."""
    try:
        with urllib.request.urlopen(URL + "/metrics", timeout=2) as r:
            text = r.read().decode()
    except Exception:
        return None
    values = {}
    for line in text.splitlines():
        parts = line.split(" ")
        if len(parts) == 2 and parts[0] in ("tollgate_spool_appended_total", "tollgate_spool_replayed_total"):
            values[parts[0]] = int(float(parts[1]))
    return values.get("tollgate_spool_appended_total", 0), values.get("tollgate_spool_replayed_total", 0)


def delta(before, after):
    """Counter growth; a restarted gateway counts from 0 again."""
    if after is None:
        return None
    if before is None or after[0] < before[0] or after[1] < before[1]:
        return after
    return after[0] - before[0], after[1] - before[1]


def ready():
    try:
        return call("GET", "/readyz", timeout=2)[0] == 200
    except Exception:
        return False


workers = max(2, int(RATE // 10))
threads = [threading.Thread(target=load, args=(w, workers), daemon=True) for w in range(workers)]
for t in threads:
    t.start()
time.sleep(OUTAGE)

windows = []
for fault in FAULTS:
    before = spool_counters()
    killed_at = time.time()
    for component in fault:
        for pid in pid_of(component):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    time.sleep(OUTAGE)
    heal()
    deadline = time.time() + 120
    while not ready():
        if time.time() > deadline:
            sys.exit(f"the stack did not recover from {fault} within 120 s")
        time.sleep(0.1)
    healed_at = time.time()
    time.sleep(OUTAGE)  # steady load again before the next fault
    windows.append(("+".join(fault), killed_at, healed_at, delta(before, spool_counters())))

stop.set()
for t in threads:
    t.join()

served = {r[3] for r in results if r[2]}
# Wait until the ledger has booked every served request (or stops making progress).
last, still = -1, 0
for _ in range(600):
    booked = int(sql(f"SELECT count(DISTINCT request_id) FROM ledger_entries WHERE tenant_id = '{tenant}' "
                     f"AND kind = 'usage.recorded'"))
    rows = sql(f"SELECT request_id FROM ledger_entries WHERE tenant_id = '{tenant}' AND kind = 'usage.recorded'")
    if served <= set(rows.split()):
        break
    still = still + 1 if booked == last else 0
    if still > 100:
        break
    last = booked
    time.sleep(0.2)

counts = {}
for line in sql(f"SELECT request_id, count(*) FROM ledger_entries WHERE tenant_id = '{tenant}' "
                f"AND kind = 'usage.recorded' GROUP BY request_id").splitlines():
    request_id, count = line.split("|")
    counts[request_id] = int(count)
lost = sorted(r for r in served if r not in counts)
doubled = sorted(r for r in served if counts.get(r, 0) > 1)
duplicate_events = int(sql("SELECT count(*) - count(DISTINCT event_id) FROM ledger_entries"))
balance_ok = sql(f"SELECT b.balance_usd = (SELECT sum(amount_usd) FROM ledger_entries e WHERE e.tenant_id = b.tenant_id) "
                 f"AND b.balance_usd = b.credited_usd + b.adjusted_usd - b.spent_usd "
                 f"FROM tenant_balances b WHERE b.tenant_id = '{tenant}'") == "t"
all_balances_ok = sql("SELECT count(*) FROM tenant_balances b WHERE b.balance_usd <> "
                      "coalesce((SELECT sum(amount_usd) FROM ledger_entries e WHERE e.tenant_id = b.tenant_id), 0)") == "0"
rebuild = subprocess.run([f"{BIN}/tollgate-ledger", "rebuild"], capture_output=True, text=True)

print(f"{'fault':<18} {'requests':>8} {'served':>7} {'errors':>7} {'err %':>6} {'recover s':>9} "
      f"{'spooled':>7} {'replayed':>8}")
per_fault = []
for name, killed_at, healed_at, spool in windows:
    during = [r for r in results if killed_at <= r[0] <= healed_at]
    errors = sum(1 for r in during if not r[2])
    row = {"fault": name, "requests": len(during), "served": len(during) - errors, "errors": errors,
           "error_rate": round(errors / len(during), 4) if during else 0.0,
           "recover_secs": round(healed_at - killed_at, 2),
           "spooled": spool[0] if spool else None, "replayed": spool[1] if spool else None}
    per_fault.append(row)
    print(f"{name:<18} {row['requests']:>8} {row['served']:>7} {errors:>7} {row['error_rate'] * 100:>6.1f} "
          f"{row['recover_secs']:>9} {str(row['spooled']):>7} {str(row['replayed']):>8}")
summary = {"requests": len(results), "served": len(served), "booked": len(counts), "lost": len(lost),
           "doubled": len(doubled), "duplicate_event_ids": duplicate_events, "balance_ok": balance_ok,
           "all_balances_ok": all_balances_ok, "rebuild_matches": rebuild.returncode == 0,
           "faults": per_fault, "lost_ids": lost[:10], "doubled_ids": doubled[:10]}
print(json.dumps(summary, indent=2))
ok = (not lost and not doubled and duplicate_events == 0 and balance_ok and all_balances_ok
      and rebuild.returncode == 0)
if rebuild.returncode != 0:
    print(rebuild.stdout[-2000:], rebuild.stderr[-2000:], file=sys.stderr)
sys.exit(0 if ok else 1)
