/* simulator/train_schedule.c — event simulation of one pipeline replica's 1F1B schedule (and
 * the interleaved schedule) over heterogeneous per-stage forward/backward times and p2p delays.
 *
 * Each stage runs its fixed 1F1B op sequence: w = min(p-1-s, m) warm-up forwards, then pairs
 * (F_{w+j}, B_j), then the remaining backwards. An op starts when its stage is free and its
 * input has arrived: F(s,j) after F(s-1,j) + p2p, B(s,j) after B(s+1,j) + p2p. Every op is
 * simulated (its start is the max of those two events), in an order chosen so that the ops
 * of one step are independent of each other (no serial chain through the stages, loops the
 * compiler vectorises; tests/simulator checks it against a dependency-driven reference):
 *  1. warm-up: the forwards before a stage's first backward only depend on each other; they
 *     run along anti-diagonals s + j = d, all stages of a diagonal at once;
 *  2. steady: at sequence index i every stage past its warm-up alternates F/B; the F stages
 *     read their left neighbour's last forward, the B stages their right neighbour's last
 *     backward, neither written at index i. Stages are stored even/odd split so each half is
 *     one contiguous loop;
 *  3. cool-down: the remaining backwards run along diagonals j - s = d.
 * State per stage: lf = completion of its latest forward, lb = of its latest backward (after
 * the warm-up: of its latest op, which is what the next forward waits for).
 *
 * Long runs: while every stage is steady (p-1 <= i <= 2m-p) the step is one fixed max-plus map,
 * so once a whole step shifts every stage by the same amount (checked to 1e-12 relative) the
 * schedule is periodic and the remaining steady steps are added exactly. Without periodicity
 * within the op budget, the state is advanced by the period P (largest mean weight of the
 * schedule's cycles: a window of stages s..e costs the sum of their f+b plus the p2p round
 * trips 2c and spans e-s+1 micro-batches) and the last steady steps and the cool-down are
 * simulated as usual.
 *
 * Interleaved (v chunks): every stage holds v model chunks of 1/v of its layers; the schedule
 * is simulated as 1F1B over m*v chunk-micro-batches of 1/v of the stage time with a p2p per
 * chunk boundary, which reproduces the (p-1)/(v*m) bubble and the v-fold p2p traffic. */
#include "simulator/train_sim.h"

#include <math.h>
#include <string.h>

/* Default op budget (2 ops per stage and micro-batch) simulated without periodicity. */
#define SIM_OPS (1L << 21)
/* Time before the pipeline starts (neighbour of stage 0 / stage p-1). */
#define NEVER (-1e300)
/* Padded split arrays: index 1 + s/2; slots 0 and H+1 are the NEVER neighbours. */
#define HALF (FL_TRAIN_MAX_STAGES / 2 + 2)
/* Largest error a skip of steady pairs may add, relative to the time reached (bound, not estimate). */
#define JUMP_TOL 1e-3

/* GCC only vectorises these small loops at -O3; ask for it on the kernels (no effect on
 * results: every op is the same max and add either way). */
#if defined(__GNUC__) && !defined(__clang__)
#define FL_VEC __attribute__((optimize("tree-vectorize", "vect-cost-model=dynamic")))
/* reductions of max: the values are finite (NEVER is -1e300, not -inf) */
#define FL_VEC_MAX __attribute__((optimize("tree-vectorize", "vect-cost-model=dynamic", "finite-math-only", "no-signed-zeros")))
#else
#define FL_VEC
#define FL_VEC_MAX
#endif

/* Warm-up diagonal: x[s] = max(x[s], x[s-1] + cl[s]) + f[s] for s = hi..lo (x[s-1] is the
 * previous diagonal's value, read before it is overwritten). */
static FL_VEC void warm_diag(double *x, const double *restrict cl, const double *restrict f, int lo, int hi)
{
    for (int s = hi; s >= lo; s--) {
        double r = x[s - 1] + cl[s], a = x[s];
        x[s] = (r > a ? r : a) + f[s];
    }
}

