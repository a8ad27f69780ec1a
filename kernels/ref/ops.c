/* Reference normalization, activation, softmax and RoPE kernels (see ops.h). */
#include "ref/ops.h"

#include <math.h>

// ---- normalization ----

// x (n_rows, n), weight (n,) -> out (n_rows, n)
void vlmi_ref_rmsnorm(float *out, const float *x, const float *weight,
                      size_t n_rows, size_t n, float eps) {
    for (size_t r = 0; r < n_rows; r++) {
        const float *xr = x + r * n;
        float *yr = out + r * n;
        float sum_sq = 0.0f;
        for (size_t j = 0; j < n; j++) sum_sq += xr[j] * xr[j];
        float inv_rms = 1.0f / sqrtf(sum_sq / (float)n + eps);
        for (size_t j = 0; j < n; j++) yr[j] = weight[j] * (xr[j] * inv_rms);
    }
}

// x (n_rows, n), weight (n,), bias (n,) -> out (n_rows, n)
void vlmi_ref_layernorm(float *out, const float *x, const float *weight,
                        const float *bias, size_t n_rows, size_t n, float eps) {
    for (size_t r = 0; r < n_rows; r++) {
        const float *xr = x + r * n;
        float *yr = out + r * n;
        float sum = 0.0f;
        for (size_t j = 0; j < n; j++) sum += xr[j];
        float mean = sum / (float)n;
        /* two passes: the variance of centred values does not cancel */
        float sum_sq = 0.0f;
        for (size_t j = 0; j < n; j++) sum_sq += (xr[j] - mean) * (xr[j] - mean);
        float inv_std = 1.0f / sqrtf(sum_sq / (float)n + eps);
        for (size_t j = 0; j < n; j++) yr[j] = (xr[j] - mean) * inv_std * weight[j] + bias[j];
    }
}

// ---- elementwise ----

// x (n,) -> out (n,)
void vlmi_ref_gelu_tanh(float *out, const float *x, size_t n) {
    const float sqrt_2_over_pi = 0.7978845608028654f;
    for (size_t i = 0; i < n; i++) {
        float v = x[i];
        out[i] = 0.5f * v * (1.0f + tanhf(sqrt_2_over_pi * (v + 0.044715f * v * v * v)));
    }
}

// x (n,) -> out (n,)
void vlmi_ref_gelu_erf(float *out, const float *x, size_t n) {
    const float inv_sqrt_2 = 0.7071067811865476f;
    for (size_t i = 0; i < n; i++) out[i] = 0.5f * x[i] * (1.0f + erff(x[i] * inv_sqrt_2));
}

static float silu(float v) { return v / (1.0f + expf(-v)); }

// x (n,) -> out (n,)
void vlmi_ref_silu(float *out, const float *x, size_t n) {
    for (size_t i = 0; i < n; i++) out[i] = silu(x[i]);
}

// gate (n,), up (n,) -> out (n,)
void vlmi_ref_silu_mul(float *out, const float *gate, const float *up, size_t n) {
    for (size_t i = 0; i < n; i++) out[i] = silu(gate[i]) * up[i];
}

// x (n,) -> out (n,) += x
void vlmi_ref_add(float *out, const float *x, size_t n) {
    for (size_t i = 0; i < n; i++) out[i] += x[i];
}

// x (n,) -> x (n,), sums to 1
void vlmi_ref_softmax(float *x, size_t n) {
    if (n == 0) return;
    float max = x[0];
    for (size_t i = 1; i < n; i++) if (x[i] > max) max = x[i];
    float sum = 0.0f;
    for (size_t i = 0; i < n; i++) {
        x[i] = expf(x[i] - max);
        sum += x[i];
    }
    for (size_t i = 0; i < n; i++) x[i] /= sum;
}

// ---- rotary position embedding ----

// x (n_rows, n_heads * head_dim) -> x rotated in place
void vlmi_ref_rope(float *x, size_t n_rows, size_t n_heads, size_t head_dim,
                   size_t pos0, float theta) {
    size_t half = head_dim / 2;
    for (size_t r = 0; r < n_rows; r++) {
        float pos = (float)(pos0 + r);
        for (size_t i = 0; i < half; i++) {
            /* as transformers: inv_freq = 1 / theta^(2i/d) in f32, then pos * inv_freq */
            float inv_freq = 1.0f / powf(theta, (float)(2 * i) / (float)head_dim);
            float angle = pos * inv_freq;
            float c = cosf(angle), s = sinf(angle);
            for (size_t h = 0; h < n_heads; h++) {
                float *head = x + (r * n_heads + h) * head_dim;
                float x1 = head[i], x2 = head[i + half];
                head[i] = x1 * c - x2 * s;
                head[i + half] = x2 * c + x1 * s;
            }
        }
    }
}

// x (n_rows, n_heads * head_dim) -> x rotated in place
void vlmi_ref_rope_scaled(float *x, size_t n_rows, size_t n_heads, size_t head_dim,
                          size_t pos0, float theta, float freq_scale) {
    size_t half = head_dim / 2;
    for (size_t r = 0; r < n_rows; r++) {
        float pos = (float)(pos0 + r);
        for (size_t i = 0; i < half; i++) {
            /* as transformers' linear RoPE: inv_freq computed as unscaled, then /= factor */
            float inv_freq = 1.0f / powf(theta, (float)(2 * i) / (float)head_dim);
            inv_freq /= freq_scale;
            float angle = pos * inv_freq;
            float c = cosf(angle), s = sinf(angle);
            for (size_t h = 0; h < n_heads; h++) {
                float *head = x + (r * n_heads + h) * head_dim;
                float x1 = head[i], x2 = head[i + half];
                head[i] = x1 * c - x2 * s;
                head[i + half] = x2 * c + x1 * s;
            }
        }
    }
}
