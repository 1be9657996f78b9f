"""Model shapes for flotilla-profile: the catalog (data/models.csv), Hugging Face config.json files,
the --tiny reduction and Megatron-style tensor-parallel splitting.  Pure Python (no torch), so the
unit tests run anywhere."""

import csv
import json
import os


class ShapeError(ValueError):
    """A model name, config file or tp degree that cannot be profiled; the message says why."""


class ModelShape:
    """A decoder-only transformer: what the profiler needs to build one layer or the whole model."""

    FIELDS = ("name", "layers", "h", "a", "kv", "ffn", "vocab", "activation", "tied", "positional",
              "max_positions")

    def __init__(self, name, layers, h, a, kv=None, ffn=None, vocab=50304, activation="gelu", tied=False,
                 positional="learned", max_positions=2048):
        self.name = name
        self.layers = int(layers)
        self.h = int(h)
        self.a = int(a)
        self.kv = int(kv) if kv else self.a
        self.ffn = int(ffn) if ffn else 4 * self.h
        self.vocab = int(vocab)
        self.activation = activation
        self.tied = bool(tied)
        self.positional = positional
        self.max_positions = int(max_positions)
        self.check()

    def check(self):
        """Reject shapes no decoder layer can have (the message names the field)."""
        for f in ("layers", "h", "a", "kv", "ffn", "vocab", "max_positions"):
            if getattr(self, f) < 1:
                raise ShapeError("model %s: %s must be a positive integer, not %d" % (self.name, f, getattr(self, f)))
        if self.h % self.a:
            raise ShapeError("model %s: hidden size %d is not a multiple of the %d heads" % (self.name, self.h, self.a))
        if self.a % self.kv:
            raise ShapeError("model %s: %d heads are not a multiple of the %d kv heads" % (self.name, self.a, self.kv))
        if self.activation not in ("gelu", "swiglu"):
            raise ShapeError("model %s: activation %r is not gelu or swiglu" % (self.name, self.activation))
        if self.positional not in ("learned", "rope"):
            raise ShapeError("model %s: positional %r is not learned or rope" % (self.name, self.positional))

    @property
    def head_dim(self):
        return self.h // self.a

    def layer_params(self):
        """Parameters of one decoder layer (norms, fused QKV, projection, MLP; biases for gelu models)."""
        h, hd = self.h, self.head_dim
        qkv = h * (self.a + 2 * self.kv) * hd
        proj = self.a * hd * h
        if self.activation == "gelu":
            return qkv + (self.a + 2 * self.kv) * hd + proj + h + 2 * h * self.ffn + self.ffn + h + 4 * h
        return qkv + proj + 3 * h * self.ffn + 2 * h

    def params(self):
        """Parameters of the whole model as the profiler builds it."""
        emb = self.vocab * self.h + (self.max_positions * self.h if self.positional == "learned" else 0)
        final_norm = 2 * self.h if self.activation == "gelu" else self.h
        head = 0 if self.tied else self.vocab * self.h
        return self.layers * self.layer_params() + emb + final_norm + head

    def shape_members(self):
        """The members a measured row carries so that a model outside the catalog is understood."""
        return {"layers": self.layers, "h": self.h, "a": self.a, "kv_heads": self.kv, "ffn": self.ffn,
                "vocab": self.vocab, "activation": self.activation}

    def __eq__(self, other):
        return isinstance(other, ModelShape) and all(getattr(self, f) == getattr(other, f) for f in self.FIELDS)

    def __repr__(self):
        return "ModelShape(%s)" % ", ".join("%s=%r" % (f, getattr(self, f)) for f in self.FIELDS)


def find_models_csv(pkg_dir):
    """The catalog's models.csv: installed next to the flprofile package (share/flotilla/profile),
    or data/models.csv of the source tree (tools/profile/flprofile -> ../../../data)."""
    for cand in (os.path.join(pkg_dir, "..", "models.csv"),
                 os.path.join(pkg_dir, "..", "..", "..", "data", "models.csv")):
        if os.path.isfile(cand):
            return os.path.normpath(cand)
    return None


