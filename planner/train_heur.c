/* planner/train_heur.c — greedy rounding heuristic for the training planner's fixed-T MILP
 * (train_milp.c). From a fractional point (the LP relaxation of the root or of a branch-and-bound
 * node) it rounds template replicas and instances down, then buys back what the rounding lost:
 * replicas are added one at a time (most fractional first, then by value), and every GPU row a
 * new replica overdraws is repaired by renting instances of that cell (cheapest per GPU first)
 * and switching on the replica's region (or zone). A step is kept only when every row stays within its
 * bounds, so whatever it returns is integer feasible. It is pure arithmetic on the model's rows:
 * deterministic, no solver calls. */
#include "planner/train_heur.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define EPS 1e-7

void fl_tp_heur_free(fl_tp_heur *h)
{
    if (!h)
        return;
    free(h->rptr);
    free(h->rind);
    free(h->rval);
    free(h->cptr);
    free(h->cind);
    free(h->cval);
    free(h->rlb);
    free(h->rub);
    free(h->kind);
    free(h->group);
    free(h->slots);
    free(h->price);
    free(h->cub);
    free(h->hptr);
    free(h->hind);
    memset(h, 0, sizeof *h);
}

/* Compressed row and column copies of the COO matrix (1-based, as GLPK's). */
int fl_tp_heur_init(fl_tp_heur *h, int nrow, int ncol, int nnz, const int *ia, const int *ja, const double *ar)
{
    h->nrow = nrow;
    h->ncol = ncol;
    h->rptr = calloc((size_t)nrow + 2, sizeof *h->rptr);
    h->cptr = calloc((size_t)ncol + 2, sizeof *h->cptr);
    h->rind = malloc(((size_t)nnz + 1) * sizeof *h->rind);
    h->rval = malloc(((size_t)nnz + 1) * sizeof *h->rval);
    h->cind = malloc(((size_t)nnz + 1) * sizeof *h->cind);
    h->cval = malloc(((size_t)nnz + 1) * sizeof *h->cval);
    h->rlb = calloc((size_t)nrow + 1, sizeof *h->rlb);
    h->rub = calloc((size_t)nrow + 1, sizeof *h->rub);
    h->kind = calloc((size_t)ncol + 1, sizeof *h->kind);
    h->group = calloc((size_t)ncol + 1, sizeof *h->group);
    h->slots = calloc((size_t)ncol + 1, sizeof *h->slots);
    h->price = calloc((size_t)ncol + 1, sizeof *h->price);
    h->cub = calloc((size_t)ncol + 1, sizeof *h->cub);
    if (!h->rptr || !h->cptr || !h->rind || !h->rval || !h->cind || !h->cval || !h->rlb || !h->rub || !h->kind || !h->group ||
        !h->slots || !h->price || !h->cub)
        return -1;
    for (int k = 1; k <= nnz; k++) {
        h->rptr[ia[k] + 1]++;
        h->cptr[ja[k] + 1]++;
    }
    h->rptr[1] = h->cptr[1] = 1;
    for (int i = 1; i <= nrow; i++)
        h->rptr[i + 1] += h->rptr[i];
    for (int j = 1; j <= ncol; j++)
        h->cptr[j + 1] += h->cptr[j];
    int *rf = malloc(((size_t)nrow + 2) * sizeof *rf), *cf = malloc(((size_t)ncol + 2) * sizeof *cf);
    if (!rf || !cf) {
        free(rf);
        free(cf);
        return -1;
    }
    memcpy(rf, h->rptr, ((size_t)nrow + 2) * sizeof *rf);
    memcpy(cf, h->cptr, ((size_t)ncol + 2) * sizeof *cf);
    for (int k = 1; k <= nnz; k++) {
        int p = rf[ia[k]]++, q = cf[ja[k]]++;
        h->rind[p] = ja[k];
        h->rval[p] = ar[k];
        h->cind[q] = ia[k];
        h->cval[q] = ar[k];
    }
    free(rf);
    free(cf);
    return 0;
}

int fl_tp_heur_index(fl_tp_heur *h)
{
    free(h->hptr);
    free(h->hind);
    h->hptr = calloc((size_t)h->nrow + 2, sizeof *h->hptr);
    h->hind = malloc(((size_t)h->rptr[h->nrow + 1] + 1) * sizeof *h->hind);
    if (!h->hptr || !h->hind)
        return -1;
    int n = 0;
    for (int i = 1; i <= h->nrow; i++) {
        h->hptr[i] = n;
        for (int p = h->rptr[i]; p < h->rptr[i + 1]; p++)
            if (h->rval[p] < 0 && h->kind[h->rind[p]] != FL_TP_HCOL_TEMPLATE)
                h->hind[n++] = p;
    }
    h->hptr[h->nrow + 1] = n;
    return 0;
}

