/* metrics.c: accuracy, loss, top-5, confusion, per-class figures and ROC of
   scored tiles and images. Samples are kept, figures computed when asked, so
   that pooled cross-validation figures are just more samples. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

void cs_metrics_init(cs_metrics *mt, int nclasses) {
    memset(mt, 0, sizeof *mt);
    mt->nclasses = nclasses;
}

void cs_metrics_free(cs_metrics *mt) {
    free(mt->probs);
    free(mt->label);
    free(mt->predicted);
    cs_metrics_init(mt, mt->nclasses);
}

/* Grows *p to cap elements of size each; 0 when out of memory (*p kept). */
static int grow(void *p, size_t cap, size_t size) {
    void *q = realloc(*(void **)p, cap * size);
    if (!q) return 0;
    *(void **)p = q;
    return 1;
}

cs_status cs_metrics_add(cs_metrics *mt, const float *probs, int label, int predicted,
                         cs_error *err) {
    int K = mt->nclasses;
    if (label < 0 || label >= K || predicted < 0 || predicted >= K)
        return cs_fail(err, CS_EINPUT, "class %d or %d is not among the %d classes", label,
                       predicted, K);
    if (mt->n == mt->cap) {
        int cap = mt->cap ? 2 * mt->cap : 256;
        if (!grow(&mt->probs, (size_t)cap * K, sizeof *mt->probs) ||
            !grow(&mt->label, cap, sizeof *mt->label) ||
            !grow(&mt->predicted, cap, sizeof *mt->predicted))
            return cs_fail(err, CS_ENOMEM, "out of memory keeping %d scores", cap);
        mt->cap = cap;
    }
    memcpy(mt->probs + (size_t)mt->n * K, probs, K * sizeof *probs);
    mt->label[mt->n] = label;
    mt->predicted[mt->n] = predicted;
    mt->n++;
    return CS_OK;
}

double cs_metrics_accuracy(const cs_metrics *mt) {
    if (!mt->n) return NAN;
    int correct = 0;
    for (int i = 0; i < mt->n; i++) correct += mt->label[i] == mt->predicted[i];
    return (double)correct / mt->n;
}

double cs_metrics_loss(const cs_metrics *mt) {
    if (!mt->n) return NAN;
    double sum = 0;
    for (int i = 0; i < mt->n; i++)
        sum -= log(fmax(mt->probs[(size_t)i * mt->nclasses + mt->label[i]], 1e-7));
    return sum / mt->n;
}

double cs_metrics_top5(const cs_metrics *mt) {
    if (!mt->n) return NAN;
    int hits = 0;
    for (int i = 0; i < mt->n; i++) {
        const float *p = mt->probs + (size_t)i * mt->nclasses;
        int above = 0; /* classes strictly more probable than the true one */
        for (int c = 0; c < mt->nclasses; c++) above += p[c] > p[mt->label[i]];
        hits += above < 5;
    }
    return (double)hits / mt->n;
}

void cs_metrics_confusion(const cs_metrics *mt, int *confusion) {
    int K = mt->nclasses;
    memset(confusion, 0, (size_t)K * K * sizeof *confusion);
    for (int i = 0; i < mt->n; i++) confusion[mt->label[i] * K + mt->predicted[i]]++;
}

cs_class_figures cs_metrics_class(const cs_metrics *mt, int c) {
    int tp = 0, predicted = 0, support = 0;
    for (int i = 0; i < mt->n; i++) {
        tp += mt->label[i] == c && mt->predicted[i] == c;
        predicted += mt->predicted[i] == c;
        support += mt->label[i] == c;
    }
    cs_class_figures f = {0, 0, 0, support, tp};
    if (predicted) f.precision = (double)tp / predicted;
    if (support) f.recall = (double)tp / support;
    if (f.precision + f.recall > 0) f.f1 = 2 * f.precision * f.recall / (f.precision + f.recall);
    return f;
}

/* ---------------------------------------------------------------- ROC */

typedef struct {
    float score;
    uint8_t positive;
} scored;

static int by_score_descending(const void *a, const void *b) {
    float x = ((const scored *)a)->score, y = ((const scored *)b)->score;
    return (x < y) - (x > y);
}

void cs_roc_free(cs_roc *roc) {
    free(roc->fpr);
    free(roc->tpr);
    free(roc->threshold);
    memset(roc, 0, sizeof *roc);
}

