/* report.c: an evaluation as JSON, a ROC curve and a confusion matrix as
   hand-written SVG, and a Markdown table per class, for people and for model
   cards. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "internal.h"

/* ---------------------------------------------------------------- JSON */

static void json_str(FILE *f, const char *s) {
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') fprintf(f, "\\%c", c);
        else if (c < 0x20) fprintf(f, "\\u%04x", c);
        else fputc(c, f);
    }
    fputc('"', f);
}

/* JSON has no NaN: an undefined figure is null. */
static void json_num(FILE *f, double x) {
    if (isfinite(x)) fprintf(f, "%.6g", x);
    else fputs("null", f);
}

static void json_matrix(FILE *f, const cs_metrics *mt, cs_error *err) {
    int K = mt->nclasses;
    int *conf = malloc((size_t)K * K * sizeof *conf);
    if (!conf) {
        cs_fail(err, CS_ENOMEM, "out of memory for a confusion matrix");
        return;
    }
    cs_metrics_confusion(mt, conf);
    fputc('[', f);
    for (int i = 0; i < K; i++) {
        fputs(i ? ",\n    [" : "\n    [", f);
        for (int j = 0; j < K; j++) fprintf(f, j ? ", %d" : "%d", conf[i * K + j]);
        fputc(']', f);
    }
    fputs("\n  ]", f);
    free(conf);
}

/* AUC for two classes, micro-averaged one-vs-rest AUC for more. */
static double auc(const cs_metrics *mt, cs_error *err) {
    cs_roc roc;
    if (cs_metrics_roc(mt, &roc, err)) return NAN;
    double a = roc.auc;
    cs_roc_free(&roc);
    return a;
}

/* ,\n  "key": x */
static void json_field(FILE *f, const char *indent, const char *key, double x) {
    fprintf(f, ",\n%s\"%s\": ", indent, key);
    json_num(f, x);
}

/* The tiles' expected calibration error as the model gives their
   probabilities, or (untempered) as they were before its temperature; bins
   [CS_ECE_BINS] gets the reliability diagram's bins if not NULL. */
static double tile_ece(const cs_report *r, int untempered, cs_calibration_bin *bins) {
    const cs_metrics *mt = &r->eval->tiles;
    float T = r->model->temperature;
    if (!untempered || T == 1) return cs_metrics_ece(mt, CS_ECE_BINS, bins);
    int K = mt->nclasses;
    float *p = malloc(sizeof(float) * K * ((size_t)mt->n + 1));
    if (!p) return NAN;
    memcpy(p, mt->probs, sizeof(float) * K * (size_t)mt->n);
    for (int i = 0; i < mt->n; i++) cs_temper(p + (size_t)i * K, K, 1 / T);
    double ece = cs_ece(p, mt->label, mt->n, K, CS_ECE_BINS, bins);
    free(p);
    return ece;
}

/* The figures of one evaluation, shared by the whole and each fold. */
static void json_figures(FILE *f, const cs_eval *ev, const char *indent, cs_error *err) {
    int K = ev->nclasses;
    fprintf(f, "%s\"tiles\": %d", indent, ev->tiles.n);
    json_field(f, indent, "tile_accuracy", cs_metrics_accuracy(&ev->tiles));
    json_field(f, indent, "tile_loss", cs_metrics_loss(&ev->tiles));
    json_field(f, indent, K == 2 ? "auc" : "auc_micro", auc(&ev->tiles, err));
    if (K > 5) json_field(f, indent, "top5", cs_metrics_top5(&ev->tiles));
    json_field(f, indent, "ece", cs_metrics_ece(&ev->tiles, CS_ECE_BINS, NULL));
    fprintf(f, ",\n%s\"images\": %d", indent, ev->images.n);
    json_field(f, indent, "image_accuracy", cs_metrics_accuracy(&ev->images));
    if (K == 2) json_field(f, indent, "image_auc", auc(&ev->images, err));
    if (K > 5) json_field(f, indent, "image_top5", cs_metrics_top5(&ev->images));
    int unknown = cs_eval_unknown(ev);
    if (unknown >= 0) fprintf(f, ",\n%s\"unknown_images\": %d", indent, unknown);
}

