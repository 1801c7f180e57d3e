"""Shared by chaos.py and scaleout.py: the admin and chat calls they make, the steady load
they run, Postgres queries and the exactly-once billing (and audit) checks they end with."""

import json
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request


class Stack:
    """A running stack: a gateway URL, the admin token and the ledger's database."""

    def __init__(self, url, admin_token, psql, database_url):
        self.url, self.admin_token, self.psql, self.database_url = url, admin_token, psql, database_url

    def call(self, method, path, body=None, token=None, timeout=10):
        req = urllib.request.Request(self.url + path, method=method,
                                     data=None if body is None else json.dumps(body).encode())
        req.add_header("Authorization", f"Bearer {token or self.admin_token}")
        req.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, json.loads(r.read() or b"null")

    def sql(self, query):
        out = subprocess.run([self.psql, self.database_url, "-tAc", query], check=True,
                             capture_output=True, text=True)
        return out.stdout.strip()

    def funded_tenant(self, name, amount):
        """A new tenant with a key and `amount` USD of credit, booked before this returns."""
        tenant = self.call("POST", "/api/v1/tenants", {"name": name})[1]["id"]
        key = self.call("POST", f"/api/v1/tenants/{tenant}/keys", {"name": name})[1]["key"]
        self.call("POST", f"/api/v1/tenants/{tenant}/credits",
                  {"amount_usd": amount, "idempotency_key": f"{name}-funding", "note": name})
        self.wait_booked(tenant, 1)
        return tenant, key

    def wait_booked(self, tenant, entries, seconds=120):
        deadline = time.time() + seconds
        while int(self.sql(f"SELECT count(*) FROM ledger_entries WHERE tenant_id = '{tenant}'")) < entries:
            if time.time() > deadline:
                sys.exit(f"the ledger did not book {entries} entries for {tenant} within {seconds} s")
            time.sleep(0.1)

    def billing_report(self, tenants, served):
        """Waits until the ledger has booked every request id in `served` (or stops making
        progress), then checks it: each billed exactly once, no event id twice, every balance
        equal to its entries and to credits + adjustments - spend."""
        in_tenants = "(" + ",".join(f"'{t}'" for t in tenants) + ")"
        usage = f"FROM ledger_entries WHERE tenant_id IN {in_tenants} AND kind = 'usage.recorded'"
        until_settled(lambda: self.sql(f"SELECT request_id {usage}").split(), served)
        counts, charged = {}, set()
        for line in self.sql(f"SELECT request_id, count(*), sum(amount_usd) <> 0 {usage} "
                             f"GROUP BY request_id").splitlines():
            request_id, count, nonzero = line.split("|")
            counts[request_id] = int(count)
            if nonzero == "t":
                charged.add(request_id)
        lost = sorted(r for r in served if r not in counts)
        doubled = sorted(r for r in served if counts.get(r, 0) > 1)
        balances_ok = self.sql(
            "SELECT count(*) FROM tenant_balances b WHERE b.balance_usd <> "
            "coalesce((SELECT sum(amount_usd) FROM ledger_entries e WHERE e.tenant_id = b.tenant_id), 0) "
            "OR b.balance_usd <> b.credited_usd + b.adjusted_usd - b.spent_usd") == "0"
        return {
            "served": len(served), "booked": len(counts), "lost": len(lost), "doubled": len(doubled),
            # Charged without a complete answer: streams cut by a killed gateway or a client
            # (billed for what was delivered); refusals are booked at zero and not counted.
            "charged_without_complete_answer": len(charged - served),
            "duplicate_event_ids": int(self.sql("SELECT count(*) - count(DISTINCT event_id) FROM ledger_entries")),
            "balances_ok": balances_ok, "lost_ids": lost[:10], "doubled_ids": doubled[:10],
        }