/* Cool-down diagonal: x[s] = max(x[s], x[s+1] + cr[s]) + b[s] for s = lo..hi. */
static FL_VEC void cool_diag(double *x, const double *restrict cr, const double *restrict b, int lo, int hi)
{
    for (int s = lo; s <= hi; s++) {
        double r = x[s + 1] + cr[s], a = x[s];
        x[s] = (r > a ? r : a) + b[s];
    }
}

/* Range [*lo, *hi] of x[k] - y[k] over n pairs, widened in place (running extrema in four
 * lanes: no serial chain). */
static FL_VEC_MAX void diff_range(const double *restrict x, const double *restrict y, int n, double *lo, double *hi)
{
    double l[4] = {*lo, *lo, *lo, *lo}, h[4] = {*hi, *hi, *hi, *hi};
    int k = 0;
    for (; k + 4 <= n; k += 4)
        for (int u = 0; u < 4; u++) {
            double e = x[k + u] - y[k + u];
            l[u] = e < l[u] ? e : l[u];
            h[u] = e > h[u] ? e : h[u];
        }
    for (; k < n; k++) {
        double e = x[k] - y[k];
        l[0] = e < l[0] ? e : l[0];
        h[0] = e > h[0] ? e : h[0];
    }
    *lo = fmin(fmin(l[0], l[1]), fmin(l[2], l[3]));
    *hi = fmax(fmax(h[0], h[1]), fmax(h[2], h[3]));
}

static void add_all(double *x, double d, int n)
{
    for (int k = 0; k < n; k++)
        x[k] += d;
}

/* Steady-state split layout, per parity (E = even stages 2k, O = odd stages 2k+1, slot 1 + k):
 * forward/backward completions, stage times and the p2p delays to the left (cl) and right (cr).
 * Slot 0 of O is stage -1 and the slot after the last stage is stage p: NEVER. */
typedef struct split {
    double lfE[HALF], lfO[HALF], lbE[HALF], lbO[HALF];
    double fE[HALF], fO[HALF], bE[HALF], bO[HALF], clE[HALF], clO[HALF], crE[HALF], crO[HALF];
} split;

/* One steady index over the stage pairs k in [k0, k1): even stages forward (reading the left
 * odd neighbour's last forward), odd stages backward (reading the right even neighbour's). */
static FL_VEC void steady_even_f(split *restrict S, int k0, int k1)
{
    double *restrict lfE = S->lfE + 1, *restrict lbO = S->lbO + 1;
    const double *restrict lbE = S->lbE + 1, *restrict lfO = S->lfO + 1;
    const double *restrict fE = S->fE + 1, *restrict bO = S->bO + 1, *restrict clE = S->clE + 1,
                 *restrict crO = S->crO + 1;
    for (int k = k0; k < k1; k++) {
        double r = lfO[k - 1] + clE[k], a = lbE[k];
        lfE[k] = (r > a ? r : a) + fE[k];
        double r2 = lbE[k + 1] + crO[k], a2 = lfO[k];
        lbO[k] = (r2 > a2 ? r2 : a2) + bO[k];
    }
}

/* The other parity: odd stages forward (left neighbour 2k), even stages backward (right 2k+1). */
static FL_VEC void steady_odd_f(split *restrict S, int k0, int k1)
{
    double *restrict lfO = S->lfO + 1, *restrict lbE = S->lbE + 1;
    const double *restrict lbO = S->lbO + 1, *restrict lfE = S->lfE + 1;
    const double *restrict fO = S->fO + 1, *restrict bE = S->bE + 1, *restrict clO = S->clO + 1,
                 *restrict crE = S->crE + 1;
    for (int k = k0; k < k1; k++) {
        double r = lfE[k] + clO[k], a = lbO[k];
        lfO[k] = (r > a ? r : a) + fO[k];
        double r2 = lbO[k] + crE[k], a2 = lfE[k];
        lbE[k] = (r2 > a2 ? r2 : a2) + bE[k];
    }
}

