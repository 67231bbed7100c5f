/* cmd_info.c: cellsight info, what a model file holds. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "net.h"

static const char *layer_kind(const cs_layer *l, char *buf, size_t size) {
    switch (l->kind) {
    case CS_CONV: return "conv 3x3 + ReLU";
    case CS_POOL: return "max pool 2x2";
    case CS_GAP: return "global average pool";
    case CS_FGAP: return "global average pool over cells";
    case CS_DROPOUT: snprintf(buf, size, "dropout %g", l->p); return buf;
    case CS_DENSE: return l->relu ? "dense + ReLU" : "dense (output)";
    }
    return "?";
}

/* How the model tells an image of none of its classes, and from what. */
static void print_ood(const cs_model *m) {
    const cs_ood *o = &m->ood;
    const char *score = cs_model_get(m, CS_META_OOD_SCORE);
    if (!score) return;
    printf("%-14s %s", "ood_score", score);
    if (o->kind == CS_OOD_KIND_KNN && o->bank)
        printf(" (distance to the k-th nearest, k = %d, of %d training tiles' %d penultimate features)", o->k,
               o->nbank, o->bank_dim);
    else if (o->kind == CS_OOD_KIND_KNN_CLASS && o->bank && o->bank_class)
        printf(" (distance to the k-th nearest, k = %d, of the image's class's of %d training tiles' %d "
               "penultimate features)", o->k, o->nbank, o->bank_dim);
    else if (o->kind == CS_OOD_KIND_TRUST && o->bank && o->bank_class)
        printf(" (distance to the k-th nearest, k = %d, of the image's class's of %d training tiles' %d "
               "penultimate features, over the nearest other class's)", o->k, o->nbank, o->bank_dim);
    else if (o->kind == CS_OOD_KIND_IMAGE_CLASS && o->bank && o->bank_class)
        printf(" (the image's mean %d penultimate features' distance to the nearest of the image's class's of "
               "%d training images')", o->bank_dim, o->nbank);
    else if (o->kind == CS_OOD_KIND_KNN || o->kind == CS_OOD_KIND_KNN_CLASS || o->kind == CS_OOD_KIND_TRUST ||
             o->kind == CS_OOD_KIND_IMAGE_CLASS)
        printf(" (no bank: no score)");
    else if (o->kind != CS_OOD_KIND_MSP && o->means)
        printf(" (to the nearest of %d class means of %d %s features)", m->net.nclasses, o->dim,
               o->kind == CS_OOD_KIND_MAHALANOBIS ? "pooled" : "penultimate");
    else if (o->kind == CS_OOD_KIND_MSP)
        printf(" (1 - the top probability)");
    else
        printf(" (no statistics: no score)");
    printf(isnan(o->threshold) ? ", no threshold" : ", unknown above %g", o->threshold);
    if (o->nsmall > 1) /* the last entry is the validation images' own count, ood_threshold's */
        printf(" (images of fewer than %d tiles: higher, %g at %d)", o->small_tiles[o->nsmall - 1],
               o->small_threshold[0], o->small_tiles[0]);
    printf("\n");
}

static int cmd_info(args *a) {
    if (a->npos != 1) return usage_error(a, "give one model file");
    cs_model m;
    if (load_model(&m, a->pos[0])) return EXIT_INPUT;
    const cs_net *n = &m.net;
    const char *role = cs_model_get(&m, CS_META_ROLE);
    int base = role && !strcmp(role, CS_ROLE_BASE);
    printf("%-14s %s\n%-14s %s\n%-14s %s\n%-14s %d:", "file", a->pos[0], "role",
           base ? CS_ROLE_BASE " (a model to fine-tune from; it classifies too)" : CS_ROLE_CLASSIFIER, "arch",
           n->arch, "classes", n->nclasses);
    for (int c = 0; c < n->nclasses; c++) printf("%s%s", c ? ", " : " ", m.classes[c]);
    printf("\n%-14s %d\n%-14s %d\n", "tile", n->tile, "crop_bottom", m.crop_bottom);
    if (n->nclasses == 2) printf("%-14s %g\n", "threshold", m.threshold);
    printf("%-14s %g%s\n", "temperature", m.temperature, m.temperature == 1 ? " (probabilities as the network gives them)" : "");
    print_ood(&m);
    printf("%-14s %s\n%-14s %zu\n%-14s %.0f (%.1f M)\n\nlayers:\n", "tta",
           m.tta ? CS_TTA_DIHEDRAL8 " (mean over the 8 flips and rotations)" : CS_TTA_NONE, "parameters",
           n->nparams, "MACs per tile", cs_net_macs(n), cs_net_macs(n) / 1e6);
    for (int i = 0; i < n->nlayers; i++) {
        const cs_layer *l = &n->layers[i];
        char buf[32], shape[64];
        snprintf(shape, sizeof shape, "%dx%dx%d -> %dx%dx%d", l->h, l->w, l->c, l->oh, l->ow, l->oc);
        printf("  %-6s %-20s %-26s %zu parameters\n", l->name[0] ? l->name : "-",
               layer_kind(l, buf, sizeof buf), shape, l->nweight + l->nbias);
    }
    printf("\nmetadata:\n");
    for (int i = 0; i < m.nmeta; i++) printf("  %s: %s\n", m.meta[i].key, m.meta[i].value);
    cs_model_free(&m);
    return 0;
}

const command info_command = {"info", "FILE", "What a model file holds: role, layers, classes, tile, crop, threshold, temperature,\n"
                    "parameters, multiply-adds per tile, and every metadata entry.",
    {{0}},
    NULL, cmd_info};
