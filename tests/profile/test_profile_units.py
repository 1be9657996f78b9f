"""Unit tests of flotilla-profile's torch-free parts: model shapes (catalog, config.json, --tiny),
Megatron tensor-parallel splitting, the vLLM benchmark converter and the resumable row writer.
Run by meson (tests/profile/meson.build) with any python3; needs no torch."""

import json
import os
import shutil
import sys
import tempfile
import unittest

SRC = os.environ.get("FLOTILLA_SOURCE_ROOT", os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(SRC, "tools", "profile"))
DATA = os.path.join(SRC, "tests", "profile", "data")

from flprofile import engine_bench, shapes  # noqa: E402
from flprofile.rows import RowWriter, row_key  # noqa: E402

CATALOG = shapes.load_catalog(os.path.join(SRC, "data", "models.csv"))


class TpSplit(unittest.TestCase):
    def test_gpt_column_and_row_split(self):
        m = shapes.from_catalog("gpt3-1.3b", CATALOG)      # h 2048, 16 heads, ffn 8192
        sh = shapes.TpShard(m, 2)
        self.assertEqual((sh.heads, sh.kv_heads, sh.head_dim), (8, 8, 128))
        self.assertEqual(sh.qkv_out, 3 * 1024)             # QKV column-split
        self.assertEqual(sh.proj_in, 1024)                 # proj row-split
        self.assertEqual((sh.fc1_out, sh.fc2_in), (4096, 4096))
        self.assertEqual(sh.h, 2048)                       # the hidden size is not split

    def test_swiglu_gqa_split(self):
        m = shapes.from_catalog("llama2-70b", CATALOG)     # 64 heads, 8 kv heads, ffn 28672
        sh = shapes.TpShard(m, 8)
        self.assertEqual((sh.heads, sh.kv_heads), (8, 1))
        self.assertEqual(sh.qkv_out, (8 + 2) * 128)
        self.assertEqual(sh.fc1_out, 2 * 28672 // 8)       # gate and up, both column-split
        self.assertEqual(sh.fc2_in, 28672 // 8)

    def test_kv_heads_replicated_beyond_their_count(self):
        m = shapes.from_catalog("llama3-8b", CATALOG)      # 32 heads, 8 kv heads
        sh = shapes.TpShard(m, 16)
        self.assertEqual((sh.heads, sh.kv_heads), (2, 1))

    def test_shards_sum_to_the_layer(self):
        for name in ("gpt3-2.7b", "llama2-7b", "llama2-70b"):
            m = shapes.from_catalog(name, CATALOG)
            full = shapes.TpShard(m, 1).matmul_flops_fwd(1000)
            for tp in shapes.tp_degrees(m, [2, 4, 8]):
                if m.kv % tp == 0:
                    self.assertEqual(tp * shapes.TpShard(m, tp).matmul_flops_fwd(1000), full, (name, tp))

    def test_bad_tp(self):
        m = shapes.from_catalog("gpt3-2.7b", CATALOG)      # 32 heads, ffn 10240
        with self.assertRaisesRegex(shapes.ShapeError, "tp 3 does not divide the 32 attention heads"):
            shapes.TpShard(m, 3)
        with self.assertRaisesRegex(shapes.ShapeError, "tp must be >= 1"):
            shapes.TpShard(m, 0)
        self.assertEqual(shapes.tp_degrees(m, [1, 2, 3, 4, 8, 64]), [1, 2, 4, 8])
        neo = shapes.from_catalog("gpt-neo-2.7b", CATALOG)  # 20 heads
        self.assertEqual(shapes.tp_degrees(neo, [1, 2, 4, 8]), [1, 2, 4])

    def test_vocab_parallel_padding(self):
        m = shapes.from_catalog("gpt3-1.3b", CATALOG)      # vocab 50257
        self.assertEqual(shapes.TpShard(m, 1).vocab, 50257)
        self.assertEqual(shapes.TpShard(m, 4).vocab, 50688 // 4)   # padded to a multiple of 128 * 4

    def test_flops_as_the_calibration_rows_count_them(self):
        # h 2048, 16 heads, s 2048, b 1: flops_fwd_per_layer of the shared H100 layer rows
        m = shapes.ModelShape("x", 1, 2048, 16)
        self.assertEqual(shapes.layer_flops_fwd(m, 2048, 1), 240518168576)
        self.assertEqual(shapes.layer_flops_fwd(m, 2048, 1, tp=2) * 2, 240518168576)

    def test_params_of_the_calibration_gpt_350m(self):
        # gpt-350m of the shared train_iter rows: params 409528320 (4096 learned positions, untied head)
        m = shapes.ModelShape("gpt-350m", 24, 1024, 16, vocab=50304, max_positions=4096)
        self.assertEqual(m.params(), 409528320)


class Models(unittest.TestCase):
    def test_catalog_alias_and_unknown(self):
        self.assertEqual(shapes.from_catalog("meta-llama/Llama-2-7b-hf", CATALOG).name, "llama2-7b")
        with self.assertRaisesRegex(shapes.ShapeError, "unknown model 'gpt-9000'"):
            shapes.from_catalog("gpt-9000", CATALOG)
        with self.assertRaisesRegex(shapes.ShapeError, "mixture of experts"):
            shapes.from_catalog("mixtral-8x7b", CATALOG)

    def test_llama_config(self):
        m = shapes.from_hf_config(os.path.join(DATA, "configs", "llama_like.json"))
        self.assertEqual((m.layers, m.h, m.a, m.kv, m.ffn, m.vocab), (4, 256, 8, 2, 688, 1000))
        self.assertEqual((m.activation, m.positional, m.tied), ("swiglu", "rope", False))
        self.assertEqual(m.name, "my-org/small-llama")

    def test_gpt2_config(self):
        m = shapes.from_hf_config(os.path.join(DATA, "configs", "gpt2_like.json"))
        self.assertEqual((m.layers, m.h, m.a, m.kv, m.ffn, m.max_positions), (12, 768, 12, 12, 3072, 1024))
        self.assertEqual((m.activation, m.positional, m.tied), ("gelu", "learned", True))

    def test_not_decoder_only(self):
        for f, msg in (("bert.json", "not a decoder-only transformer"), ("t5.json", "not a decoder-only"),
                       ("no_shape.json", "missing or non-integer hidden_size, num_hidden_layers")):
            with self.assertRaisesRegex(shapes.ShapeError, msg):
                shapes.from_hf_config(os.path.join(DATA, "configs", f))

    def test_unreadable_config(self):
        d = tempfile.mkdtemp()
        try:
            bad = os.path.join(d, "config.json")
            with open(bad, "w") as f:
                f.write("{not json")
            with self.assertRaisesRegex(shapes.ShapeError, "not valid JSON"):
                shapes.from_hf_config(bad)
            with self.assertRaisesRegex(shapes.ShapeError, "cannot read config"):
                shapes.from_hf_config(os.path.join(d, "missing.json"))
            with open(bad, "w") as f:
                json.dump({"model_type": "gpt2", "n_embd": 100, "n_head": 3, "n_layer": 2, "vocab_size": 10}, f)
            with self.assertRaisesRegex(shapes.ShapeError, "not a multiple of the 3 heads"):
                shapes.from_hf_config(bad)
        finally:
            shutil.rmtree(d)

    def test_tiny_keeps_the_family(self):
        big = shapes.from_catalog("llama2-70b", CATALOG)
        t = shapes.tiny(big)
        self.assertEqual(t.name, "llama2-70b-tiny")
        self.assertEqual((t.activation, t.positional, t.a, t.kv), ("swiglu", "rope", 4, 2))  # still grouped-query
        self.assertLess(t.params(), 1_000_000)
        self.assertEqual(shapes.tp_degrees(t, [1, 2]), [1, 2])
        g = shapes.tiny(shapes.from_catalog("gpt3-1.3b", CATALOG))
        self.assertEqual((g.a, g.kv, g.ffn), (4, 4, 256))


class EngineBench(unittest.TestCase):
    def test_vllm_manifest(self):
        path = os.path.join(DATA, "vllm", "manifest.json")
        rows = engine_bench.convert(engine_bench.load_manifest(path), path, "H100-SXM-80GB")
        by = {(r["kind"], r.get("b", r.get("batch")), r["tp"]): r for r in rows}
        self.assertEqual(len(rows), 3)
        pre = by[("prefill", 8, 1)]
        self.assertEqual((pre["prompt"], pre["seconds"], pre["engine"], pre["model"]), (512, 0.0600, "vllm", "llama2-7b"))
        dec = by[("decode_step", 8, 1)]
        self.assertEqual(dec["context"], 512 + 64)
        self.assertAlmostEqual(dec["seconds"], (1.0840 - 0.0600) / 128, places=12)
        self.assertEqual(by[("prefill", 1, 2)]["seconds"], 0.020)
        self.assertTrue(all(r["gpu"] == "H100-SXM-80GB" for r in rows))

    def test_decode_needs_its_prefill(self):
        path = os.path.join(DATA, "vllm", "bad_no_prefill.json")
        with self.assertRaisesRegex(engine_bench.EngineBenchError, "needs a run with output_len 1"):
            engine_bench.convert(engine_bench.load_manifest(path), path, "H100-SXM-80GB")

    def test_bad_manifests(self):
        d = tempfile.mkdtemp()
        try:
            p = os.path.join(d, "m.json")
            cases = [({"runs": []}, "non-empty \"runs\""),
                     ({"engine": "vllm", "model": "x", "runs": [{"batch_size": 0, "input_len": 1, "output_len": 1,
                                                                 "result": {"avg_latency": 1}}]}, "batch_size"),
                     ({"engine": "vllm", "model": "x", "runs": [{"batch_size": 1, "input_len": 1, "output_len": 1,
                                                                 "result": {"latencies": [-1]}}]}, "positive"),
                     ({"engine": "vllm", "model": "x", "runs": [{"batch_size": 1, "input_len": 1, "output_len": 1,
                                                                 "result": "nope.json"}]}, "cannot read result"),
                     ({"engine": "vllm", "model": "x",
                       "runs": [{"batch_size": 1, "input_len": 1, "output_len": 1, "result": {"avg_latency": 2}},
                                {"batch_size": 1, "input_len": 1, "output_len": 9, "result": {"avg_latency": 1}}]},
                      "no decode time left"),
                     ({"model": "x", "runs": [{"batch_size": 1, "input_len": 1, "output_len": 1,
                                               "result": {"avg_latency": 1}}]}, "missing \"engine\"")]
            for doc, msg in cases:
                with open(p, "w") as f:
                    json.dump(doc, f)
                with self.assertRaisesRegex(engine_bench.EngineBenchError, msg):
                    engine_bench.convert(engine_bench.load_manifest(p), p, "H100-SXM-80GB")
        finally:
            shutil.rmtree(d)


@unittest.skipUnless(os.environ.get("FLOTILLA_BIN"), "FLOTILLA_BIN not set (run by meson)")
class Import(unittest.TestCase):
    """Rows made without torch (the vLLM converter, a hand-written rope-model train_iter row) import
    with the built CLI and keep their members."""

    def test_converted_and_rope_rows_import(self):
        import sqlite3
        import subprocess
        d = tempfile.mkdtemp()
        try:
            path = os.path.join(DATA, "vllm", "manifest.json")
            rows = engine_bench.convert(engine_bench.load_manifest(path), path, "NVIDIA H100 80GB HBM3")
            rows.append({"kind": "train_iter", "model": "my-llama", "layers": 2, "h": 256, "a": 8, "kv_heads": 2,
                         "ffn": 688, "vocab": 1000, "activation": "swiglu", "positional": "rope",
                         "tied_embeddings": False, "s": 128, "b": 1, "grad_accum": 2, "recompute": False,
                         "framework": "torch-amp", "precision": "amp-bf16,fp32-master,fused-adamw",
                         "params": 2 * (256 * 512 + 256 * 256 + 3 * 256 * 688 + 512) + 2 * 1000 * 256 + 256,
                         "iter_s": 0.01, "gpu": "NVIDIA H100 80GB HBM3"})
            out = os.path.join(d, "rows.jsonl")
            with open(out, "w") as f:
                f.writelines(json.dumps(r) + "\n" for r in rows)
            cat = os.path.join(d, "cat.sqlite")
            r = subprocess.run([os.environ["FLOTILLA_BIN"], "profiles", "import", "--catalog", cat, "--measured", out],
                               capture_output=True, text=True)
            self.assertEqual(r.returncode, 0, r.stderr)
            stored = [json.loads(x) for (x,) in sqlite3.connect(cat).execute(
                "SELECT row FROM measured WHERE source LIKE 'rows.jsonl:%' ORDER BY id")]
            self.assertEqual(len(stored), len(rows))
            for w, s in zip(rows, stored):
                for k, v in w.items():
                    if k != "gpu":
                        self.assertEqual(s.get(k), v, (w["kind"], k))
                self.assertEqual(s["gpu"], "H100-SXM-80GB")
        finally:
            shutil.rmtree(d)


class Writer(unittest.TestCase):
    def setUp(self):
        self.d = tempfile.mkdtemp()
        self.out = os.path.join(self.d, "rows.jsonl")

    def tearDown(self):
        shutil.rmtree(self.d)

    def row(self, m, s=1.0):
        return {"kind": "gemm", "m": m, "n": 8, "k": 8, "dtype": "bf16", "seconds": s, "gpu": "g", "device": "cpu"}

    def test_fresh_run_renamed_on_success(self):
        w = RowWriter(self.out)
        w.write({"kind": "env", "gpu": "g"})
        w.write(self.row(1))
        self.assertFalse(os.path.exists(self.out))
        self.assertTrue(os.path.exists(self.out + ".part"))
        w.finish()
        self.assertTrue(os.path.exists(self.out))
        self.assertFalse(os.path.exists(self.out + ".part"))

    def test_failed_run_without_rows_leaves_nothing(self):
        w = RowWriter(self.out)
        w.write({"kind": "env", "gpu": "g"})
        w.abandon("test")
        self.assertEqual(os.listdir(self.d), [])

    def test_resume_skips_measured_and_cuts_a_torn_line(self):
        w = RowWriter(self.out)
        w.write({"kind": "env", "gpu": "g"})
        w.write(self.row(1))
        w.finish()
        with open(self.out, "a") as f:
            f.write('{"kind": "gemm", "m": 2, "n"')          # an interrupted write
        w = RowWriter(self.out)
        self.assertTrue(w.done(self.row(1, s=5.0)))            # same shape, any time: measured
        self.assertFalse(w.done(self.row(2)))
        self.assertFalse(w.done(dict(self.row(1), gpu="other")))
        w.write({"kind": "env", "gpu": "g"})                   # the same env again: not repeated
        w.write(self.row(2))
        w.finish()
        with open(self.out) as f:
            lines = [json.loads(x) for x in f]
        self.assertEqual([r.get("m") for r in lines], [None, 1, 2])

    def test_key_ignores_measured_values(self):
        self.assertEqual(row_key(self.row(1, 1.0)), row_key(self.row(1, 2.0)))
        self.assertNotEqual(row_key(self.row(1)), row_key(dict(self.row(1), dtype="fp16")))


if __name__ == "__main__":
    unittest.main()