/* One steady sequence index over stages [lo, p) (the stages below lo are in warm-up or
 * cool-down); fp = parity of the stages running a forward. */
static void steady_index(split *S, int H, int lo, int fp)
{
    int k0 = (lo + 1) / 2; /* first pair with both stages active */
    if (lo & 1) {          /* odd stage lo alone in its pair */
        int k = 1 + lo / 2;
        if (fp) {
            double r = S->lfE[k] + S->clO[k], a = S->lbO[k];
            S->lfO[k] = (r > a ? r : a) + S->fO[k];
        } else {
            double r = S->lbE[k + 1] + S->crO[k], a = S->lfO[k];
            S->lbO[k] = (r > a ? r : a) + S->bO[k];
        }
    }
    if (fp)
        steady_odd_f(S, k0, H);
    else
        steady_even_f(S, k0, H);
}

/* Largest (q - a[s]) * rinv[-s] over s in [0, n): rinv points at 1/(e+1) and runs backwards. */
static FL_VEC_MAX double window_best(const double *restrict a, const double *restrict rinv, double q, int n)
{
    double w[4] = {-1e300, -1e300, -1e300, -1e300};
    int s = 0;
    for (; s + 4 <= n; s += 4)
        for (int u = 0; u < 4; u++) {
            double v = (q - a[s + u]) * rinv[-(s + u)];
            w[u] = v > w[u] ? v : w[u];
        }
    for (; s < n; s++) {
        double v = (q - a[s]) * rinv[-s];
        w[0] = v > w[0] ? v : w[0];
    }
    return fmax(fmax(w[0], w[1]), fmax(w[2], w[3]));
}

/* Largest mean weight of the steady schedule's cycles (seconds per micro-batch): the window of
 * stages s..e costs the sum of their f+b plus the p2p round trips 2c and spans e-s+1
 * micro-batches. Returns the mean and its window length in *len (the critical cycle, whose
 * length the steady state repeats with). With prefix sums A the weight is Q[e] - A[s]. */
static double steady_period(int p, const double *f, const double *b, const double *c, int *len)
{
    double A[FL_TRAIN_MAX_STAGES + 1], Q[FL_TRAIN_MAX_STAGES], inv[FL_TRAIN_MAX_STAGES + 1];
    A[0] = 0;
    inv[0] = 0;
    for (int s = 0; s < p; s++) {
        A[s + 1] = A[s] + f[s] + b[s] + 2 * c[s];
        Q[s] = A[s + 1] - 2 * c[s];
        inv[s + 1] = 1.0 / (s + 1);
    }
    double P = -1e300;
    int best_e = 0;
    for (int e = 0; e < p; e++) {
        double v = window_best(A, inv + e + 1, Q[e], e + 1);
        if (v > P) {
            P = v;
            best_e = e;
        }
    }
    *len = 1;
    for (int s = 0; s <= best_e; s++)
        if ((Q[best_e] - A[s]) * inv[best_e - s + 1] >= P) {
            *len = best_e - s + 1;
            break;
        }
    return P;
}

