/* simulator/train_measured.c — a measured train_iter row as a model, a setup and a one-GPU plan,
 * and the simulator's prediction of its iteration time, peak memory and out-of-memory. */
#include "simulator/train_measured.h"
#include "common/error.h"

#include <string.h>

void fl_train_row_shape(const fl_measured *r, int layers, fl_model *m, fl_train_setup *s)
{
    memset(m, 0, sizeof *m);
    m->name = r->model ? r->model : "measured";
    m->layers = layers;
    m->hidden = r->h;
    m->heads = r->a;
    m->kv_heads = r->kv_heads > 0 ? r->kv_heads : r->a;
    m->ffn = r->ffn > 0 ? r->ffn : 4 * r->h;
    m->vocab = r->vocab > 0 ? r->vocab : 50304;
    m->activation = FL_ACT_GELU;
    m->tied_embeddings = r->tied_embeddings;
    m->max_positions = r->positions > 0 ? r->positions : r->s;
    m->experts = m->top_k = 1;
    fl_model_derive(m);
    memset(s, 0, sizeof *s);
    s->model = m;
    s->seq_len = r->s;
    s->micro_batch = r->b;
    int dt = r->dtype ? fl_dtype_parse(r->dtype) : FL_DT_BF16;
    s->compute_dtype = dt < 0 ? FL_DT_BF16 : (fl_dtype)dt;
    s->master_weights = !fl_dtype_is_fp32(s->compute_dtype);
    s->grad_dtype = FL_DT_FP32;
    s->recompute = r->recompute ? FL_RC_FULL : FL_RC_NONE;
    s->flash = !r->attention || strcmp(r->attention, "standard") != 0;
    s->interleave = 1;
    s->dp_overlap = 1;
}

fl_status fl_train_row_setup(const fl_measured *r, fl_model *m, fl_train_setup *s, fl_error *err)
{
    if (!r || !r->kind || strcmp(r->kind, "train_iter") != 0)
        return fl_fail(err, FL_EINVAL, "kind", "measured row: not a train_iter row");
    if (r->layers <= 0 || r->h <= 0 || r->a <= 0 || r->s <= 0 || r->b <= 0 || r->vocab <= 0)
        return fl_fail(err, FL_EINVAL, "train_iter", "measured row %s: incomplete train_iter shape",
                       r->source ? r->source : "?");
    fl_train_row_shape(r, r->layers, m, s);
    int fw = r->framework ? fl_framework_parse(r->framework) : FL_FW_TORCH_AMP;
    s->framework = fw < 0 ? FL_FW_TORCH_AMP : (fl_framework)fw;
    s->optimizer = r->optimizer && strcmp(r->optimizer, "sgd") == 0 ? FL_OPT_SGD : FL_OPT_ADAMW;
    s->optimizer_impl = r->impl && strcmp(r->impl, "foreach") == 0   ? FL_OPT_FOREACH
                        : r->impl && strcmp(r->impl, "unfused") == 0 ? FL_OPT_UNFUSED
                                                                     : FL_OPT_FUSED;
    return FL_OK;
}

fl_status fl_train_row_predict(const fl_catalog *cat, const fl_measured *r, fl_train_row_pred *out, fl_error *err)
{
    fl_model m;
    fl_train_setup s;
    fl_status rc = fl_train_row_setup(r, &m, &s, err);
    if (rc)
        return rc;
    if (r->gpu_index < 0)
        return fl_fail(err, FL_ENOTFOUND, "gpu", "measured row %s: GPU %s is not in the catalog",
                       r->source ? r->source : "?", r->gpu ? r->gpu : "?");
    fl_train_stage st = {0, m.layers, r->gpu_index, 0, r->tp > 0 ? r->tp : 1};
    fl_train_pipeline pl = {1, r->grad_accum > 0 ? r->grad_accum : 1, 1, &st};
    fl_train_stage_result sr;
    fl_train_result res = {0};
    res.stages = &sr;
    res.n_stage_results = 1;
    if ((rc = fl_train_simulate(cat, &s, &pl, 1, &res, err)))
        return rc;
    out->iteration_s = res.iteration_s;
    out->peak_alloc_bytes = sr.allocated_bytes;
    out->peak_reserved_bytes = sr.reserved_bytes;
    out->fits = res.fits;
    return FL_OK;
}
