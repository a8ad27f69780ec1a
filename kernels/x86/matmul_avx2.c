/* AVX2 + FMA matmul for f32, f16 (F16C) and bf16 weights with f32
 * activations; quantized weights go to quant_avx2.c (Q8_0, Q4_0) and
 * kquant_avx2.c (Q4_K, Q6_K).
 *
 * Both operands have k contiguous (x is (m,k), W is (n,k)), so every output
 * is a dot product: a tile of rows of x times a tile of rows of W keeps one
 * 8-lane accumulator per output and sums the lanes at the end.
 * - m == 1 (decode): four weight rows at a time, two accumulators each, so
 *   the weights stream once from memory at full bandwidth.
 * - m > 1 (prefill, vision): 3x4 register tiles (12 accumulators + 3 x
 *   vectors + 1 weight vector = the 16 ymm registers), inside cache blocks
 *   of NB weight rows by KB columns (a panel that stays in L2) so each
 *   weight is read from memory once per KB-slab, not once per row of x. */
#include "x86/x86.h"

#include "kernels.h"

#include <immintrin.h>
#include <string.h>

#define TILE_M 3   /* rows of x per register tile */
#define TILE_N 4   /* rows of W per register tile */
#define BLOCK_N 64 /* rows of W per cache block */
#define BLOCK_K 512 /* columns per cache block (a multiple of 8) */

#define ALWAYS_INLINE inline __attribute__((always_inline))

// ---- loading 8 weights as f32 ----

static ALWAYS_INLINE size_t elem_size(vlm_dtype dt) { return dt == VLM_DTYPE_F32 ? 4 : 2; }

/* Eight consecutive weights at byte address p (any alignment). */
static ALWAYS_INLINE __m256 load8(const unsigned char *p, vlm_dtype dt) {
    if (dt == VLM_DTYPE_F32) return _mm256_loadu_ps((const float *)(const void *)p);
    __m128i h = _mm_loadu_si128((const __m128i *)(const void *)p);
    if (dt == VLM_DTYPE_F16) return _mm256_cvtph_ps(h);
    /* bf16: the top half of an f32 */
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}

/* One weight at byte address p, for tails. */
static ALWAYS_INLINE float load1(const unsigned char *p, vlm_dtype dt) {
    if (dt == VLM_DTYPE_F32) {
        float f;
        memcpy(&f, p, 4);
        return f;
    }
    uint16_t h;
    memcpy(&h, p, 2);
    return dt == VLM_DTYPE_F16 ? vlmi_f16_to_f32(h) : vlmi_bf16_to_f32(h);
}

// ---- horizontal sums ----

