/* planner/train_heur.h — greedy rounding heuristic of the training planner's MILP (train_heur.c). */
#ifndef FL_PLANNER_TRAIN_HEUR_H
#define FL_PLANNER_TRAIN_HEUR_H

enum { FL_TP_HCOL_TEMPLATE = 0, FL_TP_HCOL_OFFER = 1, FL_TP_HCOL_REGION = 2 };

/* The model's rows in both compressed layouts plus what the heuristic needs per column
 * (all arrays 1-based like GLPK's). Bounds of rows without one are +-1e300. */
typedef struct fl_tp_heur {
    int nrow, ncol;
    int *rptr, *rind, *cptr, *cind;
    double *rval, *cval;
    double *rlb, *rub;
    int *kind;          /* FL_TP_HCOL_* */
    int *group;         /* binaries (kind REGION): exactly one column of each group > 0 is switched
                         * on, the one the fractional point leans on most; 0 = no group */
    double *slots;      /* micro-batch slots of a template column at this T */
    double *price;      /* $/h of one unit (instances; templates: estimate, for ordering) */
    double *cub;        /* column upper bound */
    double need;        /* slots the batch needs */
    int *hptr, *hind;   /* per row, its helper entries (negative coefficient, not a template
                         * column): positions into rind/rval; built by fl_tp_heur_index */
} fl_tp_heur;

/* Build the row/column copies from a 1-based COO matrix; -1 when out of memory (then free). */
int fl_tp_heur_init(fl_tp_heur *h, int nrow, int ncol, int nnz, const int *ia, const int *ja, const double *ar);
void fl_tp_heur_free(fl_tp_heur *h);
/* Index the helper entries of every row once kind[] is filled; -1 when out of memory. */
int fl_tp_heur_index(fl_tp_heur *h);
/* Round the fractional point xf[1..ncol] into an integer point out[1..ncol] that satisfies every
 * row and covers h->need slots (h indexed by fl_tp_heur_index). Returns 1 when it found one. */
int fl_tp_heur_round(const fl_tp_heur *h, const double *xf, double *out);

#endif
