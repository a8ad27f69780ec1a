/* AVX2 matmul of Q8_0 / Q4_0 weights with activations quantized to Q8_0:
 * 32-element blocks multiplied as int8 (maddubs: |w| as u8 times x with
 * w's sign, pairs summed to int16, then to int32), each block's integer sum
 * scaled by d_w * d_x and accumulated in f32.
 *
 * maddubs cannot saturate here: |w| <= 128 and |x| <= 127 (the activation
 * quantizer never makes -128), so a pair sums to at most 2 * 128 * 127. */
#include "x86/x86.h"

#include "kernels.h"

#include <immintrin.h>
#include <string.h>

#define ALWAYS_INLINE inline __attribute__((always_inline))
#define BLOCK_N 64 /* weight rows per cache block */
/* Stack room for activations quantized on the fly by vlmi_avx2_matmul:
 * kernels never allocate, so long rows go in slabs of blocks. */
#define QUANT_STACK_BYTES 16384

// ---- quantizing activations ----

/* roundf on each lane: to nearest, halves away from zero. */
static ALWAYS_INLINE __m256 round_half_away(__m256 v) {
    const __m256 sign_bit = _mm256_set1_ps(-0.0f);
    __m256 truncated = _mm256_round_ps(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
    __m256 frac = _mm256_andnot_ps(sign_bit, _mm256_sub_ps(v, truncated)); /* exact */
    __m256 up = _mm256_cmp_ps(frac, _mm256_set1_ps(0.5f), _CMP_GE_OQ);
    __m256 one_signed = _mm256_or_ps(_mm256_set1_ps(1.0f), _mm256_and_ps(v, sign_bit));
    return _mm256_add_ps(truncated, _mm256_and_ps(up, one_signed));
}

// x (n), n % 32 == 0 -> y (n/32 blocks of d (f16), qs[32])
void vlmi_avx2_quantize_q8_0(void *y, const float *x, size_t n) {
    const __m256 sign_bit = _mm256_set1_ps(-0.0f);
    unsigned char *block = y;
    for (size_t b = 0; b < n / VLMI_QK; b++, block += VLMI_Q8_0_BLOCK_BYTES, x += VLMI_QK) {
        __m256 v0 = _mm256_loadu_ps(x), v1 = _mm256_loadu_ps(x + 8);
        __m256 v2 = _mm256_loadu_ps(x + 16), v3 = _mm256_loadu_ps(x + 24);
        __m256 amax8 = _mm256_max_ps(
            _mm256_max_ps(_mm256_andnot_ps(sign_bit, v0), _mm256_andnot_ps(sign_bit, v1)),
            _mm256_max_ps(_mm256_andnot_ps(sign_bit, v2), _mm256_andnot_ps(sign_bit, v3)));
        __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(amax8), _mm256_extractf128_ps(amax8, 1));
        m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
        m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
        float amax = _mm_cvtss_f32(m4);
        /* the same f32 operations as the ref tier, so the bytes agree */
        float d = amax / 127.0f;
        float inv_d = d != 0.0f ? 1.0f / d : 0.0f;
        uint16_t d16 = vlmi_f32_to_f16(d);
        memcpy(block, &d16, 2);

        __m256 mul = _mm256_set1_ps(inv_d);
        __m256i i0 = _mm256_cvtps_epi32(round_half_away(_mm256_mul_ps(v0, mul)));
        __m256i i1 = _mm256_cvtps_epi32(round_half_away(_mm256_mul_ps(v1, mul)));
        __m256i i2 = _mm256_cvtps_epi32(round_half_away(_mm256_mul_ps(v2, mul)));
        __m256i i3 = _mm256_cvtps_epi32(round_half_away(_mm256_mul_ps(v3, mul)));
        /* packs work per 128-bit lane; the permute restores element order */
        __m256i i16 = _mm256_packs_epi32(i0, i1), i16b = _mm256_packs_epi32(i2, i3);
        __m256i i8 = _mm256_packs_epi16(i16, i16b);
        i8 = _mm256_permutevar8x32_epi32(i8, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
        _mm256_storeu_si256((__m256i *)(void *)(block + 2), i8);
    }
}

// ---- block dot products ----

static ALWAYS_INLINE float load_scale(const unsigned char *p) {
    uint16_t h;
    memcpy(&h, p, 2);
    return _cvtsh_ss(h);
}

/* The 32 int8 weights of a block. */
static ALWAYS_INLINE __m256i load_weights(const unsigned char *block, vlm_dtype dt) {
    if (dt == VLM_DTYPE_Q8_0) return _mm256_loadu_si256((const __m256i *)(const void *)(block + 2));
    if (dt == VLM_DTYPE_Q5_0) {
        /* nibbles as Q4_0 after the 4 bytes of qh: the 16 bytes in both
         * lanes, the high lane's qwords shifted by 4 (each byte's high
         * nibble then sits in its low one). Bit l of qh clear means element
         * l is nibble - 16, i.e. the nibble with 0xf0 or'ed in: spread each
         * of qh's bytes over 8 lanes, set every bit but the tested one, and
         * compare with all ones. As ggml's Q5_0 product, one op per step. */
        __m256i raw = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)(const void *)(block + 6)));
        __m256i nibbles = _mm256_and_si256(_mm256_srlv_epi64(raw, _mm256_setr_epi64x(0, 0, 4, 4)),
                                           _mm256_set1_epi8(0x0f));
        uint32_t qh;
        memcpy(&qh, block + 2, 4);
        const __m256i spread = _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1,
                                                2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3);
        const __m256i other_bits = _mm256_set1_epi64x(0x7fbfdfeff7fbfdfeLL);
        __m256i bytes = _mm256_or_si256(_mm256_shuffle_epi8(_mm256_set1_epi32((int)qh), spread), other_bits);
        __m256i set = _mm256_cmpeq_epi8(bytes, _mm256_set1_epi8(-1));
        return _mm256_or_si256(nibbles, _mm256_andnot_si256(set, _mm256_set1_epi8((char)0xf0)));
    }
    /* Q4_0: low nibbles are elements 0..15, high nibbles 16..31, offset 8 */
    const __m128i low_mask = _mm_set1_epi8(0x0f);
    __m128i raw = _mm_loadu_si128((const __m128i *)(const void *)(block + 2));
    __m128i lo = _mm_and_si128(raw, low_mask);
    __m128i hi = _mm_and_si128(_mm_srli_epi16(raw, 4), low_mask);
    return _mm256_sub_epi8(_mm256_set_m128i(hi, lo), _mm256_set1_epi8(8));
}

