"""Unit tests of flotilla-profile's PyTorch modules on the CPU: the tp-local shard has the
Megatron-split weight shapes, parameter counts agree with the shape formulas, and the static-KV
decode step computes what a full forward computes.  Run by tests/profile/test_profile.sh with a
python3 that has torch."""

import os
import sys
import unittest

import torch

SRC = os.environ.get("FLOTILLA_SOURCE_ROOT", os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(SRC, "tools", "profile"))

from flprofile import models as M  # noqa: E402
from flprofile import shapes  # noqa: E402

CATALOG = shapes.load_catalog(os.path.join(SRC, "data", "models.csv"))
GPT = shapes.ModelShape("gpt", 2, 64, 4, vocab=300, max_positions=64)
LLAMA = shapes.ModelShape("llama", 2, 64, 8, kv=2, ffn=176, vocab=300, activation="swiglu", positional="rope",
                          max_positions=64)
TIED = shapes.ModelShape("tied", 2, 64, 4, vocab=300, tied=True, max_positions=64)


def numel(module):
    return sum(p.numel() for p in module.parameters())


class Shards(unittest.TestCase):
    def test_weight_shapes_are_megatron_splits(self):
        for m in (GPT, LLAMA):
            for tp in (1, 2, 4):
                sh = shapes.TpShard(m, tp)
                blk = M.Block(m, tp)
                self.assertEqual(tuple(blk.qkv.weight.shape), (sh.qkv_out, m.h))      # column-parallel
                self.assertEqual(tuple(blk.fc1.weight.shape), (sh.fc1_out, m.h))      # column-parallel
                self.assertEqual(tuple(blk.proj.weight.shape), (m.h, sh.proj_in))     # row-parallel
                self.assertEqual(tuple(blk.fc2.weight.shape), (m.h, sh.fc2_in))       # row-parallel

    def test_shards_hold_the_layer_matrices(self):
        for m in (GPT, LLAMA):
            full = M.Block(m, 1)
            mats = lambda b: sum(x.weight.numel() for x in (b.qkv, b.proj, b.fc1, b.fc2))  # noqa: E731
            self.assertEqual(2 * mats(M.Block(m, 2)), mats(full), m.name)

    def test_parameter_counts_match_the_formulas(self):
        for m in (GPT, LLAMA, TIED):
            self.assertEqual(numel(M.Block(m, 1)), m.layer_params(), m.name)
            self.assertEqual(numel(M.Decoder(m)), m.params(), m.name)
            self.assertEqual(sum(int(torch.tensor(s).prod()) for s in M.param_shapes(m)), m.params(), m.name)

    def test_sharded_forward_runs(self):
        for m in (GPT, LLAMA):
            x = torch.randn(2, 8, m.h)
            cos, sin = M.rope_tables(m, torch.arange(8), x.device, x.dtype)
            self.assertEqual(tuple(M.Block(m, 2)(x, cos, sin).shape), (2, 8, m.h))


class Rows(unittest.TestCase):
    def test_layer_rows(self):
        from flprofile import measure as X
        timer = X.Timer(torch.device("cpu"), 1, 3)
        for std in (False, True):
            r = X.layer(timer, LLAMA, 16, 2, 2, "bf16", standard=std)
            self.assertEqual(r["attention"], "standard" if std else M.attention_kind()[0])
            self.assertEqual((r["tp"], r["kv_heads"], r["layers_timed"]), (2, 2, 2))
            self.assertGreater(r["fwdbwd_s_per_layer"], r["fwd_s_per_layer"])
            # at least the input of each of the layer's four matmuls is kept: 4 x b s h x 2 bytes
            self.assertGreater(r["act_bytes_per_layer"], 4 * 2 * 16 * 64 * 2)
        rc = X.layer(timer, GPT, 16, 2, 1, "bf16", recompute=True)
        full = X.layer(timer, GPT, 16, 2, 1, "bf16")
        self.assertLess(rc["act_bytes_per_layer"], full["act_bytes_per_layer"])   # checkpoint keeps less

    def test_train_iter_rows(self):
        from flprofile import measure as X
        timer = X.Timer(torch.device("cpu"), 1, 3)
        for fw in ("torch-amp", "megatron"):
            r = X.train_iter(timer, LLAMA, fw, 16, 2, 2, False, 1, 1)
            self.assertEqual((r["framework"], r["params"], r["tied_embeddings"]), (fw, LLAMA.params(), False))
            self.assertEqual((r["optimizer"], r["impl"]), ("adamw", X.best_adamw_impl(torch.device("cpu"))))
            self.assertIn(r["impl"] + "-adamw", r["precision"])
            self.assertGreater(r["iter_s"], 0)
            self.assertAlmostEqual(r["model_tflops"], 6 * r["params"] * r["tokens_per_s"] / 1e12)


class Decode(unittest.TestCase):
    def check(self, m):
        torch.manual_seed(0)
        model = M.Decoder(m).eval()
        L = 12
        ids = torch.randint(0, m.vocab, (3, L))
        with torch.no_grad():
            want = model(ids)[:, -1]
            # fill a static cache with the prefix's real k/v, layer by layer
            sh = shapes.TpShard(m, 1)
            kc = [torch.zeros(3, sh.kv_heads, L, sh.head_dim) for _ in range(m.layers)]
            vc = [torch.zeros_like(k) for k in kc]
            positions = torch.arange(L - 1)
            x = model.tok(ids[:, :-1])
            if model.pos is not None:
                x = x + model.pos(positions)
            cos, sin = M.rope_tables(m, positions, x.device, x.dtype)
            for blk, k_, v_ in zip(model.blocks, kc, vc):
                _, k, v = blk._qkv(x, cos, sin)
                k_[:, :, :L - 1] = k
                v_[:, :, :L - 1] = v
                x = blk(x, cos, sin)
            got = model.decode(ids[:, -1:], torch.tensor([L - 1]), kc, vc)[:, 0]
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-4)

    def test_decode_equals_full_forward_gpt(self):
        self.check(GPT)

    def test_decode_equals_full_forward_llama_gqa_rope(self):
        self.check(LLAMA)

    def test_decode_equals_full_forward_tied(self):
        self.check(TIED)

    def test_recompute_gives_the_same_gradients(self):
        torch.manual_seed(0)
        a = M.Decoder(LLAMA)
        b = M.Decoder(LLAMA, recompute=True)
        b.load_state_dict(a.state_dict())
        ids = torch.randint(0, LLAMA.vocab, (2, 10))
        for mdl in (a, b):
            mdl(ids).float().pow(2).mean().backward()
        torch.testing.assert_close(a.blocks[0].fc1.weight.grad, b.blocks[0].fc1.weight.grad)


if __name__ == "__main__":
    unittest.main()