cs_status cs_report_json(FILE *f, const cs_report *r, cs_error *err) {
    const cs_model *m = r->model;
    const cs_eval *ev = r->eval;
    int K = m->net.nclasses;
    cs_error e = {CS_OK, ""};

    fputs("{\n", f);
    if (r->model_path) {
        fputs("  \"model\": ", f);
        json_str(f, r->model_path);
        fputs(",\n", f);
    }
    if (r->data) {
        fputs("  \"data\": ", f);
        json_str(f, r->data);
        fputs(",\n", f);
    }
    fputs("  \"classes\": [", f);
    for (int c = 0; c < K; c++) {
        fputs(c ? ", " : "", f);
        json_str(f, m->classes[c]);
    }
    fprintf(f, "],\n  \"crop_bottom\": %d,\n  \"threshold\": ", m->crop_bottom);
    json_num(f, m->threshold);
    fprintf(f, ",\n  \"tta\": %s,\n  \"temperature\": ", m->tta ? "true" : "false");
    json_num(f, m->temperature);
    fputs(",\n", f);
    json_figures(f, ev, "  ", &e);
    /* Each fold's model had a temperature of its own. */
    if (!r->nfolds) json_field(f, "  ", "ece_uncalibrated", tile_ece(r, 1, NULL));

    fputs(",\n  \"per_class\": {", f);
    for (int c = 0; c < K; c++) {
        cs_class_figures t = cs_metrics_class(&ev->tiles, c), im = cs_metrics_class(&ev->images, c);
        fputs(c ? ",\n    " : "\n    ", f);
        json_str(f, m->classes[c]);
        fprintf(f, /* never NaN: cs_class_figures has 0 where undefined */
                ": {\"precision\": %.6g, \"recall\": %.6g, \"f1\": %.6g, \"tiles\": %d, "
                "\"images\": %d, \"images_right\": %d}",
                t.precision, t.recall, t.f1, t.support, im.support, im.correct);
    }
    fputs("\n  },\n  \"confusion\": ", f);
    json_matrix(f, &ev->tiles, &e);
    fputs(",\n  \"image_confusion\": ", f);
    json_matrix(f, &ev->images, &e);

    fputs(",\n  \"per_image\": [", f);
    for (int i = 0; i < ev->n; i++) {
        const cs_eval_image *im = &ev->image[i];
        fputs(i ? ",\n    {\"file\": " : "\n    {\"file\": ", f);
        json_str(f, im->file);
        fputs(", \"class\": ", f);
        json_str(f, m->classes[im->label]);
        fputs(", \"predicted_class\": ", f);
        json_str(f, m->classes[im->predicted]);
        fprintf(f, ", \"confidence\": %.6f, \"tiles\": %d", im->probs[im->predicted], im->tiles);
        if (r->nfolds) fprintf(f, ", \"fold\": %d", im->fold);
        fputs(", \"ood_score\": ", f);
        json_num(f, im->ood_score);
        fprintf(f, ", \"known\": %s", im->known > 0 ? "true" : im->known == 0 ? "false" : "null");
        fputs(", \"probs\": {", f);
        for (int c = 0; c < K; c++) {
            fputs(c ? ", " : "", f);
            json_str(f, m->classes[c]);
            fprintf(f, ": %.6f", im->probs[c]);
        }
        fputs("}}", f);
    }
    fputs("\n  ]", f);

    if (r->nfolds) {
        fputs(",\n  \"folds\": [", f);
        for (int k = 0; k < r->nfolds; k++) {
            const cs_eval *fe = &r->folds[k];
            fprintf(f, "%s    {\n      \"fold\": %d,\n      \"files\": [", k ? ",\n" : "\n", k + 1);
            for (int i = 0; i < fe->n; i++) {
                fputs(i ? ", " : "", f);
                json_str(f, fe->image[i].file);
            }
            fputs("],\n", f);
            json_figures(f, fe, "      ", &e);
            fputs("\n    }", f);
        }
        fputs("\n  ]", f);
    }
    fputs("\n}\n", f);

    if (e.code) return cs_fail(err, e.code, "%s", e.msg);
    if (ferror(f)) return cs_fail(err, CS_EIO, "cannot write the report: %s", strerror(errno));
    return CS_OK;
}

