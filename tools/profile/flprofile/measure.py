"""The measurements of flotilla-profile.  Each function returns complete measured rows (dicts);
the caller adds the common tags (gpu, device, versions) and writes them."""

import gc
import json
import os
import statistics
import sys
import tempfile
import time

import torch
import torch.nn.functional as F
import torch.utils.checkpoint

from . import models as M
from .shapes import TpShard, layer_flops_fwd

DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32, "tf32": torch.float32}


class Skip(Exception):
    """A measurement this device or torch cannot make; the message is printed as a note."""


def is_oom(e):
    """Out of memory, from the CUDA caching allocator or an older torch's RuntimeError."""
    oom = getattr(torch.cuda, "OutOfMemoryError", None)
    return (oom is not None and isinstance(e, oom)) or (isinstance(e, RuntimeError) and "out of memory" in str(e))


def release():
    """Free what the last measurement left in the allocator."""
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


class Timer:
    """Median wall time of a callable: CUDA events on a GPU, perf_counter on the CPU."""

    def __init__(self, device, warmup, iters):
        self.device, self.warmup, self.iters = device, warmup, iters
        self.cuda = device.type == "cuda"

    def sync(self):
        if self.cuda:
            torch.cuda.synchronize(self.device)

    def median(self, fn, warmup=None, iters=None):
        for _ in range(self.warmup if warmup is None else warmup):
            fn()
        self.sync()
        times = []
        for _ in range(self.iters if iters is None else iters):
            if self.cuda:
                e0, e1 = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                e0.record()
                fn()
                e1.record()
                e1.synchronize()
                times.append(e0.elapsed_time(e1) / 1e3)
            else:
                t0 = time.perf_counter()
                fn()
                times.append(time.perf_counter() - t0)
        return float(statistics.median(times))


    def fwd_bwd(self, fwd, bwd, warmup=None, iters=None):
        """Medians of the forward and of forward+backward, timed in the same iterations (forward
        to a mark, then backward), so the second is never below the first."""
        for _ in range(self.warmup if warmup is None else warmup):
            bwd(fwd())
        self.sync()
        tf, tfb = [], []
        for _ in range(self.iters if iters is None else iters):
            if self.cuda:
                ev = [torch.cuda.Event(enable_timing=True) for _ in range(3)]
                ev[0].record()
                y = fwd()
                ev[1].record()
                bwd(y)
                ev[2].record()
                ev[2].synchronize()
                tf.append(ev[0].elapsed_time(ev[1]) / 1e3)
                tfb.append(ev[0].elapsed_time(ev[2]) / 1e3)
            else:
                t0 = time.perf_counter()
                y = fwd()
                t1 = time.perf_counter()
                bwd(y)
                t2 = time.perf_counter()
                tf.append(t1 - t0)
                tfb.append(t2 - t0)
            del y
        return float(statistics.median(tf)), float(statistics.median(tfb))


def set_tf32(on):
    torch.backends.cuda.matmul.allow_tf32 = on
    torch.backends.cudnn.allow_tf32 = on


def gemm(timer, m, n, k, dtype):
    """[m,k] x [k,n] in `dtype` (tf32: fp32 tensors with TF32 tensor cores allowed)."""
    dev = timer.device
    dt = DTYPES[dtype]
    if dev.type == "cpu" and dt == torch.float16:
        raise Skip("fp16 matmul is not implemented on the CPU by this torch")
    if dtype == "tf32" and dev.type != "cuda":
        raise Skip("tf32 is a GPU tensor-core mode")
    a = torch.randn(m, k, device=dev, dtype=dt)
    b = torch.randn(k, n, device=dev, dtype=dt)
    c = torch.empty(m, n, device=dev, dtype=dt)
    set_tf32(dtype == "tf32")
    try:
        s = timer.median(lambda: torch.matmul(a, b, out=c))
    finally:
        set_tf32(False)
    return {"kind": "gemm", "m": m, "n": n, "k": k, "dtype": dtype, "seconds": s, "tflops": 2.0 * m * n * k / s / 1e12}


def memcpy(timer, nbytes):
    """Device-to-device copy of nbytes; gbps_rw counts bytes read plus written."""
    src = torch.empty(nbytes, dtype=torch.uint8, device=timer.device)
    dst = torch.empty_like(src)
    s = timer.median(lambda: dst.copy_(src))
    return {"kind": "memcpy_d2d", "bytes": nbytes, "seconds": s, "gbps_rw": 2.0 * nbytes / s / 1e9}


# ---- collectives (torch.distributed, one process per GPU) -------------------------------------