/* Eight int32 partial sums of w . x (32 int8 each), as f32. */
static ALWAYS_INLINE __m256 dot_i8(__m256i w, __m256i x) {
    __m256i w_abs = _mm256_sign_epi8(w, w);
    __m256i x_signed = _mm256_sign_epi8(x, w);
    __m256i pairs = _mm256_maddubs_epi16(w_abs, x_signed);
    return _mm256_cvtepi32_ps(_mm256_madd_epi16(pairs, _mm256_set1_epi16(1)));
}

static ALWAYS_INLINE __m256i load_x(const unsigned char *block) {
    return _mm256_loadu_si256((const __m256i *)(const void *)(block + 2));
}

static ALWAYS_INLINE float hsum(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

static ALWAYS_INLINE __m128 hsum4(__m256 a, __m256 b, __m256 c, __m256 d) {
    __m256 abcd = _mm256_hadd_ps(_mm256_hadd_ps(a, b), _mm256_hadd_ps(c, d));
    return _mm_add_ps(_mm256_castps256_ps128(abcd), _mm256_extractf128_ps(abcd, 1));
}

/* Weights read once (one x row: decode, the LM head) are asked for this far
 * ahead, so that memory keeps streaming while the int8 dots run (the
 * hardware prefetcher alone left the 262144-row LM head at ~half a core's
 * read bandwidth). */
#define PREFETCH_BYTES 4096

/* out (4) += x row . W rows j..j+3, over nb blocks; stream: prefetch the
 * weights PREFETCH_BYTES ahead (the four rows are contiguous: 4 * w_stride
 * bytes, three lines per block cover them) */
static ALWAYS_INLINE void tile_1x4(float *out, const unsigned char *x, const unsigned char *w,
                                   size_t w_stride, size_t wbb, size_t nb, vlm_dtype dt,
                                   bool stream) {
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    const char *ahead = (const char *)w + PREFETCH_BYTES;
    size_t step = nb > 0 ? (4 * w_stride + nb - 1) / nb : 0; /* k = 0: no blocks */
    for (size_t b = 0; b < nb; b++) {
        if (stream) {
            _mm_prefetch(ahead + b * step, _MM_HINT_T0);
            _mm_prefetch(ahead + b * step + 64, _MM_HINT_T0);
            _mm_prefetch(ahead + b * step + 128, _MM_HINT_T0);
        }
        const unsigned char *xb = x + b * VLMI_Q8_0_BLOCK_BYTES, *wb = w + b * wbb;
        __m256i xv = load_x(xb);
        float dx = load_scale(xb);
        a0 = _mm256_fmadd_ps(_mm256_set1_ps(dx * load_scale(wb)), dot_i8(load_weights(wb, dt), xv), a0);
        wb += w_stride;
        a1 = _mm256_fmadd_ps(_mm256_set1_ps(dx * load_scale(wb)), dot_i8(load_weights(wb, dt), xv), a1);
        wb += w_stride;
        a2 = _mm256_fmadd_ps(_mm256_set1_ps(dx * load_scale(wb)), dot_i8(load_weights(wb, dt), xv), a2);
        wb += w_stride;
        a3 = _mm256_fmadd_ps(_mm256_set1_ps(dx * load_scale(wb)), dot_i8(load_weights(wb, dt), xv), a3);
    }
    _mm_storeu_ps(out, _mm_add_ps(_mm_loadu_ps(out), hsum4(a0, a1, a2, a3)));
}

/* out rows (2 x 4) += x rows . W rows j..j+3: each weight block is
 * unpacked once for two rows of x */
static ALWAYS_INLINE void tile_2x4(float *out, size_t out_stride, const unsigned char *x,
                                   size_t x_stride, const unsigned char *w, size_t w_stride,
                                   size_t wbb, size_t nb, vlm_dtype dt) {
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    __m256 c0 = a0, c1 = a0, c2 = a0, c3 = a0;
    for (size_t b = 0; b < nb; b++) {
        const unsigned char *xb0 = x + b * VLMI_Q8_0_BLOCK_BYTES, *xb1 = xb0 + x_stride;
        const unsigned char *wb = w + b * wbb;
        __m256i xv0 = load_x(xb0), xv1 = load_x(xb1);
        float dx0 = load_scale(xb0), dx1 = load_scale(xb1);
        __m256i wv;
        float dw;
#define STEP(acc_a, acc_c)                                                              \
        wv = load_weights(wb, dt);                                                      \
        dw = load_scale(wb);                                                            \
        acc_a = _mm256_fmadd_ps(_mm256_set1_ps(dw * dx0), dot_i8(wv, xv0), acc_a);      \
        acc_c = _mm256_fmadd_ps(_mm256_set1_ps(dw * dx1), dot_i8(wv, xv1), acc_c);      \
        wb += w_stride;
        STEP(a0, c0)
        STEP(a1, c1)
        STEP(a2, c2)
        STEP(a3, c3)
#undef STEP
    }
    _mm_storeu_ps(out, _mm_add_ps(_mm_loadu_ps(out), hsum4(a0, a1, a2, a3)));
    float *o1 = out + out_stride;
    _mm_storeu_ps(o1, _mm_add_ps(_mm_loadu_ps(o1), hsum4(c0, c1, c2, c3)));
}

/* out += x row . W row, over nb blocks */
static ALWAYS_INLINE float dot_row(const unsigned char *x, const unsigned char *w, size_t wbb,
                                   size_t nb, vlm_dtype dt) {
    __m256 acc = _mm256_setzero_ps();
    for (size_t b = 0; b < nb; b++) {
        const unsigned char *xb = x + b * VLMI_Q8_0_BLOCK_BYTES, *wb = w + b * wbb;
        acc = _mm256_fmadd_ps(_mm256_set1_ps(load_scale(xb) * load_scale(wb)),
                              dot_i8(load_weights(wb, dt), load_x(xb)), acc);
    }
    return hsum(acc);
}

/* The GEMM tile of many x rows (vision, prefill): 4 x rows by 2 weight
 * rows, the scales of both sides converted to f32 beforehand (dx (4, nb),
 * dw (2, nb)) and each weight block's |w| shared by the 4 x rows, so a
 * (row, row, block) product costs sign, maddubs, madd, cvt, mul, fma.
 * out (4 rows of out_stride) cols 0..1 += x rows . W rows */
static ALWAYS_INLINE void tile_4x2(float *out, size_t out_stride, const unsigned char *x,
                                   size_t x_stride, const float *dx, const unsigned char *w,
                                   size_t w_stride, const float *dw, size_t wbb, size_t nb,
                                   vlm_dtype dt) {
    const __m256i ones = _mm256_set1_epi16(1);
    __m256 a00 = _mm256_setzero_ps(), a10 = a00, a20 = a00, a30 = a00;
    __m256 a01 = a00, a11 = a00, a21 = a00, a31 = a00;
    for (size_t b = 0; b < nb; b++) {
        const unsigned char *xb = x + b * VLMI_Q8_0_BLOCK_BYTES + 2;
        const unsigned char *wb = w + b * wbb;
#define PRODUCT(acc, r, wv, wabs, dwv)                                                    \
        {                                                                                 \
            __m256i xv = _mm256_loadu_si256((const __m256i *)(const void *)(xb + (r) * x_stride)); \
            __m256i p = _mm256_madd_epi16(                                                \
                _mm256_maddubs_epi16(wabs, _mm256_sign_epi8(xv, wv)), ones);              \
            __m256 sc = _mm256_mul_ps(dwv, _mm256_broadcast_ss(dx + (r) * nb + b));        \
            acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p), sc, acc);                        \
        }
        {
            __m256i wv = load_weights(wb, dt), wabs = _mm256_sign_epi8(wv, wv);
            __m256 dwv = _mm256_broadcast_ss(dw + b);
            PRODUCT(a00, 0, wv, wabs, dwv)
            PRODUCT(a10, 1, wv, wabs, dwv)
            PRODUCT(a20, 2, wv, wabs, dwv)
            PRODUCT(a30, 3, wv, wabs, dwv)
        }
        {
            __m256i wv = load_weights(wb + w_stride, dt), wabs = _mm256_sign_epi8(wv, wv);
            __m256 dwv = _mm256_broadcast_ss(dw + nb + b);
            PRODUCT(a01, 0, wv, wabs, dwv)
            PRODUCT(a11, 1, wv, wabs, dwv)
            PRODUCT(a21, 2, wv, wabs, dwv)
            PRODUCT(a31, 3, wv, wabs, dwv)
        }
#undef PRODUCT
    }
    /* rows r: (a_r0, a_r1) -> out[r][0..1] */
    __m128 s01 = hsum4(a00, a01, a10, a11), s23 = hsum4(a20, a21, a30, a31);
    float *o0 = out, *o1 = out + out_stride, *o2 = o1 + out_stride, *o3 = o2 + out_stride;
    _mm_storel_pi((__m64 *)(void *)o0, _mm_add_ps(_mm_loadl_pi(_mm_setzero_ps(), (const __m64 *)(const void *)o0), s01));
    _mm_storel_pi((__m64 *)(void *)o1, _mm_add_ps(_mm_loadl_pi(_mm_setzero_ps(), (const __m64 *)(const void *)o1), _mm_movehl_ps(s01, s01)));
    _mm_storel_pi((__m64 *)(void *)o2, _mm_add_ps(_mm_loadl_pi(_mm_setzero_ps(), (const __m64 *)(const void *)o2), s23));
    _mm_storel_pi((__m64 *)(void *)o3, _mm_add_ps(_mm_loadl_pi(_mm_setzero_ps(), (const __m64 *)(const void *)o3), _mm_movehl_ps(s23, s23)));
}

