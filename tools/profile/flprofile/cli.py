"""flotilla-profile command line: what to measure (a plan of tasks), progress, output."""

import argparse
import os
import sys

from . import engine_bench
from .rows import RowWriter, row_key
from .shapes import ShapeError, find_models_csv, from_catalog, from_hf_config, gemm_sizes, load_catalog, tiny, \
    tp_degrees

USAGE_EXIT = 2
FRAMEWORKS = ("torch-amp", "megatron")
BUILTIN_ENGINES = ("pytorch", "pytorch-eager-sdpa", "pytorch-static-kv-cudagraph")
SECTIONS = ("kernels", "collectives", "layers", "training", "serving")

MiB = 1 << 20


class Fail(Exception):
    """A bad input or unusable device: one message, exit status 2, nothing written."""


def parse_args(argv):
    p = argparse.ArgumentParser(
        prog="flotilla-profile",
        description="Measure GEMMs, memory copies, NCCL collectives, decoder layers, whole training iterations "
                    "and serving steps of your model on this node, as measured rows for "
                    "`flotilla profiles import --measured`.  Never downloads anything (random weights).")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--model", help="a model of the catalog (data/models.csv), by name or alias")
    src.add_argument("--config", help="a Hugging Face config.json of a decoder-only transformer")
    p.add_argument("-o", "--output", required=True, help="measured rows (JSONL); an existing file is resumed")
    p.add_argument("--device", choices=("cuda", "cpu"), default="cuda",
                   help="cuda (default); cpu is for testing the profiler only: its rows carry device \"cpu\"")
    size = p.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="a few sizes each (about 5 minutes on one GPU; default)")
    size.add_argument("--full", action="store_true", help="more sizes, batch sizes, contexts and recomputation")
    p.add_argument("--tiny", action="store_true",
                   help="shrink the model to a few hundred thousand parameters (same family) and every sweep to "
                        "tiny sizes; for tests")
    p.add_argument("--framework", default="torch-amp", help="training recipe of train_iter rows: torch-amp "
                   "(fp32 params + autocast bf16 + fused AdamW, default) or megatron (bf16 params, fp32 main copy)")
    p.add_argument("--engine", default="pytorch", help="serving engine: pytorch (the built-in references "
                   "pytorch-eager-sdpa and pytorch-static-kv-cudagraph, default), or the name of an external "
                   "engine together with --engine-bench")
    p.add_argument("--engine-bench", metavar="FILE.json",
                   help="convert an external engine's latency benchmark (a manifest naming vLLM benchmark_latency "
                        "outputs, see docs/profile.md) into prefill/decode_step rows instead of measuring")
    p.add_argument("--gpu-name", help="the gpu member of every row (default: the device's product name, e.g. "
                   "\"NVIDIA H100 80GB HBM3\"; \"cpu\" on the CPU). Tests set a catalog GPU here")
    p.add_argument("--only", help="comma-separated sections to run: " + ",".join(SECTIONS))
    p.add_argument("--fresh", action="store_true", help="start over instead of resuming an existing -o file")
    p.add_argument("--cpu-collectives", type=int, default=0, metavar="N",
                   help=argparse.SUPPRESS)  # tests: run the collective code with N gloo processes on the CPU
    return p.parse_args(argv)


def resolve_model(args, script_dir):
    """The ModelShape the flags name (ShapeError when they name none)."""
    if args.config:
        m = from_hf_config(args.config)
    elif args.model:
        path = find_models_csv(script_dir)
        if not path:
            raise ShapeError("cannot find the model catalog models.csv next to the profiler")
        m = from_catalog(args.model, load_catalog(path))
    else:
        return None
    return tiny(m) if args.tiny else m