def _coll_worker(rank, world, backend, init_file, sizes, warmup, iters, out_path):
    """One rank: all-reduce and all-gather over all ranks (and over ranks 0-1 when world > 2),
    p2p ping-pong between ranks 0 and 1; rank 0 writes the medians to out_path."""
    import torch.distributed as dist
    cuda = backend == "nccl"
    if cuda:
        torch.cuda.set_device(rank)
    dev = torch.device("cuda", rank) if cuda else torch.device("cpu")
    dist.init_process_group(backend, init_method="file://" + init_file, rank=rank, world_size=world)
    groups = [(world, None)]
    if world > 2:
        groups.append((2, dist.new_group([0, 1])))

    def timed(fn):
        ts = []
        for i in range(warmup + iters):
            dist.barrier()
            if cuda:
                torch.cuda.synchronize()
            t0 = time.perf_counter()
            fn()
            if cuda:
                torch.cuda.synchronize()
            if i >= warmup:
                ts.append(time.perf_counter() - t0)
        # the slowest rank finishes the collective
        t = torch.tensor([statistics.median(ts)], dtype=torch.float64, device=dev)
        dist.all_reduce(t, op=dist.ReduceOp.MAX)
        return float(t.item())

    rows = []
    for nbytes in sizes:
        numel = max(1, nbytes // 4)
        x = torch.ones(numel, dtype=torch.float32, device=dev)
        for n, grp in groups:
            member = rank < n
            if grp is not None and not member:
                # ranks outside the pair still take part in the barriers of `timed`
                timed(lambda: None)
                timed(lambda: None)
                continue
            s = timed(lambda: dist.all_reduce(x, group=grp))
            rows.append({"kind": "allreduce", "bytes": numel * 4, "gpus": n, "seconds": s,
                         "busbw_gbps": 2.0 * (n - 1) / n * numel * 4 / s / 1e9})
            outs = [torch.empty_like(x) for _ in range(n)]
            s = timed(lambda: dist.all_gather(outs, x, group=grp))
            rows.append({"kind": "allgather", "bytes": numel * 4, "gpus": n, "seconds": s,
                         "busbw_gbps": (n - 1) * numel * 4 / s / 1e9})
        y = torch.empty_like(x)

        def pingpong():
            if rank == 0:
                dist.send(x, 1)
                dist.recv(y, 1)
            elif rank == 1:
                dist.recv(y, 0)
                dist.send(x, 0)
        s = timed(pingpong) / 2.0
        rows.append({"kind": "p2p", "bytes": numel * 4, "gpus": 2, "seconds": s, "busbw_gbps": numel * 4 / s / 1e9})
    if rank == 0:
        with open(out_path, "w") as f:
            json.dump(rows, f)
    dist.barrier()
    dist.destroy_process_group()


def collectives(world, backend, sizes, warmup, iters):
    """Spawn `world` processes and return their allreduce/allgather/p2p rows."""
    import torch.multiprocessing as mp
    release()
    with tempfile.TemporaryDirectory(prefix="flotilla-profile-") as d:
        out = os.path.join(d, "rows.json")
        mp.spawn(_coll_worker, args=(world, backend, os.path.join(d, "init"), sizes, warmup, iters, out),
                 nprocs=world, join=True)
        with open(out) as f:
            return json.load(f)


# ---- training pieces --------------------------------------------------------------------------

class SavedBytes:
    """Bytes of the tensors autograd keeps for backward (CPU stand-in for the allocator's count):
    unique storages, parameters and the excluded tensors (the input) left out."""

    def __init__(self, exclude):
        self.skip = {t.data_ptr() for t in exclude}
        self.seen = {}

    def pack(self, t):
        p = t.data_ptr()
        if p not in self.skip:
            self.seen[p] = max(self.seen.get(p, 0), t.numel() * t.element_size())
        return t

    def total(self):
        return sum(self.seen.values())


def activation_bytes(timer, fwd, inputs, params):
    """Bytes kept for backward by one forward: on a GPU memory allocated after forward minus
    before; on the CPU the saved tensors plus the output (see SavedBytes)."""
    if timer.cuda:
        timer.sync()
        before = torch.cuda.memory_allocated(timer.device)
        out = fwd()
        timer.sync()
        act = torch.cuda.memory_allocated(timer.device) - before
        del out
        return float(act)
    sb = SavedBytes(list(inputs) + list(params))
    with torch.autograd.graph.saved_tensors_hooks(sb.pack, lambda t: t):
        out = fwd()
    return float(sb.total() + out.numel() * out.element_size())


def layer(timer, m, s, b, tp, dtype, recompute=False, layers_timed=2, standard=False):
    """Forward and forward+backward of `layers_timed` stacked decoder layers (tp-local shards),
    parameters and input in `dtype` (no autocast); per-layer seconds and activation bytes.
    standard: attention with materialised scores (softmax in fp32) instead of SDPA."""
    dev, dt = timer.device, DTYPES[dtype]
    attention, impl = ("standard", "math") if standard else M.attention_kind()
    blocks = torch.nn.ModuleList([M.Block(m, tp, impl, dev, dt) for _ in range(layers_timed)])
    x = torch.randn(b, s, m.h, device=dev, dtype=dt, requires_grad=True)
    cos, sin = M.rope_tables(m, torch.arange(s, device=dev), dev, dt)
    grad = torch.ones(b, s, m.h, device=dev, dtype=dt)

    def fwd():
        y = x
        for blk in blocks:
            if recompute:
                y = torch.utils.checkpoint.checkpoint(blk, y, cos, sin, use_reentrant=False)
            else:
                y = blk(y, cos, sin)
        return y

    params = list(blocks.parameters())

    def bwd(y):
        y.backward(grad)
        x.grad = None                 # each iteration writes its gradients afresh
        for p in params:
            p.grad = None

    t_f, t_fb = timer.fwd_bwd(fwd, bwd)
    act = activation_bytes(timer, fwd, [x], params)
    row = {"kind": "layer", "h": m.h, "a": m.a, "kv_heads": m.kv, "ffn": m.ffn, "activation": m.activation,
           "s": s, "b": b, "tp": tp, "dtype": dtype, "attention": attention, "attn_impl": impl,
           "recompute": recompute, "layers_timed": layers_timed,
           "fwd_s_per_layer": t_f / layers_timed, "fwdbwd_s_per_layer": t_fb / layers_timed,
           "act_bytes_per_layer": act / layers_timed, "flops_fwd_per_layer": layer_flops_fwd(m, s, b, tp),
           "korthikanti_sbh34": s * b * m.h * 34}
    return row


def embedding(timer, m, s, b, tp, dtype):
    """Token embedding (the tp-local vocabulary shard) + learned positions: forward, and with the
    backward into the tables."""
    dev, dt = timer.device, DTYPES[dtype]
    sh = TpShard(m, tp)
    tok = torch.nn.Embedding(sh.vocab, m.h, device=dev, dtype=dt)
    pos = torch.nn.Embedding(m.max_positions, m.h, device=dev, dtype=dt) if m.positional == "learned" else None
    ids = torch.randint(0, sh.vocab, (b, s), device=dev)
    positions = torch.arange(s, device=dev)
    grad = torch.ones(b, s, m.h, device=dev, dtype=dt)

    def fwd():
        y = tok(ids)
        return y + pos(positions) if pos is not None else y

    t_f, t_fb = timer.fwd_bwd(fwd, lambda y: y.backward(grad))
    return {"kind": "embedding", "vocab": m.vocab, "vocab_local": sh.vocab, "h": m.h, "positional": m.positional,
            "s": s, "b": b, "tp": tp, "dtype": dtype, "fwd_s": t_f, "fwdbwd_s": t_fb}


def lm_head_loss(timer, m, s, b, tp, dtype):
    """Final norm + LM head (tp-local vocabulary shard) + cross-entropy of the logits cast to fp32."""
    dev, dt = timer.device, DTYPES[dtype]
    sh = TpShard(m, tp)
    norm = M.make_norm(m, dev, dt)
    head = torch.nn.Linear(m.h, sh.vocab, bias=False, device=dev, dtype=dt)
    x = torch.randn(b, s, m.h, device=dev, dtype=dt, requires_grad=True)
    tgt = torch.randint(0, sh.vocab, (b * s,), device=dev)

    def fwd():
        return F.cross_entropy(head(norm(x)).float().view(-1, sh.vocab), tgt)

    t_f, t_fb = timer.fwd_bwd(fwd, lambda y: y.backward())
    return {"kind": "lm_head_loss", "vocab": m.vocab, "vocab_local": sh.vocab, "h": m.h, "s": s, "b": b, "tp": tp,
            "dtype": dtype, "fwd_s": t_f, "fwdbwd_s": t_fb}


def adamw(params, impl):
    """torch.optim.AdamW with the named implementation; Skip when this torch lacks it."""
    kw = {"fused": {"fused": True}, "foreach": {"foreach": True}, "unfused": {"foreach": False}}[impl]
    try:
        return torch.optim.AdamW(params, lr=1e-4, **kw)
    except (TypeError, RuntimeError) as e:
        raise Skip("AdamW %s is not available in torch %s on this device (%s)" % (impl, torch.__version__, e))


def optimizer_step(timer, shapes, impl):
    """One AdamW step over fp32 parameters of the given shapes (gradients set, states warm)."""
    dev = timer.device
    params = [torch.nn.Parameter(torch.randn(sh, device=dev) * 0.02) for sh in shapes]
    for p in params:
        p.grad = torch.randn_like(p) * 1e-3
    opt = adamw(params, impl)
    try:
        opt.step()
    except RuntimeError as e:
        if is_oom(e):
            raise
        raise Skip("AdamW %s does not run on %s with torch %s (%s)" % (impl, dev.type, torch.__version__, e))
    s = timer.median(opt.step)
    n = sum(p.numel() for p in params)
    return {"kind": "optimizer_step", "params": n, "tensors": len(params), "optimizer": "adamw", "impl": impl,
            "param_dtype": "fp32", "seconds": s}


def best_adamw_impl(device):
    """fused when this torch has it for the device, else foreach."""
    try:
        p = torch.nn.Parameter(torch.zeros(4, device=device))
        p.grad = torch.zeros(4, device=device)
        torch.optim.AdamW([p], fused=True).step()
        return "fused"
    except (TypeError, RuntimeError):
        return "foreach"


RECIPES = {
    # name -> (precision string written into rows, what it is)
    "torch-amp": "amp-bf16,fp32-master,%s-adamw",
    "megatron": "bf16-params,fp32-main-params,fp32-main-grads,%s-adamw",
}


def train_iter(timer, m, framework, s, b, grad_accum, recompute, warmup=2, iters=3):
    """Whole-model training iterations of the recipe; returns the row (oom: true when it ran out
    of memory).  torch-amp: fp32 parameters, forward under autocast(bf16), loss on fp32 logits,
    gradients accumulated in fp32 .grad over grad_accum micro-batches, one AdamW step,
    zero_grad(set_to_none=True).  megatron: bf16 parameters, gradients accumulated into fp32 main
    gradients, AdamW on fp32 main parameters, copied back to bf16."""
    dev = timer.device
    impl = best_adamw_impl(dev)
    attention, attn_impl = M.attention_kind()
    row = {"kind": "train_iter", "model": m.name, "layers": m.layers, "h": m.h, "a": m.a, "kv_heads": m.kv,
           "ffn": m.ffn, "vocab": m.vocab, "activation": m.activation, "positional": m.positional,
           "tied_embeddings": m.tied, "s": s, "b": b, "grad_accum": grad_accum, "recompute": recompute,
           "framework": framework, "precision": RECIPES[framework] % impl, "optimizer": "adamw", "impl": impl,
           "attention": attention,
           "attn_impl": attn_impl, "params": m.params()}
    if m.positional == "learned":
        row["positions"] = m.max_positions
    if timer.cuda:
        release()
        torch.cuda.reset_peak_memory_stats(dev)
    oom = False
    try:
        t, row["params"] = _run_iterations(timer, m, framework, s, b, grad_accum, recompute, impl, attn_impl,
                                           warmup, iters)
    except Exception as e:  # noqa: BLE001 - only out-of-memory is a result, the rest is re-raised
        if not is_oom(e):
            raise
        oom = True
    # the failed iteration's tensors are freed once the exception (and its frames) is gone
    if oom:
        row["oom"] = True
        if timer.cuda:
            row["peak_reserved_bytes_before_oom"] = torch.cuda.max_memory_reserved(dev)
    else:
        tok = b * s * grad_accum / t
        # model_tflops as the calibration rows count it: 6 x parameters x tokens per second
        row.update({"iter_s": t, "tokens_per_s": tok, "model_tflops": 6.0 * row["params"] * tok / 1e12})
        if timer.cuda:
            row["peak_alloc_bytes"] = torch.cuda.max_memory_allocated(dev)
            row["peak_reserved_bytes"] = torch.cuda.max_memory_reserved(dev)
    release()
    return row


def _run_iterations(timer, m, framework, s, b, grad_accum, recompute, impl, attn_impl, warmup, iters):
    """Build the model and optimizer of the recipe and return (median iteration seconds, params)."""
    dev = timer.device
    amp = framework == "torch-amp"
    model = M.Decoder(m, attn_impl, dev, torch.float32 if amp else torch.bfloat16, recompute)
    params = [p for p in model.parameters()]
    if amp:
        opt = adamw(params, impl)
    else:
        main = [p.detach().float().clone().requires_grad_(True) for p in params]
        opt = adamw(main, impl)
    ids = torch.randint(0, m.vocab, (b, s + 1), device=dev)

    def step():
        for _ in range(grad_accum):
            with torch.autocast(device_type=dev.type, dtype=torch.bfloat16, enabled=amp):
                logits = model(ids[:, :-1])
            loss = F.cross_entropy(logits.float().view(-1, m.vocab), ids[:, 1:].reshape(-1))
            (loss / grad_accum).backward()
            del logits, loss
            if not amp:   # accumulate into the fp32 main gradients
                for mp, p in zip(main, params):
                    if p.grad is None:
                        continue
                    if mp.grad is None:
                        mp.grad = p.grad.float()
                    else:
                        mp.grad.add_(p.grad)
                    p.grad = None
        opt.step()
        if not amp:
            with torch.no_grad():
                for mp, p in zip(main, params):
                    p.copy_(mp)
            opt.zero_grad(set_to_none=True)
        model.zero_grad(set_to_none=True)

    return timer.median(step, warmup, iters), sum(p.numel() for p in params)


# ---- serving ----------------------------------------------------------------------------------

def serving_model(m, dev):
    attention, impl = M.attention_kind()
    with torch.no_grad():
        model = M.Decoder(m, impl, dev, torch.bfloat16)
    model.requires_grad_(False)
    return model


def weight_bytes(model, whole=True):
    """Bytes of the weights one forward reads: all of them (prefill), or without the embedding
    tables of which a decode step gathers one row per sequence (the token table stays when the LM
    head shares it)."""
    n = sum(p.numel() * p.element_size() for p in model.parameters())
    if not whole:
        tables = ([model.tok.weight] if model.head is not None else []) + \
            ([model.pos.weight] if model.pos is not None else [])
        n -= sum(t.numel() * t.element_size() for t in tables)
    return n


def prefill(timer, model, b, prompt):
    """Eager forward over b prompts of `prompt` tokens, bf16 weights, no KV cache kept, logits of
    the last position only."""
    m = model.m
    ids = torch.randint(0, m.vocab, (b, prompt), device=timer.device)

    def fwd():
        with torch.no_grad():
            return model.logits(model.hidden(ids)[:, -1])

    s = timer.median(fwd)
    return {"b": b, "prompt": prompt, "seconds": s, "weight_bytes": weight_bytes(model)}


def decode_step(timer, model, batch, context, cuda_graph):
    """One decode step of `batch` sequences whose static KV cache holds `context` positions: the
    new token's k/v are written at position `context`, attention reads the whole cache.  Captured
    once as a CUDA graph and replayed when cuda_graph."""
    m, dev = model.m, timer.device
    sh = TpShard(m, 1)
    shape = (batch, sh.kv_heads, context + 1, sh.head_dim)
    kc = [torch.randn(shape, device=dev, dtype=torch.bfloat16) for _ in range(m.layers)]
    vc = [torch.randn(shape, device=dev, dtype=torch.bfloat16) for _ in range(m.layers)]
    tok = torch.randint(0, m.vocab, (batch, 1), device=dev)
    pos = torch.tensor([context], device=dev)
    with torch.no_grad():
        if cuda_graph:
            side = torch.cuda.Stream()
            side.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(side):
                for _ in range(3):
                    model.decode(tok, pos, kc, vc)
            torch.cuda.current_stream().wait_stream(side)
            g = torch.cuda.CUDAGraph()
            with torch.cuda.graph(g):
                model.decode(tok, pos, kc, vc)
            s = timer.median(g.replay)
            del g
        else:
            s = timer.median(lambda: model.decode(tok, pos, kc, vc))
    kv = 2 * m.layers * batch * context * sh.kv_heads * sh.head_dim * 2
    wb = weight_bytes(model, whole=False)
    return {"batch": batch, "context": context, "seconds": s, "weight_bytes": wb, "kv_bytes": kv,
            "gbps": (wb + kv) / s / 1e9}


def env_row(device, gpu_name):
    """The env row: device, GPU product name and memory, software versions."""
    row = {"kind": "env", "torch": torch.__version__, "cuda": torch.version.cuda, "device": device.type,
           "profiler": "flotilla-profile 1", "python": sys.version.split()[0]}
    if device.type == "cuda":
        p = torch.cuda.get_device_properties(device)
        row.update({"sms": p.multi_processor_count, "mem": p.total_memory, "gpus_in_node": torch.cuda.device_count()})
        row["gpu"] = gpu_name or p.name
    else:
        row["gpu"] = gpu_name or "cpu"
        row["threads"] = torch.get_num_threads()
    return row
