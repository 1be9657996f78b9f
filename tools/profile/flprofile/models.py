"""The PyTorch modules flotilla-profile times: a decoder layer (one tensor-parallel shard of it), a
whole decoder-only model, and the static-KV-cache decode step.  Written in plain PyTorch ops so
that they run on any torch >= 1.13 (SDPA is used when this torch has it)."""

import math
import re

import torch
import torch.nn as nn
import torch.utils.checkpoint
import torch.nn.functional as F

from .shapes import TpShard

HAVE_SDPA = hasattr(F, "scaled_dot_product_attention")
_ver = tuple(int(x) for x in re.findall(r"\d+", torch.__version__)[:2])
HAVE_GQA = HAVE_SDPA and _ver >= (2, 5)   # SDPA reads grouped k/v itself (enable_gqa)


def attention_kind():
    """(attention, attn_impl) written into rows: SDPA picks the flash kernel for causal bf16/fp16 on
    GPUs; without SDPA (torch < 2.0) the scores are materialised ("standard")."""
    return ("flash", "sdpa") if HAVE_SDPA else ("standard", "math")


def attend(q, k, v, causal, impl):
    """q [b, heads, sq, hd], k/v [b, kv_heads, sk, hd] -> [b, heads, sq, hd]."""
    grouped = k.shape[1] != q.shape[1]
    if impl == "sdpa" and HAVE_GQA and grouped:
        return F.scaled_dot_product_attention(q, k, v, is_causal=causal, enable_gqa=True)
    if grouped:   # older torch: repeat the kv heads (an extra copy of k and v)
        rep = q.shape[1] // k.shape[1]
        k = k.repeat_interleave(rep, dim=1)
        v = v.repeat_interleave(rep, dim=1)
    if impl == "sdpa" and HAVE_SDPA:
        return F.scaled_dot_product_attention(q, k, v, is_causal=causal)
    scores = torch.matmul(q, k.transpose(-1, -2)) * (1.0 / math.sqrt(q.shape[-1]))
    if causal:
        sq, sk = scores.shape[-2], scores.shape[-1]
        mask = torch.ones(sq, sk, dtype=torch.bool, device=q.device).triu(sk - sq + 1)
        scores = scores.masked_fill(mask, float("-inf"))
    p = torch.softmax(scores.float(), dim=-1).to(q.dtype)
    return torch.matmul(p, v)


class RMSNorm(nn.Module):
    """RMSNorm in PyTorch ops (as Llama's reference code)."""

    def __init__(self, h, device=None, dtype=None):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(h, device=device, dtype=dtype))
        self.eps = 1e-5

    def forward(self, x):
        var = x.float().pow(2).mean(-1, keepdim=True)
        return (x.float() * torch.rsqrt(var + self.eps)).to(x.dtype) * self.weight


def make_norm(m, device, dtype):
    return nn.LayerNorm(m.h, device=device, dtype=dtype) if m.activation == "gelu" else RMSNorm(m.h, device, dtype)


def rope_tables(m, positions, device, dtype):
    """cos/sin [len(positions), head_dim] of rotary embeddings (None for learned positions)."""
    if m.positional != "rope":
        return None, None
    hd = m.head_dim
    inv = 1.0 / (10000 ** (torch.arange(0, hd, 2, device=device, dtype=torch.float32) / hd))
    ang = positions.to(torch.float32)[:, None] * inv[None, :]
    ang = torch.cat([ang, ang], dim=-1)
    return ang.cos().to(dtype), ang.sin().to(dtype)


def apply_rope(x, cos, sin):
    half = x.shape[-1] // 2
    rot = torch.cat([-x[..., half:], x[..., :half]], dim=-1)
    return x * cos + rot * sin