/* ---------------------------------------------------------------- SVG */

void cs_xml_str(FILE *f, const char *s) {
    for (; *s; s++) {
        switch (*s) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        default:
            if ((unsigned char)*s >= 0x20) fputc(*s, f); /* XML 1.0 forbids the rest */
        }
    }
}

void cs_svg_begin(FILE *f, int w, int h) {
    fprintf(f,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
            "viewBox=\"0 0 %d %d\" font-family=\"sans-serif\" font-size=\"12\">\n"
            "<rect width=\"%d\" height=\"%d\" fill=\"white\"/>\n",
            w, h, w, h, w, h);
}

/* A unit square of side px at (x0, y0): a 0.2 grid with its figures, the
   diagonal dashed, the axes labelled. */
static void unit_square(FILE *f, int x0, int y0, int side, const char *xlabel, const char *ylabel) {
    for (int i = 0; i <= 5; i++) {
        double v = i / 5.0;
        int gx = x0 + (int)lround(v * side), gy = y0 + side - (int)lround(v * side);
        fprintf(f,
                "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#ddd\"/>"
                "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#ddd\"/>\n"
                "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">%.1f</text>"
                "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">%.1f</text>\n",
                gx, y0, gx, y0 + side, x0, gy, x0 + side, gy, gx, y0 + side + 16, v, x0 - 6,
                gy + 4, v);
    }
    fprintf(f,
            "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" stroke=\"black\"/>\n"
            "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#999\" stroke-dasharray=\"4 4\"/>\n"
            "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">%s</text>\n"
            "<text transform=\"translate(%d %d) rotate(-90)\" text-anchor=\"middle\">%s</text>\n",
            x0, y0, side, side, x0, y0 + side, x0 + side, y0, x0 + side / 2, y0 + side + 40, xlabel,
            x0 - 42, y0 + side / 2, ylabel);
}

/* The tile ROC curve, with the chance diagonal, a 0.2 grid and labelled axes. */
static cs_status write_roc(FILE *f, const cs_report *r, cs_error *err) {
    const cs_model *m = r->model;
    cs_roc roc;
    cs_status st = cs_metrics_roc(&r->eval->tiles, &roc, err);
    if (st) return st;
    const int x0 = 70, y0 = 40, side = 400, W = x0 + side + 30, H = y0 + side + 60;
    cs_svg_begin(f, W, H);
    fputs("<text x=\"", f);
    fprintf(f, "%d\" y=\"24\" text-anchor=\"middle\" font-size=\"14\">ROC of %d tiles: ",
            x0 + side / 2, r->eval->tiles.n);
    if (m->net.nclasses == 2) {
        cs_xml_str(f, m->classes[1]);
        fputs(" against ", f);
        cs_xml_str(f, m->classes[0]);
    } else {
        fprintf(f, "%d classes, micro-averaged one-vs-rest", m->net.nclasses);
    }
    fputs("</text>\n", f);
    unit_square(f, x0, y0, side, "false positive rate", "true positive rate");
    fputs("<polyline fill=\"none\" stroke=\"#1f5fbf\" stroke-width=\"2\" points=\"", f);
    for (int i = 0; i < roc.n; i++)
        fprintf(f, "%s%.1f,%.1f", i ? " " : "", x0 + roc.fpr[i] * side,
                y0 + side - roc.tpr[i] * side);
    fputs("\"/>\n", f);
    if (m->net.nclasses == 2 && !r->nfolds) { /* each fold's model has its own threshold */
        /* The model's operating point: tiles at or above its threshold are called class 1. */
        int i = 0;
        while (i + 1 < roc.n && roc.threshold[i + 1] >= m->threshold) i++;
        double px = x0 + roc.fpr[i] * side, py = y0 + side - roc.tpr[i] * side;
        fprintf(f,
                "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"4\" fill=\"#d03030\"/>"
                "<text x=\"%.1f\" y=\"%.1f\">threshold %.3g</text>\n",
                px, py, px + 8, py + 16, m->threshold);
    }
    fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\" font-size=\"14\">AUC ",
            x0 + side - 10, y0 + side - 12);
    if (isfinite(roc.auc)) fprintf(f, "%.4f", roc.auc);
    else fputs("undefined (one class only)", f);
    fputs("</text>\n</svg>\n", f);
    cs_roc_free(&roc);
    return CS_OK;
}

