/* test_golden.c: the C core against PyTorch. tools/torch_reference.py built
   the same networks in PyTorch (float64) and wrote data/golden: the weights as
   a model file, and input tiles with the expected probabilities, loss, every
   gradient and the weights after Adam steps. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "test.h"

#define RTOL 2e-5 /* float32, summing thousands of terms, against float64 */

static uint8_t *read_file(const char *path, size_t *size) {
    FILE *f = fopen(path, "rb");
    uint8_t *data = NULL;
    long n;
    if (f && fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) > 0 && fseek(f, 0, SEEK_SET) == 0 &&
        (data = malloc((size_t)n)) && fread(data, 1, (size_t)n, f) == (size_t)n)
        *size = (size_t)n;
    else {
        free(data);
        data = NULL;
    }
    if (f) fclose(f);
    return data;
}

typedef struct {
    uint8_t *bytes;
    cs_safetensors st;
} st_file;

static int st_open(st_file *f, const char *dir, const char *name) {
    char path[1024];
    size_t size = 0;
    cs_error err;
    snprintf(path, sizeof path, "%s/golden/%s.safetensors", dir, name);
    f->bytes = read_file(path, &size);
    int ok = f->bytes && cs_st_parse(&f->st, f->bytes, size, &err) == CS_OK;
    CHECK(ok);
    if (!ok) fprintf(stderr, "  %s: %s\n", path, f->bytes ? err.msg : "cannot read");
    return ok;
}

static void st_close(st_file *f) {
    cs_st_free(&f->st);
    free(f->bytes);
}

static const char *meta(const cs_safetensors *st, const char *key) {
    for (int i = 0; i < st->nmeta; i++)
        if (!strcmp(st->meta[i].key, key)) return st->meta[i].value;
    return "";
}

/* The F32 tensor name of n elements, malloc'd, or NULL (a failed check). */
static float *tensor(const cs_safetensors *st, const char *name, size_t n) {
    cs_error err;
    float *t = malloc(sizeof(float) * n);
    int ok = t && cs_st_read_f32(st, name, t, n, &err) == CS_OK;
    CHECK(ok);
    if (!ok) {
        fprintf(stderr, "  %s: %s\n", name, t ? err.msg : "out of memory");
        free(t);
        return NULL;
    }
    return t;
}

/* got [n] within RTOL of want [n], relative to the element or, near zero,
   to a hundredth of the tensor's largest: sums that cancel lose digits. */
static void check_close(const char *what, const float *got, const float *want, size_t n) {
    double wmax = 0, worst = 0;
    size_t worst_i = 0;
    for (size_t i = 0; i < n; i++) wmax = fmax(wmax, fabs(want[i]));
    for (size_t i = 0; i < n; i++) {
        double e = fabs(got[i] - want[i]) / (fabs(want[i]) + 0.1 * wmax + 1e-30);
        if (!(e <= worst)) worst = e, worst_i = i;
    }
    CHECK(worst <= RTOL);
    if (getenv("GOLDEN_VERBOSE") || !(worst <= RTOL))
        fprintf(stderr, "  %-24s worst relative error %.2g at %zu: %.9g, expected %.9g\n", what, worst,
                worst_i, got[worst_i], want[worst_i]);
}

/* Every parameter tensor of net against the expected file's prefix + name. */
static void check_params(const cs_net *net, const cs_safetensors *exp, const char *prefix, int grads) {
    for (int i = 0; i < net->nlayers; i++) {
        const cs_layer *L = &net->layers[i];
        if (!L->nweight) continue;
        char name[64];
        float *want;
        snprintf(name, sizeof name, "%s%s.weight", prefix, L->name);
        if ((want = tensor(exp, name, L->nweight))) check_close(name, grads ? L->dweight : L->weight, want, L->nweight);
        free(want);
        snprintf(name, sizeof name, "%s%s.bias", prefix, L->name);
        if ((want = tensor(exp, name, L->nbias))) check_close(name, grads ? L->dbias : L->bias, want, L->nbias);
        free(want);
    }
}

