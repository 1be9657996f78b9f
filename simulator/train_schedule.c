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
#include <stdint.h>
#include <string.h>

/* Default op budget (2 ops per stage and micro-batch) simulated without periodicity. */
#define SIM_OPS (1L << 21)
/* Time before the pipeline starts (neighbour of stage 0 / stage p-1). */
#define NEVER (-1e300)
/* Pair loops run over whole blocks of this many pairs (the vector width of the widest clone):
 * the virtual stages past p compute NEVER values, no scalar remainder loop runs. */
#define BLOCK 8
/* Split arrays (below): stage s at index SLOT0 + s/2 of its parity's arrays; the slots before
 * SLOT0 and from SLOT0 + H on are NEVER stages. SLOT0 and HALF keep the pair loops on whole
 * 64-byte lines from pair 0 (misaligned vector loads cost a third of a pass). */
#define SLOT0 8
#define HALF ((SLOT0 + FL_TRAIN_MAX_STAGES / 2 + 2 + BLOCK + 7) / 8 * 8)
/* Largest error a skip of steady pairs may add, relative to the time reached (bound, not estimate). */
#define JUMP_TOL 1e-3

/* GCC only vectorises these small loops at -O3; ask for it on the kernels (no effect on
 * results: every op is the same max and add either way). */
#if defined(__GNUC__) && !defined(__clang__)
#define FL_VEC __attribute__((optimize("tree-vectorize", "vect-cost-model=dynamic"), target_clones("avx2", "default")))
/* reductions of max: the values are finite (NEVER is -1e300, not -inf) */
#define FL_VEC_MAX                                                                                        \
    __attribute__((optimize("tree-vectorize", "vect-cost-model=dynamic", "finite-math-only", "no-signed-zeros"), \
                   target_clones("avx2", "default")))
#else
#define FL_VEC
#define FL_VEC_MAX
#endif

/* max of finite values, inlined (fmax is a library call on baseline x86-64). */
static inline double max_d(double a, double b)
{
    return a > b ? a : b;
}

/* a where the mask is all ones, else b: a select by bits, which the compiler keeps on vectors
 * (a conditional would turn the masked block into a scalar loop with a branch per lane). */
static inline double pick(uint64_t mask, double a, double b)
{
    uint64_t x, y;
    memcpy(&x, &a, sizeof x);
    memcpy(&y, &b, sizeof y);
    x = (x & mask) | (y & ~mask);
    memcpy(&a, &x, sizeof a);
    return a;
}

/* Warm-up in closed form: the last warm-up forward of every stage, F(s, w_s - 1) with
 * w_s = min(p-1-s, m). Forward times do not depend on the micro-batch, so the longest path to
 * F(s, j) visits stages 0..s once each (sum of f and p2p) and spends its j extra forwards on
 * the slowest of them: F(s, j) = sum_{t<=s} f_t + sum_{t<s} c_t + j * max_{t<=s} f_t. Stages
 * without warm-up (the last) keep x[s] = 0. */
static void warm_up(int p, int m, const double *f, const double *c, double *x)
{
    double sum = 0, fmax_ = 0;
    for (int s = 0; s < p; s++) {
        sum = (s > 0 ? sum + c[s - 1] : 0) + f[s];
        fmax_ = f[s] > fmax_ ? f[s] : fmax_;
        int w = p - 1 - s < m ? p - 1 - s : m;
        x[s] = w > 0 ? sum + (w - 1) * fmax_ : 0;
    }
}

/* Cool-down in closed form: from x[s], the completion of each stage's last steady op (or of its
 * last warm-up forward when it has none), the completion of every stage's last backward
 * B(s, m-1), in place. A path into B(s, m-1) starts from some stage s' >= s at the index of its
 * last steady backward, climbs to s with one backward per stage (B(u, k) waits for B(u+1, k)
 * + c_u) and spends its n(s') remaining index steps on one stage t in [s, s'], the slowest one
 * being the best: with P[u] = sum_{v<u} (b_v + c_v),
 *   B(s, m-1) = max_{t >= s} H(t) - P[s],  H(t) = max_{s' >= t} (x[s'] + P[s'] + n(s') b_t).
 * n(s') = w_{s'} = min(p-1-s', m) steps; a stage without steady op (w = m) must first run its
 * own B(s', 0), so it starts at x + b_{s'} with m-1 steps. H(t) is the upper envelope of lines
 * of slope n(s') at b_t: lines arrive in non-decreasing slope as t decreases (convex hull trick;
 * each query walks from the previous peak), about O(p) instead of the p^2/2 cool-down ops.
 * cool_down below takes the same maximum when the stages have few distinct backward times. */