/* The tiles' reliability diagram: per bin of top probability, the share
   right as a bar, against the diagonal of perfect calibration; before the
   model's temperature as a grey line. */
static cs_status write_reliability(FILE *f, const cs_report *r, cs_error *err) {
    (void)err;
    cs_calibration_bin now[CS_ECE_BINS], before[CS_ECE_BINS];
    double ece = tile_ece(r, 0, now), ece0 = r->nfolds ? NAN : tile_ece(r, 1, before);
    const int x0 = 70, y0 = 40, side = 400, W = x0 + side + 30, H = y0 + side + 60;
    cs_svg_begin(f, W, H);
    fprintf(f, "<text x=\"%d\" y=\"24\" text-anchor=\"middle\" font-size=\"14\">Reliability of %d "
            "tiles: ECE %.4f", x0 + side / 2, r->eval->tiles.n, ece);
    if (isfinite(ece0) && r->model->temperature != 1)
        fprintf(f, " (%.4f before temperature %.3g)", ece0, r->model->temperature);
    fputs("</text>\n", f);
    unit_square(f, x0, y0, side, "top probability", "share of tiles right");
    double bw = (double)side / CS_ECE_BINS;
    for (int j = 0; j < CS_ECE_BINS; j++)
        if (now[j].n)
            fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"#1f5fbf\" "
                    "fill-opacity=\"0.6\" stroke=\"#1f5fbf\"><title>%d tiles, mean top probability "
                    "%.3f, %.3f right</title></rect>\n", x0 + j * bw, y0 + side - now[j].accuracy * side,
                    bw, now[j].accuracy * side, now[j].n, now[j].confidence, now[j].accuracy);
    if (isfinite(ece0) && r->model->temperature != 1) {
        fputs("<polyline fill=\"none\" stroke=\"#777\" stroke-width=\"2\" points=\"", f);
        for (int j = 0, first = 1; j < CS_ECE_BINS; j++)
            if (before[j].n) {
                fprintf(f, "%s%.1f,%.1f", first ? "" : " ", x0 + before[j].confidence * side,
                        y0 + side - before[j].accuracy * side);
                first = 0;
            }
        fputs("\"/>\n", f);
    }
    fputs("</svg>\n", f);
    return CS_OK;
}

