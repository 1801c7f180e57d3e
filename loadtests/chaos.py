"""Fault injection against a running stack (scripts/chaos starts it): a steady load of mixed
plain and streamed chat completions while components are killed with SIGKILL and healed by
scripts/up, one at a time and then two at once; afterwards every request the client got a
complete 200 for must have exactly one ledger entry, balances must equal credits minus costs,
`tollgate-ledger rebuild` must equal the live ledger and no event id may be booked twice.
Alongside, an operator changes a key a few times a second: every change answered 2xx must
have exactly one audit entry.

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
import time
import urllib.request

from harness import (Stack, SteadyLoad, audit_report, billing_ok, chat, ledger_rebuild_matches,
                     management)

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


stack = Stack(URL, ADMIN, PSQL, DATABASE_URL)
call = stack.call

# A tenant of its own, funded, booked before the load starts.
tenant, key = stack.funded_tenant("chaos", "1000")

def one_request(n):
    body = {"model": "demo-small", "stream": n % 2 == 1,
            "messages": [{"role": "user", "content": f"chaos request {n}"}]}
    return chat(URL, key, body)  # (served, request_id, error)


# A key the operator keeps changing (each change an audited `key.update`).
audited_key = call("POST", f"/api/v1/tenants/{tenant}/keys", {"name": "chaos audited"})[1]["id"]


def one_update(n):
    return management(URL, ADMIN, "PATCH", f"/api/v1/keys/{audited_key}", {"rpm": 1000 + n},
                      f"chaos-audit-{audited_key}-{n}")


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


load = SteadyLoad(RATE, max(2, int(RATE // 10)), one_request)
updates = SteadyLoad(4, 1, one_update)
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

results = load.stop()  # (started, finished, served, request_id, error)
update_results = updates.stop()

served = {r[3] for r in results if r[2]}
report = stack.billing_report([tenant], served)
rebuild_matches = ledger_rebuild_matches(BIN)
audit = audit_report(stack, "key.update", audited_key, {r[3] for r in update_results if r[2]})

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
summary = {"requests": len(results), **report, "rebuild_matches": rebuild_matches,
           "audit": audit, "faults": per_fault}
print(json.dumps(summary, indent=2))
ok = billing_ok(report) and rebuild_matches and not audit["lost"] and not audit["doubled"]
sys.exit(0 if ok else 1)
