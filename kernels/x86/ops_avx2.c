/* AVX2 + FMA normalization, activations and softmax. Tails shorter than 8
 * go through the same vector code on a zero-padded copy, so every element
 * sees the same arithmetic whatever its position. */
#include "x86/x86.h"
#include "x86/reduce_avx2.h"

#include <immintrin.h>
#include <math.h>
#include <string.h>

#define ALWAYS_INLINE inline __attribute__((always_inline))

// ---- helpers ----

/* The first n (< 8) floats of p, zero beyond; and the inverse store. */
static ALWAYS_INLINE __m256 load_partial(const float *p, size_t n) {
    float buf[8] = {0};
    memcpy(buf, p, n * sizeof *p);
    return _mm256_loadu_ps(buf);
}
static ALWAYS_INLINE void store_partial(float *p, __m256 v, size_t n) {
    float buf[8];
    _mm256_storeu_ps(buf, v);
    memcpy(p, buf, n * sizeof *p);
}

/* e^x, Cephes' single-precision polynomial: about 1 ulp on [-87, 88]; the
 * input is clamped so the result stays finite (and tiny values flush to 0). */
static ALWAYS_INLINE __m256 exp8(__m256 x) {
    x = _mm256_min_ps(x, _mm256_set1_ps(88.3762626647949f));
    x = _mm256_max_ps(x, _mm256_set1_ps(-87.3365478515625f));
    /* x = n ln2 + r, |r| <= ln2 / 2, ln2 split in two for exactness */
    __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                               _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
    __m256 p = _mm256_set1_ps(1.9875691500e-4f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
    p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
    /* times 2^n, built in the exponent field */
    __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(p, _mm256_castsi256_ps(e));
}

/* x * sigmoid(x) = x / (1 + e^-x) */
static ALWAYS_INLINE __m256 silu8(__m256 x) {
    __m256 e = exp8(_mm256_sub_ps(_mm256_setzero_ps(), x));
    return _mm256_div_ps(x, _mm256_add_ps(_mm256_set1_ps(1.0f), e));
}

/* 0.5 x (1 + tanh(u)), u = sqrt(2/pi) (x + 0.044715 x^3); 1 + tanh(u) is
 * 2 - 2 / (e^2u + 1), which saturates cleanly at both ends. */
static ALWAYS_INLINE __m256 gelu_tanh8(__m256 x) {
    const __m256 one = _mm256_set1_ps(1.0f), two = _mm256_set1_ps(2.0f);
    __m256 x3 = _mm256_mul_ps(_mm256_mul_ps(x, x), x);
    __m256 u = _mm256_mul_ps(_mm256_set1_ps(0.7978845608028654f),
                             _mm256_fmadd_ps(_mm256_set1_ps(0.044715f), x3, x));
    __m256 e = exp8(_mm256_mul_ps(two, u));
    __m256 one_plus_tanh = _mm256_sub_ps(two, _mm256_div_ps(two, _mm256_add_ps(e, one)));
    return _mm256_mul_ps(_mm256_mul_ps(_mm256_set1_ps(0.5f), x), one_plus_tanh);
}

// ---- elementwise ----

// x (n) -> out (n)
void vlmi_avx2_gelu_tanh(float *out, const float *x, size_t n) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(out + i, gelu_tanh8(_mm256_loadu_ps(x + i)));
    if (i < n) store_partial(out + i, gelu_tanh8(load_partial(x + i, n - i)), n - i);
}

// x (n) -> out (n)
void vlmi_avx2_silu(float *out, const float *x, size_t n) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(out + i, silu8(_mm256_loadu_ps(x + i)));
    if (i < n) store_partial(out + i, silu8(load_partial(x + i, n - i)), n - i);
}

// gate (n), up (n) -> out (n)
void vlmi_avx2_silu_mul(float *out, const float *gate, const float *up, size_t n) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(out + i, _mm256_mul_ps(silu8(_mm256_loadu_ps(gate + i)),
                                                _mm256_loadu_ps(up + i)));
    if (i < n)
        store_partial(out + i, _mm256_mul_ps(silu8(load_partial(gate + i, n - i)),
                                             load_partial(up + i, n - i)), n - i);
}

// out (n) += x (n)
void vlmi_avx2_add(float *out, const float *x, size_t n) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(out + i, _mm256_add_ps(_mm256_loadu_ps(out + i), _mm256_loadu_ps(x + i)));
    for (; i < n; i++) out[i] += x[i];
}

