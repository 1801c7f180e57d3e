"""Scale-out check against a running `scripts/cluster` (scripts/scaleout starts it): a steady
load of mixed plain and streamed requests spread over both gateways while, one after the other,
the NATS node leading the TOLLGATE stream, one ledger instance and one gateway are killed with
SIGKILL and healed by `scripts/cluster up`. Then a burst for a tenant funded for 20 requests
goes to both gateways at once. Afterwards: every complete 200 is billed exactly once, balances
equal credits minus costs, no event id is booked twice, `tollgate-ledger rebuild` matches, and
the burst's overspend stays within the documented bound ((N - 1) x the credit, N gateways).

Usage: python3 scaleout.py OUTAGE_SECS RATE. Reads TOLLGATE_URLS, TOLLGATE_ADMIN_TOKEN,
DATABASE_URL, PSQL, TOLLGATE_STATE (the cluster's state dir), TOLLGATE_ROOT, TOLLGATE_BIN.
Prints one line per fault (with the longest stall clients saw) and a JSON summary; exits 1 on
any violation.
"""

import concurrent.futures
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from decimal import Decimal

from harness import Stack, SteadyLoad, billing_ok, chat, ledger_rebuild_matches

URLS = os.environ["TOLLGATE_URLS"].split(",")
ADMIN = os.environ["TOLLGATE_ADMIN_TOKEN"]
STATE = os.environ["TOLLGATE_STATE"]
ROOT = os.environ["TOLLGATE_ROOT"]
PSQL = os.environ["PSQL"]
DATABASE_URL = os.environ["DATABASE_URL"]
BIN = os.environ["TOLLGATE_BIN"]
OUTAGE = float(sys.argv[1])
RATE = float(sys.argv[2])
FAULTS = ["nats-leader", "ledger", "gateway"]


