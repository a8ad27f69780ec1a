/* Resampling that reproduces Pillow's Image.resize byte for byte on 8-bit
 * images (libImaging/Resample.c and, for NEAREST, the affine scale of
 * Geometry.c): the same filters, the same double-precision coefficient
 * computation, the same 22-bit fixed point and rounding, the same pass order
 * (Pillow 13's: see vlmi_resize_u8) with an 8-bit intermediate. Any deviation in
 * these details changes pixels, so the arithmetic below is deliberately
 * literal. */
#include "image/image.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Fused multiply-adds would change coefficients in the last bit and so,
 * occasionally, pixels: keep every product rounded on its own, as Pillow's
 * x86-64 builds do. (GCC honours -std=c11's -ffp-contract=off instead.) */
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

/* ---- filters (support in source pixels at scale 1) ---- */

typedef struct resample_filter {
    double (*weight)(double x);
    double support;
} resample_filter;

static double box_weight(double x) { return (x > -0.5 && x <= 0.5) ? 1.0 : 0.0; }

static double bilinear_weight(double x) {
    if (x < 0.0) x = -x;
    return x < 1.0 ? 1.0 - x : 0.0;
}

static double hamming_weight(double x) {
    if (x < 0.0) x = -x;
    if (x == 0.0) return 1.0;
    if (x >= 1.0) return 0.0;
    x = x * M_PI;
    /* Pillow writes these constants as floats: keep them floats. */
    return sin(x) / x * (0.54f + 0.46f * cos(x));
}

static double bicubic_weight(double x) {
    const double a = -0.5;
    if (x < 0.0) x = -x;
    if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
    if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
    return 0.0;
}

static double sinc(double x) {
    if (x == 0.0) return 1.0;
    x = x * M_PI;
    return sin(x) / x;
}

static double lanczos_weight(double x) {
    if (-3.0 <= x && x < 3.0) return sinc(x) * sinc(x / 3);
    return 0.0;
}

static const resample_filter *filter_for(int filter) {
    static const resample_filter box = {box_weight, 0.5};
    static const resample_filter bilinear = {bilinear_weight, 1.0};
    static const resample_filter hamming = {hamming_weight, 1.0};
    static const resample_filter bicubic = {bicubic_weight, 2.0};
    static const resample_filter lanczos = {lanczos_weight, 3.0};
    switch (filter) {
    case VLM_RESAMPLE_LANCZOS: return &lanczos;
    case VLM_RESAMPLE_BILINEAR: return &bilinear;
    case VLM_RESAMPLE_BICUBIC: return &bicubic;
    case VLMI_RESAMPLE_BOX: return &box;
    case VLMI_RESAMPLE_HAMMING: return &hamming;
    default: return NULL;
    }
}

/* ---- coefficients ---- */

/* 32 bits minus 8 for the sample minus 2 because filters with negative lobes
 * can sum (partially) below 0 or above 1. */
#define PRECISION_BITS (32 - 8 - 2)

/* For each output position: the first input index, the number of taps, and
 * ksize fixed-point weights. */
typedef struct coeffs {
    int ksize;
    int *first;     /* (out_size) */
    int *count;     /* (out_size) */
    int32_t *k;     /* (out_size, ksize) */
} coeffs;

static void coeffs_free(coeffs *c) {
    free(c->first);
    free(c->count);
    free(c->k);
}

static vlm_status coeffs_compute(coeffs *c, uint32_t in_size, uint32_t out_size,
                                 const resample_filter *f) {
    memset(c, 0, sizeof *c);
    /* Pillow passes the box as floats; in1 - in0 is a float subtraction. */
    float in0 = 0.0f, in1 = (float)in_size;
    double scale = (double)(in1 - in0) / out_size;
    double filterscale = scale < 1.0 ? 1.0 : scale;
    double support = f->support * filterscale;
    double ksize_d = ceil(support) * 2 + 1;
    if (ksize_d > (double)(1u << 30))
        return vlmi_fail(VLM_ERR_INVALID_ARGUMENT, "resize: scale factor too large");
    int ksize = (int)ksize_d;
    c->first = vlmi_calloc(out_size, sizeof *c->first);
    c->count = vlmi_calloc(out_size, sizeof *c->count);
    c->k = vlmi_calloc((size_t)out_size, (size_t)ksize * sizeof *c->k);
    if (c->first == NULL || c->count == NULL || c->k == NULL) {
        coeffs_free(c);
        return VLM_ERR_OUT_OF_MEMORY;
    }
    c->ksize = ksize;
    for (uint32_t xx = 0; xx < out_size; xx++) {
        double center = in0 + (xx + 0.5) * scale;
        double ww = 0.0;
        double ss = 1.0 / filterscale;
        int xmin = (int)(center - support + 0.5);  /* truncation, as Pillow */
        if (xmin < 0) xmin = 0;
        int xmax = (int)(center + support + 0.5);
        if (xmax > (int)in_size) xmax = (int)in_size;
        xmax -= xmin;
        if (xmax > ksize) xmax = ksize;  /* cannot happen; keeps writes in bounds */
        if (xmax < 0) xmax = 0;
        for (int x = 0; x < xmax; x++) ww += f->weight((x + xmin - center + 0.5) * ss);
        int32_t *k = &c->k[(size_t)xx * ksize];
        for (int x = 0; x < xmax; x++) {
            /* Recomputing the weight gives the same double as storing it. */
            double v = f->weight((x + xmin - center + 0.5) * ss);
            if (ww != 0.0) v /= ww;
            k[x] = v < 0 ? (int32_t)(-0.5 + v * (1 << PRECISION_BITS))
                         : (int32_t)(0.5 + v * (1 << PRECISION_BITS));
        }
        c->first[xx] = xmin;
        c->count[xx] = xmax;
    }
    return VLM_OK;
}

static inline uint8_t clip8(int64_t sum) {
    /* Pillow's lookup of sum >> PRECISION_BITS: negative -> 0, > 255 -> 255. */
    if (sum < 0) return 0;
    int64_t v = sum >> PRECISION_BITS;
    return v > 255 ? 255 : (uint8_t)v;
}

/* ---- passes ---- */

/* dst rows [0, rows) from src rows [row0, row0 + rows). */
static void resample_horizontal(uint8_t *dst, size_t dst_stride, uint32_t dst_width,
                                const uint8_t *src, size_t src_stride, uint32_t row0,
                                uint32_t rows, int channels, const coeffs *c) {
    for (uint32_t y = 0; y < rows; y++) {
        const uint8_t *in = src + (size_t)(row0 + y) * src_stride;
        uint8_t *out = dst + (size_t)y * dst_stride;
        for (uint32_t xx = 0; xx < dst_width; xx++) {
            const int32_t *k = &c->k[(size_t)xx * c->ksize];
            const uint8_t *p = in + (size_t)c->first[xx] * channels;
            for (int ch = 0; ch < channels; ch++) {
                int64_t sum = 1 << (PRECISION_BITS - 1);
                for (int x = 0; x < c->count[xx]; x++)
                    sum += (int64_t)p[(size_t)x * channels + ch] * k[x];
                out[(size_t)xx * channels + ch] = clip8(sum);
            }
        }
    }
}

/* c->first is relative to src's first row. */
static void resample_vertical(uint8_t *dst, size_t dst_stride, uint32_t dst_height,
                              const uint8_t *src, size_t src_stride, uint32_t width,
                              int channels, const coeffs *c, int row_shift) {
    size_t row_len = (size_t)width * channels;
    for (uint32_t yy = 0; yy < dst_height; yy++) {
        const int32_t *k = &c->k[(size_t)yy * c->ksize];
        const uint8_t *in = src + (size_t)(c->first[yy] - row_shift) * src_stride;
        uint8_t *out = dst + (size_t)yy * dst_stride;
        for (size_t i = 0; i < row_len; i++) {
            int64_t sum = 1 << (PRECISION_BITS - 1);
            for (int y = 0; y < c->count[yy]; y++)
                sum += (int64_t)in[(size_t)y * src_stride + i] * k[y];
            out[i] = clip8(sum);
        }
    }
}

/* Geometry.c's ImagingScaleAffine: source coordinate of each output pixel
 * center, accumulated in double and truncated. */
static vlm_status resize_nearest(const uint8_t *src, uint32_t src_width, uint32_t src_height,
                                 size_t src_stride, uint8_t *dst, uint32_t dst_width,
                                 uint32_t dst_height, size_t dst_stride, int channels) {
    uint32_t *xin = vlmi_calloc(dst_width, sizeof *xin);
    if (xin == NULL) return VLM_ERR_OUT_OF_MEMORY;
    double ax = (double)((float)src_width - 0.0f) / dst_width;
    double ay = (double)((float)src_height - 0.0f) / dst_height;
    double xo = 0.0 + ax * 0.5;
    for (uint32_t x = 0; x < dst_width; x++) {
        /* In range by construction; clamp so rounding can never read outside. */
        int64_t xi = xo < 0.0 ? 0 : (int64_t)xo;
        xin[x] = (uint32_t)(xi >= src_width ? src_width - 1 : xi);
        xo += ax;
    }
    double yo = 0.0 + ay * 0.5;
    for (uint32_t y = 0; y < dst_height; y++) {
        int64_t yi = yo < 0.0 ? 0 : (int64_t)yo;
        if (yi >= src_height) yi = src_height - 1;
        const uint8_t *in = src + (size_t)yi * src_stride;
        uint8_t *out = dst + (size_t)y * dst_stride;
        for (uint32_t x = 0; x < dst_width; x++)
            memcpy(out + (size_t)x * channels, in + (size_t)xin[x] * channels, (size_t)channels);
        yo += ay;
    }
    free(xin);
    return VLM_OK;
}

static void copy_rows(uint8_t *dst, size_t dst_stride, const uint8_t *src, size_t src_stride,
                      size_t row_len, uint32_t rows) {
    for (uint32_t y = 0; y < rows; y++)
        memcpy(dst + (size_t)y * dst_stride, src + (size_t)y * src_stride, row_len);
}

vlm_status vlmi_resize_u8(const uint8_t *src, uint32_t src_width, uint32_t src_height,
                          size_t src_stride, uint8_t *dst, uint32_t dst_width,
                          uint32_t dst_height, size_t dst_stride, int channels, int filter) {
    if (src == NULL || dst == NULL)
        return vlmi_fail(VLM_ERR_INVALID_ARGUMENT, "resize: NULL buffer");
    if (channels < 1 || channels > 4)
        return vlmi_fail(VLM_ERR_INVALID_ARGUMENT, "resize: %d channels (1..4 supported)",
                         channels);
    if (src_width == 0 || src_height == 0 || dst_width == 0 || dst_height == 0)
        return vlmi_fail(VLM_ERR_INVALID_ARGUMENT, "resize: zero width or height");
    /* Pillow's coordinates are int and float: keep every size exactly representable. */
    if (src_width > (1u << 24) || src_height > (1u << 24) || dst_width > (1u << 24) ||
        dst_height > (1u << 24))
        return vlmi_fail(VLM_ERR_INVALID_ARGUMENT, "resize: side longer than 16777216");
    size_t src_row = (size_t)src_width * channels, dst_row = (size_t)dst_width * channels;
    if (src_stride < src_row || dst_stride < dst_row)
        return vlmi_fail(VLM_ERR_INVALID_ARGUMENT, "resize: stride smaller than a row");

    if (filter == VLM_RESAMPLE_NEAREST) {
        if (src_width == dst_width && src_height == dst_height) {
            copy_rows(dst, dst_stride, src, src_stride, src_row, src_height);
            return VLM_OK;
        }
        return resize_nearest(src, src_width, src_height, src_stride, dst, dst_width,
                              dst_height, dst_stride, channels);
    }
    const resample_filter *f = filter_for(filter);
    if (f == NULL)
        return vlmi_fail(VLM_ERR_INVALID_ARGUMENT, "resize: unknown filter %d", filter);

    bool need_horizontal = dst_width != src_width;
    bool need_vertical = dst_height != src_height;
    if (!need_horizontal && !need_vertical) {
        copy_rows(dst, dst_stride, src, src_stride, src_row, src_height);
        return VLM_OK;
    }

    coeffs vert, horiz;
    vlm_status st = coeffs_compute(&vert, src_height, dst_height, f);
    if (st != VLM_OK) return st;
    if (!need_horizontal) {
        resample_vertical(dst, dst_stride, dst_height, src, src_stride, src_width, channels,
                          &vert, 0);
        coeffs_free(&vert);
        return VLM_OK;
    }

    st = coeffs_compute(&horiz, src_width, dst_width, f);
    if (st != VLM_OK) {
        coeffs_free(&vert);
        return st;
    }
    if (!need_vertical) {
        resample_horizontal(dst, dst_stride, dst_width, src, src_stride, 0, src_height,
                            channels, &horiz);
        coeffs_free(&horiz);
        coeffs_free(&vert);
        return VLM_OK;
    }
    /* Pillow 13 (PR 9549) runs the vertical pass first when the height
     * shrinks by more than twice as many pixels as the width does; before,
     * always horizontal first. The 8-bit intermediate makes the order show. */
    int64_t height_drop = (int64_t)src_height - dst_height;
    int64_t width_drop = (int64_t)src_width - dst_width;
    uint8_t *temp;
    if (height_drop > 0 && height_drop > 2 * width_drop) {
        temp = vlmi_calloc(dst_height, src_row);
        if (temp != NULL) {
            resample_vertical(temp, src_row, dst_height, src, src_stride, src_width, channels,
                              &vert, 0);
            resample_horizontal(dst, dst_stride, dst_width, temp, src_row, 0, dst_height,
                                channels, &horiz);
        }
    } else {
        /* Only the source rows the vertical pass reads go through the first pass. */
        uint32_t row_first = (uint32_t)vert.first[0];
        uint32_t row_last = (uint32_t)(vert.first[dst_height - 1] + vert.count[dst_height - 1]);
        uint32_t rows = row_last > row_first ? row_last - row_first : 0;
        temp = vlmi_calloc(rows ? rows : 1, dst_row);
        if (temp != NULL) {
            resample_horizontal(temp, dst_row, dst_width, src, src_stride, row_first, rows,
                                channels, &horiz);
            resample_vertical(dst, dst_stride, dst_height, temp, dst_row, dst_width, channels,
                              &vert, (int)row_first);
        }
    }
    if (temp == NULL) {
        coeffs_free(&horiz);
        coeffs_free(&vert);
        return VLM_ERR_OUT_OF_MEMORY;
    }
    free(temp);
    coeffs_free(&horiz);
    coeffs_free(&vert);
    return VLM_OK;
}
