"""--engine-bench: measured prefill / decode_step rows of an external serving engine (vLLM, ...)
from its own latency benchmark output.  Pure Python (no torch).

vLLM's `vllm bench latency ... --output-json OUT.json` (formerly benchmarks/benchmark_latency.py)
writes {"avg_latency": s, "latencies": [s, ...], "percentiles": {...}} for one setting of
--batch-size, --input-len, --output-len, --tensor-parallel-size; the settings are not in the file,
so a small manifest names them:

    {"engine": "vllm", "model": "llama2-7b", "tp": 1,
     "runs": [{"batch_size": 8, "input_len": 512, "output_len": 1,   "result": "b8_i512_o1.json"},
              {"batch_size": 8, "input_len": 512, "output_len": 129, "result": {"avg_latency": 1.23, ...}}]}

("result": a path relative to the manifest, or the benchmark JSON inline; "tp" may be given per run.)
Conversion: a run with output_len 1 is a prefill of batch_size prompts of input_len tokens plus
one sampled token -> a `prefill` row (median latency).  A run with output_len N > 1 and a matching
output_len 1 run (same batch, input_len, tp) gives the mean decode step
(latency_N - latency_1) / (N - 1) at the mean context input_len + N/2 -> a `decode_step` row.
"""

import json
import os
import statistics


class EngineBenchError(ValueError):
    """A manifest or benchmark file that cannot be converted; the message names file and field."""


def _pos_int(v, where, field):
    if isinstance(v, bool) or not isinstance(v, int) or v < 1:
        raise EngineBenchError("%s: \"%s\" must be a positive integer, not %r" % (where, field, v))
    return v


def _latency(result, where):
    """Median latency (s) of one benchmark result (its 'latencies', else 'avg_latency')."""
    if not isinstance(result, dict):
        raise EngineBenchError("%s: \"result\" is not a JSON object" % where)
    lat = result.get("latencies")
    if isinstance(lat, list) and lat:
        if not all(isinstance(x, (int, float)) and not isinstance(x, bool) and x > 0 for x in lat):
            raise EngineBenchError("%s: \"latencies\" must be positive numbers" % where)
        return float(statistics.median(lat)), len(lat)
    avg = result.get("avg_latency")
    if isinstance(avg, (int, float)) and not isinstance(avg, bool) and avg > 0:
        return float(avg), None
    raise EngineBenchError("%s: no \"latencies\" list or positive \"avg_latency\" (is this a latency benchmark "
                           "output?)" % where)


def load_manifest(path):
    """The manifest as a dict with each run's result loaded."""
    try:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
    except OSError as e:
        raise EngineBenchError("cannot read %s: %s" % (path, e.strerror or e))
    except ValueError as e:
        raise EngineBenchError("%s is not valid JSON: %s" % (path, e))
    if not isinstance(doc, dict) or not isinstance(doc.get("runs"), list) or not doc["runs"]:
        raise EngineBenchError("%s: expected an object with a non-empty \"runs\" list" % path)
    base = os.path.dirname(os.path.abspath(path))
    for i, run in enumerate(doc["runs"]):
        where = "%s runs[%d]" % (path, i)
        if not isinstance(run, dict):
            raise EngineBenchError("%s: not an object" % where)
        res = run.get("result")
        if isinstance(res, str):
            rp = res if os.path.isabs(res) else os.path.join(base, res)
            try:
                with open(rp, encoding="utf-8") as f:
                    run["result"] = json.load(f)
            except OSError as e:
                raise EngineBenchError("%s: cannot read result %s: %s" % (where, rp, e.strerror or e))
            except ValueError as e:
                raise EngineBenchError("%s: result %s is not valid JSON: %s" % (where, rp, e))
    return doc


def convert(doc, path, gpu, extra=None):
    """prefill and decode_step rows (dicts) from a loaded manifest, tagged with `gpu` and `extra`."""
    engine = doc.get("engine")
    model = doc.get("model")
    if not isinstance(engine, str) or not engine:
        raise EngineBenchError("%s: missing \"engine\" (e.g. \"vllm\")" % path)
    if not isinstance(model, str) or not model:
        raise EngineBenchError("%s: missing \"model\" (a catalog model name)" % path)
    runs = {}
    for i, run in enumerate(doc["runs"]):
        where = "%s runs[%d]" % (path, i)
        key = (_pos_int(run.get("batch_size"), where, "batch_size"), _pos_int(run.get("input_len"), where, "input_len"),
               _pos_int(run.get("tp", doc.get("tp", 1)), where, "tp"))
        out = _pos_int(run.get("output_len"), where, "output_len")
        if (key, out) in runs:
            raise EngineBenchError("%s: a second run with batch_size %d, input_len %d, tp %d, output_len %d"
                                   % ((where,) + key + (out,)))
        runs[(key, out)] = _latency(run.get("result"), where) + (where,)
    rows = []
    common = {"model": model, "engine": engine, "gpu": gpu, "source": "%s (%s benchmark)" % (os.path.basename(path),
                                                                                              engine)}
    common.update(extra or {})
    for (key, out), (lat, n, where) in sorted(runs.items()):
        b, prompt, tp = key
        if out == 1:
            row = {"kind": "prefill", "b": b, "prompt": prompt, "tp": tp, "seconds": lat}
        else:
            first = runs.get((key, 1))
            if first is None:
                raise EngineBenchError("%s: output_len %d needs a run with output_len 1 at the same batch_size %d, "
                                       "input_len %d and tp %d (the prefill to subtract)" % (where, out, b, prompt, tp))
            step = (lat - first[0]) / (out - 1)
            if step <= 0:
                raise EngineBenchError("%s: latency %.6g s is not above the output_len 1 run's %.6g s; no decode "
                                       "time left" % (where, lat, first[0]))
            row = {"kind": "decode_step", "batch": b, "context": prompt + out // 2, "tp": tp, "seconds": step,
                   "output_len": out, "input_len": prompt}
        if n:
            row["samples"] = n
        row.update(common)
        rows.append(row)
    return rows