/* Prefix sums of the cool-down climb: P[u] = sum over v < u of (b_v + c_v), u = 0..p. */
static inline void climb_prefix(int p, const double *b, const double *c, double *P)
{
    P[0] = 0;
    for (int u = 0; u < p; u++)
        P[u + 1] = P[u] + (b[u] + c[u]);
}

/* Line k * x + a that stage t contributes to H (see cool_down_hull): slope n(t), offset x[t] + P[t]. */
static inline void climb_line(int p, int m, int t, const double *x, const double *P, const double *b, double *k,
                              double *a)
{
    int w = p - 1 - t < m ? p - 1 - t : m;
    *k = w, *a = x[t] + P[t];
    if (w == m) /* no steady op: its first backward comes first */
        *k = m - 1, *a += b[t];
}

static void cool_down_hull(int p, int m, const double *b, const double *c, double *x)
{
    double P[FL_TRAIN_MAX_STAGES + 1], K[FL_TRAIN_MAX_STAGES], A[FL_TRAIN_MAX_STAGES];
    climb_prefix(p, b, c, P);
    int h = 0, at = 0; /* hull lines K[i] * x + A[i], slopes increasing; at: last peak */
    double best = -1e300;
    for (int t = p - 1; t >= 0; t--) {
        double k, a;
        climb_line(p, m, t, x, P, b, &k, &a);
        /* add the line unless one of its slope is above; drop the lines it makes irrelevant */
        if (!(h > 0 && K[h - 1] == k && A[h - 1] >= a)) {
            if (h > 0 && K[h - 1] == k)
                h--;
            while (h >= 2 && (a - A[h - 2]) * (K[h - 1] - K[h - 2]) >= (A[h - 1] - A[h - 2]) * (k - K[h - 2]))
                h--;
            K[h] = k, A[h] = a, h++;
        }
        /* values along the hull at b_t rise then fall: walk from the last peak to this one */
        double q = b[t];
        if (at >= h)
            at = h - 1;
        while (at + 1 < h && K[at + 1] * q + A[at + 1] > K[at] * q + A[at])
            at++;
        while (at > 0 && K[at - 1] * q + A[at - 1] > K[at] * q + A[at])
            at--;
        double v = K[at] * q + A[at];
        best = v > best ? v : best;
        x[t] = best - P[t];
    }
}

/* Distinct backward times cool_down keeps a running maximum for (one vector lane each). */
#define COOL_Q 8

/* cool_down_hull's maximum over every line rather than the hull's: H(t) at b_t is the running
 * maximum, over the lines added so far, of their values at b_t, kept for each distinct backward
 * time at once (a pipeline has a few: GPU types times layer counts, and the two ends). Falls back
 * to the hull beyond COOL_Q distinct times. */
static FL_VEC void cool_down(int p, int m, const double *b, const double *c, double *x)
{
    double P[FL_TRAIN_MAX_STAGES + 1], Q[COOL_Q] = {0}, R[COOL_Q];
    unsigned char lane[FL_TRAIN_MAX_STAGES];
    int nq = 0;
    for (int t = 0; t < p; t++) {
        int l = 0;
        while (l < nq && Q[l] != b[t])
            l++;
        if (l == nq) {
            if (nq == COOL_Q) {
                cool_down_hull(p, m, b, c, x);
                return;
            }
            Q[nq++] = b[t];
        }
        lane[t] = (unsigned char)l;
    }
    climb_prefix(p, b, c, P);
    for (int l = 0; l < COOL_Q; l++)
        R[l] = -1e300;
    double best = -1e300;
    for (int t = p - 1; t >= 0; t--) {
        double k, a;
        climb_line(p, m, t, x, P, b, &k, &a);
        for (int l = 0; l < COOL_Q; l++) { /* R[l] = max(R[l], k * Q[l] + a) on every lane */
            double v = k * Q[l] + a;
            R[l] = v > R[l] ? v : R[l];
        }
        double v = R[lane[t]];
        best = v > best ? v : best;
        x[t] = best - P[t];
    }
}

