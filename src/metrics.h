/* metrics.h: the figures behind cs_metrics and reports (internal): adding
   samples, top-5, per-class figures, ROC curves. */
#ifndef CS_METRICS_H
#define CS_METRICS_H

#include <stdint.h>

#include "cellsight.h"

cs_status cs_metrics_add(cs_metrics *mt, const float *probs, int label, int predicted,
                         cs_error *err);
/* Share of samples whose true class is among the five most probable (ties in
   its favour). Meant for more than five classes. */
double cs_metrics_top5(const cs_metrics *mt);

typedef struct {
    double precision, recall, f1; /* 0 where undefined (no sample predicted or present) */
    int support;                  /* samples whose true class it is */
    int correct;                  /* of those, the ones predicted right */
} cs_class_figures;
cs_class_figures cs_metrics_class(const cs_metrics *mt, int c);

/* A ROC curve: points from (0, 0) to (1, 1), one per distinct score, samples
   with equal scores taken as one step (so ties count half in the AUC). */
typedef struct {
    int n;
    float *fpr, *tpr;
    float *threshold;   /* point i: positive when score >= threshold[i] (point 0: +inf) */
    double auc;         /* trapezoid area; NaN without positives or negatives */
} cs_roc;

cs_status cs_roc_compute(cs_roc *roc, const float *score, const uint8_t *positive, int n,
                         cs_error *err);
/* Two classes: p1 against class 1. More: micro-averaged one-vs-rest (every
   sample and class a score p[c], positive when c is the true class). */
cs_status cs_metrics_roc(const cs_metrics *mt, cs_roc *roc, cs_error *err);
void cs_roc_free(cs_roc *roc);
/* The threshold that maximises tpr - fpr (Youden's J), halfway between that
   point's score and the next lower one; 0.5 if no point beats chance. */
float cs_roc_best_threshold(const cs_roc *roc);

#endif
