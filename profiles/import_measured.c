/* profiles/import_measured.c — measured timings, JSONL (one JSON object per line) → table `measured`.
 *
 * Kinds (the "kind" member of each line; docs/measured.md has every member):
 *   env           sets the default GPU ("gpu") and a note (torch/cuda) for the following lines; not stored
 *   gemm          m, n, k, dtype (bf16/fp16/fp32/tf32/fp8), seconds
 *   memcpy_d2d    bytes, seconds
 *   layer         h, a, ffn (default 4h), s, b, tp, dtype, attention (flash|standard), recompute, framework,
 *                 fwd_s_per_layer, fwdbwd_s_per_layer, act_bytes_per_layer (short names fwd_s, ... too)
 *   embedding, lm_head_loss   vocab, h, s, b, tp, dtype, fwd_s, fwdbwd_s
 *   optimizer_step            params, optimizer (adam|adamw|sgd), impl (fused|foreach|unfused), seconds
 *   allreduce, allgather, p2p bytes, gpus, seconds
 *   train_iter    model, layers, h, a, vocab, s, b, grad_accum, recompute, framework, iter_s,
 *                 peak_alloc_bytes, peak_reserved_bytes, params; or oom: true without times
 *   prefill       model, engine, b (or batch), prompt (or seq), tp, seconds
 *   decode_step   model, engine, batch, context, tp, seconds; or oom: true
 *   decode        (older kind) model, tp, batch, seq or context, seconds
 * Fixed columns hold what the simulator indexes on (GPU, kind, dtype, shape, seconds, model, tp,
 * oom); the whole row is stored as compact JSON with the members the importer filled in
 * (resolved GPU, inherited vocab / grad_accum / framework of train_iter rows, a catalog model's
 * shape, derived positions), read back into fl_measured by the catalog loader. Prefill/decode
 * rows also keep the model's hidden/heads/ffn in h/a/ffn, prompt or context in s, batch in b and
 * tp in m (as schema v1 did).
 * The GPU of a line is its "gpu" member (name or alias, e.g. the nvidia-smi product name) or the
 * last env line's. Re-importing a file replaces the rows of the earlier import of a file with the
 * same base name (their source starts with "<basename>:"). One transaction per file.
 */
#include "profiles/catalog.h"
#include "common/error.h"
#include "common/json_util.h"
#include "common/utf8.h"
#include "profiles/storage.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct meas_row {
    int gpu_index;
    const char *kind, *dtype, *model;
    long long h, a, ffn, s, b, m, n, k, tp;   /* 0 = NULL */
    int oom;
    double fwd_s, fwdbwd_s, act_bytes, seconds, bytes; /* < 0 = NULL */
} meas_row;

typedef struct meas_ctx {
    fl_catalog *cat;
    const char *path, *base;
    int line;
    int env_gpu;            /* -1: none yet */
    char env_note[160];
    json_t *last_train;     /* the previous train_iter row (borrowed from `held`), for inherited members */
    json_t *held;           /* owned reference keeping last_train alive */
} meas_ctx;

/* Integer member `key` (> 0). required: missing is an error; else *out stays 0. */
static fl_status get_int(const meas_ctx *c, json_t *o, const char *key, int required, long long *out, fl_error *err)
{
    json_t *v = json_object_get(o, key);
    if (!v) {
        if (required)
            return fl_fail(err, FL_EINVAL, key, "%s line %d: missing \"%s\"", c->path, c->line, key);
        return FL_OK;
    }
    double d = json_is_integer(v) ? (double)json_integer_value(v) : json_is_real(v) ? json_real_value(v) : -1;
    if (!json_is_number(v) || d < 1 || d != floor(d) || d > 9.2e18)
        return fl_fail(err, FL_EINVAL, key, "%s line %d: \"%s\" must be a positive integer", c->path, c->line, key);
    *out = (long long)d;
    return FL_OK;
}