def ledger_rebuild_matches(bin_dir):
    """Runs `tollgate-ledger rebuild` (stream replayed into scratch tables, compared with the
    live ledger); prints its output to stderr if it does not match."""
    rebuild = subprocess.run([f"{bin_dir}/tollgate-ledger", "rebuild"], capture_output=True, text=True)
    if rebuild.returncode != 0:
        print(rebuild.stdout[-2000:], rebuild.stderr[-2000:], file=sys.stderr)
    return rebuild.returncode == 0


def until_settled(read, wanted):
    """Reads `read()` (ids, or a dict keyed by id) every 0.2 s until it holds every id in
    `wanted` or has not grown for 20 s (2 minutes at most); returns the last reading."""
    last, still = -1, 0
    for _ in range(600):
        seen = read()
        if wanted <= set(seen):
            break
        still = still + 1 if len(seen) == last else 0
        if still > 100:
            break
        last = len(seen)
        time.sleep(0.2)
    return seen


def audit_report(stack, action, target_id, answered):
    """Waits until the audit log holds an entry for every request id in `answered` (or stops
    making progress), then counts those without one and those with more than one."""
    query = (f"SELECT request_id, count(*) FROM audit_log WHERE action = '{action}' "
             f"AND target_id = '{target_id}' GROUP BY request_id")
    counts = until_settled(lambda: dict(line.split("|") for line in stack.sql(query).splitlines()),
                           answered)
    lost = sorted(r for r in answered if r not in counts)
    doubled = sorted(r for r in answered if int(counts.get(r, 0)) > 1)
    return {"answered": len(answered), "lost": len(lost), "doubled": len(doubled),
            "lost_ids": lost[:10]}


def billing_ok(report):
    return (not report["lost"] and not report["doubled"] and report["duplicate_event_ids"] == 0
            and report["balances_ok"])


def chat(url, key, body, timeout=30):
    """(served, request_id, error) of one chat completion: served means a 200 with the whole
    answer (`[DONE]` for a stream)."""
    req = urllib.request.Request(url + "/v1/chat/completions", data=json.dumps(body).encode(), method="POST")
    req.add_header("Authorization", f"Bearer {key}")
    req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            text = r.read().decode()
            complete = "data: [DONE]" in text if body.get("stream") else '"choices"' in text
            served = r.status == 200 and complete
            return served, r.headers.get("x-request-id"), None if served else f"incomplete {r.status}"
    except urllib.error.HTTPError as e:
        return False, None, f"http {e.code}"
    except Exception as e:  # refused or reset: the gateway is down
        return False, None, type(e).__name__


def management(url, token, method, path, body, request_id, timeout=10):
    """(answered, request_id, error) of one management call sent with `request_id` as its
    `x-request-id` (the id its audit entry carries): answered means a 2xx."""
    req = urllib.request.Request(url + path, data=json.dumps(body).encode(), method=method)
    req.add_header("Authorization", f"Bearer {token}")
    req.add_header("Content-Type", "application/json")
    req.add_header("x-request-id", request_id)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            r.read()
            return 200 <= r.status < 300, request_id, None
    except urllib.error.HTTPError as e:
        return False, None, f"http {e.code}"
    except Exception as e:  # refused or reset: the gateway is down
        return False, None, type(e).__name__


class SteadyLoad:
    """`workers` threads calling `request(n)` (n = 0, 1, 2, ... spread over the threads) at
    `rate` calls/s in all, from construction until `stop()`; `results` collects what each
    call returned with the time it started and finished: (started, finished, *returned)."""

    def __init__(self, rate, workers, request):
        self.results, self._lock, self._stop = [], threading.Lock(), threading.Event()
        self._threads = [threading.Thread(target=self._run, args=(w, workers, rate, request), daemon=True)
                         for w in range(workers)]
        for t in self._threads:
            t.start()

    def _run(self, worker, workers, rate, request):
        n, interval, next_at = worker, workers / rate, time.time()
        while not self._stop.is_set():
            started = time.time()
            returned = request(n)
            with self._lock:
                self.results.append((started, time.time(), *returned))
            n += workers
            next_at += interval
            time.sleep(max(0.0, next_at - time.time()))

    def stop(self):
        self._stop.set()
        for t in self._threads:
            t.join()
        return self.results