class Progress:
    """A one-line progress bar on stderr when it is a terminal; otherwise one line per section."""

    def __init__(self, total, stream=sys.stderr):
        self.total, self.n, self.stream = total, 0, stream
        self.tty = hasattr(stream, "isatty") and stream.isatty()
        self.section = None
        self.said = set()

    def step(self, label, section):
        self.n += 1
        if self.tty:
            w = 30
            fill = int(w * self.n / max(1, self.total))
            self.stream.write("\r[%s%s] %d/%d %-50.50s" % ("#" * fill, "." * (w - fill), self.n, self.total, label))
            self.stream.flush()
        elif section != self.section:
            self.stream.write("flotilla-profile: %s\n" % section)
        self.section = section

    def note(self, msg):
        if msg in self.said:    # the same reason for several sizes: once
            return
        self.said.add(msg)
        self.stream.write(("\r\033[K" if self.tty else "") + "flotilla-profile: note: " + msg + "\n")

    def done(self):
        if self.tty:
            self.stream.write("\n")


class Task:
    """One measurement (or a group measured together): the identities of its rows and how to run it."""

    def __init__(self, section, label, idents, run):
        self.section, self.label, self.idents, self.run = section, label, idents, run


def sweeps(mode, m):
    """Sizes of every sweep for --tiny / --quick / --full."""
    if mode == "tiny":
        return dict(s=32, layer_b=[1, 2], layer_s=[32], tps=[1, 2], memcpy=[1 * MiB], train_b=[1, 2],
                    recompute=[False, True], opt=["fused", "foreach", "unfused"], prefill_b=[1, 2],
                    prompts=[16, 32], decode_b=[1, 4], contexts=[16, 48], coll=[4096, 65536],
                    warmup=1, iters=3)
    s0 = min(2048, m.max_positions)
    if mode == "quick":
        return dict(s=s0, layer_b=[1, 2, 4], layer_s=[s0], tps=[1, 2, 4, 8], memcpy=[1024 * MiB],
                    train_b=[1, 2, 4, 8, 16], recompute=[False], opt=["fused", "foreach"], prefill_b=[1, 4],
                    prompts=[p for p in (128, 512, 2048) if p <= m.max_positions],
                    decode_b=[1, 8, 32, 128], contexts=[c for c in (512, 2048) if c < m.max_positions],
                    coll=[1 * MiB, 16 * MiB, 256 * MiB], warmup=3, iters=10)
    return dict(s=s0, layer_b=[1, 2, 4, 8], layer_s=[x for x in (s0, 2 * s0) if x <= m.max_positions],
                tps=[1, 2, 4, 8], memcpy=[64 * MiB, 1024 * MiB], train_b=[1, 2, 4, 8, 16, 32],
                recompute=[False, True], opt=["fused", "foreach", "unfused"], prefill_b=[1, 4, 16],
                prompts=[p for p in (128, 512, 2048, 4096) if p <= m.max_positions],
                decode_b=[1, 8, 32, 64, 128, 256], contexts=[c for c in (512, 2048, 4096) if c < m.max_positions],
                coll=[64 << 10, 1 * MiB, 4 * MiB, 16 * MiB, 64 * MiB, 256 * MiB, 1024 * MiB], warmup=5, iters=30)


