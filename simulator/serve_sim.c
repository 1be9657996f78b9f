/* simulator/serve_sim.c — the request-level serving simulator.
 *
 * Events (a binary min-heap on time, ties broken by insertion order) are the next arrival and the
 * end of each replica's current iteration. Every replica runs iteration-level scheduling like vLLM:
 * running sequences first (decode one token, or the next chunk of an unfinished prefill), then
 * waiting requests in FIFO order while the token budget, the batch limit and the KV cache allow;
 * when the cache cannot hold the next tokens of the running sequences the newest one is preempted
 * (its KV is dropped and it is re-queued at the front to recompute prompt + generated tokens).
 * All per-request state lives in arrays allocated once; no allocation happens per request.
 *
 * Decode runs are summed, not stepped: when an iteration only decodes (every running sequence
 * adds one token, nobody is admitted or preempted), the following iterations differ only in the
 * KV tokens they read, which grow by the batch size per step. fl_serve_step_time is affine in
 * kv_read with everything else fixed, so the durations form an arithmetic series; the run lasts
 * until the shortest remaining request completes or the KV cache would overflow, and the replica
 * gets one event at its end. An arrival routed to the replica during a run brings the state
 * forward to the step in progress (closed form) and, when it may be admitted, cuts the run at
 * that step's end; so the cost grows with events, not tokens. The one-iteration-per-event path
 * is kept (fl_serve_simulate_stepping) as the reference a test compares against. */
#include "simulator/serve_sim.h"
#include "common/error.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct ev { double t; uint64_t seq; int who; } ev; /* who: -1 arrival, else replica */

typedef struct heap { ev *a; size_t n, cap; uint64_t seq; } heap;

static int ev_less(const ev *x, const ev *y) { return x->t < y->t || (x->t == y->t && x->seq < y->seq); }

/* Push an event; *seq_out (may be NULL) receives its sequence number. -1 when out of memory. */
static int heap_push(heap *h, double t, int who, uint64_t *seq_out)
{
    if (h->n == h->cap) {
        size_t nc = h->cap ? h->cap * 2 : 16;
        ev *na = realloc(h->a, nc * sizeof *na);
        if (!na)
            return -1;
        h->a = na;
        h->cap = nc;
    }
    ev e = {t, h->seq++, who};
    if (seq_out)
        *seq_out = e.seq;
    size_t i = h->n++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!ev_less(&e, &h->a[p]))
            break;
        h->a[i] = h->a[p];
        i = p;
    }
    h->a[i] = e;
    return 0;
}

static ev heap_pop(heap *h)
{
    ev top = h->a[0], last = h->a[--h->n];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        const ev *cur = &last;
        if (l < h->n && ev_less(&h->a[l], cur)) { m = l; cur = &h->a[l]; }
        if (r < h->n && ev_less(&h->a[r], cur)) m = r;
        if (m == i)
            break;
        h->a[i] = h->a[m];
        i = m;
    }
    if (h->n)
        h->a[i] = last;
    return top;
}

/* Deterministic RNG (splitmix64). */
static uint64_t rng_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
static double rng_unif(uint64_t *s) { return ((rng_next(s) >> 11) + 0.5) * (1.0 / 9007199254740992.0); }

/* Per-request state (structure of arrays). */
typedef struct reqs {
    double *arrival, *first, *done_t;
    int *input, *output, *cls;
    int *ctx;     /* tokens in the KV cache */
    int *pre;     /* prefill tokens done of target */
    int *target;  /* prefill target (input, or input + generated after a preemption) */
    int *gen;     /* tokens generated */
    int *chunk;   /* tokens scheduled in the current iteration (prefill chunk, or 1 for decode) */
} reqs;