/* Range [*lo, *hi] of x[k] - y[k] over n pairs, widened in place (min/max reductions). */
static FL_VEC_MAX void diff_range(const double *restrict x, const double *restrict y, int n, double *lo, double *hi)
{
    double l = *lo, h = *hi;
    for (int k = 0; k < n; k++) {
        double e = x[k] - y[k];
        l = e < l ? e : l;
        h = e > h ? e : h;
    }
    *lo = l;
    *hi = h;
}

/* The same over four arrays of n pairs at once (one pass, no call per array). */
static FL_VEC_MAX void diff_range4(const double *restrict x0, const double *restrict y0, const double *restrict x1,
                                   const double *restrict y1, const double *restrict x2, const double *restrict y2,
                                   const double *restrict x3, const double *restrict y3, int n, double *lo, double *hi)
{
    double l = *lo, h = *hi;
    for (int k = 0; k < n; k++) {
        double e0 = x0[k] - y0[k], e1 = x1[k] - y1[k], e2 = x2[k] - y2[k], e3 = x3[k] - y3[k];
        double el = e0 < e1 ? e0 : e1, er = e2 < e3 ? e2 : e3, eh = e0 > e1 ? e0 : e1, es = e2 > e3 ? e2 : e3;
        el = el < er ? el : er;
        eh = eh > es ? eh : es;
        l = el < l ? el : l;
        h = eh > h ? eh : h;
    }
    *lo = l;
    *hi = h;
}

/* Copy of four arrays of n values. */
static FL_VEC void copy4(double *restrict d0, const double *restrict s0, double *restrict d1, const double *restrict s1,
                         double *restrict d2, const double *restrict s2, double *restrict d3, const double *restrict s3,
                         int n)
{
    for (int k = 0; k < n; k++) {
        d0[k] = s0[k];
        d1[k] = s1[k];
        d2[k] = s2[k];
        d3[k] = s3[k];
    }
}

static void add_all(double *x, double d, int n)
{
    for (int k = 0; k < n; k++)
        x[k] += d;
}

/* Steady-state split layout, per parity (E = even stages 2k, O = odd stages 2k+1, slot SLOT0 +
 * k): forward/backward completions, stage times and the p2p delays to the left (cl) and right
 * (cr). The slot before of O is stage -1 and the slot after the last stage is stage p: NEVER. */
typedef struct split {
    _Alignas(64) double lfE[HALF];
    double lbE[HALF], lbO[HALF];
    double lfO_buf[2][HALF];
    double fE[HALF], fO[HALF], bE[HALF], bO[HALF], clE[HALF], clO[HALF], crE[HALF], crO[HALF];
    double *lfO; /* odd stages' forwards: one of lfO_buf (steady_passes alternates them) */
} split;

/* One steady index over the stage pairs k in [k0, k1): even stages forward (reading the left
 * odd neighbour's last forward), odd stages backward (reading the right even neighbour's). */
