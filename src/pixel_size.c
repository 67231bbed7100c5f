/* pixel_size.c: an image's physical pixel size, read where its file states it
   (OME-XML, ImageJ's description, TIFF resolution tags, PNG pHYs), by the
   rules of cellsight.h. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* Micrometres in one of a length unit, as OME-XML and ImageJ spell them; 0 for
   a unit that is not a length (ImageJ's "pixel"). */
static double unit_um(const char *u, size_t n) {
    static const struct {
        const char *name;
        double um;
    } units[] = {{"pm", 1e-6}, {"nm", 1e-3}, {"um", 1}, {"\xc2\xb5m", 1}, {"\xce\xbcm", 1},
                 {"\\u00B5m", 1}, {"micron", 1}, {"microns", 1}, {"micrometer", 1},
                 {"micrometre", 1}, {"mm", 1e3}, {"cm", 1e4}, {"m", 1e6},
                 {"\xc3\x85", 1e-4}, {"in", 25400}, {"inch", 25400}};
    for (size_t i = 0; i < sizeof units / sizeof *units; i++)
        if (strlen(units[i].name) == n && !strncmp(u, units[i].name, n)) return units[i].um;
    return 0;
}

static int plausible(double um) { return um >= CS_MIN_UM_PER_PX && um <= CS_MAX_UM_PER_PX; }

/* Sets the size when both axes are plausible; returns whether it did. */
static int set_um(cs_image *im, double x, double y, const char *source) {
    if (!plausible(x) || !plausible(y)) return 0;
    im->um_x = (float)x;
    im->um_y = (float)y;
    im->um_source = source;
    return 1;
}

/* The value of attribute `name` of the element [el, end): its first character
   and length, or NULL. A name must stand alone: PhysicalSizeX is not
   PhysicalSizeXUnit. */
static const char *attribute(const char *el, const char *end, const char *name, size_t *len) {
    size_t n = strlen(name);
    for (const char *p = el; p + n < end; p++) {
        if (strncmp(p, name, n) || (p > el && !strchr(" \t\r\n", p[-1]))) continue;
        const char *q = p + n;
        while (q < end && strchr(" \t\r\n", *q)) q++;
        if (q >= end || *q != '=') continue;
        q++;
        while (q < end && strchr(" \t\r\n", *q)) q++;
        if (q >= end || (*q != '"' && *q != '\'')) continue;
        const char *close = memchr(q + 1, *q, (size_t)(end - q - 1));
        if (!close) return NULL;
        *len = (size_t)(close - q - 1);
        return q + 1;
    }
    return NULL;
}

/* One axis of OME's Pixels element: PhysicalSizeX and PhysicalSizeXUnit
   (micrometres when absent), in micrometres; 0 if not stated. */
static double ome_axis(const char *el, const char *end, char axis) {
    char name[32], num[64];
    size_t len, ulen;
    snprintf(name, sizeof name, "PhysicalSize%c", axis);
    const char *v = attribute(el, end, name, &len);
    if (!v || len == 0 || len >= sizeof num) return 0;
    memcpy(num, v, len);
    num[len] = 0;
    char *stop;
    double size = strtod(num, &stop);
    if (stop == num || *stop) return 0;
    snprintf(name, sizeof name, "PhysicalSize%cUnit", axis);
    const char *u = attribute(el, end, name, &ulen);
    return size * (u ? unit_um(u, ulen) : 1);
}

static int from_ome(cs_image *im, const char *xml) {
    if (!strstr(xml, "<OME") && !strstr(xml, ":OME")) return 0;
    for (const char *p = xml; (p = strstr(p, "Pixels")) != NULL; p += 6) {
        if (p == xml || (p[-1] != '<' && p[-1] != ':') || !strchr(" \t\r\n", p[6])) continue;
        const char *end = strchr(p, '>');
        if (!end) return 0;
        return set_um(im, ome_axis(p, end, 'X'), ome_axis(p, end, 'Y'), CS_UM_OME);
    }
    return 0;
}

/* ImageJ: "ImageJ=1.x" then lines of key=value; with unit=<length>, the
   resolution tags count pixels per that unit. */
static int from_imagej(cs_image *im, const char *desc, int has_res, double xres, double yres) {
    if (strncmp(desc, "ImageJ=", 7) || !has_res || !(xres > 0) || !(yres > 0)) return 0;
    const char *u = strstr(desc, "\nunit=");
    if (!u) return 0;
    u += 6;
    size_t n = strcspn(u, "\r\n");
    double um = unit_um(u, n);
    return um > 0 && set_um(im, um / xres, um / yres, CS_UM_IMAGEJ);
}

void cs_tiff_pixel_size(cs_image *im, const char *desc, int has_res, double xres, double yres,
                        int unit) {
    if (desc && (from_ome(im, desc) || from_imagej(im, desc, has_res, xres, yres))) return;
    double um = unit == 2 ? 25400 : unit == 3 ? 10000 : 0; /* RESUNIT_INCH, _CENTIMETER */
    if (has_res && um > 0 && xres > 0 && yres > 0) set_um(im, um / xres, um / yres, CS_UM_TIFF);
}

static uint32_t be32(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* pHYs: pixels per unit along x and y, unit 1 the metre (0: only an aspect ratio).
   It comes before the image data, so the walk stops at IDAT. */
void cs_png_pixel_size(cs_image *im, const uint8_t *p, size_t n) {
    if (n < 8 || memcmp(p, "\x89PNG\r\n\x1a\n", 8)) return;
    for (size_t at = 8; at + 12 <= n;) {
        uint32_t len = be32(p + at);
        const uint8_t *type = p + at + 4, *data = p + at + 8;
        if (len > n - at - 12 || !memcmp(type, "IDAT", 4)) return;
        if (!memcmp(type, "pHYs", 4) && len == 9) {
            uint32_t x = be32(data), y = be32(data + 4);
            if (data[8] == 1 && x && y) set_um(im, 1e6 / x, 1e6 / y, CS_UM_PNG);
            return;
        }
        at += 12 + (size_t)len;
    }
}

cs_status cs_image_assume_pixel_size(cs_image *im, double um, cs_error *err) {
    if (um == 0) return CS_OK;
    if (!plausible(um))
        return cs_fail(err, CS_EINPUT, "a pixel size of %g um is not a microscope's: give one from "
                       "%g to %g micrometres", um, CS_MIN_UM_PER_PX, CS_MAX_UM_PER_PX);
    if (!im->um_source) set_um(im, um, um, CS_UM_GIVEN);
    return CS_OK;
}

void cs_format_xy(char *buf, size_t size, float x, float y) {
    if (!(x > 0)) snprintf(buf, size, "%s", "");
    else if (fabsf(x - y) <= 1e-4f * x) snprintf(buf, size, "%.4g", x);
    else snprintf(buf, size, "%.4gx%.4g", x, y);
}