typedef struct replica {
    const fl_serve_cfg *cfg;
    int *wait; size_t wcap, whead, wlen;   /* ring buffer of waiting request ids */
    int *run; int nrun;                    /* running request ids, oldest first */
    double kv_used, kv_cap;
    int busy;
    double busy_since;
    uint64_t ev_seq;                       /* sequence number of the replica's live heap event */
    /* run in progress (run_left > 0): run_left iterations remain counting the current one, which
     * started at run_t and lasts run_f; each later iteration lasts run_s longer. run_p < 0: every
     * running sequence decodes; else run[0..run_p) decode, run[run_p] prefills run_c tokens per
     * iteration and the later ones wait for token budget */
    long run_left;
    double run_t, run_f, run_s;
    int run_p, run_c;
    /* stats */
    double q_area, kv_area, last_t;
    size_t qmax;
} replica;

static int wait_push(replica *r, int id, int front)
{
    if (r->wlen == r->wcap) {
        size_t nc = r->wcap ? r->wcap * 2 : 64;
        int *nw = malloc(nc * sizeof *nw);
        if (!nw)
            return -1;
        for (size_t i = 0; i < r->wlen; i++)
            nw[i] = r->wait[(r->whead + i) % r->wcap];
        free(r->wait);
        r->wait = nw;
        r->wcap = nc;
        r->whead = 0;
    }
    if (front) {
        r->whead = (r->whead + r->wcap - 1) % r->wcap;
        r->wait[r->whead] = id;
    } else {
        r->wait[(r->whead + r->wlen) % r->wcap] = id;
    }
    r->wlen++;
    if (r->wlen > r->qmax)
        r->qmax = r->wlen;
    return 0;
}

typedef struct simctx {
    reqs q;
    replica *rep;
    int nrep;
    size_t preempt, steps;
    int max_batch;
    int stepping;      /* 1: one event per iteration (the reference path) */
    /* early stop (workload stop_ttft / stop_tpot): requests over the bound, and how many make
     * the p90 exceed it for sure */
    double stop_ttft, stop_tpot;
    size_t viol_ttft, viol_tpot, thr_ttft, thr_tpot;
    size_t ttft_scan;  /* requests (in arrival order) before this one have been judged on TTFT */
} simctx;

static _Thread_local double sim_deadline; /* CLOCK_MONOTONIC seconds; 0: none */

double fl_serve_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

void fl_serve_set_deadline(double deadline) { sim_deadline = deadline; }

double fl_serve_get_deadline(void) { return sim_deadline; }

/* Account time-weighted queue length and KV use of a replica up to time t. */
static void rep_account(replica *r, double t)
{
    double dt = t - r->last_t;
    if (dt > 0) {
        r->q_area += dt * (double)r->wlen;
        r->kv_area += dt * (r->kv_used / r->kv_cap);
        r->last_t = t;
    }
}

/* What rep_schedule planned: the step-time arguments and, over the decoding sequences, the
 * fewest tokens any of them still has to generate. */
typedef struct stepinfo { double tokens, seqs, pairs, kvread; long rmin; } stepinfo;