/* Block scales of rows as f32: rows (n_rows, row_stride bytes apart) ->
 * d (n_rows, nb) */
static void scales_f32(float *d, const unsigned char *rows, size_t row_stride, size_t n_rows,
                       size_t block_bytes, size_t nb) {
    for (size_t r = 0; r < n_rows; r++)
        for (size_t b = 0; b < nb; b++)
            d[r * nb + b] = load_scale(rows + r * row_stride + b * block_bytes);
}

/* Blocks per k-slab of the tiled GEMM: its f32 scales live on the stack. */
#define GEMM_SLAB_BLOCKS 128
#define GEMM_BLOCK_N 16


/* out (m, n) strided += xq . W, m >= 4 rows in steps of 4 (the rest: *m_done
 * tells how many were done), n a multiple of 4: tile_4x2 over cache blocks of
 * BLOCK_N weight rows */
static ALWAYS_INLINE void q8_gemm_4x2(float *out, size_t out_stride, const unsigned char *xq,
                                      size_t x_stride, const unsigned char *w, size_t w_stride,
                                      size_t m, size_t nb, size_t n, vlm_dtype dt, size_t wbb) {
    _Alignas(32) float dw[GEMM_BLOCK_N * GEMM_SLAB_BLOCKS];
    _Alignas(32) float dx[4 * GEMM_SLAB_BLOCKS];
    for (size_t b0 = 0; b0 < nb; b0 += GEMM_SLAB_BLOCKS) {
        size_t sb = nb - b0 < GEMM_SLAB_BLOCKS ? nb - b0 : GEMM_SLAB_BLOCKS;
        const unsigned char *xs = xq + b0 * VLMI_Q8_0_BLOCK_BYTES, *ws = w + b0 * wbb;
        for (size_t j0 = 0; j0 < n; j0 += GEMM_BLOCK_N) {
            size_t j1 = j0 + GEMM_BLOCK_N < n ? j0 + GEMM_BLOCK_N : n;
            scales_f32(dw, ws + j0 * w_stride, w_stride, j1 - j0, wbb, sb);
            for (size_t i = 0; i + 4 <= m; i += 4) {
                scales_f32(dx, xs + i * x_stride, x_stride, 4, VLMI_Q8_0_BLOCK_BYTES, sb);
                for (size_t j = j0; j < j1; j += 2)
                    tile_4x2(out + i * out_stride + j, out_stride, xs + i * x_stride, x_stride,
                             dx, ws + j * w_stride, w_stride, dw + (j - j0) * sb, wbb, sb, dt);
            }
        }
    }
}