static FL_VEC void steady_even_f(split *restrict S, int k0, int k1)
{
    double *restrict lfE = S->lfE + SLOT0, *restrict lbO = S->lbO + SLOT0;
    const double *restrict lbE = S->lbE + SLOT0, *restrict lfO = S->lfO + SLOT0;
    const double *restrict fE = S->fE + SLOT0, *restrict bO = S->bO + SLOT0, *restrict clE = S->clE + SLOT0,
                 *restrict crO = S->crO + SLOT0;
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
    double *restrict lfO = S->lfO + SLOT0, *restrict lbE = S->lbE + SLOT0;
    const double *restrict lbO = S->lbO + SLOT0, *restrict lfE = S->lfE + SLOT0;
    const double *restrict fO = S->fO + SLOT0, *restrict bE = S->bE + SLOT0, *restrict clO = S->clO + SLOT0,
                 *restrict crE = S->crE + SLOT0;
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
        int k = SLOT0 + lo / 2;
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

/* One pass: steady indices i and i+1 over the stage pairs (2k, 2k+1), k in [k0, k1), the even
 * stages running a forward at i: F(2k) and B(2k+1), then F(2k+1) and B(2k), which only need
 * each other. Arrays are per parity and indexed by k = s/2 (E: even stages, O: odd ones). Stage
 * 2k's forward waits for stage 2k-1's forward of the index before, read from lfO; the odd
 * stages' new forwards go to nlfO, the other buffer, so that no pair overwrites what the next
 * one reads. Stage 2k+1's backward reads stage 2k+2's backward one pair ahead of its update.
 * The ramps have one stage active at one of the two indices only (lo0/lo1: first stage active
 * at i/i+1): in the ramp-down the first (odd) stage ends with a backward at i, run before the
 * pairs update its right neighbour; in the ramp-up a new first (odd) stage starts with a
 * forward at i+1 (its left neighbour and own backward are warm-up values). */
static inline __attribute__((always_inline)) void steady_pass(split *restrict S, int cur, int lo0, int lo1, int k0,
                                                             int k1)
{
    const double *lfO = S->lfO_buf[cur];
    double *nlfO = S->lfO_buf[!cur];
    if (lo1 > lo0) {
        int k = SLOT0 + lo0 / 2;
        double r = S->lbE[k + 1] + S->crO[k], a = lfO[k];
        S->lbO[k] = (r > a ? r : a) + S->bO[k];
    }
    /* whole aligned blocks (a fixed-length inner loop on whole vectors): the pairs of the first
     * block below k0 are inactive and keep their values */
    int ks = SLOT0 + k0, kb = ks / BLOCK * BLOCK;
    if (kb < ks && k0 < k1) {
        for (int l = 0; l < BLOCK; l++) {
            int k = kb + l;
            uint64_t on = k >= ks ? ~(uint64_t)0 : 0;
            double r = lfO[k - 1] + S->clE[k], a = S->lbE[k];
            double tf = (r > a ? r : a) + S->fE[k];
            double r2 = S->lbE[k + 1] + S->crO[k], a2 = lfO[k];
            double tb = (r2 > a2 ? r2 : a2) + S->bO[k];
            double r3 = tf + S->clO[k], r4 = tb + S->crE[k];
            double nf = (r3 > tb ? r3 : tb) + S->fO[k], nb = (r4 > tf ? r4 : tf) + S->bE[k];
            nlfO[k] = pick(on, nf, a2);
            S->lbE[k] = pick(on, nb, a);
            S->lfE[k] = pick(on, tf, S->lfE[k]);
            S->lbO[k] = pick(on, tb, S->lbO[k]);
        }
        kb += BLOCK;
    }
    for (; kb < SLOT0 + k1; kb += BLOCK)
        for (int l = 0; l < BLOCK; l++) {
            int k = kb + l;
            double r = lfO[k - 1] + S->clE[k], a = S->lbE[k];
            double tf = (r > a ? r : a) + S->fE[k]; /* F(2k) at the first index */
            double r2 = S->lbE[k + 1] + S->crO[k], a2 = lfO[k];
            double tb = (r2 > a2 ? r2 : a2) + S->bO[k]; /* B(2k+1) at the first index */
            double r3 = tf + S->clO[k];
            nlfO[k] = (r3 > tb ? r3 : tb) + S->fO[k]; /* F(2k+1) at the second */
            double r4 = tb + S->crE[k];
            S->lbE[k] = (r4 > tf ? r4 : tf) + S->bE[k]; /* B(2k) at the second */
            S->lfE[k] = tf;
            S->lbO[k] = tb;
        }
    if (lo1 < lo0) {
        int k = SLOT0 + lo1 / 2;
        double r = S->lfE[k] + S->clO[k], a = S->lbO[k];
        nlfO[k] = (r > a ? r : a) + S->fO[k];
    }
}

/* First stage still steady at sequence index i (stages below it are in warm-up or cool-down). */
static inline int steady_lo(int p, int m, int i)
{
    int lo = p - 1 - i;
    if (i - 2 * m + p > lo)
        lo = i - 2 * m + p;
    return lo < 0 ? 0 : lo;
}

/* n passes (steady_pass) from index i, i - (p-1) even; the odd stages' forwards alternate
 * between the two buffers (S->lfO is the current one). Pair loops run over whole blocks of
 * BLOCK pairs: the NEVER stages past p compute NEVER values, no remainder loop runs. */
static FL_VEC void steady_passes(split *restrict S, int p, int m, int i, int n)
{
    int in0 = S->lfO == S->lfO_buf[0], H = (p + 1) / 2;
    for (; n > 0; n--, i += 2) {
        int lo0 = steady_lo(p, m, i), lo1 = steady_lo(p, m, i + 1);
        int k0 = (lo0 > lo1 ? lo0 : lo1) / 2; /* the first stage active at both is even */
        int k1 = k0 < H ? H : k0;
        if (in0)
            steady_pass(S, 0, lo0, lo1, k0, k1);
        else
            steady_pass(S, 1, lo0, lo1, k0, k1);
        in0 = !in0;
    }
    S->lfO = in0 ? S->lfO_buf[0] : S->lfO_buf[1];
}

/* The critical window: the largest mean weight P of the windows of stages s..e (seconds per
 * micro-batch: the sum of their f+b plus the p2p round trips 2c, over e-s+1 micro-batches), the
 * first e reaching it and its shortest window there. With prefix sums A the weight is
 * Q[e] - A[s] and W(e) = max over s <= e of (Q[e] - A[s]) * inv[e-s+1]. An e whose W cannot
 * exceed the largest so far is skipped without evaluating its windows: a window s..e, s < e,
 * averages the window s..e-1 with the increment Q[e] - Q[e-1], so W(e) <= max(W(e-1),
 * Q[e] - Q[e-1], Q[e] - A[e]) (a bound carried over skipped e; the 1e-9 margin covers the
 * rounding of the sums). Every e evaluated is evaluated as in the plain loop, so P, best_e and
 * the window are the same. */
static FL_VEC_MAX double critical_window(const double *restrict A, const double *restrict Q,
                                         const double *restrict inv, int p, int *best_e_out)
{
    double P = -1e300, bound = -1e300;
    int best_e = 0;
    for (int e = 0; e < p; e++) {
        double inc = e > 0 ? Q[e] - Q[e - 1] : Q[0] - A[0], own = Q[e] - A[e];
        bound = bound > inc ? bound : inc;
        bound = bound > own ? bound : own;
        if (bound > 0 && bound * (1 + 1e-9) < P)
            continue;
        double q = Q[e], w = -1e300;
        const double *restrict iv = inv + e + 1; /* iv[-s] = 1/(e-s+1) */
        for (int s = 0; s <= e; s++) {
            double v = (q - A[s]) * iv[-s];
            w = v > w ? v : w;
        }
        if (w > P) {
            P = w;
            best_e = e;
        }
        bound = w;
    }
    *best_e_out = best_e;
    return P;
}

/* Largest mean weight of the steady schedule's cycles (seconds per micro-batch, see
 * critical_window), and in *len the length of its window: the critical cycle, whose length the
 * steady state repeats with. */
static double steady_period(int p, const double *f, const double *b, const double *c, int *len)
{
    double A[FL_TRAIN_MAX_STAGES + 1], Q[FL_TRAIN_MAX_STAGES], inv[FL_TRAIN_MAX_STAGES + 1];
    *len = 1;
    if (p < 1)
        return 0;
    A[0] = 0;
    inv[0] = 0;
    for (int s = 0; s < p; s++) {
        A[s + 1] = A[s] + f[s] + b[s] + 2 * c[s];
        Q[s] = A[s + 1] - 2 * c[s];
        inv[s + 1] = 1.0 / (s + 1);
    }
    int best_e;
    double P = critical_window(A, Q, inv, p, &best_e);
    for (int s = 0; s <= best_e; s++)
        if ((Q[best_e] - A[s]) * inv[best_e - s + 1] >= P) {
            *len = best_e - s + 1;
            break;
        }
    return P;
}

/* Slot k of the odd stages, and of the even ones too when both, as a NEVER stage. */
static void virtual_slot(split *S, int k, int both)
{
    S->lfO_buf[0][k] = S->lfO_buf[1][k] = S->lbO[k] = NEVER;
    S->fO[k] = S->bO[k] = 0;
    S->clO[k] = S->crO[k] = NEVER;
    if (both) {
        S->lfE[k] = S->lbE[k] = NEVER;
        S->fE[k] = S->bE[k] = 0;
        S->clE[k] = S->crE[k] = NEVER;
    }
}

/* Simulate m micro-batches through p stages; per-stage end times into end_at[0..p). */
static void run_1f1b(int p, int m, const double *f, const double *b, const double *c, long max_ops, double jump_tol,
                     double *end_at)
{
    double x[FL_TRAIN_MAX_STAGES];

    /* 1. warm-up forwards F(s, j), j < min(p-1-s, m) */
    warm_up(p, m, f, c, x);

    /* 2. steady: the stage's latest op is its latest forward so far (lb = lf); stage s at slot
     * SLOT0 + s/2 of its parity, with the p2p from the left (cl) and to the right (cr) */
    split S;
    S.lfO = S.lfO_buf[0];
    int H = (p + 1) / 2, cnt[2] = {(p + 1) / 2, p / 2}; /* pairs; stages per parity */
    for (int s = 0; s < p; s += 2) { /* even stages (c[p-1] is 0: no transfer after the last stage) */
        int k = SLOT0 + s / 2;
        S.lfE[k] = S.lbE[k] = x[s];
        S.fE[k] = f[s], S.bE[k] = b[s], S.clE[k] = s > 0 ? c[s - 1] : 0, S.crE[k] = c[s];
    }
    for (int s = 1; s < p; s += 2) {
        int k = SLOT0 + s / 2;
        S.lfO_buf[0][k] = S.lfO_buf[1][k] = S.lbO[k] = x[s];
        S.fO[k] = f[s], S.bO[k] = b[s], S.clO[k] = c[s - 1], S.crO[k] = c[s];
    }
    /* virtual stages (-1 is the only one below read, and from p on) stay NEVER */
    virtual_slot(&S, SLOT0 - 1, 1);
    for (int k = SLOT0 + cnt[1]; k < SLOT0 + H + 1 + BLOCK; k++)
        virtual_slot(&S, k, k >= SLOT0 + cnt[0]);
    int inv_lo = p - 1, inv_hi = 2 * m - p; /* every stage steady at these indices */
    long afford = (max_ops - 2L * p * (p - 1)) / (2L * p); /* steady pairs simulated at most */
    if (afford < 4)
        afford = 4;
    double snap[4][HALF];
    long pairs = 0, verify_at = -1;
    int jumped = 0, cyc = 0;
    double period = 0;
    /* indices run two at a time from those where i - (p-1) is even: the periodicity checks
     * below fall between two passes */
    int i = 0;
    if (((p - 1) & 1) && 2 * m > 0) {
        steady_index(&S, H, steady_lo(p, m, 0), (p - 1) & 1);
        i = 1;
    }
    while (i < 2 * m) {
        /* the checks act at the first pair, at the end of each watched period and once the
         * budget is spent; the pairs in between only run */
        if (!jumped && i >= inv_lo && i <= inv_hi) { /* i - inv_lo is even here */
            pairs = (i - inv_lo) / 2;
            if (pairs == 0 || pairs == verify_at || pairs >= afford) {
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
                    diff_range4(S.lfE + SLOT0, snap[0] + SLOT0, S.lfO + SLOT0, snap[1] + SLOT0, S.lbE + SLOT0,
                                snap[2] + SLOT0, S.lbO + SLOT0, snap[3] + SLOT0, cnt[1], &lo, &hi);
                    if (cnt[0] > cnt[1]) { /* odd p: the last even stage */
                        diff_range(S.lfE + SLOT0 + cnt[1], snap[0] + SLOT0 + cnt[1], 1, &lo, &hi);
                        diff_range(S.lbE + SLOT0 + cnt[1], snap[2] + SLOT0 + cnt[1], 1, &lo, &hi);
                    }
                    double e = 0.5 * (hi - lo), D = 0.5 * (hi + lo), now = S.lfE[SLOT0];
                    long j = left / cyc;
                    if (j > 0 && (double)j * e <= jump_tol * (now + (double)j * (D - e))) {
                        jump = j * cyc;
                        shift = (double)j * D;
                    }
                    verify_at = -1;
                }
                if (!jump && verify_at < 0 && cyc > 0 && left >= 2L * cyc) {
                    /* watch the next critical period */
                    copy4(snap[0] + SLOT0, S.lfE + SLOT0, snap[1] + SLOT0, S.lfO + SLOT0, snap[2] + SLOT0,
                          S.lbE + SLOT0, snap[3] + SLOT0, S.lbO + SLOT0,
                          cnt[0]); /* the odd arrays' extra slot (p odd) is their NEVER neighbour */
                    verify_at = pairs + cyc;
                }
                if (!jump && pairs >= afford && left > 0) {
                    /* budget spent: advance by the period, keep the layout the transient reached */
                    int len;
                    jump = left;
                    shift = (double)jump * (period > 0 ? period : steady_period(p, f, b, c, &len));
                }
                if (jump) {
                    add_all(S.lfE + SLOT0, shift, cnt[0]);
                    add_all(S.lfO + SLOT0, shift, cnt[1]);
                    add_all(S.lbE + SLOT0, shift, cnt[0]);
                    add_all(S.lbO + SLOT0, shift, cnt[1]);
                    jumped = 1;
                    i += (int)(2 * jump);
                    if (i >= 2 * m)
                        break;
                }
            }
        }
        /* run the pairs up to the next index where a check may act */
        long next = 2 * m;
        if (!jumped && i < inv_lo)
            next = inv_lo < next ? inv_lo : next;
        else if (!jumped && i <= inv_hi) {
            long ev = afford > pairs ? afford : pairs + 1;
            if (verify_at > pairs && verify_at < ev)
                ev = verify_at;
            if (inv_lo + 2 * ev <= inv_hi)
                next = inv_lo + 2 * ev;
        }
        int n = (int)((next - i) / 2);
        if (n > 0) {
            steady_passes(&S, p, m, i, n);
            i += 2 * n;
        }
        if (i == 2 * m - 1) { /* a last odd index alone */
            steady_index(&S, H, steady_lo(p, m, i), (p - 1 + i) & 1);
            i++;
        }
    }

    /* 3. cool-down backwards B(s, j), j >= m - w_s */
    for (int s = 0; s < p; s++)
        x[s] = (s & 1 ? S.lbO : S.lbE)[SLOT0 + s / 2];
    cool_down(p, m, b, c, x);
    for (int s = 0; s < p; s++)
        end_at[s] = x[s];
}