/* Real member: the first present of key / alt (alt may be NULL); must be > 0 (>= 0 when zero_ok). */
static fl_status get_real(const meas_ctx *c, json_t *o, const char *key, const char *alt, int required, double *out,
                          fl_error *err)
{
    json_t *v = json_object_get(o, key);
    const char *name = key;
    if (!v && alt) {
        v = json_object_get(o, alt);
        name = alt;
    }
    if (!v) {
        if (required)
            return fl_fail(err, FL_EINVAL, key, "%s line %d: missing \"%s\"", c->path, c->line, key);
        return FL_OK;
    }
    if (!json_is_number(v) || !(json_number_value(v) > 0) || !isfinite(json_number_value(v)))
        return fl_fail(err, FL_EINVAL, name, "%s line %d: \"%s\" must be a positive number", c->path, c->line, name);
    *out = json_number_value(v);
    return FL_OK;
}

/* Optional string member; wrong type is an error. */
static fl_status get_str(const meas_ctx *c, json_t *o, const char *key, const char **out, fl_error *err)
{
    json_t *v = json_object_get(o, key);
    *out = NULL;
    if (!v)
        return FL_OK;
    if (!json_is_string(v))
        return fl_fail(err, FL_EINVAL, key, "%s line %d: \"%s\" must be a string", c->path, c->line, key);
    *out = json_string_value(v);
    return FL_OK;
}

/* Resolve a GPU name through the catalog aliases; the error names file, line and the name. */
static fl_status resolve_gpu(const meas_ctx *c, const char *name, int *out, fl_error *err)
{
    fl_error lerr;
    fl_error_clear(&lerr);
    int gi = fl_catalog_find_gpu(c->cat, name, "gpu", &lerr);
    if (gi < 0)
        return fl_fail(err, lerr.code ? lerr.code : FL_ENOTFOUND, "gpu", "%s line %d: %s", c->path, c->line,
                       lerr.message);
    *out = gi;
    return FL_OK;
}

/* Boolean member (true/false); absent leaves *out unchanged. */
static fl_status get_bool(const meas_ctx *c, json_t *o, const char *key, int *out, fl_error *err)
{
    json_t *v = json_object_get(o, key);
    if (!v)
        return FL_OK;
    if (!json_is_boolean(v))
        return fl_fail(err, FL_EINVAL, key, "%s line %d: \"%s\" must be true or false", c->path, c->line, key);
    *out = json_is_true(v);
    return FL_OK;
}

/* Optional string member that must be one of `names` (NULL-terminated); the error lists them. */
static fl_status get_enum(const meas_ctx *c, json_t *o, const char *key, const char *const *names, const char **out,
                          fl_error *err)
{
    fl_status rc = get_str(c, o, key, out, err);
    if (rc || !*out)
        return rc;
    char list[160] = "";
    for (int i = 0; names[i]; i++) {
        if (strcasecmp(*out, names[i]) == 0)
            return FL_OK;
        size_t n = strlen(list);
        snprintf(list + n, sizeof list - n, "%s%s", i ? ", " : "", names[i]);
    }
    return fl_fail(err, FL_EINVAL, key, "%s line %d: unknown %s '%s' (known: %s)", c->path, c->line, key, *out, list);
}

static const char *const frameworks[] = {"megatron", "torch-amp", NULL};
static const char *const activations[] = {"gelu", "swiglu", NULL};
static const char *const positionals[] = {"learned", "rope", NULL};
static const char *const attentions[] = {"flash", "standard", NULL};
static const char *const optimizers[] = {"adam", "adamw", "sgd", NULL};
static const char *const impls[] = {"fused", "foreach", "unfused", NULL};
static const char *const dtypes[] = {"bf16", "fp16", "fp32", "tf32", "fp8", "int8", "int4", NULL};

/* Write an integer member into the stored row (members the importer fills in or inherits). */
static void put_int(json_t *o, const char *key, long long v)
{
    json_object_set_new(o, key, json_integer(v));
}

/* The first present integer member of key / alt (both may be given as aliases, e.g. b / batch). */
static fl_status get_int2(const meas_ctx *c, json_t *o, const char *key, const char *alt, int required,
                          long long *out, fl_error *err)
{
    return get_int(c, o, json_object_get(o, key) || !alt ? key : alt, required, out, err);
}