/* Simulate m micro-batches through p stages; per-stage end times into end_at[0..p). */
static void run_1f1b(int p, int m, const double *f, const double *b, const double *c, long max_ops, double jump_tol,
                     double *end_at)
{
    /* plain layout with one NEVER slot on each side: x[1 + s] */
    double xs[FL_TRAIN_MAX_STAGES + 2], cls[FL_TRAIN_MAX_STAGES + 2], crs[FL_TRAIN_MAX_STAGES + 2];
    double fs[FL_TRAIN_MAX_STAGES + 2], bs[FL_TRAIN_MAX_STAGES + 2];
    double *x = xs + 1, *cl = cls + 1, *cr = crs + 1, *fp = fs + 1, *bp = bs + 1;
    for (int s = 0; s < p; s++) {
        x[s] = 0;
        cl[s] = s > 0 ? c[s - 1] : 0;
        cr[s] = s < p - 1 ? c[s] : 0;
        fp[s] = f[s];
        bp[s] = b[s];
    }
    x[-1] = x[p] = NEVER;

    /* 1. warm-up forwards F(s, j), j < min(p-1-s, m), on diagonals d = s + j */
    for (int d = 0; d <= p - 2; d++) {
        int lo = d - m + 1 > 0 ? d - m + 1 : 0, hi = d < p - 2 ? d : p - 2;
        warm_diag(x, cl, fp, lo, hi);
    }

    /* 2. steady: the stage's latest op is its latest forward so far (lb = lf) */
    split S;
    int H = (p + 1) / 2, cnt[2] = {(p + 1) / 2, p / 2}; /* pairs; stages per parity */
    for (int k = 0; k <= H + 1; k++) {
        S.lfE[k] = S.lfO[k] = S.lbE[k] = S.lbO[k] = NEVER;
        S.fE[k] = S.fO[k] = S.bE[k] = S.bO[k] = 0;
        S.clE[k] = S.clO[k] = S.crE[k] = S.crO[k] = NEVER; /* virtual stages stay NEVER */
    }
    for (int s = 0; s < p; s++) {
        int k = 1 + s / 2;
        if (s & 1) {
            S.lfO[k] = S.lbO[k] = x[s];
            S.fO[k] = f[s], S.bO[k] = b[s], S.clO[k] = cl[s], S.crO[k] = cr[s];
        } else {
            S.lfE[k] = S.lbE[k] = x[s];
            S.fE[k] = f[s], S.bE[k] = b[s], S.clE[k] = cl[s], S.crE[k] = cr[s];
        }
    }
    int inv_lo = p - 1, inv_hi = 2 * m - p; /* every stage steady at these indices */
    long afford = (max_ops - 2L * p * (p - 1)) / (2L * p); /* steady pairs simulated at most */
    if (afford < 4)
        afford = 4;
    double snap[4][HALF];
    long pairs = 0, verify_at = -1;
    int jumped = 0, cyc = 0;
    double period = 0;
    for (int i = 0; i < 2 * m; i++) {
        if (!jumped && i >= inv_lo && i <= inv_hi && ((i - inv_lo) & 1) == 0) {
            long left = (inv_hi - i + 1) / 2; /* whole steady pairs still to run */
            long jump = 0;
            double shift = 0;
            if (pairs == 0 && left >= 8)
                period = steady_period(p, f, b, c, &cyc);
            if (verify_at == pairs) {
                /* y(n) = x(k + n L) - n D is a max-plus map iterated, hence nonexpansive: if every
                 * completion advanced by D +- e over the last L pairs, skipping j more periods is
                 * off by at most j e, and so is everything simulated after the skip */
                double lo = 1e300, hi = -1e300;
                diff_range(S.lfE + 1, snap[0] + 1, cnt[0], &lo, &hi);
                diff_range(S.lfO + 1, snap[1] + 1, cnt[1], &lo, &hi);
                diff_range(S.lbE + 1, snap[2] + 1, cnt[0], &lo, &hi);
                diff_range(S.lbO + 1, snap[3] + 1, cnt[1], &lo, &hi);
                double e = 0.5 * (hi - lo), D = 0.5 * (hi + lo), now = S.lfE[1];
                long j = left / cyc;
                if (j > 0 && (double)j * e <= jump_tol * (now + (double)j * (D - e))) {
                    jump = j * cyc;
                    shift = (double)j * D;
                }
                verify_at = -1;
            }
            if (!jump && verify_at < 0 && cyc > 0 && left >= 2L * cyc) {
                /* watch the next critical period */
                memcpy(snap[0] + 1, S.lfE + 1, sizeof(double) * (size_t)cnt[0]);
                memcpy(snap[1] + 1, S.lfO + 1, sizeof(double) * (size_t)cnt[1]);
                memcpy(snap[2] + 1, S.lbE + 1, sizeof(double) * (size_t)cnt[0]);
                memcpy(snap[3] + 1, S.lbO + 1, sizeof(double) * (size_t)cnt[1]);
                verify_at = pairs + cyc;
            }
            if (!jump && pairs >= afford && left > 0) {
                /* budget spent: advance by the period, keep the layout the transient reached */
                int len;
                jump = left;
                shift = (double)jump * (period > 0 ? period : steady_period(p, f, b, c, &len));
            }
            if (jump) {
                add_all(S.lfE + 1, shift, cnt[0]);
                add_all(S.lfO + 1, shift, cnt[1]);
                add_all(S.lbE + 1, shift, cnt[0]);
                add_all(S.lbO + 1, shift, cnt[1]);
                jumped = 1;
                i += (int)(2 * jump);
                if (i >= 2 * m)
                    break;
            }
            pairs++;
        }
        int lo = p - 1 - i;
        if (i - 2 * m + p > lo)
            lo = i - 2 * m + p;
        if (lo < 0)
            lo = 0;
        if (lo < p)
            steady_index(&S, H, lo, (p - 1 + i) & 1);
    }

    /* 3. cool-down backwards B(s, j), j >= m - w_s, on diagonals d = j - s */
    for (int s = 0; s < p; s++)
        x[s] = (s & 1 ? S.lbO : S.lbE)[1 + s / 2];
    int d0 = m - p + 1 > 2 - p ? m - p + 1 : 2 - p;
    for (int d = d0; d <= m - 1; d++) {
        int lo = -d > 0 ? -d : 0, hi = m - 1 - d < p - 2 ? m - 1 - d : p - 2;
        cool_diag(x, cr, bp, lo, hi);
    }
    for (int s = 0; s < p; s++)
        end_at[s] = x[s];
}