typedef struct work {
    const fl_tp_heur *h;
    double *v, *act;
    int *log, nlog; /* columns incremented by the current step (for undo) */
} work;

static void bump(work *w, int j, int d)
{
    const fl_tp_heur *h = w->h;
    w->v[j] += d;
    for (int q = h->cptr[j]; q < h->cptr[j + 1]; q++)
        w->act[h->cind[q]] += d * h->cval[q];
    w->log[w->nlog++] = d > 0 ? j : -j;
}

static int row_ok(const fl_tp_heur *h, const double *act, int i)
{
    return act[i] <= h->rub[i] + EPS * (1 + fabs(h->rub[i])) && act[i] >= h->rlb[i] - EPS * (1 + fabs(h->rlb[i]));
}

/* Add one to column j and repair the rows it overdraws with instance/region columns that have a
 * negative coefficient there. Returns 1 and keeps the step when every row is within bounds. */
static int try_step(work *w, int j)
{
    const fl_tp_heur *h = w->h;
    if (w->v[j] + 1 > h->cub[j] + EPS)
        return 0;
    w->nlog = 0;
    bump(w, j, 1);
    int ok = 1;
    /* rows of one cell come in increasing tp level: repair the highest level first, since its
     * larger instances also serve the lower levels */
    for (int q = h->cptr[j + 1] - 1; q >= h->cptr[j] && ok; q--) {
        int i = h->cind[q];
        while (w->act[i] > h->rub[i] + EPS * (1 + fabs(h->rub[i]))) {
            /* cheapest helper per unit of relief that still has room */
            int best = 0;
            double bscore = 0;
            for (int q2 = h->hptr[i]; q2 < h->hptr[i + 1]; q2++) {
                int p = h->hind[q2], k = h->rind[p];
                if (w->v[k] + 1 > h->cub[k] + EPS)
                    continue;
                double s = h->price[k] / -h->rval[p];
                if (!best || s < bscore - 1e-12) {
                    best = k;
                    bscore = s;
                }
            }
            if (!best || w->nlog >= h->ncol * 64) {
                ok = 0;
                break;
            }
            bump(w, best, 1);
        }
    }
    /* every row was within its upper bound before the step: only the rows the step touched can
     * have left it. Lower bounds (the batch-covering row) are met by later steps and checked at
     * the end. */
    for (int k = 0; k < w->nlog && ok; k++) {
        int c = w->log[k] > 0 ? w->log[k] : -w->log[k];
        for (int q = h->cptr[c]; q < h->cptr[c + 1] && ok; q++) {
            int i = h->cind[q];
            ok = w->act[i] <= h->rub[i] + EPS * (1 + fabs(h->rub[i]));
        }
    }
    if (!ok) {
        for (int k = w->nlog - 1; k >= 0; k--) {
            int c = w->log[k] > 0 ? w->log[k] : -w->log[k];
            int d = w->log[k] > 0 ? -1 : 1;
            w->v[c] += d;
            for (int q = h->cptr[c]; q < h->cptr[c + 1]; q++)
                w->act[h->cind[q]] += d * h->cval[q];
        }
        w->nlog = 0;
    }
    return ok;
}

static double slots_of(const fl_tp_heur *h, const double *v)
{
    double s = 0;
    for (int j = 1; j <= h->ncol; j++)
        if (h->kind[j] == FL_TP_HCOL_TEMPLATE)
            s += h->slots[j] * v[j];
    return s;
}

typedef struct cand {
    int j;
    double key;
} cand;

static int cand_cmp(const void *a, const void *b)
{
    const cand *x = a, *y = b;
    if (x->key != y->key)
        return x->key > y->key ? -1 : 1;
    return x->j - y->j;
}