stack = Stack(URLS[0], ADMIN, PSQL, DATABASE_URL)
sql = stack.sql
tenant, key = stack.funded_tenant("scale-out", "1000")
def one_request(n):
    """Alternates over the gateways, and between plain and streamed on each."""
    gateway = n % len(URLS)
    body = {"model": "demo-small", "stream": (n // len(URLS)) % 2 == 1,
            "messages": [{"role": "user", "content": f"scale-out request {n}"}]}
    return (*chat(URLS[gateway], key, body), gateway)  # (served, request_id, error, gateway)


def monitor_ports():
    nodes = {}
    for node in ("n1", "n2", "n3"):
        with open(f"{STATE}/nats/{node}/http.port") as f:
            nodes[node] = int(f.read())
    return nodes


def stream_leader():
    """The node leading the TOLLGATE stream, asked of any live node's monitoring endpoint."""
    for node, port in monitor_ports().items():
        try:
            with urllib.request.urlopen(
                    f"http://127.0.0.1:{port}/jsz?accounts=true&streams=true", timeout=2) as r:
                jsz = json.load(r)
        except Exception:
            continue
        for account in jsz.get("account_details", []):
            for stream in account.get("stream_detail", []):
                leader = stream.get("cluster", {}).get("leader")
                if stream["name"] == "TOLLGATE" and leader:
                    return leader
    sys.exit("no node reports a leader of the TOLLGATE stream")


def pid_file(fault):
    if fault == "nats-leader":
        return f"{STATE}/nats/{stream_leader()}/pid"
    return f"{STATE}/{'ledger1' if fault == 'ledger' else 'gateway2'}.pid"


def heal():
    env = {k: v for k, v in os.environ.items() if k not in ("NATS_URLS", "NATS_URL", "DATABASE_URL")}
    env["TOLLGATE_BIN_DIR"] = BIN
    subprocess.run([f"{ROOT}/scripts/cluster", "up"], check=True, env=env, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, timeout=300)


def longest_stall(since, until):
    """Longest time in [since, until] without a served request completing, and the slowest
    served request that started in it."""
    done = sorted(r[1] for r in results if r[2] and since <= r[1] <= until)
    marks = [since] + done + [until]
    gap = max(b - a for a, b in zip(marks, marks[1:]))
    slowest = max((r[1] - r[0] for r in results if r[2] and since <= r[0] <= until), default=0.0)
    return round(gap, 2), round(slowest, 2)


load = SteadyLoad(RATE, max(4, int(RATE // 10)), one_request)
time.sleep(OUTAGE)

windows = []
for fault in FAULTS:
    victim = pid_file(fault)
    killed_at = time.time()
    with open(victim) as f:
        os.kill(int(f.read()), signal.SIGKILL)
    time.sleep(OUTAGE)
    heal()
    healed_at = time.time()
    time.sleep(OUTAGE)  # steady load again before the next fault
    windows.append((fault, os.path.basename(os.path.dirname(victim)) if fault == "nats-leader"
                    else os.path.basename(victim)[:-4], killed_at, healed_at))

results = load.stop()  # (started, finished, served, request_id, error, gateway)

# The burst: credit for 20 requests of demo-large (max_tokens bounds each cost), 100 at once,
# half to each gateway.
burst_body = {"model": "demo-large", "max_tokens": 5, "messages": [{"role": "user", "content": "burst"}]}
probe = chat(URLS[0], key, burst_body)
if not probe[0]:
    sys.exit(f"the price probe failed: {probe}")
price = None
for _ in range(1800):  # the probe's ledger entry: what one burst request costs
    booked = sql(f"SELECT amount_usd FROM ledger_entries WHERE request_id = '{probe[1]}'")
    if booked:
        price = -Decimal(booked)
        break
    time.sleep(0.1)
if price is None:
    sys.exit("the price probe was not booked within 180 s")
burst_tenant, burst_key = stack.funded_tenant("scale-out-burst", str(price * 20))
with concurrent.futures.ThreadPoolExecutor(max_workers=100) as pool:
    burst = list(pool.map(lambda n: chat(URLS[n % len(URLS)], burst_key, burst_body), range(100)))
burst_served = [r[1] for r in burst if r[0]]
stack.wait_booked(burst_tenant, len(burst_served) + 1)
burst_credit = Decimal(sql(f"SELECT credited_usd FROM tenant_balances WHERE tenant_id = '{burst_tenant}'"))
burst_spent = Decimal(sql(f"SELECT spent_usd FROM tenant_balances WHERE tenant_id = '{burst_tenant}'"))
overspend = max(Decimal(0), burst_spent - burst_credit)
overspend_bound = (len(URLS) - 1) * burst_credit

served = {r[3] for r in results if r[2]} | set(burst_served) | {probe[1]}
report = stack.billing_report([tenant, burst_tenant], served)
rebuild_matches = ledger_rebuild_matches(BIN)

print(f"{'fault':<12} {'victim':<9} {'requests':>8} {'served':>7} {'errors':>7} {'recover s':>9} "
      f"{'stall s':>7} {'slowest s':>9}")
per_fault = []
for fault, victim, killed_at, healed_at in windows:
    during = [r for r in results if killed_at <= r[0] <= healed_at]
    errors = sum(1 for r in during if not r[2])
    stall, slowest = longest_stall(killed_at, healed_at)
    row = {"fault": fault, "victim": victim, "requests": len(during), "served": len(during) - errors,
           "errors": errors, "recover_secs": round(healed_at - killed_at, 2),
           "longest_stall_secs": stall, "slowest_served_secs": slowest}
    per_fault.append(row)
    print(f"{fault:<12} {victim:<9} {len(during):>8} {row['served']:>7} {errors:>7} "
          f"{row['recover_secs']:>9} {stall:>7} {slowest:>9}")
summary = {"requests": len(results), **report, "rebuild_matches": rebuild_matches,
           "per_gateway_served": [sum(1 for r in results if r[2] and r[5] == g) for g in range(len(URLS))],
           "burst": {"credit_usd": str(burst_credit), "served": len(burst_served), "spent_usd": str(burst_spent),
                     "overspend_usd": str(overspend), "bound_usd": str(overspend_bound)},
           "faults": per_fault}
print(json.dumps(summary, indent=2))
ok = (billing_ok(report) and rebuild_matches and overspend <= overspend_bound
      and all(summary["per_gateway_served"]))
sys.exit(0 if ok else 1)