def load_catalog(path):
    """Catalog models by lower-case name and alias -> ModelShape."""
    out = {}
    with open(path, newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            m = ModelShape(row["name"], row["layers"], row["hidden"], row["heads"], row["kv_heads"], row["ffn"],
                           row["vocab"], "swiglu" if row["activation"] == "swiglu" else "gelu",
                           row["tied_embeddings"] == "1", "rope" if row["positional"] == "rope" else "learned",
                           row["max_positions"] or 2048)
            m.experts = int(row.get("experts") or 1)
            for n in [row["name"]] + [x for x in (row.get("aliases") or "").split(";") if x]:
                out[n.lower()] = m
    return out


def from_catalog(name, catalog):
    """The catalog model called `name` (or an alias); ShapeError lists a few known names otherwise."""
    m = catalog.get(name.lower())
    if m is None:
        names = sorted({v.name for v in catalog.values()})
        raise ShapeError("unknown model '%s' (catalog models: %s; or give --config config.json)"
                         % (name, ", ".join(names)))
    if getattr(m, "experts", 1) > 1:
        raise ShapeError("model '%s' is a mixture of experts; flotilla-profile measures dense decoder layers only"
                         % name)
    return m


_NOT_DECODER = ("bert", "roberta", "deberta", "distilbert", "electra", "albert", "t5", "mt5", "bart", "mbart",
                "pegasus", "marian", "whisper", "vit", "clip", "encoder-decoder", "xlm-roberta", "longt5")
_ROPE_TYPES = ("llama", "mistral", "mixtral", "qwen2", "qwen3", "gemma", "gemma2", "phi3", "gpt_neox", "falcon",
               "olmo", "internlm2", "yi", "deepseek", "stablelm")


def _first(cfg, *keys):
    for k in keys:
        if cfg.get(k) is not None:
            return cfg[k]
    return None


def from_hf_config(path):
    """A decoder-only transformer from a Hugging Face config.json; anything else is a ShapeError."""
    try:
        with open(path, encoding="utf-8") as f:
            cfg = json.load(f)
    except OSError as e:
        raise ShapeError("cannot read config %s: %s" % (path, e.strerror or e))
    except ValueError as e:
        raise ShapeError("config %s is not valid JSON: %s" % (path, e))
    if not isinstance(cfg, dict):
        raise ShapeError("config %s: expected a JSON object" % path)
    mtype = str(cfg.get("model_type", "")).lower()
    archs = [str(a) for a in cfg.get("architectures") or []]
    if cfg.get("is_encoder_decoder") or mtype in _NOT_DECODER or \
            any(x in a for a in archs for x in ("MaskedLM", "Seq2Seq", "Encoder", "ForSequenceClassification")):
        raise ShapeError("config %s: model_type '%s' (%s) is not a decoder-only transformer"
                         % (path, mtype or "?", ", ".join(archs) or "no architectures"))
    if cfg.get("num_local_experts", 1) not in (None, 0, 1) or cfg.get("n_routed_experts"):
        raise ShapeError("config %s: a mixture-of-experts model; flotilla-profile measures dense decoder layers only"
                         % path)
    h = _first(cfg, "hidden_size", "n_embd", "d_model")
    layers = _first(cfg, "num_hidden_layers", "n_layer", "num_layers")
    a = _first(cfg, "num_attention_heads", "n_head", "num_heads")
    vocab = _first(cfg, "vocab_size")
    missing = [k for k, v in (("hidden_size", h), ("num_hidden_layers", layers), ("num_attention_heads", a),
                              ("vocab_size", vocab)) if not isinstance(v, int) or isinstance(v, bool)]
    if missing:
        raise ShapeError("config %s: not a decoder-only transformer config (missing or non-integer %s)"
                         % (path, ", ".join(missing)))
    kv = _first(cfg, "num_key_value_heads", "multi_query_group_num") or a
    if cfg.get("multi_query") is True:
        kv = 1
    act = str(_first(cfg, "hidden_act", "activation_function") or "gelu").lower()
    ffn = _first(cfg, "intermediate_size", "n_inner", "ffn_dim", "ffn_hidden_size") or 4 * h
    swiglu = act in ("silu", "swish", "swiglu") and mtype not in ("opt", "gpt2", "gpt_neo", "gptj")
    rope = mtype in _ROPE_TYPES or "rope_theta" in cfg or "rotary_dim" in cfg
    tied = bool(cfg.get("tie_word_embeddings", not swiglu))
    maxpos = _first(cfg, "max_position_embeddings", "n_positions", "n_ctx", "seq_length") or 2048
    name = cfg.get("_name_or_path") or os.path.basename(os.path.dirname(os.path.abspath(path))) or "custom"
    return ModelShape(name, layers, h, a, kv, ffn, vocab, "swiglu" if swiglu else "gelu", tied,
                      "rope" if rope else "learned", maxpos)


def tiny(m):
    """The --tiny version of a model: same family (activation, GQA ratio, positions, ffn/h ratio),
    a few hundred thousand parameters, named '<name>-tiny' so it is never taken for the catalog model."""
    a = 4
    kv = a if m.kv == m.a else max(1, a * m.kv // m.a) if (a * m.kv) % m.a == 0 else 2
    h = 64
    ffn = max(8, int(round(m.ffn * h / m.h / 8.0)) * 8)
    return ModelShape(m.name + "-tiny", 2, h, a, kv, ffn, 512, m.activation, m.tied, m.positional, 128)


class TpShard:
    """One rank's share of a decoder layer under Megatron tensor parallelism: QKV and fc1 (gate/up)
    column-split (heads, kv heads and ffn divided by tp), proj and fc2 row-split (their input
    dimension divided by tp); norms replicated.  When tp exceeds the kv heads, each rank keeps one
    kv head (replicated, as Megatron does for grouped-query attention)."""

    def __init__(self, m, tp):
        if tp < 1:
            raise ShapeError("tp must be >= 1, not %d" % tp)
        if m.a % tp:
            raise ShapeError("tp %d does not divide the %d attention heads of %s" % (tp, m.a, m.name))
        if m.kv % tp and tp % m.kv:
            raise ShapeError("tp %d neither divides nor is a multiple of the %d kv heads of %s" % (tp, m.kv, m.name))
        if m.ffn % tp:
            raise ShapeError("tp %d does not divide ffn %d of %s" % (tp, m.ffn, m.name))
        self.tp = tp
        self.h = m.h
        self.head_dim = m.head_dim
        self.heads = m.a // tp
        self.kv_heads = max(1, m.kv // tp)
        self.ffn = m.ffn // tp
        self.qkv_out = (self.heads + 2 * self.kv_heads) * self.head_dim   # column-parallel output
        self.proj_in = self.heads * self.head_dim                         # row-parallel input
        self.fc1_out = self.ffn * (2 if m.activation == "swiglu" else 1)  # column-parallel (gate+up)
        self.fc2_in = self.ffn                                            # row-parallel input
        # vocabulary-parallel embedding / LM head: rows padded to a multiple of 128 * tp (Megatron)
        pad = 128 * tp
        self.vocab = ((m.vocab + pad - 1) // pad) * pad // tp if tp > 1 else m.vocab

    def matmul_flops_fwd(self, tokens):
        """Forward matmul FLOPs of the four weight matrices of this shard for `tokens` tokens."""
        return 2 * tokens * self.h * (self.qkv_out + self.fc1_out) + 2 * tokens * self.h * (self.proj_in + self.fc2_in)


def tp_degrees(m, wanted):
    """The tp degrees from `wanted` that split model m (heads, kv heads and ffn)."""
    out = []
    for t in wanted:
        try:
            TpShard(m, t)
            out.append(t)
        except ShapeError:
            pass
    return out


def layer_flops_fwd(m, s, b, tp=1):
    """Forward FLOPs of one layer shard: the weight matmuls plus QK^T and AV over all s x s scores
    (24bsh^2 + 4bs^2h for a GPT layer with ffn 4h at tp 1, as the calibration rows count it)."""
    sh = TpShard(m, tp)
    return sh.matmul_flops_fwd(b * s) + 4 * b * s * s * sh.heads * sh.head_dim


def gemm_sizes(mode):
    """(m, n, k) of the GEMM sweep: square sizes, transformer-like and skinny (few rows) shapes."""
    if mode == "tiny":
        return [(64, 64, 64), (128, 128, 128), (1, 128, 128), (8, 256, 64)]
    sizes = [(8192, 8192, 8192), (4096, 4096, 4096), (2048, 2048, 2048), (1024, 1024, 1024),
             (16384, 12288, 4096), (16384, 4096, 4096), (16384, 16384, 4096), (4096, 16384, 4096),
             (1, 4096, 4096), (32, 4096, 4096), (128, 4096, 4096), (4096, 4096, 128), (4096, 128, 16384)]
    if mode == "full":
        sizes += [(512, 512, 512), (8, 8192, 8192), (256, 8192, 8192), (16384, 1536, 4096), (16384, 4096, 1536),
                  (2048, 8192, 28672), (1, 8192, 28672), (65536, 1024, 1024)]
    return sizes
