#!/bin/sh
# flotilla-profile on the CPU at tiny shapes: every row kind it writes imports into a catalog with
# the built `flotilla profiles import --measured` and reads back equal; resuming measures nothing
# twice; bad inputs give one message, a non-zero exit and no file.  Exit 77 (skip) without torch.
set -u
BIN=${FLOTILLA_BIN:?}
SRC=${FLOTILLA_SOURCE_ROOT:?}
PROF="$SRC/tools/profile/flotilla-profile"
DATA="$SRC/tests/profile/data"
CHECK="$SRC/tests/profile/check_roundtrip.py"

PY=""
for c in ${FLOTILLA_PYTHON:-} python3 /usr/bin/python3; do
  if "$c" -c 'import torch' >/dev/null 2>&1; then PY=$c; break; fi
done
if [ -z "$PY" ]; then
  echo "SKIP: no python3 with torch (Debian: apt-get install python3-torch)"
  exit 77
fi
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
KINDS=gemm,memcpy_d2d,layer,embedding,lm_head_loss,optimizer_step,train_iter,prefill,decode_step

echo "== PyTorch modules: Megatron shard shapes, parameter counts, decode step = full forward"
"$PY" "$SRC/tests/profile/test_profile_torch.py" || fail "torch unit tests"

echo "== GPT-style catalog model, torch-amp recipe, collectives over 2 gloo processes"
"$PY" "$PROF" --model gpt3-1.3b --device cpu --tiny --gpu-name H100-SXM-80GB --cpu-collectives 2 \
  -o "$T/gpt.jsonl" || fail "profiler run (gpt3-1.3b)"
echo "== Llama-style config.json (SwiGLU, RoPE, grouped-query), megatron recipe"
"$PY" "$PROF" --config "$DATA/configs/llama_like.json" --device cpu --tiny --framework megatron \
  --gpu-name H100-SXM-80GB --only layers,training,serving -o "$T/llama.jsonl" || fail "profiler run (config.json)"
echo "== vLLM latency benchmark converted"
"$PY" "$PROF" --engine-bench "$DATA/vllm/manifest.json" --gpu-name H100-SXM-80GB -o "$T/vllm.jsonl" \
  || fail "engine-bench conversion"

for f in gpt llama vllm; do
  "$BIN" profiles import --catalog "$T/cat.sqlite" --measured "$T/$f.jsonl" || fail "import of $f.jsonl"
done
"$PY" "$CHECK" "$T/gpt.jsonl" "$T/cat.sqlite" "$KINDS,allreduce,allgather,p2p" || fail "round trip gpt.jsonl"
"$PY" "$CHECK" "$T/llama.jsonl" "$T/cat.sqlite" layer,embedding,lm_head_loss,train_iter,prefill,decode_step \
  || fail "round trip llama.jsonl"
"$PY" "$CHECK" "$T/vllm.jsonl" "$T/cat.sqlite" prefill,decode_step || fail "round trip vllm.jsonl"
"$BIN" profiles calibrate --catalog "$T/cat.sqlite" >"$T/calib.txt" || fail "calibrate over the imported rows"
grep -q "gpt3-1.3b-tiny" "$T/calib.txt" || fail "calibrate does not show the imported train_iter rows"
grep -q '"framework": "megatron"' "$T/llama.jsonl" || fail "megatron train_iter rows"
grep -q '"activation": "swiglu"' "$T/llama.jsonl" || fail "swiglu layer rows"

echo "== rows of a GPU type added with --gpus, named by its product name"
"$PY" "$PROF" --model gpt3-1.3b --device cpu --tiny --gpu-name "NVIDIA GeForce RTX 3090" --only kernels \
  -o "$T/rtx.jsonl" 2>/dev/null || fail "profiler run (RTX 3090 name)"
"$BIN" profiles import --catalog "$T/lab.sqlite" --gpus "$SRC/examples/gpus/rtx3090.csv" >/dev/null || fail "--gpus"
"$BIN" profiles import --catalog "$T/lab.sqlite" --measured "$T/rtx.jsonl" || fail "import of rtx.jsonl"
"$PY" "$CHECK" "$T/rtx.jsonl" "$T/lab.sqlite" gemm,memcpy_d2d RTX-3090-24GB || fail "round trip rtx.jsonl"

echo "== the round-trip check notices a changed row"
"$PY" - "$T/cat.sqlite" <<'EOF' || fail "tampering the catalog"
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
db.execute("UPDATE measured SET row = replace(row, '\"tp\":2', '\"tp\":4') WHERE kind = 'layer'")
db.commit()
EOF
if "$PY" "$CHECK" "$T/gpt.jsonl" "$T/cat.sqlite" >/dev/null; then fail "round trip passed on a changed row"; fi

