/* torch's antialiased uint8 resize (see resize_torch.h). Like resize.c, the
 * arithmetic is deliberately literal: the same double-precision weight
 * computation as ATen's HelperInterpBase, the same int16 conversion and
 * precision choice, the same rounding, the same pass order. */
#include "image/resize_torch.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* A fused multiply-add would change weights in the last bit and so,
 * occasionally, an int16 weight: keep every product rounded on its own. */
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif

/* c10::pi<double> */
#define TORCH_PI 3.14159265358979323846

// ----------------------------------------------------------------------------
// filters (ATen HelperInterpLinear / Cubic / Lanczos ::aa_filter)

typedef struct torch_filter {
    double (*weight)(double x);
    int interp_size;   /* taps at scale 1; the support is half of it */
} torch_filter;

static double linear_weight(double x) {
    x = fabs(x);
    return x < 1.0 ? 1.0 - x : 0.0;
}

/* Keys' cubic with a = -0.5 (torch uses -0.75 only without antialiasing),
 * written as ATen's cubic_convolution1/2. */
static double cubic_weight(double x) {
    const double a = -0.5;
    x = fabs(x);
    if (x < 1.0) return ((a + 2) * x - (a + 3)) * x * x + 1;
    if (x < 2.0) return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a;
    return 0.0;
}

static double sinc(double x) {
    if (x == 0.0) return 1.0;
    x *= TORCH_PI;
    return sin(x) / x;
}

static double lanczos_weight(double x) {
    x = fabs(x);
    if (x < 3.0) return sinc(x) * sinc(x / 3.0);
    return 0.0;
}

static const torch_filter *filter_for(int filter) {
    static const torch_filter linear = {linear_weight, 2};
    static const torch_filter cubic = {cubic_weight, 4};
    static const torch_filter lanczos = {lanczos_weight, 6};
    switch (filter) {
    case VLM_RESAMPLE_BILINEAR: return &linear;
    case VLM_RESAMPLE_BICUBIC: return &cubic;
    case VLM_RESAMPLE_LANCZOS: return &lanczos;
    default: return NULL;
    }
}

bool vlmi_resize_torch_supported(int filter) { return filter_for(filter) != NULL; }

// ----------------------------------------------------------------------------
// coefficients (_compute_index_ranges_weights + _compute_index_ranges_int16_weights)

/* For each output position: the first input index, the number of taps, and
 * ksize int16 weights in fixed point with `precision` fraction bits. */
typedef struct coeffs {
    int ksize;
    unsigned precision;
    int32_t *first;    /* (out_size) */
    int32_t *count;    /* (out_size) */
    int16_t *k;        /* (out_size, ksize) */
} coeffs;

static void coeffs_free(coeffs *c) {
    free(c->first);
    free(c->count);
    free(c->k);
    memset(c, 0, sizeof *c);
}