// x (n) in place
void vlmi_avx2_softmax(float *x, size_t n) {
    if (n == 0) return;
    size_t i = 0;
    __m256 max8 = _mm256_set1_ps(-INFINITY);
    for (; i + 8 <= n; i += 8) max8 = _mm256_max_ps(max8, _mm256_loadu_ps(x + i));
    float max = vlmi_avx2_hmax(max8);
    for (; i < n; i++) max = x[i] > max ? x[i] : max;

    __m256 vmax = _mm256_set1_ps(max), sum8 = _mm256_setzero_ps();
    for (i = 0; i + 8 <= n; i += 8) {
        __m256 e = exp8(_mm256_sub_ps(_mm256_loadu_ps(x + i), vmax));
        _mm256_storeu_ps(x + i, e);
        sum8 = _mm256_add_ps(sum8, e);
    }
    float sum = vlmi_avx2_hsum(sum8);
    if (i < n) {
        size_t rest = n - i;
        float tail[8];
        _mm256_storeu_ps(tail, exp8(_mm256_sub_ps(load_partial(x + i, rest), vmax)));
        for (size_t t = 0; t < rest; t++) sum += x[i + t] = tail[t];
    }
    __m256 vsum = _mm256_set1_ps(sum);
    for (i = 0; i + 8 <= n; i += 8) _mm256_storeu_ps(x + i, _mm256_div_ps(_mm256_loadu_ps(x + i), vsum));
    for (; i < n; i++) x[i] /= sum;
}

// ---- normalization ----

/* sum of squares and sum of a row */
static ALWAYS_INLINE float sum_squares(const float *x, size_t n) {
    __m256 a = _mm256_setzero_ps(), b = a;
    size_t j = 0;
    for (; j + 16 <= n; j += 16) {
        __m256 u = _mm256_loadu_ps(x + j), v = _mm256_loadu_ps(x + j + 8);
        a = _mm256_fmadd_ps(u, u, a);
        b = _mm256_fmadd_ps(v, v, b);
    }
    for (; j + 8 <= n; j += 8) {
        __m256 u = _mm256_loadu_ps(x + j);
        a = _mm256_fmadd_ps(u, u, a);
    }
    float s = vlmi_avx2_hsum(_mm256_add_ps(a, b));
    for (; j < n; j++) s += x[j] * x[j];
    return s;
}

// x (n_rows, n), weight (n,) -> out (n_rows, n)
void vlmi_avx2_rmsnorm(float *out, const float *x, const float *weight, size_t n_rows,
                       size_t n, float eps) {
    for (size_t r = 0; r < n_rows; r++) {
        const float *xr = x + r * n;
        float *yr = out + r * n;
        float inv_rms = 1.0f / sqrtf(sum_squares(xr, n) / (float)n + eps);
        __m256 s = _mm256_set1_ps(inv_rms);
        size_t j = 0;
        for (; j + 8 <= n; j += 8)
            _mm256_storeu_ps(yr + j, _mm256_mul_ps(_mm256_loadu_ps(weight + j),
                                                   _mm256_mul_ps(_mm256_loadu_ps(xr + j), s)));
        for (; j < n; j++) yr[j] = weight[j] * (xr[j] * inv_rms);
    }
}

// x (n_rows, n), weight (n,), bias (n,) -> out (n_rows, n)
void vlmi_avx2_layernorm(float *out, const float *x, const float *weight,
                         const float *bias, size_t n_rows, size_t n, float eps) {
    for (size_t r = 0; r < n_rows; r++) {
        const float *xr = x + r * n;
        float *yr = out + r * n;
        __m256 acc = _mm256_setzero_ps();
        size_t j = 0;
        for (; j + 8 <= n; j += 8) acc = _mm256_add_ps(acc, _mm256_loadu_ps(xr + j));
        float sum = vlmi_avx2_hsum(acc);
        for (; j < n; j++) sum += xr[j];
        float mean = sum / (float)n;
        /* two passes, as ref: the variance of centred values does not cancel */
        __m256 vmean = _mm256_set1_ps(mean);
        acc = _mm256_setzero_ps();
        for (j = 0; j + 8 <= n; j += 8) {
            __m256 d = _mm256_sub_ps(_mm256_loadu_ps(xr + j), vmean);
            acc = _mm256_fmadd_ps(d, d, acc);
        }
        float sum_sq = vlmi_avx2_hsum(acc);
        for (; j < n; j++) sum_sq += (xr[j] - mean) * (xr[j] - mean);
        float inv_std = 1.0f / sqrtf(sum_sq / (float)n + eps);
        __m256 vinv = _mm256_set1_ps(inv_std);
        for (j = 0; j + 8 <= n; j += 8) {
            __m256 d = _mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(xr + j), vmean), vinv);
            _mm256_storeu_ps(yr + j, _mm256_fmadd_ps(d, _mm256_loadu_ps(weight + j),
                                                     _mm256_loadu_ps(bias + j)));
        }
        for (; j < n; j++) yr[j] = (xr[j] - mean) * inv_std * weight[j] + bias[j];
    }
}