/* out (m, n) strided += xq (m rows, x_stride bytes apart) . W (n rows, w_stride
 * bytes apart) over nb blocks */
static ALWAYS_INLINE void q8_gemm(float *out, size_t out_stride, const unsigned char *xq,
                                  size_t x_stride, const unsigned char *w, size_t w_stride,
                                  size_t m, size_t nb, size_t n, vlm_dtype dt) {
    size_t wbb = dt == VLM_DTYPE_Q8_0   ? VLMI_Q8_0_BLOCK_BYTES
                 : dt == VLM_DTYPE_Q5_0 ? VLMI_Q5_0_BLOCK_BYTES
                                        : VLMI_Q4_0_BLOCK_BYTES;
    size_t n4 = n - n % 4;
    /* many rows: 4x2 tiles for the rows in fours, columns below n4 */
    size_t i_tiled = m >= 8 ? m - m % 4 : 0;
    if (i_tiled > 0)
        q8_gemm_4x2(out, out_stride, xq, x_stride, w, w_stride, i_tiled, nb, n4, dt, wbb);
    for (size_t j0 = 0; j0 < n4; j0 += BLOCK_N) {
        size_t j1 = j0 + BLOCK_N < n4 ? j0 + BLOCK_N : n4;
        size_t i = i_tiled;
        for (; i + 2 <= m; i += 2)
            for (size_t j = j0; j < j1; j += 4)
                tile_2x4(out + i * out_stride + j, out_stride, xq + i * x_stride, x_stride,
                         w + j * w_stride, w_stride, wbb, nb, dt);
        if (m == 1) /* the weights are read once: stream them */
            for (size_t j = j0; j < j1; j += 4)
                tile_1x4(out + j, xq, w + j * w_stride, w_stride, wbb, nb, dt, true);
        else
            for (; i < m; i++)
                for (size_t j = j0; j < j1; j += 4)
                    tile_1x4(out + i * out_stride + j, xq + i * x_stride, w + j * w_stride,
                             w_stride, wbb, nb, dt, false);
    }
    for (size_t j = n4; j < n; j++)
        for (size_t i = 0; i < m; i++)
            out[i * out_stride + j] += dot_row(xq + i * x_stride, w + j * w_stride, wbb, nb, dt);
}

