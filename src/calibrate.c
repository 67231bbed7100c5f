/* calibrate.c: temperature scaling (Guo et al., "On calibration of modern
   neural networks", 2017) of a model's tile probabilities, and the expected
   calibration error that judges it.

   A tile's probabilities p (averaged over its 8 symmetries with TTA) become
   softmax(log p / T). Without TTA, log p is the logits less a constant, so
   this is exactly temperature scaling of the logits; with TTA it scales the
   averaged ensemble, which is what is shown and what the threshold applies to.
   The map keeps each tile's ranking of the classes, so T never changes a
   tile's most probable class; T < 1 sharpens, T > 1 softens. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "internal.h"

/* Probabilities that rounded to 0 still have a logarithm. */
#define LOG_FLOOR -80.0

static double log_prob(float p) { return p > 0 ? fmax(log(p), LOG_FLOOR) : LOG_FLOOR; }

void cs_temper(float *p, int K, float T) {
    if (T == 1 || !(T > 0)) return;
    double z[CS_MAX_CLASSES], m = -INFINITY, s = 0;
    for (int k = 0; k < K; k++) m = fmax(m, z[k] = log_prob(p[k]) / T);
    for (int k = 0; k < K; k++) s += z[k] = exp(z[k] - m);
    for (int k = 0; k < K; k++) p[k] = (float)(z[k] / s);
}

/* Mean -log q[label] over the samples, q = p tempered by 1 / beta. */
static double nll(const float *probs, const int *labels, int n, int K, double beta) {
    double sum = 0;
    for (int i = 0; i < n; i++) {
        const float *p = probs + (size_t)i * K;
        double m = -INFINITY, s = 0;
        for (int k = 0; k < K; k++) m = fmax(m, beta * log_prob(p[k]));
        for (int k = 0; k < K; k++) s += exp(beta * log_prob(p[k]) - m);
        sum += m + log(s) - beta * log_prob(p[labels[i]]);
    }
    return sum / n;
}

/* The loss a temperature is chosen by: the mean cross-entropy at beta = e^u,
   plus a weak prior that the network's own temperature is right (u = 0, a
   standard normal on u worth one sample), so that a few validation tiles, all
   right with room to spare, do not sharpen without end: their cross-entropy
   keeps falling, to below rounding. */
static double objective(const float *probs, const int *labels, int n, int K, double u) {
    return nll(probs, labels, n, K, exp(u)) + u * u / (2.0 * n);
}

float cs_fit_temperature(const float *probs, const int *labels, int n, int K) {
    if (n < 1) return 1;
    /* Golden-section search over u = log(1 / T), in the range allowed. */
    const double g = (sqrt(5) - 1) / 2;
    double a = -log(CS_MAX_TEMPERATURE), b = -log(CS_MIN_TEMPERATURE);
    double c = b - g * (b - a), d = a + g * (b - a);
    double fc = objective(probs, labels, n, K, c), fd = objective(probs, labels, n, K, d);
    while (b - a > 1e-5) {
        if (fc <= fd) b = d, d = c, fd = fc, c = b - g * (b - a), fc = objective(probs, labels, n, K, c);
        else a = c, c = d, fc = fd, d = a + g * (b - a), fd = objective(probs, labels, n, K, d);
    }
    return (float)exp(-(a + b) / 2);
}

/* Equal-width bins of the top probability; ECE = sum over bins of
   n_bin / n * |accuracy - mean top probability|. */
double cs_ece(const float *probs, const int *labels, int n, int K, int nbins, cs_calibration_bin *bins) {
    if (n < 1 || nbins < 1) return NAN;
    cs_calibration_bin own[64], *b = bins ? bins : own;
    if (!bins && nbins > 64) nbins = 64;
    for (int j = 0; j < nbins; j++) b[j] = (cs_calibration_bin){0};
    for (int i = 0; i < n; i++) {
        const float *p = probs + (size_t)i * K;
        int top = 0;
        for (int k = 1; k < K; k++)
            if (p[k] > p[top]) top = k;
        int j = (int)(p[top] * nbins);
        j = j < 0 ? 0 : j >= nbins ? nbins - 1 : j;
        b[j].n++;
        b[j].confidence += p[top];
        b[j].accuracy += top == labels[i];
    }
    double ece = 0;
    for (int j = 0; j < nbins; j++) {
        if (!b[j].n) continue;
        b[j].confidence /= b[j].n;
        b[j].accuracy /= b[j].n;
        ece += (double)b[j].n / n * fabs(b[j].accuracy - b[j].confidence);
    }
    return ece;
}