/* Plan the next iteration of replica r at time t; returns its duration, 0 when idle. */
static double rep_schedule(simctx *s, replica *r, double *kv_peak, stepinfo *si)
{
    reqs *q = &s->q;
    double budget = FL_SERVE_MAX_STEP_TOKENS;
    double tokens = 0, seqs = 0, pairs = 0, kvread = 0;
    long rmin = -1;
    /* running sequences, oldest first; preempt the newest when the cache is full */
    for (int i = 0; i < r->nrun; i++) {
        int id = r->run[i];
        int need = q->pre[id] < q->target[id] ? q->target[id] - q->pre[id] : 1;
        if (need > budget)
            need = (int)budget;
        while (need > 0 && r->kv_used + need > r->kv_cap && r->nrun - 1 > i) {
            int v = r->run[--r->nrun];
            r->kv_used -= q->ctx[v] + q->chunk[v];
            q->target[v] = q->input[v] + q->gen[v];
            q->pre[v] = 0;
            q->ctx[v] = 0;
            q->chunk[v] = 0;
            wait_push(r, v, 1);
            s->preempt++;
        }
        if (need > 0 && r->kv_used + need > r->kv_cap)
            need = (int)(r->kv_cap - r->kv_used);
        q->chunk[id] = need > 0 ? need : 0;
        if (need <= 0)
            continue;
        r->kv_used += need;
        budget -= need;
        tokens += need;
        if (q->pre[id] < q->target[id]) {
            pairs += (double)need * q->ctx[id] + (double)need * (need + 1) / 2.0;
            if (q->pre[id] + need == q->target[id])
                seqs++;
        } else {
            kvread += q->ctx[id] + 1;
            seqs++;
            long left = (long)q->output[id] - q->gen[id];
            if (rmin < 0 || left < rmin)
                rmin = left;
        }
    }
    /* admit waiting requests */
    while (r->wlen && budget >= 1 && r->nrun < r->cfg->max_batch) {
        int id = r->wait[r->whead];
        int need = q->target[id] < budget ? q->target[id] : (int)budget;
        /* keep a watermark so that admitted sequences can decode */
        if (r->kv_used + need + r->nrun > r->kv_cap * 0.99)
            break;
        r->whead = (r->whead + 1) % r->wcap;
        r->wlen--;
        r->run[r->nrun++] = id;
        q->chunk[id] = need;
        r->kv_used += need;
        budget -= need;
        tokens += need;
        pairs += (double)need * (need + 1) / 2.0;
        if (need == q->target[id])
            seqs++;
    }
    if (r->nrun > s->max_batch)
        s->max_batch = r->nrun;
    if (r->kv_used > *kv_peak * r->kv_cap)
        *kv_peak = r->kv_used / r->kv_cap;
    *si = (stepinfo){tokens, seqs, pairs, kvread, rmin};
    if (tokens <= 0)
        return 0;
    s->steps++;
    return fl_serve_step_time(r->cfg, tokens, seqs, pairs, kvread, NULL, NULL);
}

/* Apply the results of the iteration that ends at t. */
static void rep_finish(simctx *s, replica *r, double t, size_t *completed, double *out_tokens)
{
    reqs *q = &s->q;
    int w = 0;
    for (int i = 0; i < r->nrun; i++) {
        int id = r->run[i];
        int c = q->chunk[id];
        q->chunk[id] = 0;
        if (c > 0) {
            q->ctx[id] += c;
            if (q->pre[id] < q->target[id]) {
                q->pre[id] += c;
                if (q->pre[id] == q->target[id]) {
                    if (q->gen[id] == 0) {
                        q->first[id] = t;
                        if (s->stop_ttft > 0 && (size_t)id >= s->ttft_scan && t - q->arrival[id] > s->stop_ttft)
                            s->viol_ttft++;
                    }
                    q->gen[id]++;
                }
            } else {
                q->gen[id]++;
            }
        }
        if (q->gen[id] >= q->output[id]) {
            q->done_t[id] = t;
            if (s->stop_tpot > 0 && q->output[id] > 1 && (t - q->first[id]) / (q->output[id] - 1) > s->stop_tpot)
                s->viol_tpot++;
            r->kv_used -= q->ctx[id];
            (*completed)++;
            *out_tokens += q->output[id];
            continue;
        }
        r->run[w++] = id;
    }
    r->nrun = w;
    if (r->kv_used < 0.5)
        r->kv_used = 0;
}

/* Bring a decode run forward by J (< run_left) whole iterations: afterwards the replica is in the
 * state the stepping simulator has during iteration J of the run (scheduled, not finished), with
 * queue and KV statistics accounted up to that iteration's start. */