/* The tile confusion matrix: cells shaded by the share of their row (recall). */
static cs_status write_confusion(FILE *f, const cs_report *r, cs_error *err) {
    const cs_model *m = r->model;
    int K = m->net.nclasses;
    int *conf = malloc((size_t)K * K * sizeof *conf);
    if (!conf) return cs_fail(err, CS_ENOMEM, "out of memory for a confusion matrix");
    cs_metrics_confusion(&r->eval->tiles, conf);

    size_t longest = 0;
    for (int c = 0; c < K; c++) {
        size_t len = strlen(m->classes[c]);
        if (len > longest) longest = len;
    }
    int cell = K <= 8 ? 60 : K <= 20 ? 32 : 22;
    int name = (int)(longest > 40 ? 40 : longest) * 7 + 12; /* room for a class name */
    int x0 = name + 30, y0 = name + 50, W = x0 + K * cell + 20, H = y0 + K * cell + 20;
    cs_svg_begin(f, W, H);
    fprintf(f,
            "<text x=\"%d\" y=\"20\" text-anchor=\"middle\" font-size=\"14\">Confusion of %d "
            "tiles (shade: share of the row)</text>\n"
            "<text x=\"%d\" y=\"40\" text-anchor=\"middle\">predicted class</text>\n"
            "<text transform=\"translate(16 %d) rotate(-90)\" text-anchor=\"middle\">true "
            "class</text>\n",
            W / 2, r->eval->tiles.n, x0 + K * cell / 2, y0 + K * cell / 2);
    for (int c = 0; c < K; c++) {
        int mid = c * cell + cell / 2;
        fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">", x0 - 6, y0 + mid + 4);
        cs_xml_str(f, m->classes[c]);
        fprintf(f, "</text>\n<text transform=\"translate(%d %d) rotate(-60)\">", x0 + mid + 4,
                y0 - 6);
        cs_xml_str(f, m->classes[c]);
        fputs("</text>\n", f);
    }
    for (int i = 0; i < K; i++) {
        int row = 0;
        for (int j = 0; j < K; j++) row += conf[i * K + j];
        for (int j = 0; j < K; j++) {
            int n = conf[i * K + j];
            double share = row ? (double)n / row : 0;
            int shade = (int)lround(255 - 200 * share);
            fprintf(f,
                    "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"rgb(%d,%d,255)\" "
                    "stroke=\"#ccc\"><title>%d of %d</title></rect>",
                    x0 + j * cell, y0 + i * cell, cell, cell, shade, shade, n, row);
            if (n)
                fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\" fill=\"%s\"%s>%d</text>",
                        x0 + j * cell + cell / 2, y0 + i * cell + cell / 2 + 4,
                        share > 0.5 ? "white" : "black", cell < 30 ? " font-size=\"9\"" : "", n);
            fputc('\n', f);
        }
    }
    fputs("</svg>\n", f);
    free(conf);
    return CS_OK;
}

/* ---------------------------------------------------------------- Markdown */

static void md_figure(FILE *f, double x) {
    if (isfinite(x)) fprintf(f, "%.4f", x);
    else fputs("n/a", f);
}

