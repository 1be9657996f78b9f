/* simulator/train_schedule.c — event simulation of one pipeline replica's 1F1B schedule (and
 * the interleaved schedule) over heterogeneous per-stage forward/backward times and p2p delays.
 *
 * Each stage runs its fixed 1F1B op sequence: w = min(p-1-s, m) warm-up forwards, then pairs
 * (F_{w+j}, B_j), then the remaining backwards. An op starts when its stage is free and its
 * input has arrived: F(s,j) after F(s-1,j) + p2p, B(s,j) after B(s+1,j) + p2p. Processing the
 * ops by sequence index, forwards in ascending and backwards in descending stage order, visits
 * every op after its dependencies (tests/simulator checks this against a dependency-driven
 * reference), so each op costs a few arithmetic operations and no allocation. Neighbours are
 * at most two micro-batches apart at any index, so ring buffers of 4 suffice.
 *
 * Long runs: once every stage is in its steady 1F1B state, each extra micro-batch adds one
 * period P = max over stages of max(f_s + b_s, f_{s+1} + b_{s+1} + 2 p2p_s) (the stage itself,
 * or the round trip to its successor). Beyond SIM_OPS simulated ops the schedule is simulated
 * for enough micro-batches to reach steady state and extended by P per extra micro-batch.
 *
 * Interleaved (v chunks): every stage holds v model chunks of 1/v of its layers; the schedule
 * is simulated as 1F1B over m*v chunk-micro-batches of 1/v of the stage time with a p2p per
 * chunk boundary, which reproduces the (p-1)/(v*m) bubble and the v-fold p2p traffic. */
#include "simulator/train_sim.h"

#include <math.h>
#include <string.h>

#define RING 4
#define SIM_OPS 8192

/* Simulate m micro-batches; returns the end time, fills last_bwd_end[] (may be NULL). */
static double run_1f1b(int p, int m, const double *f, const double *b, const double *p2p, double *last_bwd_end)
{
    double clock[FL_TRAIN_MAX_STAGES];
    double fr[FL_TRAIN_MAX_STAGES][RING], br[FL_TRAIN_MAX_STAGES][RING];
    int w[FL_TRAIN_MAX_STAGES];
    for (int s = 0; s < p; s++) {
        clock[s] = 0;
        w[s] = p - 1 - s < m ? p - 1 - s : m;
    }
    int n_ops = 2 * m;
    for (int i = 0; i < n_ops; i++) {
        /* forwards at index i, stages ascending */
        for (int s = 0; s < p; s++) {
            int ws = w[s], j;
            if (i < ws)
                j = i;
            else if (i - ws < 2 * (m - ws) && ((i - ws) & 1) == 0)
                j = ws + (i - ws) / 2;
            else
                continue;
            double start = clock[s];
            if (s > 0) {
                double ready = fr[s - 1][j & (RING - 1)] + p2p[s - 1];
                if (ready > start)
                    start = ready;
            }
            clock[s] = start + f[s];
            fr[s][j & (RING - 1)] = clock[s];
        }
        /* backwards at index i, stages descending */
        for (int s = p - 1; s >= 0; s--) {
            int ws = w[s], j;
            if (i < ws)
                continue;
            if (i - ws < 2 * (m - ws)) {
                if (((i - ws) & 1) == 0)
                    continue;
                j = (i - ws) / 2;
            } else {
                j = i - m;
            }
            double start = clock[s];
            if (s < p - 1) {
                double ready = br[s + 1][j & (RING - 1)] + p2p[s];
                if (ready > start)
                    start = ready;
            }
            clock[s] = start + b[s];
            br[s][j & (RING - 1)] = clock[s];
        }
    }
    double end = 0;
    for (int s = 0; s < p; s++) {
        if (last_bwd_end)
            last_bwd_end[s] = clock[s];
        if (clock[s] > end)
            end = clock[s];
    }
    return end;
}

void fl_train_schedule(int p, int m, int chunks, const double *fwd, const double *bwd, const double *p2p,
                       double *last_bwd_end, fl_train_sched_out *out)
{
    fl_train_schedule_budget(p, m, chunks, fwd, bwd, p2p, last_bwd_end, out, SIM_OPS);
}

void fl_train_schedule_budget(int p, int m, int chunks, const double *fwd, const double *bwd, const double *p2p,
                              double *last_bwd_end, fl_train_sched_out *out, long max_ops)
{
    double f[FL_TRAIN_MAX_STAGES], b[FL_TRAIN_MAX_STAGES], c[FL_TRAIN_MAX_STAGES];
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
    int mm = m * v;
    int m_sim = mm;
    if ((double)p * mm * 2 > (double)max_ops) {
        long afford = max_ops / (2L * p);
        m_sim = (int)(afford > 2 ? afford : 2);
        if (m_sim > mm)
            m_sim = mm;
    }
    double end = run_1f1b(p, m_sim, f, b, c, last_bwd_end);
    if (m_sim < mm) {
        double P = 0;
        for (int s = 0; s < p; s++) {
            double own = f[s] + b[s];
            if (own > P)
                P = own;
            if (s < p - 1) {
                double trip = f[s + 1] + b[s + 1] + 2 * c[s];
                if (trip > P)
                    P = trip;
            }
        }
        double add = (mm - m_sim) * P;
        end += add;
        if (last_bwd_end)
            for (int s = 0; s < p; s++)
                last_bwd_end[s] += add;
    }
    out->end_s = end;
    out->bubble_fraction = end > 0 ? fmax(0.0, 1.0 - busy_sum / (p * end)) : 0;
}