/* Model of a prefill/decode row: a catalog name fills the shape; any other name must carry
 * layers, h, a, ffn and vocab (kv_heads defaults to a). The shape goes into r and the stored row. */
static fl_status model_shape(meas_ctx *c, json_t *o, meas_row *r, fl_error *err)
{
    fl_status rc;
    if ((rc = get_str(c, o, "model", &r->model, err)))
        return rc;
    if (!r->model || !*r->model)
        return fl_fail(err, FL_EINVAL, "model", "%s line %d: missing \"model\"", c->path, c->line);
    fl_error lerr;
    fl_error_clear(&lerr);
    int mi = fl_catalog_find_model(c->cat, r->model, "model", &lerr);
    if (mi >= 0) {
        const fl_model *m = &c->cat->models[mi];
        r->h = m->hidden;
        r->a = m->heads;
        r->ffn = m->ffn;
        put_int(o, "layers", m->layers);
        put_int(o, "h", m->hidden);
        put_int(o, "a", m->heads);
        put_int(o, "kv_heads", m->kv_heads);
        put_int(o, "ffn", m->ffn);
        put_int(o, "vocab", m->vocab);
        return FL_OK;
    }
    if (!json_object_get(o, "layers") || !json_object_get(o, "h"))
        return fl_fail(err, FL_ENOTFOUND, "model", "%s line %d: %s (a model outside the catalog needs its shape: "
                       "layers, h, a, ffn, vocab)", c->path, c->line, lerr.message);
    long long layers = 0, kv = 0, vocab = 0;
    if ((rc = get_int(c, o, "layers", 1, &layers, err)) || (rc = get_int(c, o, "h", 1, &r->h, err)) ||
        (rc = get_int(c, o, "a", 1, &r->a, err)) || (rc = get_int(c, o, "ffn", 1, &r->ffn, err)) ||
        (rc = get_int(c, o, "vocab", 1, &vocab, err)) || (rc = get_int(c, o, "kv_heads", 0, &kv, err)))
        return rc;
    if (r->h % r->a || r->a % (kv ? kv : r->a))
        return fl_fail(err, FL_EINVAL, "a", "%s line %d: h %lld is not a multiple of a %lld, or a of kv_heads",
                       c->path, c->line, r->h, r->a);
    if (!kv)
        put_int(o, "kv_heads", r->a);
    return FL_OK;
}

/* Members of a train_iter row that a later row may leave out (the out-of-memory rows of a sweep
 * carry only the shape): taken from the previous train_iter row of the file. */
static fl_status inherit_train(meas_ctx *c, json_t *o, const char *key, fl_error *err)
{
    if (json_object_get(o, key))
        return FL_OK;
    json_t *v = c->last_train ? json_object_get(c->last_train, key) : NULL;
    if (!v)
        return fl_fail(err, FL_EINVAL, key, "%s line %d: missing \"%s\" (and no earlier train_iter row to take it "
                       "from)", c->path, c->line, key);
    json_object_set(o, key, v);
    return FL_OK;
}

/* train_iter: the model's shape, recipe and measured iteration (or out-of-memory). Positions and
 * tied embeddings, when not given, follow from `params` and the shape (GPT layout: 12h^2 + 13h
 * per layer, token embedding, learned positions, final norm, LM head). */