echo "== resume: nothing measured twice"
cp "$T/gpt.jsonl" "$T/gpt.before"
"$PY" "$PROF" --model gpt3-1.3b --device cpu --tiny --gpu-name H100-SXM-80GB --cpu-collectives 2 \
  -o "$T/gpt.jsonl" 2>"$T/resume.err" || fail "resumed run"
cmp -s "$T/gpt.jsonl" "$T/gpt.before" || fail "a resumed run changed the file"
grep -q "41 rows already in" "$T/resume.err" || { cat "$T/resume.err"; fail "resumed run did not skip all 41 rows"; }

echo "== an interrupted run keeps complete rows in FILE.part and the same command finishes it"
timeout -s INT 3 "$PY" "$PROF" --model gpt3-1.3b --device cpu --tiny --gpu-name H100-SXM-80GB \
  -o "$T/int.jsonl" 2>"$T/int.err"
rc=$?
[ "$rc" -eq 0 ] || [ "$rc" -eq 130 ] || [ "$rc" -eq 124 ] || { cat "$T/int.err"; fail "interrupted run: exit $rc"; }
# (the signal may also land after the rename, when the run had finished)
[ ! -e "$T/int.jsonl" ] || [ ! -e "$T/int.jsonl.part" ] || fail "both FILE and FILE.part after an interruption"
"$PY" "$PROF" --model gpt3-1.3b --device cpu --tiny --gpu-name H100-SXM-80GB -o "$T/int.jsonl" 2>/dev/null \
  || fail "run after the interruption"
[ ! -e "$T/int.jsonl.part" ] || fail "FILE.part left after the run finished"
"$PY" - "$T/int.jsonl" "$SRC/tools/profile" <<'EOF' || fail "rows after the interruption"
import json, sys
sys.path.insert(0, sys.argv[2])
from flprofile.rows import row_key
rows = [json.loads(l) for l in open(sys.argv[1])]
keys = [row_key(r) for r in rows if r["kind"] != "env"]
assert len(keys) == len(set(keys)), "a row measured twice"
assert len(keys) == 35, "%d rows, not 35" % len(keys)
EOF

echo "== CPU rows without --gpu-name are not imported as a GPU"
"$PY" "$PROF" --model gpt3-1.3b --device cpu --tiny --only kernels -o "$T/cpu.jsonl" 2>/dev/null || fail "cpu run"
if "$BIN" profiles import --catalog "$T/cat.sqlite" --measured "$T/cpu.jsonl" 2>"$T/cpu.err"; then
  fail "rows of gpu \"cpu\" were imported"
fi
grep -q "cpu" "$T/cpu.err" || fail "the refusal does not name the gpu"

echo "== bad input: one message, non-zero exit, nothing written"
bad() {  # bad EXPECTED-MESSAGE ARGS...
  msg=$1; shift
  rm -f "$T/bad.jsonl" "$T/bad.jsonl.part"
  "$PY" "$PROF" "$@" -o "$T/bad.jsonl" 2>"$T/bad.err"
  rc=$?
  [ "$rc" -ne 0 ] || fail "exit 0 for: $*"
  [ ! -e "$T/bad.jsonl" ] && [ ! -e "$T/bad.jsonl.part" ] || fail "a file was written for: $*"
  grep -q "$msg" "$T/bad.err" || { cat "$T/bad.err"; fail "message '$msg' missing for: $*"; }
  [ "$(wc -l <"$T/bad.err")" -eq 1 ] || { cat "$T/bad.err"; fail "more than one line for: $*"; }
}
bad "unknown model 'gpt-9000'" --model gpt-9000 --device cpu --tiny
bad "not a decoder-only transformer" --config "$DATA/configs/bert.json" --device cpu --tiny
bad "not a decoder-only" --config "$DATA/configs/t5.json" --device cpu --tiny
bad "cannot read config" --config "$T/nope.json" --device cpu --tiny
bad "unknown framework 'deepspeed'" --model gpt3-1.3b --framework deepspeed --device cpu --tiny
bad "engine 'vllm' is external" --model gpt3-1.3b --engine vllm --device cpu --tiny
bad "needs a run with output_len 1" --engine-bench "$DATA/vllm/bad_no_prefill.json" --gpu-name H100-SXM-80GB
bad "name the model to profile" --device cpu
if ! "$PY" -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)'; then
  bad "no CUDA GPU is visible" --model gpt3-1.3b --device cuda
fi
echo "OK"