static vlm_status coeffs_compute(coeffs *c, uint32_t in_size, uint32_t out_size,
                                 const torch_filter *f) {
    memset(c, 0, sizeof *c);
    /* area_pixel_compute_scale<double>: no scale factor was given */
    double scale = (double)in_size / (double)out_size;
    double support = scale >= 1.0 ? (f->interp_size * 0.5) * scale : f->interp_size * 0.5;
    double ksize_d = ceil(support) * 2 + 1;
    if (ksize_d > (double)(1u << 30))
        return vlmi_fail(VLM_ERR_INVALID_ARGUMENT, "resize: scale factor too large");
    int ksize = (int)ksize_d;
    double *w = vlmi_calloc((size_t)out_size, (size_t)ksize * sizeof *w);
    c->first = vlmi_calloc(out_size, sizeof *c->first);
    c->count = vlmi_calloc(out_size, sizeof *c->count);
    c->k = vlmi_calloc((size_t)out_size, (size_t)ksize * sizeof *c->k);
    if (w == NULL || c->first == NULL || c->count == NULL || c->k == NULL) {
        free(w);
        coeffs_free(c);
        return VLM_ERR_OUT_OF_MEMORY;
    }
    c->ksize = ksize;

    /* _compute_indices_min_size_weights_aa, per output position */
    double wt_max = 0.0;
    for (uint32_t i = 0; i < out_size; i++) {
        double center = scale * (i + 0.5);
        double total = 0.0;
        double invscale = scale >= 1.0 ? 1.0 / scale : 1.0;
        int64_t xmin = (int64_t)(center - support + 0.5);   /* truncation, as static_cast */
        if (xmin < 0) xmin = 0;
        int64_t xend = (int64_t)(center + support + 0.5);
        if (xend > (int64_t)in_size) xend = in_size;
        int64_t xsize = xend - xmin;
        if (xsize < 0) xsize = 0;
        if (xsize > ksize) xsize = ksize;
        double *wi = &w[(size_t)i * ksize];
        for (int64_t j = 0; j < xsize; j++) {
            double v = f->weight(((double)(j + xmin) - center + 0.5) * invscale);
            wi[j] = v;
            total += v;
        }
        if (total != 0.0) {
            for (int64_t j = 0; j < xsize; j++) {
                wi[j] /= total;
                if (wi[j] > wt_max) wt_max = wi[j];
            }
        }
        c->first[i] = (int32_t)xmin;
        c->count[i] = (int32_t)xsize;
    }

    /* the most fraction bits that keep the largest weight (times 2) in int16 */
    unsigned precision;
    for (precision = 0; precision < 22; precision++) {
        int next = (int)(0.5 + wt_max * (1 << (precision + 1)));
        if (next >= (1 << 15)) break;
    }
    c->precision = precision;
    for (size_t n = 0; n < (size_t)out_size * ksize; n++) {
        double v = w[n] * (1 << precision);
        c->k[n] = (int16_t)(v < 0 ? (int)(-0.5 + v) : (int)(0.5 + v));
    }
    free(w);
    if (precision == 0) {   /* all weights 0: torch asserts; cannot happen for in, out > 0 */
        coeffs_free(c);
        return vlmi_fail(VLM_ERR_INVALID_ARGUMENT, "resize: no weights");
    }
    return VLM_OK;
}

/* Sums stay far inside int32, as torch's do: |weights| add up to about
 * 1.3 * 2^precision and precision reaches 22 only below 1/256 scale. */
static inline uint8_t clip8(int32_t sum, unsigned precision) {
    /* (sum >> precision) saturated to 0..255 (AVX packs/packus) */
    if (sum < 0) return 0;
    int32_t v = sum >> precision;
    return v > 255 ? 255 : (uint8_t)v;
}

// ----------------------------------------------------------------------------
// passes

static void resample_horizontal(uint8_t *dst, size_t dst_stride, uint32_t dst_width,
                                const uint8_t *src, size_t src_stride, uint32_t rows,
                                int channels, const coeffs *c) {
    int32_t initial = (int32_t)1 << (c->precision - 1);
    for (uint32_t y = 0; y < rows; y++) {
        const uint8_t *in = src + (size_t)y * src_stride;
        uint8_t *out = dst + (size_t)y * dst_stride;
        for (uint32_t xx = 0; xx < dst_width; xx++) {
            const int16_t *k = &c->k[(size_t)xx * c->ksize];
            const uint8_t *p = in + (size_t)c->first[xx] * channels;
            int32_t count = c->count[xx];
            if (channels == 3) {
                int32_t s0 = initial, s1 = initial, s2 = initial;
                for (int32_t x = 0; x < count; x++) {
                    s0 += (int32_t)p[3 * x] * k[x];
                    s1 += (int32_t)p[3 * x + 1] * k[x];
                    s2 += (int32_t)p[3 * x + 2] * k[x];
                }
                out[3 * (size_t)xx] = clip8(s0, c->precision);
                out[3 * (size_t)xx + 1] = clip8(s1, c->precision);
                out[3 * (size_t)xx + 2] = clip8(s2, c->precision);
                continue;
            }
            for (int ch = 0; ch < channels; ch++) {
                int32_t sum = initial;
                for (int32_t x = 0; x < count; x++)
                    sum += (int32_t)p[(size_t)x * channels + ch] * k[x];
                out[(size_t)xx * channels + ch] = clip8(sum, c->precision);
            }
        }
    }
}

/* acc (width * channels) is scratch: each output row accumulates tap by
 * tap over whole rows (integer sums, so the order does not matter). */