static void check_case(const char *dir, const char *name) {
    char exp_name[128];
    st_file model, exp;
    snprintf(exp_name, sizeof exp_name, "%s_expected", name);
    if (!st_open(&model, dir, name)) return;
    if (!st_open(&exp, dir, exp_name)) {
        st_close(&model);
        return;
    }
    fprintf(stderr, "%s (%s)\n", name, meta(&model.st, "arch"));

    /* the net the model file's metadata describes, with its weights */
    const char *classes = meta(&model.st, "classes");
    int K = 1, tile = atoi(meta(&model.st, "tile"));
    for (const char *c = classes; *c; c++) K += *c == ',';
    cs_net net;
    cs_error err;
    CHECK(cs_net_init(&net, meta(&model.st, "arch"), tile, K, &err) == CS_OK);
    for (int i = 0; i < net.nlayers; i++) {
        cs_layer *L = &net.layers[i];
        char tname[64];
        if (!L->nweight) continue;
        snprintf(tname, sizeof tname, "%s.weight", L->name);
        CHECK(cs_st_read_f32(&model.st, tname, L->weight, L->nweight, &err) == CS_OK);
        snprintf(tname, sizeof tname, "%s.bias", L->name);
        CHECK(cs_st_read_f32(&model.st, tname, L->bias, L->nbias, &err) == CS_OK);
    }

    const cs_st_tensor *in = cs_st_find(&exp.st, "input");
    int B = in ? (int)in->shape[0] : 1;
    float *x = tensor(&exp.st, "input", (size_t)B * tile * tile);
    float *label_f = tensor(&exp.st, "labels", B), *class_weight = NULL;
    float *want_probs = tensor(&exp.st, "probs", (size_t)B * K), *want_loss = tensor(&exp.st, "loss", 1);
    if (cs_st_find(&exp.st, "class_weight")) class_weight = tensor(&exp.st, "class_weight", K);
    cs_workspace *ws = cs_workspace_new(&net, B, &err);
    int *labels = malloc(sizeof(int) * B);
    float *probs = malloc(sizeof(float) * B * K);
    CHECK(ws && x && label_f && want_probs && want_loss);
    if (!ws || !x || !label_f || !want_probs || !want_loss) goto done;
    for (int b = 0; b < B; b++) labels[b] = (int)label_f[b];

    cs_net_forward(&net, ws, 0, x, B, 0, NULL, probs);
    check_close("probs", probs, want_probs, (size_t)B * K);
    float loss = cs_net_backward(&net, ws, 0, labels, class_weight, 0, B);
    check_close("loss", &loss, want_loss, 1);
    check_params(&net, &exp.st, "grad.", 1);

    /* adam.NAME after one step, adamN.NAME after N, each from a new forward and backward pass */
    cs_adam opt;
    CHECK(cs_adam_init(&opt, net.nparams, &err) == CS_OK);
    for (int step = 1;; step++) {
        char prefix[16], first[64];
        snprintf(prefix, sizeof prefix, step == 1 ? "adam." : "adam%d.", step);
        snprintf(first, sizeof first, "%s%s.weight", prefix, net.layers[0].name);
        if (!cs_st_find(&exp.st, first)) break;
        if (step > 1) {
            cs_net_forward(&net, ws, 0, x, B, 0, NULL, probs);
            cs_net_backward(&net, ws, 0, labels, class_weight, 0, B);
        }
        cs_adam_step(&opt, net.params, net.grads, 0);
        check_params(&net, &exp.st, prefix, 0);
    }
    cs_adam_free(&opt);

done:
    free(x), free(label_f), free(class_weight), free(want_probs), free(want_loss), free(labels), free(probs);
    cs_workspace_free(ws);
    cs_net_free(&net);
    st_close(&exp);
    st_close(&model);
}

int main(int argc, char **argv) {
    const char *dir = argc > 1 ? argv[1] : "tests/data";
    check_case(dir, "paper_k2");
    check_case(dir, "pooled_k3");
    return test_summary();
}