int fl_tp_heur_round(const fl_tp_heur *h, const double *xf, double *out)
{
    int n = h->ncol, found = 0, ngroups = 1;
    for (int j = 1; j <= n; j++)
        if (h->kind[j] == FL_TP_HCOL_REGION && h->group[j] >= ngroups)
            ngroups = h->group[j] + 1;
    double *act = calloc((size_t)h->nrow + 1, sizeof *act);
    int *log = malloc(((size_t)n * 64 + 2) * sizeof *log);
    cand *cs = malloc(((size_t)n + 1) * sizeof *cs);
    int *pick = calloc((size_t)ngroups, sizeof *pick);
    if (!act || !log || !cs || !pick)
        goto out;
    work w = {.h = h, .v = out, .act = act, .log = log};
    /* one binary per group (region; zone or "spans zones"): the one the LP leans on most
     * (lowest index on ties) */
    for (int j = 1; j <= n; j++) {
        int g = h->group[j];
        if (h->kind[j] == FL_TP_HCOL_REGION && g >= 0 && (!pick[g] || xf[j] > xf[pick[g]] + 1e-9))
            pick[g] = j;
    }
    /* round replicas and instances down; switch on the chosen binaries */
    for (int j = 1; j <= n; j++)
        out[j] = h->kind[j] == FL_TP_HCOL_REGION ? (h->group[j] >= 0 && j == pick[h->group[j]])
                                                 : fmin(floor(xf[j] + 1e-6), h->cub[j]);
    for (int pass = 0; pass < 2; pass++) {
        memset(act, 0, ((size_t)h->nrow + 1) * sizeof *act);
        if (pass == 1) /* rounding down did not fit: start from nothing but the region */
            for (int j = 1; j <= n; j++)
                if (h->kind[j] != FL_TP_HCOL_REGION)
                    out[j] = 0;
        for (int j = 1; j <= n; j++)
            for (int q = h->cptr[j]; q < h->cptr[j + 1]; q++)
                act[h->cind[q]] += out[j] * h->cval[q];
        /* replicas outside the region go (rows x_t - M u_r <= 0 with u_r = 0) */
        for (int i = 1; i <= h->nrow; i++) {
            int off = 0;
            for (int p = h->rptr[i]; p < h->rptr[i + 1]; p++)
                off |= h->kind[h->rind[p]] == FL_TP_HCOL_REGION && h->rval[p] < 0 && out[h->rind[p]] < 0.5;
            if (!off || act[i] <= h->rub[i] + EPS)
                continue;
            for (int p = h->rptr[i]; p < h->rptr[i + 1]; p++) {
                int k = h->rind[p];
                if (h->kind[k] != FL_TP_HCOL_REGION && h->rval[p] > 0 && out[k] > 0) {
                    for (int q = h->cptr[k]; q < h->cptr[k + 1]; q++)
                        act[h->cind[q]] -= out[k] * h->cval[q];
                    out[k] = 0;
                }
            }
        }
        /* rent instances where rounding them down left too few for the rounded replicas */
        int bad = 0;
        for (int i = h->nrow; i >= 1 && !bad; i--)
            while (act[i] > h->rub[i] + EPS * (1 + fabs(h->rub[i]))) {
                int best = 0;
                double bscore = 0;
                for (int q2 = h->hptr[i]; q2 < h->hptr[i + 1]; q2++) {
                    int p = h->hind[q2], k = h->rind[p];
                    if (h->kind[k] != FL_TP_HCOL_OFFER || out[k] + 1 > h->cub[k] + EPS)
                        continue;
                    double sc = h->price[k] / -h->rval[p];
                    if (!best || sc < bscore - 1e-12) {
                        best = k;
                        bscore = sc;
                    }
                }
                if (!best) {
                    bad = 1;
                    break;
                }
                out[best] += 1;
                for (int q = h->cptr[best]; q < h->cptr[best + 1]; q++)
                    act[h->cind[q]] += h->cval[q];
            }
        for (int i = 1; i <= h->nrow && !bad; i++)
            bad = act[i] > h->rub[i] + EPS * (1 + fabs(h->rub[i]));
        if (!bad)
            break;
        if (pass == 1)
            goto out;
    }
    /* buy back replicas until the batch is covered: most fractional first, then by slots */
    int nc = 0;
    for (int j = 1; j <= n; j++)
        if (h->kind[j] == FL_TP_HCOL_TEMPLATE && h->slots[j] > 0) {
            double fr = xf[j] - out[j];
            cs[nc].j = j;
            cs[nc].key = (fr > 1e-6 ? 1e9 * fr : 0) + 1e6 * fmin(xf[j], 999) + h->slots[j] / (1 + h->price[j]);
            nc++;
        }
    qsort(cs, (size_t)nc, sizeof *cs, cand_cmp);
    /* a step adds one replica of its template and only instance/region columns (no slots) */
    double slots = slots_of(h, out);
    for (int progress = 1; progress && slots < h->need - 1e-6;) {
        progress = 0;
        for (int c = 0; c < nc && slots < h->need - 1e-6; c++)
            if (try_step(&w, cs[c].j)) {
                slots += h->slots[cs[c].j];
                progress = 1;
            }
    }
    found = slots_of(h, out) >= h->need - 1e-6;
    for (int i = 1; i <= h->nrow && found; i++)
        found = row_ok(h, act, i);
out:
    free(pick);
    free(act);
    free(log);
    free(cs);
    return found;
}