static void run_advance(simctx *s, replica *r, long J, double *kv_peak)
{
    if (J <= 0)
        return;
    reqs *q = &s->q;
    int nd = r->run_p < 0 ? r->nrun : r->run_p; /* decoding sequences */
    double n = r->run_p < 0 ? r->nrun : (double)r->run_p + r->run_c; /* KV tokens added per iteration */
    double f = r->run_f, sl = r->run_s, jd = (double)J;
    rep_account(r, r->run_t + f); /* the rest of the current iteration */
    double m = jd - 1;            /* iterations 1..J-1 in full: i lasts f + sl*i with kv_used + i*n cached */
    if (m > 0) {
        double s1 = m * (m + 1) / 2, s2 = m * (m + 1) * (2 * m + 1) / 6;
        double dur = f * m + sl * s1;
        double kvint = f * r->kv_used * m + (f * n + sl * r->kv_used) * s1 + sl * n * s2;
        r->q_area += dur * (double)r->wlen;
        r->kv_area += kvint / r->kv_cap;
    }
    r->run_t += jd * f + sl * jd * (jd - 1) / 2;
    r->last_t = r->run_t;
    r->run_f = f + sl * jd;
    r->run_left -= J;
    r->kv_used += jd * n;
    for (int i = 0; i < nd; i++) {
        int id = r->run[i];
        q->ctx[id] += (int)J;
        q->gen[id] += (int)J;
    }
    if (r->run_p >= 0) {
        int id = r->run[r->run_p];
        q->ctx[id] += (int)J * r->run_c;
        q->pre[id] += (int)J * r->run_c;
    }
    s->steps += (size_t)J;
    if (r->kv_used > *kv_peak * r->kv_cap)
        *kv_peak = r->kv_used / r->kv_cap;
}

/* Whole iterations of the run finished by time t (at most run_left - 1): bisection on the
 * arithmetic-series end times run_t + J*run_f + run_s*J(J-1)/2. */
static long run_done_by(const replica *r, double t)
{
    long lo = 0, hi = r->run_left - 1;
    while (lo < hi) {
        long mid = lo + (hi - lo + 1) / 2;
        double md = (double)mid;
        if (r->run_t + md * r->run_f + r->run_s * md * (md - 1) / 2 <= t)
            lo = mid;
        else
            hi = mid - 1;
    }
    return lo;
}

/* rep_schedule has just planned iteration 0 (duration dt, at time t); nobody was admitted or
 * preempted (nrun_before, preempt_before unchanged). Extend it into a run of K iterations of the
 * same shape when it is
 *  - pure decode: every running sequence decodes one token. A waiting head that is not
 *    admissible now stays so while the cache only grows; an arrival into an empty queue cuts the
 *    run (main loop). Or
 *  - a long prefill: run[0..p) decode, run[p] prefills a chunk that takes the rest of the token
 *    budget without finishing its prompt, the later ones get no budget (nobody can be admitted).
 * K is bounded by the shortest remaining decode (its completing iteration ends the run), by the
 * prompt (its last chunk is stepped) and by the KV cache (an iteration that would overflow it
 * preempts). Along the run only kv_read (and the chunk's attention pairs) grow linearly; the
 * step time is affine in them, so it comes from two evaluations of fl_serve_step_time, a third
 * checks it (anything not affine to 1e-9 falls back to stepping). Returns the run's duration. */
static double run_plan(simctx *s, replica *r, double t, double dt, int nrun_before, size_t preempt_before,
                       const stepinfo *si, double next_arrival)
{
    reqs *q = &s->q;
    if (s->stepping || r->nrun != nrun_before || s->preempt != preempt_before || r->nrun < 1)
        return dt;
    double n = r->nrun;
    int p = -1, c = 0;
    long K;
    double grow, dpairs, dkv; /* per iteration: KV tokens added, pairs and kv_read growth */
    if (si->pairs == 0 && si->tokens == n && si->seqs == n && si->rmin >= 0) {
        /* an arrival due within two iterations would likely cut the run at once */
        if (r->wlen == 0 && next_arrival < t + 2 * dt)
            return dt;
        K = si->rmin;
        grow = n;
        dpairs = 0;
        dkv = n;
    } else if (si->pairs > 0 && si->tokens == FL_SERVE_MAX_STEP_TOKENS) {
        for (int i = 0; i < r->nrun; i++) {
            int id = r->run[i];
            if (p >= 0) {
                if (q->chunk[id] != 0)
                    return dt;
            } else if (q->pre[id] >= q->target[id]) {
                if (q->chunk[id] != 1)
                    return dt;
            } else {
                if (q->chunk[id] <= 0 || q->pre[id] + q->chunk[id] >= q->target[id])
                    return dt;
                p = i;
                c = q->chunk[id];
            }
        }
        if (p < 0)
            return dt;
        long rem = q->target[r->run[p]] - q->pre[r->run[p]];
        K = (rem + c - 1) / c - 1; /* iterations whose chunk is c and leaves some prompt */
        if (p > 0 && si->rmin < K)
            K = si->rmin;
        grow = (double)p + c;
        dpairs = (double)c * c;
        dkv = p;
    } else {
        return dt;
    }
    double room = floor((r->kv_cap - r->kv_used) / grow);
    if (room + 1 < (double)K)
        K = (long)room + 1;
    if (K < 2)
        return dt;
    double kd = (double)K;
    double fl = fl_serve_step_time(r->cfg, si->tokens, si->seqs, si->pairs + (kd - 1) * dpairs,
                                   si->kvread + (kd - 1) * dkv, NULL, NULL);
    double sl = (fl - dt) / (kd - 1);
    if (K >= 3) {
        double mid = floor((kd - 1) / 2);
        double fm = fl_serve_step_time(r->cfg, si->tokens, si->seqs, si->pairs + mid * dpairs, si->kvread + mid * dkv,
                                       NULL, NULL);
        if (fabs(fm - (dt + sl * mid)) > 1e-9 * fm)
            return dt;
    }
    if (!(dt + sl * (kd - 1) > 0))
        return dt;
    r->run_left = K;
    r->run_t = t;
    r->run_f = dt;
    r->run_s = sl;
    r->run_p = p;
    r->run_c = c;
    return kd * dt + sl * kd * (kd - 1) / 2;
}