double cs_metrics_ece(const cs_metrics *mt, int nbins, cs_calibration_bin *bins) {
    return cs_ece(mt->probs, mt->label, mt->n, mt->nclasses, nbins, bins);
}

cs_status cs_model_set_temperature(cs_model *m, float T, cs_error *err) {
    char v[32];
    snprintf(v, sizeof v, "%g", T);
    return cs_model_set(m, CS_META_TEMPERATURE, v, err);
}

float cs_temper_fitted(float *probs, const int *labels, int n, int K, double ece[2]) {
    float T = cs_fit_temperature(probs, labels, n, K);
    ece[0] = cs_ece(probs, labels, n, K, CS_ECE_BINS, NULL);
    for (int i = 0; i < n; i++) cs_temper(probs + (size_t)i * K, K, T);
    ece[1] = cs_ece(probs, labels, n, K, CS_ECE_BINS, NULL);
    return T;
}

cs_status cs_record_ece(cs_model *m, double before, double after, cs_error *err) {
    char v[32];
    snprintf(v, sizeof v, isnan(before) ? "none" : "%.4f", before);
    cs_status st = cs_model_set(m, CS_META_VAL_ECE_UNCALIBRATED, v, err);
    snprintf(v, sizeof v, isnan(after) ? "none" : "%.4f", after);
    return st ? st : cs_model_set(m, CS_META_VAL_ECE, v, err);
}

/* The threshold t of two classes' p1, as the same tiles' p1 after going from
   temperature `from` to `to`. */
static float rethreshold(float t, float from, float to) {
    float p[2] = {1 - t, t};
    cs_temper(p, 2, 1 / from);
    cs_temper(p, 2, to);
    return p[1];
}

cs_status cs_calibrate(cs_model *m, const cs_dataset *data, int val_only, double ece[2],
                       cs_error *err) {
    if (val_only && !cs_model_get(m, CS_META_VAL_SPLIT))
        return cs_fail(err, CS_EINPUT, "the model records no validation split (metadata %s): "
                       "calibrate it on images it did not train on", CS_META_VAL_SPLIT);
    cs_dataset train = {0}, held = {0};
    cs_status st = val_only ? cs_model_split(m, data, &train, &held, err) : CS_OK;
    cs_eval ev;
    cs_eval_init(&ev, m->net.nclasses);
    float before = m->temperature;
    m->temperature = 1;
    if (!st) st = cs_evaluate(m, val_only ? &held : data, 0, &ev, NULL, NULL, err);
    m->temperature = before;
    const cs_metrics *mt = &ev.tiles;
    if (!st && mt->n < 1) st = cs_fail(err, CS_EINPUT, "no tile with cells on it to calibrate on");
    if (!st) {
        double e[2];
        float T = cs_temper_fitted(mt->probs, mt->label, mt->n, mt->nclasses, e);
        if (ece) ece[0] = e[0], ece[1] = e[1];
        char v[32];
        snprintf(v, sizeof v, "%g", rethreshold(m->threshold, before, T));
        if (m->net.nclasses == 2) st = cs_model_set(m, CS_META_THRESHOLD, v, err);
        if (!st) st = cs_model_set_temperature(m, T, err);
        if (!st && val_only) st = cs_record_ece(m, e[0], e[1], err);
    }
    if (!st && val_only) st = cs_ood_fit(m, &train, &held, CS_OOD_FRR, err);
    cs_eval_free(&ev);
    cs_dataset_free(&train);
    cs_dataset_free(&held);
    return st;
}