static void init_rows(float *out, size_t out_stride, const float *bias, size_t m, size_t n) {
    for (size_t i = 0; i < m; i++) {
        if (bias) memcpy(out + i * out_stride, bias, n * sizeof *out);
        else memset(out + i * out_stride, 0, n * sizeof *out);
    }
}

static void q8_gemm_dtype(float *out, size_t out_stride, const unsigned char *xq,
                          size_t x_stride, const unsigned char *w, size_t w_stride, size_t m,
                          size_t nb, size_t n, vlm_dtype dt) {
    if (dt == VLM_DTYPE_Q8_0) q8_gemm(out, out_stride, xq, x_stride, w, w_stride, m, nb, n, VLM_DTYPE_Q8_0);
    else if (dt == VLM_DTYPE_Q5_0) q8_gemm(out, out_stride, xq, x_stride, w, w_stride, m, nb, n, VLM_DTYPE_Q5_0);
    else q8_gemm(out, out_stride, xq, x_stride, w, w_stride, m, nb, n, VLM_DTYPE_Q4_0);
}

// ---- entries ----

// xq (m, k/32 blocks) @ W (n,k)^T + bias -> out (m,n) strided
void vlmi_avx2_matmul_q8(float *out, size_t out_stride, const void *xq, const void *w,
                         vlm_dtype w_dtype, const float *bias, size_t m, size_t k, size_t n) {
    if (w_dtype == VLM_DTYPE_Q4_K || w_dtype == VLM_DTYPE_Q6_K) {
        vlmi_avx2_matmul_q8_k(out, out_stride, xq, w, w_dtype, bias, m, k, n);
        return;
    }
    size_t nb = k / VLMI_QK;
    init_rows(out, out_stride, bias, m, n);
    q8_gemm_dtype(out, out_stride, xq, nb * VLMI_Q8_0_BLOCK_BYTES, w,
                  vlmi_kernels_row_bytes(w_dtype, k), m, nb, n, w_dtype);
}