static ALWAYS_INLINE float hsum(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/* The lane sums of four vectors: {sum a, sum b, sum c, sum d}. */
static ALWAYS_INLINE __m128 hsum4(__m256 a, __m256 b, __m256 c, __m256 d) {
    __m256 ab = _mm256_hadd_ps(a, b);
    __m256 cd = _mm256_hadd_ps(c, d);
    __m256 abcd = _mm256_hadd_ps(ab, cd);
    return _mm_add_ps(_mm256_castps256_ps128(abcd), _mm256_extractf128_ps(abcd, 1));
}

// ---- m == 1: matrix-vector ----

/* x (k) . W rows j0..j0+3 (row stride w_row bytes) -> sums (4). The next
 * four rows are asked for while these are summed (a stream the hardware
 * prefetcher alone leaves at half the read bandwidth on decode). */
static ALWAYS_INLINE __m128 gemv_4rows(const float *x, const unsigned char *w, size_t w_row,
                                       size_t k, vlm_dtype dt) {
    size_t es = elem_size(dt);
    const unsigned char *w0 = w, *w1 = w + w_row, *w2 = w + 2 * w_row, *w3 = w + 3 * w_row;
    const char *ahead = (const char *)(w + 4 * w_row);
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    __m256 b0 = a0, b1 = a0, b2 = a0, b3 = a0;
    size_t l = 0;
    for (; l + 16 <= k; l += 16) {
        /* 4 rows of 16 elements per step: 64 * es bytes of the next rows */
        for (size_t c = 0; c < 64 * es; c += 64) _mm_prefetch(ahead + 4 * l * es + c, _MM_HINT_T0);
        __m256 xa = _mm256_loadu_ps(x + l), xb = _mm256_loadu_ps(x + l + 8);
        a0 = _mm256_fmadd_ps(load8(w0 + l * es, dt), xa, a0);
        a1 = _mm256_fmadd_ps(load8(w1 + l * es, dt), xa, a1);
        a2 = _mm256_fmadd_ps(load8(w2 + l * es, dt), xa, a2);
        a3 = _mm256_fmadd_ps(load8(w3 + l * es, dt), xa, a3);
        b0 = _mm256_fmadd_ps(load8(w0 + (l + 8) * es, dt), xb, b0);
        b1 = _mm256_fmadd_ps(load8(w1 + (l + 8) * es, dt), xb, b1);
        b2 = _mm256_fmadd_ps(load8(w2 + (l + 8) * es, dt), xb, b2);
        b3 = _mm256_fmadd_ps(load8(w3 + (l + 8) * es, dt), xb, b3);
    }
    for (; l + 8 <= k; l += 8) {
        __m256 xa = _mm256_loadu_ps(x + l);
        a0 = _mm256_fmadd_ps(load8(w0 + l * es, dt), xa, a0);
        a1 = _mm256_fmadd_ps(load8(w1 + l * es, dt), xa, a1);
        a2 = _mm256_fmadd_ps(load8(w2 + l * es, dt), xa, a2);
        a3 = _mm256_fmadd_ps(load8(w3 + l * es, dt), xa, a3);
    }
    __m128 sums = hsum4(_mm256_add_ps(a0, b0), _mm256_add_ps(a1, b1),
                        _mm256_add_ps(a2, b2), _mm256_add_ps(a3, b3));
    if (l < k) {
        float tail[4] = {0, 0, 0, 0};
        for (; l < k; l++) {
            tail[0] += load1(w0 + l * es, dt) * x[l];
            tail[1] += load1(w1 + l * es, dt) * x[l];
            tail[2] += load1(w2 + l * es, dt) * x[l];
            tail[3] += load1(w3 + l * es, dt) * x[l];
        }
        sums = _mm_add_ps(sums, _mm_loadu_ps(tail));
    }
    return sums;
}

/* x (k) . W row (k) */
static ALWAYS_INLINE float dot1(const float *x, const unsigned char *w, size_t k,
                                vlm_dtype dt) {
    size_t es = elem_size(dt);
    __m256 a = _mm256_setzero_ps(), b = a;
    size_t l = 0;
    for (; l + 16 <= k; l += 16) {
        a = _mm256_fmadd_ps(load8(w + l * es, dt), _mm256_loadu_ps(x + l), a);
        b = _mm256_fmadd_ps(load8(w + (l + 8) * es, dt), _mm256_loadu_ps(x + l + 8), b);
    }
    for (; l + 8 <= k; l += 8)
        a = _mm256_fmadd_ps(load8(w + l * es, dt), _mm256_loadu_ps(x + l), a);
    float sum = hsum(_mm256_add_ps(a, b));
    for (; l < k; l++) sum += load1(w + l * es, dt) * x[l];
    return sum;
}

// x (k) @ W (n,k)^T + bias -> out (n)
static ALWAYS_INLINE void gemv(float *out, const float *x, const unsigned char *w,
                               const float *bias, size_t k, size_t n, vlm_dtype dt) {
    size_t w_row = k * elem_size(dt);
    size_t j = 0;
    for (; j + 4 <= n; j += 4) {
        __m128 sums = gemv_4rows(x, w + j * w_row, w_row, k, dt);
        if (bias) sums = _mm_add_ps(sums, _mm_loadu_ps(bias + j));
        _mm_storeu_ps(out + j, sums);
    }
    for (; j < n; j++) {
        float sum = dot1(x, w + j * w_row, k, dt);
        out[j] = bias ? sum + bias[j] : sum;
    }
}

// ---- m > 1: blocked matrix-matrix ----

/* out tile (3 x 4) += x rows i..i+2 . W rows j..j+3 over columns [k0, k1);
 * k0 is a multiple of 8, the tail after the last multiple of 8 is scalar. */
static ALWAYS_INLINE void tile_3x4(float *out, size_t out_stride, const float *x, size_t k,
                                   const unsigned char *w, size_t w_row, size_t k0,
                                   size_t k1, vlm_dtype dt) {
    size_t es = elem_size(dt);
    const float *x0 = x, *x1 = x + k, *x2 = x + 2 * k;
    __m256 c00 = _mm256_setzero_ps(), c01 = c00, c02 = c00, c03 = c00;
    __m256 c10 = c00, c11 = c00, c12 = c00, c13 = c00;
    __m256 c20 = c00, c21 = c00, c22 = c00, c23 = c00;
    size_t l = k0;
    for (; l + 8 <= k1; l += 8) {
        __m256 xv0 = _mm256_loadu_ps(x0 + l), xv1 = _mm256_loadu_ps(x1 + l),
               xv2 = _mm256_loadu_ps(x2 + l);
        __m256 wv = load8(w + l * es, dt);
        c00 = _mm256_fmadd_ps(xv0, wv, c00);
        c10 = _mm256_fmadd_ps(xv1, wv, c10);
        c20 = _mm256_fmadd_ps(xv2, wv, c20);
        wv = load8(w + w_row + l * es, dt);
        c01 = _mm256_fmadd_ps(xv0, wv, c01);
        c11 = _mm256_fmadd_ps(xv1, wv, c11);
        c21 = _mm256_fmadd_ps(xv2, wv, c21);
        wv = load8(w + 2 * w_row + l * es, dt);
        c02 = _mm256_fmadd_ps(xv0, wv, c02);
        c12 = _mm256_fmadd_ps(xv1, wv, c12);
        c22 = _mm256_fmadd_ps(xv2, wv, c22);
        wv = load8(w + 3 * w_row + l * es, dt);
        c03 = _mm256_fmadd_ps(xv0, wv, c03);
        c13 = _mm256_fmadd_ps(xv1, wv, c13);
        c23 = _mm256_fmadd_ps(xv2, wv, c23);
    }
    __m128 r0 = hsum4(c00, c01, c02, c03);
    __m128 r1 = hsum4(c10, c11, c12, c13);
    __m128 r2 = hsum4(c20, c21, c22, c23);
    if (l < k1) {
        float tail[TILE_M][TILE_N] = {{0}};
        for (; l < k1; l++)
            for (size_t jj = 0; jj < TILE_N; jj++) {
                float wl = load1(w + jj * w_row + l * es, dt);
                tail[0][jj] += x0[l] * wl;
                tail[1][jj] += x1[l] * wl;
                tail[2][jj] += x2[l] * wl;
            }
        r0 = _mm_add_ps(r0, _mm_loadu_ps(tail[0]));
        r1 = _mm_add_ps(r1, _mm_loadu_ps(tail[1]));
        r2 = _mm_add_ps(r2, _mm_loadu_ps(tail[2]));
    }
    float *o0 = out, *o1 = out + out_stride, *o2 = out + 2 * out_stride;
    _mm_storeu_ps(o0, _mm_add_ps(_mm_loadu_ps(o0), r0));
    _mm_storeu_ps(o1, _mm_add_ps(_mm_loadu_ps(o1), r1));
    _mm_storeu_ps(o2, _mm_add_ps(_mm_loadu_ps(o2), r2));
}

/* out row += x row . W rows j..j+3 over [k0, k1) (the rows left after 3-tiles) */
static ALWAYS_INLINE void tile_1x4(float *out, const float *x, const unsigned char *w,
                                   size_t w_row, size_t k0, size_t k1, vlm_dtype dt) {
    size_t es = elem_size(dt);
    __m128 sums = gemv_4rows(x + k0, w + k0 * es, w_row, k1 - k0, dt);
    _mm_storeu_ps(out, _mm_add_ps(_mm_loadu_ps(out), sums));
}

// x (m,k) @ W (n,k)^T + bias -> out (m,n) strided, m > 1
static ALWAYS_INLINE void gemm(float *out, size_t out_stride, const float *x,
                               const unsigned char *w, const float *bias, size_t m,
                               size_t k, size_t n, vlm_dtype dt) {
    size_t es = elem_size(dt), w_row = k * es;
    for (size_t i = 0; i < m; i++) {
        float *o = out + i * out_stride;
        if (bias) memcpy(o, bias, n * sizeof *o);
        else memset(o, 0, n * sizeof *o);
    }
    size_t n4 = n - n % TILE_N;
    for (size_t k0 = 0; k0 < k; k0 += BLOCK_K) {
        size_t k1 = k0 + BLOCK_K < k ? k0 + BLOCK_K : k;
        for (size_t j0 = 0; j0 < n4; j0 += BLOCK_N) {
            size_t j1 = j0 + BLOCK_N < n4 ? j0 + BLOCK_N : n4;
            size_t i = 0;
            for (; i + TILE_M <= m; i += TILE_M)
                for (size_t j = j0; j < j1; j += TILE_N)
                    tile_3x4(out + i * out_stride + j, out_stride, x + i * k, k,
                             w + j * w_row, w_row, k0, k1, dt);
            for (; i < m; i++)
                for (size_t j = j0; j < j1; j += TILE_N)
                    tile_1x4(out + i * out_stride + j, x + i * k, w + j * w_row, w_row, k0,
                             k1, dt);
        }
    }
    /* the last n % 4 weight rows: whole dot products */
    for (size_t j = n4; j < n; j++)
        for (size_t i = 0; i < m; i++)
            out[i * out_stride + j] += dot1(x + i * k, w + j * w_row, k, dt);
}

// ---- entry ----

// x (m,k) @ W (n,k)^T + bias (n,) -> out (m,n) strided
void vlmi_avx2_matmul(float *out, size_t out_stride, const float *x, const void *w,
                      vlm_dtype w_dtype, const float *bias, size_t m, size_t k, size_t n) {
    const unsigned char *wb = w;
    if (m == 0 || n == 0) return;
    switch (w_dtype) {
    case VLM_DTYPE_F32:
        if (m == 1) gemv(out, x, wb, bias, k, n, VLM_DTYPE_F32);
        else gemm(out, out_stride, x, wb, bias, m, k, n, VLM_DTYPE_F32);
        break;
    case VLM_DTYPE_F16:
        if (m == 1) gemv(out, x, wb, bias, k, n, VLM_DTYPE_F16);
        else gemm(out, out_stride, x, wb, bias, m, k, n, VLM_DTYPE_F16);
        break;
    case VLM_DTYPE_BF16:
        if (m == 1) gemv(out, x, wb, bias, k, n, VLM_DTYPE_BF16);
        else gemm(out, out_stride, x, wb, bias, m, k, n, VLM_DTYPE_BF16);
        break;
    case VLM_DTYPE_Q4_K:
    case VLM_DTYPE_Q6_K:
        vlmi_avx2_matmul_kquant(out, out_stride, x, w, w_dtype, bias, m, k, n);
        break;
    default: /* Q8_0, Q4_0 */
        vlmi_avx2_matmul_quant(out, out_stride, x, w, w_dtype, bias, m, k, n);
        break;
    }
}
