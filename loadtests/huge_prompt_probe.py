"""Does one tenant's huge prompt stall everyone else? Sends STREAMS (2) streamed requests whose
prompt is HUGE_BYTES (4 MiB - 200) of one letter, the slowest text to count tokens in, and
meanwhile a small chat request every 10 ms until they end; prints the small requests' latency
and any that failed. Against a running stack: `set -a; source .tollgate/env; set +a;
python3 loadtests/huge_prompt_probe.py` (both kinds use $TOLLGATE_DEMO_KEY)."""
import json
import os
import threading
import time
import urllib.request

URL = os.environ["TOLLGATE_URL"] + "/v1/chat/completions"
KEY = os.environ["TOLLGATE_DEMO_KEY"]
SIZE = int(os.environ.get("HUGE_BYTES", 4 * 1024 * 1024 - 200))


def post(body):
    request = urllib.request.Request(
        URL, data=body, headers={"Authorization": "Bearer " + KEY, "content-type": "application/json"}
    )
    started = time.perf_counter()
    with urllib.request.urlopen(request, timeout=120) as answer:
        answer.read()
        return answer.status, time.perf_counter() - started


huge = json.dumps(
    {"model": "demo-small", "stream": True, "messages": [{"role": "user", "content": "a" * SIZE}]}
).encode()
small = json.dumps({"model": "demo-small", "messages": [{"role": "user", "content": "hi"}]}).encode()
done = {}
streams = [
    threading.Thread(target=lambda i=i: done.__setitem__(i, post(huge)))
    for i in range(int(os.environ.get("STREAMS", 2)))
]
for stream in streams:
    stream.start()
latencies, errors = [], []
while any(stream.is_alive() for stream in streams):
    started = time.perf_counter()
    try:
        latencies.append(post(small)[1] * 1000)
    except Exception as error:  # noqa: BLE001 - every failure is reported
        errors.append(f"{error} after {time.perf_counter() - started:.1f} s")
    time.sleep(0.01)
latencies.sort()
print("huge streams (status, seconds):", done)
print(
    f"small requests: {len(latencies)} answered, p50 {latencies[len(latencies) // 2]:.1f} ms,"
    f" p99 {latencies[int(len(latencies) * 0.99)]:.1f} ms, max {latencies[-1]:.1f} ms;"
    f" failed: {errors or 'none'}"
)