static int cmp_dbl(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double pct(const double *sorted, size_t n, double p)
{
    if (n == 0)
        return 0;
    double idx = p * (double)(n - 1);
    size_t lo = (size_t)floor(idx), hi = lo + 1 < n ? lo + 1 : lo;
    return sorted[lo] + (sorted[hi] - sorted[lo]) * (idx - (double)lo);
}

static void free_ctx(simctx *s)
{
    free(s->q.arrival); free(s->q.first); free(s->q.done_t);
    free(s->q.input); free(s->q.output); free(s->q.cls);
    free(s->q.ctx); free(s->q.pre); free(s->q.target); free(s->q.gen); free(s->q.chunk);
    if (s->rep)
        for (int i = 0; i < s->nrep; i++) {
            free(s->rep[i].wait);
            free(s->rep[i].run);
        }
    free(s->rep);
}

/* The simulation; stepping 1 runs one event per engine iteration (the reference path). */
static fl_status simulate(const fl_serve_group *groups, int n_groups, const fl_serve_workload *wl,
                          fl_serve_stats *out, int stepping, fl_error *err)
{
    memset(out, 0, sizeof *out);
    size_t n = wl->trace ? wl->n_trace : wl->n_requests;
    if (n == 0)
        return fl_fail(err, FL_EINVAL, "workload", "workload: no requests to simulate");
    if (!wl->trace && !(wl->rate_rps > 0))
        return fl_fail(err, FL_EINVAL, "workload.rate_rps", "workload.rate_rps: must be positive (got %g)", wl->rate_rps);
    int ncls = wl->n_classes;
    /* cumulative routing weights per class over groups */
    double cum[FL_MAX_CLASSES][64];
    if (n_groups < 1 || n_groups > 64)
        return fl_fail(err, FL_EINVAL, "replicas", "replicas: between 1 and 64 replica groups are supported (got %d)",
                       n_groups);
    for (int c = 0; c < ncls; c++) {
        double tot = 0;
        for (int g = 0; g < n_groups; g++) {
            tot += groups[g].count > 0 && groups[g].class_share[c] > 0 ? groups[g].class_share[c] : 0;
            cum[c][g] = tot;
        }
        if (!(tot > 0))
            return fl_fail(err, FL_EINVAL, "replicas", "replicas: no replica receives request class %d (class_shares)", c);
        for (int g = 0; g < n_groups; g++)
            cum[c][g] /= tot;
    }
    simctx s;
    memset(&s, 0, sizeof s);
    s.stepping = stepping;
    int nrep = 0, gstart[65];
    for (int g = 0; g < n_groups; g++) {
        gstart[g] = nrep;
        nrep += groups[g].count > 0 ? groups[g].count : 0;
    }
    gstart[n_groups] = nrep;
    heap h = {0};
    s.q.arrival = malloc(n * sizeof(double));
    s.q.first = malloc(n * sizeof(double));
    s.q.done_t = malloc(n * sizeof(double));
    s.q.input = malloc(n * sizeof(int));
    s.q.output = malloc(n * sizeof(int));
    s.q.cls = malloc(n * sizeof(int));
    s.q.ctx = calloc(n, sizeof(int));
    s.q.pre = calloc(n, sizeof(int));
    s.q.target = malloc(n * sizeof(int));
    s.q.gen = calloc(n, sizeof(int));
    s.q.chunk = calloc(n, sizeof(int));
    s.rep = calloc((size_t)nrep, sizeof *s.rep);
    s.nrep = nrep;
    h.cap = (size_t)nrep + 2;
    h.a = malloc(h.cap * sizeof *h.a);
    if (!s.q.arrival || !s.q.first || !s.q.done_t || !s.q.input || !s.q.output || !s.q.cls || !s.q.ctx ||
        !s.q.pre || !s.q.target || !s.q.gen || !s.q.chunk || !s.rep || !h.a) {
        free_ctx(&s);
        free(h.a);
        return fl_fail(err, FL_ENOMEM, "simulation", "out of memory");
    }
    for (int g = 0; g < n_groups; g++)
        for (int j = gstart[g]; j < gstart[g + 1]; j++) {
            replica *r = &s.rep[j];
            r->cfg = &groups[g].cfg;
            r->kv_cap = groups[g].cfg.kv_tokens > 0 ? groups[g].cfg.kv_tokens : 1;
            r->run = malloc((size_t)groups[g].cfg.max_batch * sizeof(int));
            if (!r->run) {
                free_ctx(&s);
                free(h.a);
                return fl_fail(err, FL_ENOMEM, "simulation", "out of memory");
            }
        }
    /* arrivals: the whole sequence is drawn up front (deterministic for a seed) */
    uint64_t rs = wl->seed ? wl->seed : 0x5eedull;
    double cshare[FL_MAX_CLASSES];
    double acc = 0;
    for (int c = 0; c < ncls; c++) {
        acc += wl->classes[c].share;
        cshare[c] = acc;
    }
    double t = 0;
    for (size_t i = 0; i < n; i++) {
        if (wl->trace) {
            s.q.arrival[i] = wl->trace[i].arrival;
            s.q.input[i] = wl->trace[i].input;
            s.q.output[i] = wl->trace[i].output;
            s.q.cls[i] = wl->trace[i].cls < ncls ? wl->trace[i].cls : 0;
        } else {
            t += -log(rng_unif(&rs)) / wl->rate_rps;
            double u = rng_unif(&rs) * acc;
            int c = 0;
            while (c < ncls - 1 && u > cshare[c])
                c++;
            s.q.arrival[i] = t;
            s.q.input[i] = wl->classes[c].input;
            s.q.output[i] = wl->classes[c].output;
            s.q.cls[i] = c;
        }
        s.q.target[i] = s.q.input[i];
        s.q.first[i] = -1;
        s.q.done_t[i] = -1;
    }
    /* p90 = sorted[lo] + frac * (sorted[lo + 1] - sorted[lo]), lo = floor(0.9 (n - 1)): it exceeds a
     * bound once n - lo values do */
    s.stop_ttft = wl->stop_ttft;
    s.stop_tpot = wl->stop_tpot;
    {
        size_t nt = 0;
        for (size_t i = 0; i < n; i++)
            nt += s.q.output[i] > 1;
        s.thr_ttft = n - (size_t)floor(0.9 * (double)(n - 1));
        s.thr_tpot = nt ? nt - (size_t)floor(0.9 * (double)(nt - 1)) : (size_t)-1;
    }
    size_t next_arrival = 0, completed = 0, rejected = 0;
    double out_tokens = 0, kv_peak = 0;
    fl_status rc = FL_OK;
    if (heap_push(&h, s.q.arrival[0], -1, NULL))
        rc = fl_fail(err, FL_ENOMEM, "simulation", "out of memory");
    double deadline = sim_deadline;
    size_t npop = 0, events = 0;
    while (!rc && h.n) {
        ev e = heap_pop(&h);
        if (e.who >= 0 && e.seq != s.rep[e.who].ev_seq)
            continue; /* a run's end event superseded when an arrival cut the run */
        if (deadline > 0 && (++npop & 4095) == 0 && fl_serve_now() > deadline) {
            rc = fl_fail(err, FL_EINFEASIBLE, "time_limit",
                         "time_limit: the time limit was reached during the serving simulation");
            break;
        }
        events++;
        int to_start = -1;
        if (e.who < 0) {
            size_t id = next_arrival++;
            if (next_arrival < n && heap_push(&h, s.q.arrival[next_arrival], -1, NULL)) {
                rc = fl_fail(err, FL_ENOMEM, "simulation", "out of memory");
                break;
            }
            int c = s.q.cls[id];
            double u = rng_unif(&rs);
            int g = 0;
            while (g < n_groups - 1 && (u > cum[c][g] || groups[g].count <= 0))
                g++;
            /* join the shortest queue within the group */
            int best = -1;
            double bl = INFINITY;
            for (int j = gstart[g]; j < gstart[g + 1]; j++) {
                double l = (double)s.rep[j].wlen + s.rep[j].nrun;
                if (l < bl) { bl = l; best = j; }
            }
            if (best < 0 || s.q.input[id] + s.q.output[id] > s.rep[best].kv_cap) {
                s.q.done_t[id] = -2; /* rejected */
                rejected++;
                continue;
            }
            replica *r = &s.rep[best];
            size_t wlen_before = r->wlen;
            if (r->run_left > 1)
                run_advance(&s, r, run_done_by(r, e.t), &kv_peak);
            rep_account(r, e.t);
            if (wait_push(r, (int)id, 0)) {
                rc = fl_fail(err, FL_ENOMEM, "simulation", "out of memory");
                break;
            }
            if (r->run_left > 1 && wlen_before == 0 && r->run_p < 0) {
                /* the newcomer may be admitted at the next iteration boundary: end the run there */
                r->run_left = 1;
                if (heap_push(&h, r->run_t + r->run_f, best, &r->ev_seq)) {
                    rc = fl_fail(err, FL_ENOMEM, "simulation", "out of memory");
                    break;
                }
            }
            if (!r->busy)
                to_start = best;
        } else {
            replica *r = &s.rep[e.who];
            if (r->run_left > 1)
                run_advance(&s, r, r->run_left - 1, &kv_peak);
            r->run_left = 0;
            rep_account(r, e.t);
            rep_finish(&s, r, e.t, &completed, &out_tokens);
            r->busy = 0;
            to_start = e.who;
            /* requests whose TTFT bound has passed are judged now: late, or still without a token */
            while (s.stop_ttft > 0 && s.ttft_scan < next_arrival && s.q.arrival[s.ttft_scan] + s.stop_ttft < e.t) {
                size_t i = s.ttft_scan++;
                if (s.q.first[i] == -1 ? s.q.done_t[i] != -2 : s.q.first[i] - s.q.arrival[i] > s.stop_ttft)
                    s.viol_ttft++;
            }
            if ((s.stop_ttft > 0 && s.viol_ttft >= s.thr_ttft) || (s.stop_tpot > 0 && s.viol_tpot >= s.thr_tpot)) {
                rc = fl_fail(err, FL_EINFEASIBLE, "slo", "slo: %zu requests over the TTFT bound, %zu over the TPOT "
                             "bound: the p90 cannot meet it", s.viol_ttft, s.viol_tpot);
                break;
            }
        }
        if (to_start >= 0) {
            replica *r = &s.rep[to_start];
            int nrun_before = r->nrun;
            size_t preempt_before = s.preempt;
            stepinfo si;
            double dt = rep_schedule(&s, r, &kv_peak, &si);
            if (dt > 0) {
                double next_t = next_arrival < n ? s.q.arrival[next_arrival] : INFINITY;
                dt = run_plan(&s, r, e.t, dt, nrun_before, preempt_before, &si, next_t);
                r->busy = 1;
                if (heap_push(&h, e.t + dt, to_start, &r->ev_seq)) {
                    rc = fl_fail(err, FL_ENOMEM, "simulation", "out of memory");
                    break;
                }
            }
        }
    }
    free(h.a);
    if (rc) {
        free_ctx(&s);
        return rc;
    }
    /* statistics */
    double *a = malloc((completed ? completed : 1) * sizeof *a);
    double *b = malloc((completed ? completed : 1) * sizeof *b);
    double *c2 = malloc((completed ? completed : 1) * sizeof *c2);
    if (!a || !b || !c2) {
        free(a); free(b); free(c2);
        free_ctx(&s);
        return fl_fail(err, FL_ENOMEM, "simulation", "out of memory");
    }
    size_t k = 0, kt = 0;
    double tmin = INFINITY, tmax = 0;
    for (size_t i = 0; i < n; i++) {
        if (s.q.done_t[i] < 0)
            continue;
        a[k] = s.q.first[i] - s.q.arrival[i];
        c2[k] = s.q.done_t[i] - s.q.arrival[i];
        if (s.q.output[i] > 1)
            b[kt++] = (s.q.done_t[i] - s.q.first[i]) / (s.q.output[i] - 1);
        k++;
        if (s.q.arrival[i] < tmin) tmin = s.q.arrival[i];
        if (s.q.done_t[i] > tmax) tmax = s.q.done_t[i];
    }
    qsort(a, k, sizeof *a, cmp_dbl);
    qsort(b, kt, sizeof *b, cmp_dbl);
    qsort(c2, k, sizeof *c2, cmp_dbl);
    out->ttft_p50 = pct(a, k, 0.5); out->ttft_p90 = pct(a, k, 0.9); out->ttft_p99 = pct(a, k, 0.99);
    out->tpot_p50 = pct(b, kt, 0.5); out->tpot_p90 = pct(b, kt, 0.9); out->tpot_p99 = pct(b, kt, 0.99);
    out->e2e_p50 = pct(c2, k, 0.5); out->e2e_p90 = pct(c2, k, 0.9); out->e2e_p99 = pct(c2, k, 0.99);
    free(a); free(b); free(c2);
    out->duration_s = k ? tmax - tmin : 0;
    out->throughput_rps = out->duration_s > 0 ? (double)k / out->duration_s : 0;
    out->tokens_per_s = out->duration_s > 0 ? out_tokens / out->duration_s : 0;
    double qa = 0, ka = 0, kvmin = INFINITY;
    for (int j = 0; j < nrep; j++) {
        qa += s.rep[j].q_area;
        ka += s.rep[j].kv_area;
        if (s.rep[j].kv_cap < kvmin) kvmin = s.rep[j].kv_cap;
    }
    double span = tmax > 0 ? tmax : 1;
    out->queue_mean = nrep ? qa / span / nrep : 0;
    out->kv_util_mean = nrep ? ka / span / nrep : 0;
    out->kv_util_max = kv_peak;
    out->max_batch = s.max_batch;
    out->kv_cache_tokens = isfinite(kvmin) ? kvmin : 0;
    out->completed = k;
    out->rejected = rejected;
    out->preemptions = s.preempt;
    out->steps = s.steps;
    out->events = events;
    int qmax = 0;
    for (int j = 0; j < nrep; j++)
        if ((int)s.rep[j].qmax > qmax) qmax = (int)s.rep[j].qmax;
    out->queue_max = qmax;
    free_ctx(&s);
    return FL_OK;
}

fl_status fl_serve_simulate(const fl_serve_group *groups, int n_groups, const fl_serve_workload *wl,
                            fl_serve_stats *out, fl_error *err)
{
    return simulate(groups, n_groups, wl, out, 0, err);
}

fl_status fl_serve_simulate_stepping(const fl_serve_group *groups, int n_groups, const fl_serve_workload *wl,
                                     fl_serve_stats *out, fl_error *err)
{
    return simulate(groups, n_groups, wl, out, 1, err);
}