def build_plan(args, m, sw, dev, tags, n_gpus, progress):
    """The list of tasks of this run (imports torch-dependent code lazily)."""
    from . import measure as X
    mode = "tiny" if args.tiny else "full" if args.full else "quick"
    timer = X.Timer(dev, sw["warmup"], sw["iters"])
    only = set(args.only.split(",")) if args.only else set(SECTIONS)
    plan = []

    def ident(kind, **kw):
        d = {"kind": kind}
        d.update(kw)
        d.update(tags)
        return d

    if "kernels" in only:
        for dtype in ("bf16", "fp16", "fp32", "tf32"):
            for (mm, n, k) in gemm_sizes(mode):
                plan.append(Task("kernels", "gemm %s %dx%dx%d" % (dtype, mm, n, k),
                                 [ident("gemm", m=mm, n=n, k=k, dtype=dtype)],
                                 lambda mm=mm, n=n, k=k, dtype=dtype: [X.gemm(timer, mm, n, k, dtype)]))
        for nb in sw["memcpy"]:
            plan.append(Task("kernels", "memcpy %d MiB" % (nb // MiB), [ident("memcpy_d2d", bytes=nb)],
                             lambda nb=nb: [X.memcpy(timer, nb)]))

    if "collectives" in only:
        world, backend = (n_gpus, "nccl") if dev.type == "cuda" else (args.cpu_collectives, "gloo")
        if world >= 2:
            ids = []
            for nb in sw["coll"]:
                for n in sorted({world, 2}):
                    ids += [ident("allreduce", bytes=nb, gpus=n), ident("allgather", bytes=nb, gpus=n)]
                ids.append(ident("p2p", bytes=nb, gpus=2))
            plan.append(Task("collectives", "%s collectives over %d %s" % (backend, world, dev.type), ids,
                             lambda: X.collectives(world, backend, sw["coll"], sw["warmup"], sw["iters"])))
        else:
            progress.note("collectives skipped: %s" % ("one GPU in this node" if dev.type == "cuda"
                                                       else "no GPUs (device cpu)"))

    attention, _ = X.M.attention_kind()
    tps = tp_degrees(m, sw["tps"])
    if "layers" in only:
        for s in sw["layer_s"]:
            for tp in tps:
                for b in sw["layer_b"]:
                    first = b == sw["layer_b"][0]
                    for rc in ([False, True] if mode == "full" and first else [False]):
                        plan.append(Task("layers", "layer s %d b %d tp %d%s" % (s, b, tp, " recompute" if rc else ""),
                                         [ident("layer", h=m.h, a=m.a, kv_heads=m.kv, ffn=m.ffn,
                                                activation=m.activation, s=s, b=b, tp=tp, dtype="bf16",
                                                attention=attention, recompute=rc)],
                                         lambda s=s, b=b, tp=tp, rc=rc: [X.layer(timer, m, s, b, tp, "bf16", rc)]))
                    if mode != "quick" and first and attention != "standard":
                        # non-flash attention (scores materialised) for the simulator's standard kind
                        plan.append(Task("layers", "layer s %d b %d tp %d standard attention" % (s, b, tp),
                                         [ident("layer", h=m.h, a=m.a, kv_heads=m.kv, ffn=m.ffn,
                                                activation=m.activation, s=s, b=b, tp=tp, dtype="bf16",
                                                attention="standard", recompute=False)],
                                         lambda s=s, b=b, tp=tp: [X.layer(timer, m, s, b, tp, "bf16",
                                                                          standard=True)]))
        s = sw["s"]
        for tp in tps:
            for b in sw["layer_b"]:
                plan.append(Task("layers", "embedding s %d b %d tp %d" % (s, b, tp),
                                 [ident("embedding", vocab=m.vocab, h=m.h, positional=m.positional, s=s, b=b, tp=tp,
                                        dtype="bf16")],
                                 lambda b=b, tp=tp: [X.embedding(timer, m, s, b, tp, "bf16")]))
                plan.append(Task("layers", "lm head + loss s %d b %d tp %d" % (s, b, tp),
                                 [ident("lm_head_loss", vocab=m.vocab, h=m.h, s=s, b=b, tp=tp, dtype="bf16")],
                                 lambda b=b, tp=tp: [X.lm_head_loss(timer, m, s, b, tp, "bf16")]))

    if "training" in only:
        from .models import param_shapes
        shapes = param_shapes(m)
        if dev.type == "cuda":   # p, grad, two moments in fp32: keep within half of the free memory
            import torch
            budget = torch.cuda.mem_get_info(dev)[0] * 0.5 / 16
            while shapes and sum(_numel(x) for x in shapes) > budget:
                shapes = shapes[:-1]
        nparams = sum(_numel(x) for x in shapes)
        for impl in sw["opt"]:
            plan.append(Task("training", "optimizer AdamW %s %.2gM params" % (impl, nparams / 1e6),
                             [ident("optimizer_step", params=nparams, optimizer="adamw", impl=impl,
                                    param_dtype="fp32")],
                             lambda impl=impl: [X.optimizer_step(timer, shapes, impl)]))
        accum = 2
        oom_at = {}
        for rc in sw["recompute"]:
            for b in sw["train_b"]:
                def run(b=b, rc=rc):
                    if oom_at.get(rc, 1 << 30) < b:
                        raise X.Skip("train_iter b %d%s skipped: b %d already ran out of memory"
                                     % (b, " recompute" if rc else "", oom_at[rc]))
                    row = X.train_iter(timer, m, args.framework, sw["s"], b, accum, rc, 1 if mode == "tiny" else 2,
                                       3)
                    if row.get("oom"):
                        oom_at[rc] = min(oom_at.get(rc, b), b)
                    return [row]
                plan.append(Task("training", "train_iter %s b %d%s" % (args.framework, b, " recompute" if rc else ""),
                                 [ident("train_iter", model=m.name, layers=m.layers, h=m.h, s=sw["s"], b=b,
                                        grad_accum=accum, recompute=rc, framework=args.framework)], run))

    if "serving" in only:
        cuda = dev.type == "cuda"
        prefill_engine = "pytorch-eager-sdpa" if X.M.HAVE_SDPA else "pytorch-eager-math"
        decode_engine = "pytorch-static-kv-cudagraph" if cuda else "pytorch-static-kv-eager"
        holder = {}
        shape = m.shape_members()

        def model():
            if "m" not in holder:
                holder["m"] = None
                try:
                    holder["m"] = X.serving_model(m, dev)
                except Exception as e:  # noqa: BLE001
                    if not X.is_oom(e):
                        raise
                X.release()
            if holder["m"] is None:
                raise X.Skip("%s does not fit in one device's memory in bf16; serving rows skipped" % m.name)
            return holder["m"]

        for b in sw["prefill_b"]:
            for p in sw["prompts"]:
                def run(b=b, p=p):
                    try:
                        r = X.prefill(timer, model(), b, p)
                    except Exception as e:  # noqa: BLE001
                        if not X.is_oom(e):
                            raise
                        r = {"b": b, "prompt": p, "oom": True}
                    X.release()
                    return [dict({"kind": "prefill", "model": m.name, "engine": prefill_engine, "tp": 1}, **shape,
                                 **r)]
                plan.append(Task("serving", "prefill b %d prompt %d" % (b, p),
                                 [ident("prefill", model=m.name, layers=m.layers, h=m.h, engine=prefill_engine, b=b,
                                        prompt=p, tp=1)], run))
        for b in sw["decode_b"]:
            for c in sw["contexts"]:
                def run(b=b, c=c):
                    try:
                        r = X.decode_step(timer, model(), b, c, cuda)
                    except Exception as e:  # noqa: BLE001
                        if not X.is_oom(e):
                            raise
                        r = {"batch": b, "context": c, "oom": True}
                    X.release()
                    return [dict({"kind": "decode_step", "model": m.name, "engine": decode_engine, "tp": 1}, **shape,
                                 **r)]
                plan.append(Task("serving", "decode_step batch %d context %d" % (b, c),
                                 [ident("decode_step", model=m.name, layers=m.layers, h=m.h, engine=decode_engine,
                                        batch=b, context=c, tp=1)], run))
        plan.append(Task("serving", "release serving model", [], lambda: holder.clear() or X.release() or []))
    return plan


def _numel(shape):
    n = 1
    for x in shape:
        n *= x
    return n


def run_plan(plan, writer, tags, progress):
    """Run every task whose rows are not all in the file yet; write complete rows."""
    todo = [t for t in plan if not t.idents or not all(writer.done(i) for i in t.idents)]
    skipped = sum(len(t.idents) for t in plan) - sum(len(t.idents) for t in todo)
    if skipped:
        progress.note("%d rows already in %s: not measured again" % (skipped, writer.target))
    progress.total = len(todo)
    from .measure import Skip, is_oom, release
    for t in todo:
        progress.step(t.label, t.section)
        oom = False
        try:
            rows = t.run()
        except Skip as e:
            progress.note(str(e))
            continue
        except Exception as e:  # noqa: BLE001 - out of memory skips this measurement only
            if not is_oom(e):
                raise
            oom = True
        if oom:   # (the failed tensors are freed now that the exception is gone)
            release()
            progress.note("%s: out of memory, not measured" % t.label)
            continue
        for r in rows:
            row = {k: v for k, v in r.items() if v is not None}
            row.update((k, v) for k, v in tags.items() if v is not None)
            if not writer.done(row):
                writer.write(row)
    progress.done()


def engine_bench_rows(args, m):
    """Rows converted from --engine-bench (no torch needed)."""
    doc = engine_bench.load_manifest(args.engine_bench)
    if args.engine not in BUILTIN_ENGINES:
        doc.setdefault("engine", args.engine)
    if m is not None:
        doc.setdefault("model", m.name)
    gpu = args.gpu_name or doc.get("gpu")
    if not gpu:
        raise engine_bench.EngineBenchError("%s: name the GPU the benchmark ran on with --gpu-name (or \"gpu\" in "
                                            "the manifest)" % args.engine_bench)
    return engine_bench.convert(doc, args.engine_bench, gpu)


def main(argv=None, script_dir=None):
    script_dir = script_dir or os.path.dirname(os.path.abspath(__file__))
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        m = resolve_model(args, script_dir)
        if args.framework not in FRAMEWORKS:
            raise Fail("unknown framework '%s' (known: %s)" % (args.framework, ", ".join(FRAMEWORKS)))
        if args.only and not set(args.only.split(",")) <= set(SECTIONS):
            raise Fail("--only takes %s, not '%s'" % (",".join(SECTIONS), args.only))
        if args.engine_bench:
            rows = engine_bench_rows(args, m)
            writer = RowWriter(args.output, args.fresh)
            for r in rows:
                if not writer.done(r):
                    writer.write(r)
            writer.finish()
            sys.stderr.write("flotilla-profile: %d rows from %s in %s\n" % (writer.count, args.engine_bench,
                                                                            args.output))
            return 0
        if m is None:
            raise Fail("name the model to profile: --model NAME (data/models.csv) or --config config.json")
        if args.engine not in BUILTIN_ENGINES:
            raise Fail("engine '%s' is external: run its own latency benchmark and convert it with --engine-bench "
                       "FILE.json (docs/profile.md); the built-in engine is 'pytorch'" % args.engine)
        try:
            import torch
        except ImportError:
            raise Fail("PyTorch is not importable by %s (install it, e.g. pip install torch, or Debian's "
                       "python3-torch)" % sys.executable)
        if args.device == "cuda" and not torch.cuda.is_available():
            raise Fail("no CUDA GPU is visible to PyTorch %s (use --device cpu only to test the profiler)"
                       % torch.__version__)
        dev = torch.device("cuda", torch.cuda.current_device()) if args.device == "cuda" else torch.device("cpu")
        n_gpus = torch.cuda.device_count() if args.device == "cuda" else 0
    except (ShapeError, Fail, engine_bench.EngineBenchError) as e:
        sys.stderr.write("flotilla-profile: %s\n" % e)
        return USAGE_EXIT

    from . import measure as X
    torch.manual_seed(0)
    env = {k: v for k, v in X.env_row(dev, args.gpu_name).items() if v is not None}
    tags = {"gpu": env["gpu"], "device": dev.type}
    extra = {"torch": env["torch"], "cuda": env.get("cuda")}
    if dev.type == "cuda":
        extra["gpu_mem"] = env["mem"]
    sw = sweeps("tiny" if args.tiny else "full" if args.full else "quick", m)
    progress = Progress(0)
    plan = build_plan(args, m, sw, dev, tags, n_gpus, progress)
    writer = RowWriter(args.output, args.fresh)
    try:
        writer.write(env)
        run_plan(plan, writer, dict(tags, **extra), progress)
    except BaseException as e:  # noqa: BLE001 - keep the complete rows, say how to resume
        progress.done()
        # Ctrl-C inside autograd's engine arrives as a RuntimeError naming KeyboardInterrupt
        interrupted = isinstance(e, KeyboardInterrupt) or (isinstance(e, RuntimeError) and
                                                           str(e).startswith("KeyboardInterrupt"))
        writer.abandon("interrupted" if interrupted else "stopped by %s: %s" % (type(e).__name__, e))
        if interrupted:
            return 130
        raise
    writer.finish()
    sys.stderr.write("flotilla-profile: %d rows measured, written to %s\n" % (writer.count, args.output))
    return 0


__all__ = ["main", "row_key"]