class Block(nn.Module):
    """One decoder layer, or its tp-local shard (TpShard): pre-norm, fused QKV (column-parallel),
    causal attention, output projection (row-parallel), MLP fc1 (column-parallel; gate and up for
    SwiGLU) and fc2 (row-parallel).  GELU models have biases and LayerNorm, SwiGLU models neither
    bias nor LayerNorm (RMSNorm).  The all-reduces after proj and fc2 are not part of one GPU's
    work and are measured separately (allreduce rows)."""

    def __init__(self, m, tp=1, impl="sdpa", device=None, dtype=None):
        super().__init__()
        sh = TpShard(m, tp)
        bias = m.activation == "gelu"
        self.m, self.sh, self.impl = m, sh, impl
        self.ln1 = make_norm(m, device, dtype)
        self.qkv = nn.Linear(m.h, sh.qkv_out, bias=bias, device=device, dtype=dtype)
        self.proj = nn.Linear(sh.proj_in, m.h, bias=bias, device=device, dtype=dtype)
        self.ln2 = make_norm(m, device, dtype)
        self.fc1 = nn.Linear(m.h, sh.fc1_out, bias=bias, device=device, dtype=dtype)
        self.fc2 = nn.Linear(sh.fc2_in, m.h, bias=bias, device=device, dtype=dtype)

    def _qkv(self, x, cos, sin):
        b, s, _ = x.shape
        sh = self.sh
        q, k, v = self.qkv(self.ln1(x)).split([sh.heads * sh.head_dim, sh.kv_heads * sh.head_dim,
                                              sh.kv_heads * sh.head_dim], dim=-1)
        q = q.view(b, s, sh.heads, sh.head_dim).transpose(1, 2)
        k = k.view(b, s, sh.kv_heads, sh.head_dim).transpose(1, 2)
        v = v.view(b, s, sh.kv_heads, sh.head_dim).transpose(1, 2)
        if cos is not None:
            q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
        return q, k, v

    def _mlp(self, x):
        y = self.fc1(self.ln2(x))
        if self.m.activation == "swiglu":
            g, u = y.chunk(2, dim=-1)
            y = F.silu(g) * u
        else:
            y = F.gelu(y, approximate="tanh")
        return x + self.fc2(y)

    def forward(self, x, cos=None, sin=None):
        b, s, _ = x.shape
        q, k, v = self._qkv(x, cos, sin)
        o = attend(q, k, v, True, self.impl).transpose(1, 2).reshape(b, s, self.sh.proj_in)
        return self._mlp(x + self.proj(o))

    def decode(self, x, kc, vc, pos, cos, sin):
        """One new token per sequence: its k/v go into the static cache at `pos` (a 1-element
        device tensor, so a captured CUDA graph replays it), attention over the whole cache."""
        b = x.shape[0]
        q, k, v = self._qkv(x, cos, sin)
        kc.index_copy_(2, pos, k)
        vc.index_copy_(2, pos, v)
        o = attend(q, kc, vc, False, self.impl).transpose(1, 2).reshape(b, 1, self.sh.proj_in)
        return self._mlp(x + self.proj(o))


class Decoder(nn.Module):
    """The whole model: token embedding (+ learned positions), `layers` blocks, final norm, LM head
    (untied unless the model ties it).  recompute wraps every block in
    torch.utils.checkpoint(use_reentrant=False) (full recomputation)."""

    def __init__(self, m, impl="sdpa", device=None, dtype=None, recompute=False):
        super().__init__()
        self.m, self.recompute = m, recompute
        self.tok = nn.Embedding(m.vocab, m.h, device=device, dtype=dtype)
        self.pos = nn.Embedding(m.max_positions, m.h, device=device, dtype=dtype) if m.positional == "learned" else None
        self.blocks = nn.ModuleList([Block(m, 1, impl, device, dtype) for _ in range(m.layers)])
        self.norm = make_norm(m, device, dtype)
        self.head = None if m.tied else nn.Linear(m.h, m.vocab, bias=False, device=device, dtype=dtype)

    def logits(self, h):
        return F.linear(h, self.tok.weight) if self.head is None else self.head(h)

    def hidden(self, ids):
        s = ids.shape[1]
        positions = torch.arange(s, device=ids.device)
        x = self.tok(ids)
        if self.pos is not None:
            x = x + self.pos(positions)
        cos, sin = rope_tables(self.m, positions, ids.device, x.dtype)
        for blk in self.blocks:
            if self.recompute and torch.is_grad_enabled():
                x = torch.utils.checkpoint.checkpoint(blk, x, cos, sin, use_reentrant=False)
            else:
                x = blk(x, cos, sin)
        return self.norm(x)

    def forward(self, ids):
        return self.logits(self.hidden(ids))

    def decode(self, tok, pos, kcache, vcache):
        """Logits [b, 1, vocab] of one decode step (tok [b, 1], pos a 1-element tensor)."""
        x = self.tok(tok)
        if self.pos is not None:
            x = x + self.pos(pos)[None]
        cos, sin = rope_tables(self.m, pos, tok.device, x.dtype)
        for blk, kc, vc in zip(self.blocks, kcache, vcache):
            x = blk.decode(x, kc, vc, pos, cos, sin)
        return self.logits(self.norm(x))


def param_shapes(m):
    """Shapes of the whole model's parameters (for the optimizer-step measurement)."""
    sh = TpShard(m, 1)
    bias = m.activation == "gelu"
    norm = [(m.h,), (m.h,)] if bias else [(m.h,)]
    layer = norm + [(sh.qkv_out, m.h), (m.h, sh.proj_in)] + norm + [(sh.fc1_out, m.h), (m.h, sh.fc2_in)]
    if bias:
        layer += [(sh.qkv_out,), (m.h,), (sh.fc1_out,), (m.h,)]
    out = [(m.vocab, m.h)] + ([(m.max_positions, m.h)] if m.positional == "learned" else [])
    out += layer * m.layers + norm
    if not m.tied:
        out.append((m.vocab, m.h))
    return out