static fl_status parse_train_iter(meas_ctx *c, json_t *o, meas_row *r, fl_error *err)
{
    fl_status rc;
    long long layers = 0, vocab = 0, accum = 0, pos = 0;
    int recompute = 0;
    const char *fw = NULL, *prec = NULL;
    if ((rc = get_str(c, o, "model", &r->model, err)) || (rc = get_bool(c, o, "oom", &r->oom, err)) ||
        (rc = inherit_train(c, o, "vocab", err)) || (rc = inherit_train(c, o, "grad_accum", err)))
        return rc;
    if (!json_object_get(o, "framework") && !(get_str(c, o, "precision", &prec, NULL) == FL_OK && prec &&
                                              strncmp(prec, "amp-", 4) == 0) &&
        (rc = inherit_train(c, o, "framework", err)))
        return rc;
    if ((rc = get_int(c, o, "layers", 1, &layers, err)) || (rc = get_int(c, o, "h", 1, &r->h, err)) ||
        (rc = get_int(c, o, "a", 1, &r->a, err)) || (rc = get_int(c, o, "ffn", 0, &r->ffn, err)) ||
        (rc = get_int(c, o, "s", 1, &r->s, err)) || (rc = get_int(c, o, "b", 1, &r->b, err)) ||
        (rc = get_int(c, o, "vocab", 1, &vocab, err)) || (rc = get_int(c, o, "grad_accum", 1, &accum, err)) ||
        (rc = get_int2(c, o, "positions", "max_positions", 0, &pos, err)) ||
        (rc = get_bool(c, o, "recompute", &recompute, err)) ||
        (rc = get_enum(c, o, "framework", frameworks, &fw, err)) ||
        (rc = get_real(c, o, "iter_s", NULL, !r->oom, &r->seconds, err)) ||
        (rc = get_real(c, o, "peak_alloc_bytes", NULL, 0, &r->bytes, err)))
        return rc;
    double params = -1, reserved = -1;
    if ((rc = get_real(c, o, "params", NULL, 0, &params, err)) ||
        (rc = get_real(c, o, "peak_reserved_bytes", NULL, 0, &reserved, err)))
        return rc;
    if (!r->model)
        return fl_fail(err, FL_EINVAL, "model", "%s line %d: missing \"model\"", c->path, c->line);
    if (r->h % r->a)
        return fl_fail(err, FL_EINVAL, "a", "%s line %d: h %lld is not a multiple of a %lld", c->path, c->line, r->h,
                       r->a);
    if (!fw)
        json_object_set_new(o, "framework", json_string("torch-amp")); /* "amp-..." precision strings */
    if (!r->ffn)
        put_int(o, "ffn", r->ffn = 4 * r->h);
    const char *posk = NULL;
    get_str(c, o, "positional", &posk, NULL);
    if (!pos && posk && strcasecmp(posk, "rope") == 0)
        put_int(o, "positions", pos = r->s); /* no position table: nothing to derive */
    if (!pos) {
        double h = (double)r->h, body = layers * (12 * h * h + 13 * h) + 2 * h;
        json_t *tv = json_object_get(o, "tied_embeddings"); /* a given value is kept, not derived */
        int given = json_is_boolean(tv), tied = given && json_is_true(tv);
        double p = params > 0 ? (params - body - (tied ? 1 : 2) * vocab * h) / h : 0;
        if (!given && params > 0 && !(p >= 1)) { /* the head shares the embedding */
            p = (params - body - vocab * h) / h;
            tied = 1;
        }
        pos = p >= 1 && p == floor(p) ? (long long)p : r->s;
        if (!given && tied && p >= 1)
            json_object_set_new(o, "tied_embeddings", json_true());
        put_int(o, "positions", pos);
    }
    if (r->oom && json_object_get(o, "iter_s"))
        return fl_fail(err, FL_EINVAL, "iter_s", "%s line %d: an out-of-memory row carries no iter_s", c->path,
                       c->line);
    return FL_OK;
}

/* Fill *r from one parsed line (the stored row `o` gains the members filled in). *store = 0 for
 * env lines. */
