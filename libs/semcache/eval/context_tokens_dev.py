"""Scores, on the **dev** part of the held-out set only (issue 24), whether the embedding model's
own contextual token states tell a paraphrase from a near-miss: a word shared by both prompts
whose role changed ("the landlord owes me" / "I owe my landlord") should read differently in
context. Two scores per pair: the lowest cosine between a shared content word's states in the
two prompts, and a BERTScore-like F over all words. Test rows are skipped before anything but
`split` is read. To repeat (figures in docs/benchmarks.md):

    python3 -m venv /tmp/ce && /tmp/ce/bin/pip install onnxruntime tokenizers numpy
    /tmp/ce/bin/python libs/semcache/eval/context_tokens_dev.py \\
        .tollgate/models/minilm libs/semcache/eval/heldout/pairs.jsonl
"""
import json
import sys

import numpy as np
import onnxruntime as ort
from tokenizers import Tokenizer

MODEL, PAIRS = sys.argv[1], sys.argv[2]
options = ort.SessionOptions()
options.intra_op_num_threads = 1
session = ort.InferenceSession(MODEL + "/model.onnx", sess_options=options)
tokenizer = Tokenizer.from_file(MODEL + "/tokenizer.json")
tokenizer.no_padding()
tokenizer.no_truncation()
STOP = set(
    "a an the of to in on at for by with from and or but is are was were be been do does did how"
    " what which who whom whose why when where can could would should will i me my you your we our"
    " it its this that these those there here as than into about please tell give show find much"
    " many any some".split()
)
states = {}


def words(text):
    """(lower-cased word, unit vector of its word pieces' mean state) in order."""
    if text in states:
        return states[text]
    encoding = tokenizer.encode(text)
    ids = np.array([encoding.ids], np.int64)
    hidden = session.run(
        None, {"input_ids": ids, "attention_mask": np.ones_like(ids), "token_type_ids": np.zeros_like(ids)}
    )[0][0]
    pieces, spans = {}, {}
    for i, word in enumerate(encoding.word_ids):
        if word is None:
            continue
        start, end = encoding.offsets[i]
        pieces.setdefault(word, []).append(hidden[i])
        lo, hi = spans.get(word, (start, end))
        spans[word] = (min(lo, start), max(hi, end))
    out = []
    for word, (start, end) in sorted(spans.items()):
        vector = np.mean(pieces[word], axis=0)
        out.append((text[start:end].lower(), vector / np.linalg.norm(vector)))
    states[text] = out
    return out


def scores(a, b):
    wa, wb = words(a), words(b)
    by_word = {}
    for word, vector in wb:
        if word.isalpha() and word not in STOP:
            by_word.setdefault(word, []).append(vector)
    shared = [
        max(float(vector @ other) for other in by_word[word])
        for word, vector in wa
        if word.isalpha() and word not in STOP and word in by_word
    ]
    similarity = np.array([v for _, v in wa]) @ np.array([v for _, v in wb]).T
    f = (similarity.max(1).mean() + similarity.max(0).mean()) / 2
    return (min(shared) if shared else 1.0), f


def auc(positive, negative):
    p, n = np.array(positive)[:, None], np.array(negative)[None, :]
    return float((p > n).mean() + 0.5 * (p == n).mean())


dev = []
with open(PAIRS) as lines:
    for line in lines:
        row = json.loads(line)
        if row.get("split") == "dev":
            dev.append((row["kind"], row["why"], *scores(row["a"], row["b"])))
paraphrases = [row for row in dev if row[0] == "paraphrase"]
for column, name in [(2, "lowest shared-word contextual cosine"), (3, "BERTScore-like F")]:
    print(f"{name}: ROC AUC, paraphrases against")
    near = [row[column] for row in dev if row[0] == "near_miss"]
    print(f"  every near-miss: {auc([r[column] for r in paraphrases], near):.3f}")
    for kind in sorted({row[1] for row in dev if row[0] == "near_miss"}):
        these = [row[column] for row in dev if row[1] == kind]
        print(f"  {kind}: {auc([r[column] for r in paraphrases], these):.3f}")