cs_status cs_roc_compute(cs_roc *roc, const float *score, const uint8_t *positive, int n,
                         cs_error *err) {
    memset(roc, 0, sizeof *roc);
    scored *s = malloc((size_t)(n ? n : 1) * sizeof *s);
    roc->fpr = malloc((size_t)(n + 1) * sizeof *roc->fpr);
    roc->tpr = malloc((size_t)(n + 1) * sizeof *roc->tpr);
    roc->threshold = malloc((size_t)(n + 1) * sizeof *roc->threshold);
    if (!s || !roc->fpr || !roc->tpr || !roc->threshold) {
        free(s);
        cs_roc_free(roc);
        return cs_fail(err, CS_ENOMEM, "out of memory for a ROC curve of %d scores", n);
    }
    int P = 0;
    for (int i = 0; i < n; i++) {
        s[i] = (scored){score[i], positive[i] != 0};
        P += s[i].positive;
    }
    int N = n - P;
    qsort(s, n, sizeof *s, by_score_descending);

    /* Walk down the thresholds; a run of equal scores moves the curve in one
       diagonal step, whose trapezoid counts each tied pair as half right. */
    roc->fpr[0] = roc->tpr[0] = 0;
    roc->threshold[0] = INFINITY;
    roc->n = 1;
    int tp = 0, fp = 0;
    double area = 0;
    for (int i = 0; i < n;) {
        int tp0 = tp, fp0 = fp;
        float t = s[i].score;
        for (; i < n && s[i].score == t; i++) {
            tp += s[i].positive;
            fp += !s[i].positive;
        }
        area += (double)(fp - fp0) * (tp + tp0) / 2;
        roc->fpr[roc->n] = N ? (float)fp / N : 0;
        roc->tpr[roc->n] = P ? (float)tp / P : 0;
        roc->threshold[roc->n] = t;
        roc->n++;
    }
    roc->auc = P && N ? area / ((double)P * N) : NAN;
    free(s);
    return CS_OK;
}

cs_status cs_metrics_roc(const cs_metrics *mt, cs_roc *roc, cs_error *err) {
    int K = mt->nclasses, binary = K == 2;
    size_t n = binary ? (size_t)mt->n : (size_t)mt->n * K;
    if (n > 0x7fffffff) return cs_fail(err, CS_ELIMIT, "too many scores for a ROC curve");
    float *score = malloc((n ? n : 1) * sizeof *score);
    uint8_t *positive = malloc(n ? n : 1);
    if (!score || !positive) {
        free(score);
        free(positive);
        return cs_fail(err, CS_ENOMEM, "out of memory for a ROC curve of %zu scores", n);
    }
    for (int i = 0; i < mt->n; i++) {
        const float *p = mt->probs + (size_t)i * K;
        if (binary) {
            score[i] = p[1];
            positive[i] = mt->label[i] == 1;
        } else {
            for (int c = 0; c < K; c++) {
                score[(size_t)i * K + c] = p[c];
                positive[(size_t)i * K + c] = mt->label[i] == c;
            }
        }
    }
    cs_status st = cs_roc_compute(roc, score, positive, (int)n, err);
    free(score);
    free(positive);
    return st;
}

float cs_roc_best_threshold(const cs_roc *roc) {
    int best = 0;
    for (int i = 1; i < roc->n; i++)
        if (roc->tpr[i] - roc->fpr[i] > roc->tpr[best] - roc->fpr[best]) best = i;
    if (best == 0 || roc->tpr[best] - roc->fpr[best] <= 0) return 0.5f;
    /* Any threshold in (next lower score, this score] splits the samples the
       same way; the middle leaves unseen ones the most room. */
    float lower = best + 1 < roc->n ? roc->threshold[best + 1] : 0;
    return (roc->threshold[best] + lower) / 2;
}

/* ---------------------------------------------------------------- evaluations */

void cs_eval_init(cs_eval *ev, int nclasses) {
    memset(ev, 0, sizeof *ev);
    ev->nclasses = nclasses;
    cs_metrics_init(&ev->tiles, nclasses);
    cs_metrics_init(&ev->images, nclasses);
}

void cs_eval_free(cs_eval *ev) {
    for (int i = 0; i < ev->n; i++) {
        free(ev->image[i].file);
        free(ev->image[i].probs);
    }
    free(ev->image);
    cs_metrics_free(&ev->tiles);
    cs_metrics_free(&ev->images);
    cs_eval_init(ev, ev->nclasses);
}

int cs_eval_unknown(const cs_eval *ev) {
    int unknown = 0, verdicts = 0;
    for (int i = 0; i < ev->n; i++) {
        verdicts += ev->image[i].known >= 0;
        unknown += ev->image[i].known == 0;
    }
    return verdicts ? unknown : -1;
}

cs_status cs_eval_add(cs_eval *ev, const char *file, int label, int fold, const cs_result *res,
                      cs_error *err) {
    int K = ev->nclasses;
    cs_status st;
    for (int t = 0; t < res->ntiles; t++)
        if (!res->background[t] &&
            (st = cs_metrics_add(&ev->tiles, res->tile_probs + (size_t)t * K, label,
                                 res->tile_class[t], err)))
            return st;
    if ((st = cs_metrics_add(&ev->images, res->probs, label, res->predicted, err))) return st;

    if (ev->n == ev->cap) {
        int cap = ev->cap ? 2 * ev->cap : 64;
        if (!grow(&ev->image, cap, sizeof *ev->image))
            return cs_fail(err, CS_ENOMEM, "out of memory keeping %d image results", cap);
        ev->cap = cap;
    }
    cs_eval_image *im = &ev->image[ev->n];
    *im = (cs_eval_image){strdup(file), label, res->predicted, res->nforeground, fold,
                          malloc(K * sizeof *im->probs), res->ood_score, res->known};
    if (!im->file || !im->probs) {
        free(im->file);
        free(im->probs);
        return cs_fail(err, CS_ENOMEM, "out of memory keeping the result of %s", file);
    }
    memcpy(im->probs, res->probs, K * sizeof *im->probs);
    ev->n++;
    return CS_OK;
}