static fl_status parse_line(meas_ctx *c, json_t *o, meas_row *r, int *store, char *note, size_t note_cap,
                            fl_error *err)
{
    memset(r, 0, sizeof *r);
    r->fwd_s = r->fwdbwd_s = r->act_bytes = r->seconds = r->bytes = -1;
    note[0] = '\0';
    *store = 1;
    fl_status rc;
    const char *kind, *gpu, *s1 = NULL;
    if ((rc = get_str(c, o, "kind", &kind, err)) || (rc = get_str(c, o, "gpu", &gpu, err)) ||
        (rc = get_enum(c, o, "dtype", dtypes, &r->dtype, err)) || (rc = get_int(c, o, "tp", 0, &r->tp, err)) ||
        (rc = get_enum(c, o, "framework", frameworks, &s1, err)) || (rc = get_str(c, o, "engine", &s1, err)) ||
        (rc = get_enum(c, o, "activation", activations, &s1, err)) ||
        (rc = get_enum(c, o, "positional", positionals, &s1, err)))
        return rc;
    if (!kind)
        return fl_fail(err, FL_EINVAL, "kind", "%s line %d: missing \"kind\"", c->path, c->line);
    r->kind = kind;
    if (strcmp(kind, "env") == 0) {
        *store = 0;
        if (gpu && (rc = resolve_gpu(c, gpu, &c->env_gpu, err)))
            return rc;
        const char *torch = NULL, *cuda = NULL;
        get_str(c, o, "torch", &torch, NULL);
        get_str(c, o, "cuda", &cuda, NULL);
        c->env_note[0] = '\0';
        if (torch || cuda)
            snprintf(c->env_note, sizeof c->env_note, " (torch %s, cuda %s)", torch ? torch : "?", cuda ? cuda : "?");
        return FL_OK;
    }
    if (gpu) {
        if ((rc = resolve_gpu(c, gpu, &r->gpu_index, err)))
            return rc;
    } else if (c->env_gpu >= 0) {
        r->gpu_index = c->env_gpu;
    } else {
        return fl_fail(err, FL_EINVAL, "gpu", "%s line %d: no \"gpu\" member and no earlier env line naming the GPU",
                       c->path, c->line);
    }
    json_object_set_new(o, "gpu", json_string(c->cat->gpus[r->gpu_index].name));
    if (!r->tp)
        r->tp = 1;
    if (strcmp(kind, "layer") == 0) {
        int recompute = 0;
        if ((rc = get_int(c, o, "h", 1, &r->h, err)) || (rc = get_int(c, o, "a", 1, &r->a, err)) ||
            (rc = get_int(c, o, "ffn", 0, &r->ffn, err)) || (rc = get_int(c, o, "s", 1, &r->s, err)) ||
            (rc = get_int(c, o, "b", 1, &r->b, err)) || (rc = get_enum(c, o, "attention", attentions, &s1, err)) ||
            (rc = get_bool(c, o, "recompute", &recompute, err)) ||
            (rc = get_real(c, o, "fwd_s_per_layer", "fwd_s", 1, &r->fwd_s, err)) ||
            (rc = get_real(c, o, "fwdbwd_s_per_layer", "fwdbwd_s", 0, &r->fwdbwd_s, err)) ||
            (rc = get_real(c, o, "act_bytes_per_layer", "act_bytes", 0, &r->act_bytes, err)))
            return rc;
        if (!r->ffn)
            put_int(o, "ffn", r->ffn = 4 * r->h);
        if (r->a % r->tp || r->h % r->a)
            return fl_fail(err, FL_EINVAL, "tp", "%s line %d: tp %lld must divide a %lld, and a divide h %lld",
                           c->path, c->line, r->tp, r->a, r->h);
        if (r->fwdbwd_s > 0 && r->fwdbwd_s <= r->fwd_s)
            return fl_fail(err, FL_EINVAL, "fwdbwd_s_per_layer", "%s line %d: \"fwdbwd_s_per_layer\" %g s must "
                           "exceed \"fwd_s_per_layer\" %g s", c->path, c->line, r->fwdbwd_s, r->fwd_s);
    } else if (strcmp(kind, "gemm") == 0) {
        if ((rc = get_int(c, o, "m", 1, &r->m, err)) || (rc = get_int(c, o, "n", 1, &r->n, err)) ||
            (rc = get_int(c, o, "k", 1, &r->k, err)) || (rc = get_real(c, o, "seconds", NULL, 1, &r->seconds, err)))
            return rc;
    } else if (strncmp(kind, "memcpy", 6) == 0) {
        if ((rc = get_real(c, o, "bytes", NULL, 1, &r->bytes, err)) ||
            (rc = get_real(c, o, "seconds", NULL, 1, &r->seconds, err)))
            return rc;
    } else if (strcmp(kind, "embedding") == 0 || strcmp(kind, "lm_head_loss") == 0) {
        long long vocab = 0;
        if ((rc = get_int(c, o, "vocab", 1, &vocab, err)) || (rc = get_int(c, o, "h", 1, &r->h, err)) ||
            (rc = get_int(c, o, "s", 1, &r->s, err)) || (rc = get_int(c, o, "b", 1, &r->b, err)) ||
            (rc = get_real(c, o, "fwd_s", NULL, 1, &r->fwd_s, err)) ||
            (rc = get_real(c, o, "fwdbwd_s", NULL, 0, &r->fwdbwd_s, err)))
            return rc;
        if (r->fwdbwd_s > 0 && r->fwdbwd_s <= r->fwd_s)
            return fl_fail(err, FL_EINVAL, "fwdbwd_s", "%s line %d: \"fwdbwd_s\" %g s must exceed \"fwd_s\" %g s",
                           c->path, c->line, r->fwdbwd_s, r->fwd_s);
    } else if (strcmp(kind, "optimizer_step") == 0) {
        double params = -1;
        if ((rc = get_real(c, o, "params", NULL, 1, &params, err)) ||
            (rc = get_enum(c, o, "optimizer", optimizers, &s1, err)) ||
            (rc = get_enum(c, o, "impl", impls, &s1, err)) ||
            (rc = get_enum(c, o, "param_dtype", dtypes, &s1, err)) ||
            (rc = get_real(c, o, "seconds", NULL, 1, &r->seconds, err)))
            return rc;
    } else if (strcmp(kind, "allreduce") == 0 || strcmp(kind, "allgather") == 0 || strcmp(kind, "p2p") == 0) {
        long long gpus = 0;
        int p2p = kind[0] == 'p';
        if ((rc = get_real(c, o, "bytes", NULL, 1, &r->bytes, err)) ||
            (rc = get_int(c, o, "gpus", !p2p, &gpus, err)) ||
            (rc = get_real(c, o, "seconds", NULL, 1, &r->seconds, err)))
            return rc;
        if (gpus == 1 || (p2p && gpus > 2))
            return fl_fail(err, FL_EINVAL, "gpus", "%s line %d: \"gpus\": a %s needs %s GPUs, not %lld", c->path, c->line, kind,
                           p2p ? "2" : "2 or more", gpus);
        if (!gpus)
            put_int(o, "gpus", 2);
    } else if (strcmp(kind, "train_iter") == 0) {
        if ((rc = parse_train_iter(c, o, r, err)))
            return rc;
        snprintf(note, note_cap, "; model %s b %lld%s", r->model, r->b, r->oom ? " (out of memory)" : "");
    } else if (strcmp(kind, "decode") == 0 || strcmp(kind, "prefill") == 0 || strcmp(kind, "decode_step") == 0) {
        int prefill = kind[0] == 'p';
        const char *len_key = prefill ? (json_object_get(o, "prompt") ? "prompt" : "seq")
                                      : (json_object_get(o, "context") ? "context" : "seq");
        if ((rc = model_shape(c, o, r, err)) || (rc = get_bool(c, o, "oom", &r->oom, err)) ||
            (rc = get_int2(c, o, "batch", "b", 1, &r->b, err)) || (rc = get_int(c, o, len_key, 1, &r->s, err)) ||
            (rc = get_real(c, o, "seconds", NULL, !r->oom, &r->seconds, err)))
            return rc;
        if (r->oom && r->seconds > 0)
            return fl_fail(err, FL_EINVAL, "seconds", "%s line %d: an out-of-memory row carries no seconds", c->path,
                           c->line);
        if (r->a % r->tp)
            return fl_fail(err, FL_EINVAL, "tp", "%s line %d: tp %lld does not divide the %lld heads", c->path,
                           c->line, r->tp, r->a);
        r->m = r->tp;
        snprintf(note, note_cap, "; model %s tp %lld %s %lld%s", r->model, r->tp, len_key, r->s,
                 r->oom ? " (out of memory)" : "");
    } else {
        return fl_fail(err, FL_EINVAL, "kind", "%s line %d: unknown kind '%s' (env, gemm, memcpy_d2d, layer, embedding, "
                       "lm_head_loss, optimizer_step, allreduce, allgather, p2p, train_iter, prefill, decode_step, "
                       "decode)", c->path, c->line, kind);
    }
    return FL_OK;
}