/* Busy seconds of the p stages over m micro-batches (kept apart: a register chain). */
static double busy(int p, int m, const double *fwd, const double *bwd)
{
    double sum = 0;
    for (int s = 0; s < p; s++)
        sum += (fwd[s] + bwd[s]) * m;
    return sum;
}

/* Shared by both entry points: jump_tol is the error bound allowed for skipping steady pairs. */
static void schedule(int p, int m, int chunks, const double *fwd, const double *bwd, const double *p2p,
                     double *last_bwd_end, fl_train_sched_out *out, long max_ops, double jump_tol)
{
    double f[FL_TRAIN_MAX_STAGES], b[FL_TRAIN_MAX_STAGES], c[FL_TRAIN_MAX_STAGES], end_at[FL_TRAIN_MAX_STAGES];
    int v = chunks > 1 ? chunks : 1;
    if (p > FL_TRAIN_MAX_STAGES)
        p = FL_TRAIN_MAX_STAGES;
    double busy_sum = busy(p, m, fwd, bwd);
    for (int s = 0; s < p; s++) {
        f[s] = v > 1 ? fwd[s] / v : fwd[s];
        b[s] = v > 1 ? bwd[s] / v : bwd[s];
        c[s] = s < p - 1 ? p2p[s] : 0;
    }
    run_1f1b(p, m * v, f, b, c, max_ops, jump_tol, end_at);
    double end = 0;
    for (int s = 0; s < p; s++) {
        if (last_bwd_end)
            last_bwd_end[s] = end_at[s];
        end = end_at[s] > end ? end_at[s] : end;
    }
    out->end_s = end;
    out->bubble_fraction = end > 0 ? max_d(0.0, 1.0 - busy_sum / (p * end)) : 0;
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