/* Shared by both entry points: jump_tol is the error bound allowed for skipping steady pairs. */
static void schedule(int p, int m, int chunks, const double *fwd, const double *bwd, const double *p2p,
                     double *last_bwd_end, fl_train_sched_out *out, long max_ops, double jump_tol)
{
    double f[FL_TRAIN_MAX_STAGES], b[FL_TRAIN_MAX_STAGES], c[FL_TRAIN_MAX_STAGES], end_at[FL_TRAIN_MAX_STAGES];
    int v = chunks > 1 ? chunks : 1;
    if (p > FL_TRAIN_MAX_STAGES)
        p = FL_TRAIN_MAX_STAGES;
    double busy_sum = 0;
    for (int s = 0; s < p; s++) {
        f[s] = fwd[s] / v;
        b[s] = bwd[s] / v;
        c[s] = s < p - 1 ? p2p[s] : 0;
        busy_sum += (fwd[s] + bwd[s]) * m;
    }
    run_1f1b(p, m * v, f, b, c, max_ops, jump_tol, end_at);
    double end = 0;
    for (int s = 0; s < p; s++) {
        if (last_bwd_end)
            last_bwd_end[s] = end_at[s];
        end = end_at[s] > end ? end_at[s] : end;
    }
    out->end_s = end;
    out->bubble_fraction = end > 0 ? fmax(0.0, 1.0 - busy_sum / (p * end)) : 0;
}

void fl_train_schedule(int p, int m, int chunks, const double *fwd, const double *bwd, const double *p2p,
                       double *last_bwd_end, fl_train_sched_out *out)
{
    schedule(p, m, chunks, fwd, bwd, p2p, last_bwd_end, out, SIM_OPS, JUMP_TOL);
}

void fl_train_schedule_budget(int p, int m, int chunks, const double *fwd, const double *bwd, const double *p2p,
                              double *last_bwd_end, fl_train_sched_out *out, long max_ops)
{
    /* a budget covering every op asks for the exact schedule (only exactly periodic skips) */
    double ops = 2.0 * (p < FL_TRAIN_MAX_STAGES ? p : FL_TRAIN_MAX_STAGES) * m * (chunks > 1 ? chunks : 1);
    schedule(p, m, chunks, fwd, bwd, p2p, last_bwd_end, out, max_ops, ops <= (double)max_ops ? 0 : JUMP_TOL);
}