static void resample_vertical(uint8_t *dst, size_t dst_stride, uint32_t dst_height,
                              const uint8_t *src, size_t src_stride, uint32_t width,
                              int channels, const coeffs *c, int32_t *acc) {
    size_t row_len = (size_t)width * channels;
    int32_t initial = (int32_t)1 << (c->precision - 1);
    for (uint32_t yy = 0; yy < dst_height; yy++) {
        const int16_t *k = &c->k[(size_t)yy * c->ksize];
        const uint8_t *in = src + (size_t)c->first[yy] * src_stride;
        uint8_t *out = dst + (size_t)yy * dst_stride;
        for (size_t i = 0; i < row_len; i++) acc[i] = initial;
        for (int32_t y = 0; y < c->count[yy]; y++) {
            const uint8_t *row = in + (size_t)y * src_stride;
            int32_t w = k[y];
            for (size_t i = 0; i < row_len; i++) acc[i] += (int32_t)row[i] * w;
        }
        for (size_t i = 0; i < row_len; i++) out[i] = clip8(acc[i], c->precision);
    }
}

static void copy_rows(uint8_t *dst, size_t dst_stride, const uint8_t *src, size_t src_stride,
                      size_t row_len, uint32_t rows) {
    for (uint32_t y = 0; y < rows; y++)
        memcpy(dst + (size_t)y * dst_stride, src + (size_t)y * src_stride, row_len);
}

vlm_status vlmi_resize_torch_u8(const uint8_t *src, uint32_t src_width, uint32_t src_height,
                                size_t src_stride, uint8_t *dst, uint32_t dst_width,
                                uint32_t dst_height, size_t dst_stride, int channels, int filter) {
    if (src == NULL || dst == NULL)
        return vlmi_fail(VLM_ERR_INVALID_ARGUMENT, "resize: NULL buffer");
    if (channels < 1 || channels > 4)
        return vlmi_fail(VLM_ERR_INVALID_ARGUMENT, "resize: %d channels (1..4 supported)",
                         channels);
    if (src_width == 0 || src_height == 0 || dst_width == 0 || dst_height == 0)
        return vlmi_fail(VLM_ERR_INVALID_ARGUMENT, "resize: zero width or height");
    if (src_width > (1u << 24) || src_height > (1u << 24) || dst_width > (1u << 24) ||
        dst_height > (1u << 24))
        return vlmi_fail(VLM_ERR_INVALID_ARGUMENT, "resize: side longer than 16777216");
    size_t src_row = (size_t)src_width * channels, dst_row = (size_t)dst_width * channels;
    if (src_stride < src_row || dst_stride < dst_row)
        return vlmi_fail(VLM_ERR_INVALID_ARGUMENT, "resize: stride smaller than a row");
    const torch_filter *f = filter_for(filter);
    if (f == NULL)
        return vlmi_fail(VLM_ERR_INVALID_ARGUMENT, "resize: filter %d has no torch antialiased "
                         "uint8 mode", filter);

    bool need_horizontal = dst_width != src_width;
    bool need_vertical = dst_height != src_height;
    if (!need_horizontal && !need_vertical) {
        copy_rows(dst, dst_stride, src, src_stride, src_row, src_height);
        return VLM_OK;
    }
    coeffs horiz = {0}, vert = {0};
    vlm_status st = VLM_OK;
    if (need_horizontal) st = coeffs_compute(&horiz, src_width, dst_width, f);
    if (st == VLM_OK && need_vertical) st = coeffs_compute(&vert, src_height, dst_height, f);
    if (st != VLM_OK) {
        coeffs_free(&horiz);
        coeffs_free(&vert);
        return st;
    }
    if (!need_vertical) {
        resample_horizontal(dst, dst_stride, dst_width, src, src_stride, src_height, channels,
                            &horiz);
    } else {
        /* horizontal first, over every source row, into an 8-bit image */
        uint8_t *temp = need_horizontal ? vlmi_calloc(src_height, dst_row) : NULL;
        int32_t *acc = vlmi_calloc(dst_row, sizeof *acc);
        if ((need_horizontal && temp == NULL) || acc == NULL) {
            st = VLM_ERR_OUT_OF_MEMORY;
        } else if (need_horizontal) {
            resample_horizontal(temp, dst_row, dst_width, src, src_stride, src_height, channels,
                                &horiz);
            resample_vertical(dst, dst_stride, dst_height, temp, dst_row, dst_width, channels,
                              &vert, acc);
        } else {
            resample_vertical(dst, dst_stride, dst_height, src, src_stride, src_width, channels,
                              &vert, acc);
        }
        free(acc);
        free(temp);
    }
    coeffs_free(&horiz);
    coeffs_free(&vert);
    return st;
}