static void bind_int(sqlite3_stmt *st, int i, long long v)
{
    if (v > 0)
        sqlite3_bind_int64(st, i, v);
    else
        sqlite3_bind_null(st, i);
}

static void bind_real(sqlite3_stmt *st, int i, double v)
{
    if (v >= 0)
        sqlite3_bind_double(st, i, v);
    else
        sqlite3_bind_null(st, i);
}

/* Read the file line by line and insert each row, inside the caller's transaction. */
static fl_status import_file(meas_ctx *c, FILE *f, sqlite3_stmt *ins, size_t *rows, fl_error *err)
{
    char *line = NULL;
    size_t cap = 0;
    long len;
    size_t total = 0;
    fl_status rc = FL_OK;
    while (rc == FL_OK && (len = fl_getline_max(&line, &cap, &total, f)) >= 0) {
        c->line++;
        if ((rc = fl_utf8_check(line, (size_t)len, c->path, c->line, err)))
            break;
        const char *p = line;
        while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
            p++;
        if (!*p)
            continue; /* blank line */
        json_error_t jerr;
        json_t *o = json_loadb(line, (size_t)len, 0, &jerr);
        if (!o) {
            rc = fl_fail(err, FL_EPARSE, "line", "%s line %d column %d: malformed JSON: %s", c->path, c->line,
                         jerr.column, jerr.text);
            break;
        }
        if (!json_is_object(o)) {
            json_decref(o);
            rc = fl_fail(err, FL_EPARSE, "line", "%s line %d: expected one JSON object per line", c->path, c->line);
            break;
        }
        meas_row r;
        int store;
        char note[160];
        rc = parse_line(c, o, &r, &store, note, sizeof note, err);
        if (rc == FL_OK && store) {
            char src[512];
            snprintf(src, sizeof src, "%s:%d%s%s", c->base, c->line, c->env_note, note);
            sqlite3_reset(ins);
            sqlite3_clear_bindings(ins);
            sqlite3_bind_text(ins, 1, c->cat->gpus[r.gpu_index].name, -1, SQLITE_TRANSIENT);
            sqlite3_bind_text(ins, 2, r.kind, -1, SQLITE_TRANSIENT);
            if (r.dtype)
                sqlite3_bind_text(ins, 3, r.dtype, -1, SQLITE_TRANSIENT);
            bind_int(ins, 4, r.h);
            bind_int(ins, 5, r.a);
            bind_int(ins, 6, r.ffn);
            bind_int(ins, 7, r.s);
            bind_int(ins, 8, r.b);
            bind_int(ins, 9, r.m);
            bind_int(ins, 10, r.n);
            bind_int(ins, 11, r.k);
            bind_real(ins, 12, r.fwd_s);
            bind_real(ins, 13, r.fwdbwd_s);
            bind_real(ins, 14, r.act_bytes);
            bind_real(ins, 15, r.seconds);
            bind_real(ins, 16, r.bytes);
            sqlite3_bind_text(ins, 17, src, -1, SQLITE_TRANSIENT);
            if (r.model)
                sqlite3_bind_text(ins, 18, r.model, -1, SQLITE_TRANSIENT);
            sqlite3_bind_int64(ins, 19, r.tp);
            sqlite3_bind_int(ins, 20, r.oom);
            char *row = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
            if (row)
                sqlite3_bind_text(ins, 21, row, -1, SQLITE_TRANSIENT);
            free(row);
            if (!row)
                rc = fl_fail(err, FL_ENOMEM, "measured", "%s line %d: out of memory", c->path, c->line);
            else if (sqlite3_step(ins) != SQLITE_DONE)
                rc = fl_catalog_fail(c->cat, err, FL_ECATALOG, "measured", "%s line %d: rejected by table measured: %s", c->path,
                             c->line, sqlite3_errmsg(c->cat->db));
            else
                (*rows)++;
        }
        if (rc == FL_OK && store && strcmp(r.kind, "train_iter") == 0) {
            json_decref(c->held);
            c->held = json_incref(o);
            c->last_train = o;
        }
        json_decref(o);
    }
    if (rc == FL_OK && len == -2)
        rc = fl_fail(err, FL_EINVAL, "measured", "%s is larger than the %d MiB input limit", c->path,
                     (int)(FL_INPUT_MAX >> 20));
    if (rc == FL_OK && len == -3)
        rc = fl_fail(err, FL_EPARSE, "measured", "%s line %d: a NUL byte (not a text file)", c->path, c->line + 1);
    free(line);
    json_decref(c->held);
    c->held = c->last_train = NULL;
    if (rc == FL_OK && ferror(f))
        rc = fl_fail(err, FL_EIO, "measured", "error reading %s", c->path);
    if (rc == FL_OK && *rows == 0)
        rc = fl_fail(err, FL_EINVAL, "measured", "%s: no measurement lines (only env or blank lines)", c->path);
    return rc;
}