// x (m,k) @ W (n,k)^T + bias -> out (m,n) strided, W in Q8_0 / Q4_0
void vlmi_avx2_matmul_quant(float *out, size_t out_stride, const float *x, const void *w,
                            vlm_dtype w_dtype, const float *bias, size_t m, size_t k,
                            size_t n) {
    _Alignas(32) unsigned char xq[QUANT_STACK_BYTES];
    size_t nb = k / VLMI_QK;
    size_t w_stride = vlmi_kernels_row_bytes(w_dtype, k);
    size_t wbb = vlmi_kernels_row_bytes(w_dtype, VLMI_QK);
    size_t slab_max = QUANT_STACK_BYTES / VLMI_Q8_0_BLOCK_BYTES;
    init_rows(out, out_stride, bias, m, n);
    /* slabs of blocks (one slab unless rows are very long) x chunks of rows */
    for (size_t b0 = 0; b0 < nb; b0 += slab_max) {
        size_t slab = nb - b0 < slab_max ? nb - b0 : slab_max;
        size_t slab_bytes = slab * VLMI_Q8_0_BLOCK_BYTES;
        size_t rows_per_chunk = QUANT_STACK_BYTES / slab_bytes;
        for (size_t i0 = 0; i0 < m; i0 += rows_per_chunk) {
            size_t rows = m - i0 < rows_per_chunk ? m - i0 : rows_per_chunk;
            for (size_t r = 0; r < rows; r++)
                vlmi_avx2_quantize_q8_0(xq + r * slab_bytes, x + (i0 + r) * k + b0 * VLMI_QK,
                                        slab * VLMI_QK);
            q8_gemm_dtype(out + i0 * out_stride, out_stride, xq, slab_bytes,
                          (const unsigned char *)w + b0 * wbb, w_stride, rows, slab, n, w_dtype);
        }
    }
}
