/* finetune.c: a loaded model taught new classes. The features the network has
   learnt are kept; only the output layer, whose units are the classes, starts
   again. Training itself is cs_fit's (cs_train, head_only for head mode). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* "a,b,c", the form of metadata `classes`; NULL names give class0, class1, ... */
static char *join_names(int n, const char *const *names) {
    size_t len = 1;
    for (int c = 0; c < n; c++) len += (names ? strlen(names[c]) : 16) + 1;
    char *list = malloc(len), *p = list;
    if (!list) return NULL;
    *p = 0;
    for (int c = 0; c < n; c++)
        p += names ? sprintf(p, "%s%s", c ? "," : "", names[c]) : sprintf(p, "%sclass%d", c ? "," : "", c);
    return list;
}

cs_status cs_model_set_classes(cs_model *m, int nclasses, const char *const *names,
                               uint64_t seed, cs_error *err) {
    if (nclasses < 2 || nclasses > CS_MAX_CLASSES)
        return cs_fail(err, CS_EINPUT, "%d classes: a model needs 2 to %d", nclasses, CS_MAX_CLASSES);
    for (int c = 0; names && c < nclasses; c++)
        if (strchr(names[c], ','))
            return cs_fail(err, CS_EINPUT, "the class name \"%.60s\" contains a comma", names[c]);
    char *joined = join_names(nclasses, names);
    if (!joined) return cs_fail(err, CS_ENOMEM, "out of memory for %d class names", nclasses);

    /* A fresh network of the same arch, Glorot throughout, then every layer
       but the output one copied over: they come first in the parameters. */
    cs_net net;
    cs_status st = cs_net_init(&net, m->net.arch, m->net.tile, nclasses, err);
    if (st != CS_OK) {
        free(joined);
        return st;
    }
    cs_rng rng;
    cs_rng_seed(&rng, seed);
    cs_net_glorot(&net, &rng);
    const cs_layer *out = &m->net.layers[m->net.nlayers - 1];
    memcpy(net.params, m->net.params, sizeof(float) * (size_t)(out->weight - m->net.params));

    /* cs_model_set checks the names against the network and replaces m->classes. */
    cs_net old = m->net;
    char **old_classes = m->classes;
    m->net = net;
    m->classes = NULL;
    st = cs_model_set(m, CS_META_CLASSES, joined, err);
    free(joined);
    if (st != CS_OK) {
        m->net = old;
        m->classes = old_classes;
        cs_net_free(&net);
        return st;
    }
    cs_free_names(old_classes, old.nclasses);
    cs_net_free(&old);
    cs_ood_free(&m->ood); /* the old classes' */
    st = cs_model_set(m, CS_META_OOD_THRESHOLD, "none", err);
    if (st) return st;
    return cs_model_set(m, CS_META_THRESHOLD, "0.5", err);
}

int cs_model_has_classes(const cs_model *m, const char *const *names, int n) {
    if (n != m->net.nclasses) return 0;
    for (int c = 0; c < n; c++)
        if (strcmp(names[c], m->classes[c]) != 0) return 0;
    return 1;
}

cs_status cs_finetune(cs_model *m, const cs_dataset *data, int nclasses,
                      const char *const *classes, const cs_recipe *r, cs_dataset *val,
                      cs_error *err) {
    cs_status st = CS_OK;
    if (!cs_model_has_classes(m, classes, nclasses))
        st = cs_model_set_classes(m, nclasses, classes, r->train.seed, err);
    /* What comes of a base is a classifier, not another base to start from. */
    if (!st && cs_model_get(m, CS_META_ROLE)) st = cs_model_set(m, CS_META_ROLE, CS_ROLE_CLASSIFIER, err);
    return st ? st : cs_fit(m, data, r, val, err);
}