fl_status fl_catalog_import_measured(fl_catalog *cat, const char *jsonl_path, size_t *rows_out, fl_error *err)
{
    if (!cat || !jsonl_path)
        return fl_fail(err, FL_EMISUSE, "measured", "fl_catalog_import_measured: catalog or path is NULL");
    FILE *f = fopen(jsonl_path, "rb");
    if (!f)
        return fl_fail(err, FL_EIO, "measured", "cannot read measured JSONL %s: %s", jsonl_path, strerror(errno));
    meas_ctx c;
    memset(&c, 0, sizeof c);
    c.cat = cat;
    c.path = jsonl_path;
    const char *slash = strrchr(jsonl_path, '/');
    c.base = slash ? slash + 1 : jsonl_path;
    c.env_gpu = -1;
    fl_status rc = fl_catalog_exec(cat, "BEGIN", err);
    if (rc) {
        fclose(f);
        return rc;
    }
    sqlite3_stmt *del = NULL, *ins = NULL;
    char prefix[300];
    snprintf(prefix, sizeof prefix, "%s:", c.base);
    if (sqlite3_prepare_v2(cat->db, "DELETE FROM measured WHERE substr(source, 1, ?1) = ?2", -1, &del, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(cat->db, "INSERT INTO measured(gpu, kind, dtype, h, a, ffn, s, b, m, n, k, fwd_s, fwdbwd_s,"
                           " act_bytes, seconds, bytes, source, model, tp, oom, row)"
                           " VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                           -1, &ins, NULL) != SQLITE_OK)
        rc = fl_catalog_fail(cat, err, FL_ECATALOG, "measured", "catalog %s: %s", cat->path, sqlite3_errmsg(cat->db));
    if (rc == FL_OK) {
        sqlite3_bind_int(del, 1, (int)strlen(prefix));
        sqlite3_bind_text(del, 2, prefix, -1, SQLITE_STATIC);
        if (sqlite3_step(del) != SQLITE_DONE)
            rc = fl_catalog_fail(cat, err, FL_ECATALOG, "measured", "catalog %s: %s", cat->path, sqlite3_errmsg(cat->db));
    }
    size_t rows = 0;
    if (rc == FL_OK)
        rc = import_file(&c, f, ins, &rows, err);
    sqlite3_finalize(del);
    sqlite3_finalize(ins);
    fclose(f);
    if ((rc = fl_catalog_end_import(cat, rc, err)))
        return rc;
    if (rows_out)
        *rows_out = rows;
    return FL_OK;
}