cs_status cs_report_markdown(FILE *f, const cs_report *r, cs_error *err) {
    const cs_model *m = r->model;
    const cs_eval *ev = r->eval;
    int K = m->net.nclasses;
    fputs("# Evaluation\n\n", f);
    if (r->model_path) fprintf(f, "Model: `%s`. ", r->model_path);
    if (r->data) fprintf(f, "Data: `%s`. ", r->data);
    if (r->nfolds) fprintf(f, "Image-level cross-validation in %d folds, figures pooled. ", r->nfolds);
    fprintf(f, "\n\n%d non-background tiles, accuracy ", ev->tiles.n);
    md_figure(f, cs_metrics_accuracy(&ev->tiles));
    fputs(", loss ", f);
    md_figure(f, cs_metrics_loss(&ev->tiles));
    fputs(K == 2 ? ", ROC AUC " : ", micro-averaged ROC AUC ", f);
    md_figure(f, auc(&ev->tiles, err));
    if (K > 5) {
        fputs(", top-5 ", f);
        md_figure(f, cs_metrics_top5(&ev->tiles));
    }
    fputs(", calibration error (ECE) ", f);
    md_figure(f, tile_ece(r, 0, NULL));
    fprintf(f, ". %d images, accuracy ", ev->images.n);
    md_figure(f, cs_metrics_accuracy(&ev->images));
    if (K > 5) {
        fputs(", top-5 ", f);
        md_figure(f, cs_metrics_top5(&ev->images));
    }
    int unknown = cs_eval_unknown(ev);
    if (unknown >= 0) fprintf(f, "; flagged as none of the model's classes (open set): %d", unknown);
    fputs(".\n\n| class | tiles | precision | recall | f1 | images | images right |\n"
          "|---|---:|---:|---:|---:|---:|---:|\n", f);
    for (int c = 0; c < K; c++) {
        cs_class_figures t = cs_metrics_class(&ev->tiles, c), im = cs_metrics_class(&ev->images, c);
        fprintf(f, "| %s | %d | %.4f | %.4f | %.4f | %d | %d |\n", m->classes[c], t.support,
                t.precision, t.recall, t.f1, im.support, im.correct);
    }

    int *conf = malloc((size_t)K * K * sizeof *conf);
    if (!conf) return cs_fail(err, CS_ENOMEM, "out of memory for a confusion matrix");
    cs_metrics_confusion(&ev->tiles, conf);
    fputs("\nTiles by true class (rows) and predicted class (columns):\n\n| |", f);
    for (int c = 0; c < K; c++) fprintf(f, " %s |", m->classes[c]);
    fputs("\n|---|", f);
    for (int c = 0; c < K; c++) fputs("---:|", f);
    for (int i = 0; i < K; i++) {
        fprintf(f, "\n| %s |", m->classes[i]);
        for (int j = 0; j < K; j++) fprintf(f, " %d |", conf[i * K + j]);
    }
    fputc('\n', f);
    free(conf);

    fprintf(f, "\n| image | class | predicted | confidence | tiles |%s\n|---|---|---|---:|---:|%s\n",
            unknown >= 0 ? " ood score | known |" : "", unknown >= 0 ? "---:|---|" : "");
    for (int i = 0; i < ev->n; i++) {
        const cs_eval_image *im = &ev->image[i];
        fprintf(f, "| %s | %s | %s | %.4f | %d |", im->file, m->classes[im->label],
                m->classes[im->predicted], im->probs[im->predicted], im->tiles);
        if (unknown >= 0) fprintf(f, " %.4g | %s |", im->ood_score, cs_known_text(im->known));
        fputc('\n', f);
    }

    if (r->nfolds) {
        fputs("\n| fold | images | tiles | tile accuracy | image accuracy |\n"
              "|---:|---:|---:|---:|---:|\n", f);
        for (int k = 0; k < r->nfolds; k++) {
            const cs_eval *fe = &r->folds[k];
            fprintf(f, "| %d | %d | %d | ", k + 1, fe->images.n, fe->tiles.n);
            md_figure(f, cs_metrics_accuracy(&fe->tiles));
            fputs(" | ", f);
            md_figure(f, cs_metrics_accuracy(&fe->images));
            fputs(" |\n", f);
        }
    }
    if (ferror(f)) return cs_fail(err, CS_EIO, "cannot write the report: %s", strerror(errno));
    return CS_OK;
}

/* ---------------------------------------------------------------- files */

typedef cs_status (*writer)(FILE *f, const cs_report *r, cs_error *err);

static cs_status write_file(const char *dir, const char *name, writer write, const cs_report *r,
                            cs_error *err) {
    char path[4096];
    if (snprintf(path, sizeof path, "%s/%s", dir, name) >= (int)sizeof path)
        return cs_fail(err, CS_EINPUT, "report folder name too long: %s", dir);
    FILE *f = fopen(path, "w");
    if (!f) return cs_fail(err, CS_EIO, "cannot write %s: %s", path, strerror(errno));
    cs_status st = write(f, r, err);
    if (fclose(f) && !st) st = cs_fail(err, CS_EIO, "cannot write %s: %s", path, strerror(errno));
    return st;
}

cs_status cs_report_write(const char *dir, const cs_report *r, cs_error *err) {
    if (mkdir(dir, 0777) && errno != EEXIST)
        return cs_fail(err, CS_EIO, "cannot create the report folder %s: %s", dir, strerror(errno));
    cs_status st;
    if ((st = write_file(dir, "eval.json", cs_report_json, r, err)) ||
        (st = write_file(dir, "roc.svg", write_roc, r, err)) ||
        (st = write_file(dir, "reliability.svg", write_reliability, r, err)) ||
        (st = write_file(dir, "confusion.svg", write_confusion, r, err)) ||
        (st = write_file(dir, "per_class.md", cs_report_markdown, r, err)))
        return st;
    return CS_OK;
}
