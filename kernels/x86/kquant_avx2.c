/* AVX2 matmul of Q4_K / Q6_K weights with activations quantized to Q8_K
 * (ref/kquant.h states the arithmetic): each weight super-block is unpacked
 * once into 8 vectors of 32 unsigned quants plus its scales, then shared by
 * up to TILE_M rows of x. maddubs multiplies the unsigned weight quants (0..15
 * or 0..63) by the int8 activations into int16 pairs (at most 2 * 63 * 127:
 * no saturation), madd applies the 16-bit group scales into int32, and each
 * super-block's integer sum is scaled in f32. The Q4_K minimums and the Q6_K
 * offset of 32 come from the activation block sums (bsums), as in ggml.
 *
 * Every output is computed by the same operations whatever the tile, band or
 * thread: a row of x gets its own accumulators in every tile shape. */
#include "x86/x86.h"
#include "x86/reduce_avx2.h"

#include "kernels.h"

#include <immintrin.h>
#include <string.h>

#define ALWAYS_INLINE inline __attribute__((always_inline))
#define TILE_M 4     /* rows of x sharing one unpacked weight block */
#define BLOCK_M 64   /* rows of x per cache block (64 rows of k = 768: 55 KB) */
#define Q8_K_QS 4
#define Q8_K_BSUMS 260
/* Stack room for activations quantized on the fly by vlmi_avx2_matmul:
 * kernels never allocate, so rows longer than 112 blocks (28672 values) go
 * in slabs (summed slab by slab, so then they differ from the pre-quantized
 * path by rounding). */
#define QUANT_STACK_BYTES (112 * VLMI_Q8_K_BLOCK_BYTES)

// ---- quantizing activations ----

// x (n), n % 256 == 0 -> y (n/256 Q8_K blocks), bytes identical to the ref tier
void vlmi_avx2_quantize_q8_k(void *y, const float *x, size_t n) {
    const __m256 sign_bit = _mm256_set1_ps(-0.0f);
    unsigned char *block = y;
    for (size_t b = 0; b < n / VLMI_QK_K; b++, block += VLMI_Q8_K_BLOCK_BYTES, x += VLMI_QK_K) {
        __m256 amax8 = _mm256_setzero_ps();
        for (int j = 0; j < VLMI_QK_K; j += 8)
            amax8 = _mm256_max_ps(amax8, _mm256_andnot_ps(sign_bit, _mm256_loadu_ps(x + j)));
        __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(amax8), _mm256_extractf128_ps(amax8, 1));
        m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
        m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
        float amax = _mm_cvtss_f32(m4);
        unsigned char *qs = block + Q8_K_QS;
        float d = 0.0f;
        if (amax > 0.0f) {
            /* the same f32 operations as the ref tier, so the bytes agree;
             * cvtps rounds to nearest even as ref's nearest_int */
            float iscale = 127.0f / amax;
            d = 1.0f / iscale;
            __m256 mul = _mm256_set1_ps(iscale);
            for (int j = 0; j < VLMI_QK_K; j += 32) {
                __m256i i0 = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + j), mul));
                __m256i i1 = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + j + 8), mul));
                __m256i i2 = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + j + 16), mul));
                __m256i i3 = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + j + 24), mul));
                /* packs work per 128-bit lane; the permute restores element order */
                __m256i i8 = _mm256_packs_epi16(_mm256_packs_epi32(i0, i1),
                                                _mm256_packs_epi32(i2, i3));
                i8 = _mm256_permutevar8x32_epi32(i8, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
                i8 = _mm256_max_epi8(i8, _mm256_set1_epi8(-127));
                _mm256_storeu_si256((__m256i *)(void *)(qs + j), i8);
            }
        } else {
            memset(qs, 0, VLMI_QK_K);
        }
        memcpy(block, &d, 4);
        for (int g = 0; g < VLMI_QK_K / 16; g++) {
            /* 16 int8 -> int16, then pairwise sums down to one */
            __m128i q16 = _mm_loadu_si128((const __m128i *)(const void *)(qs + 16 * g));
            __m256i w16 = _mm256_cvtepi8_epi16(q16);
            __m128i s = _mm_add_epi16(_mm256_castsi256_si128(w16), _mm256_extracti128_si256(w16, 1));
            s = _mm_hadd_epi16(s, s);
            s = _mm_hadd_epi16(s, s);
            s = _mm_hadd_epi16(s, s);
            int16_t sum = (int16_t)_mm_extract_epi16(s, 0);
            memcpy(block + Q8_K_BSUMS + 2 * g, &sum, 2);
        }
    }
}

// ---- one weight super-block: up to TILE_M (weight row, x row) pairs ----

static ALWAYS_INLINE float load_f16(const unsigned char *p) {
    uint16_t h;
    memcpy(&h, p, 2);
    return _cvtsh_ss(h);
}

static ALWAYS_INLINE float load_dx(const unsigned char *xb) {
    float d;
    memcpy(&d, xb, 4);
    return d;
}

static ALWAYS_INLINE __m256i load256(const unsigned char *p) {
    return _mm256_loadu_si256((const __m256i *)(const void *)p);
}

/* The int16 at index lo of each 128-bit lane of v in the low lane's eight
 * words, the one at index hi in the high lane's: one in-lane shuffle (a
 * constant control once the loops are unrolled), where a broadcast from
 * memory would cost a load, a move and a broadcast per chunk. */
static ALWAYS_INLINE __m256i pick16(__m256i v, int lo, int hi) {
    return _mm256_shuffle_epi8(v, _mm256_set_m128i(_mm_set1_epi16((short)(hi * 0x202 + 0x100)),
                                                   _mm_set1_epi16((short)(lo * 0x202 + 0x100))));
}

/* The 12 packed bytes of a Q4_K block -> its 8 six-bit scales as int16 in
 * both lanes of *scales and its 8 minimums as int16 in *mins (the fields
 * dequant.c reads one by one: for j < 4, scale s[j] & 63 and minimum
 * s[j+4] & 63; for j >= 4, the low and high nibbles of s[j+4] topped by the
 * two high bits of s[j-4] and s[j]), by two byte shuffles of the block's
 * first 16 bytes rather than a dozen scalar ops. */
static ALWAYS_INLINE void q4_k_scales(const unsigned char *wb, __m256i *scales, __m128i *mins) {
    __m128i raw = _mm_loadu_si128((const __m128i *)(const void *)wb); /* d, dmin, s[12] */
    /* scales 0..3, 4..7, minimums 0..3, 4..7: the bytes holding their low bits */
    __m128i low = _mm_shuffle_epi8(raw, _mm_setr_epi8(4, 5, 6, 7, 12, 13, 14, 15,
                                                      8, 9, 10, 11, 12, 13, 14, 15));
    __m128i low_bits = _mm_or_si128(
        _mm_and_si128(low, _mm_setr_epi8(63, 63, 63, 63, 15, 15, 15, 15,
                                         63, 63, 63, 63, 0, 0, 0, 0)),
        _mm_and_si128(_mm_srli_epi16(low, 4), _mm_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0,
                                                            0, 0, 0, 0, 15, 15, 15, 15)));
    /* the two high bits of j >= 4, from s[0..3] and s[4..7], to bits 4-5 */
    __m128i high = _mm_shuffle_epi8(raw, _mm_setr_epi8(-1, -1, -1, -1, 4, 5, 6, 7,
                                                       -1, -1, -1, -1, 8, 9, 10, 11));
    high = _mm_srli_epi16(_mm_and_si128(high, _mm_set1_epi8((char)0xc0)), 2);
    __m128i both = _mm_or_si128(low_bits, high);
    *scales = _mm256_cvtepu8_epi16(_mm_unpacklo_epi64(both, both));
    *mins = _mm_cvtepu8_epi16(_mm_unpackhi_epi64(both, both));
}

/* Q4_K: d, dmin (f16), scales[12] (8 x 6-bit scale and minimum), qs[128]
 * (group g: nibbles of qs[32 (g/2) ..], low for even g). Pair (iw, ix), the
 * accumulator iw * n_x + ix, is weight row iw (w_stride bytes apart) against
 * x row ix (x_stride apart), n_w * n_x <= TILE_M:
 * acc += (dx d) * sum_g sc_g (q . qx), acc_m += (dx dmin) * m_g * bsum_g.
 * Each weight chunk is unpacked once for its x rows, each x chunk loaded
 * once for its weight rows. */
static ALWAYS_INLINE void block_q4_k(__m256 *acc, __m128 *acc_m, const unsigned char *wb,
                                     size_t w_stride, size_t n_w, const unsigned char *xb,
                                     size_t x_stride, size_t n_x) {
    const __m256i low_mask = _mm256_set1_epi8(0x0f);
    __m256i scales[TILE_M], sumi[TILE_M];
    __m128i mins[TILE_M];
    for (size_t iw = 0; iw < n_w; iw++) q4_k_scales(wb + iw * w_stride, &scales[iw], &mins[iw]);
    for (size_t a = 0; a < n_w * n_x; a++) sumi[a] = _mm256_setzero_si256();
    _Pragma("GCC unroll 4")
    for (int p = 0; p < 4; p++) {
        __m256i x_lo[TILE_M], x_hi[TILE_M];
        for (size_t ix = 0; ix < n_x; ix++) {
            x_lo[ix] = load256(xb + ix * x_stride + Q8_K_QS + 64 * p);
            x_hi[ix] = load256(xb + ix * x_stride + Q8_K_QS + 64 * p + 32);
        }
        for (size_t iw = 0; iw < n_w; iw++) {
            __m256i bits = load256(wb + iw * w_stride + 16 + 32 * p);
            __m256i q_lo = _mm256_and_si256(bits, low_mask);
            __m256i q_hi = _mm256_and_si256(_mm256_srli_epi16(bits, 4), low_mask);
            __m256i s_lo = pick16(scales[iw], 2 * p, 2 * p);
            __m256i s_hi = pick16(scales[iw], 2 * p + 1, 2 * p + 1);
            for (size_t ix = 0; ix < n_x; ix++) {
                __m256i lo = _mm256_madd_epi16(s_lo, _mm256_maddubs_epi16(q_lo, x_lo[ix]));
                __m256i hi = _mm256_madd_epi16(s_hi, _mm256_maddubs_epi16(q_hi, x_hi[ix]));
                sumi[iw * n_x + ix] = _mm256_add_epi32(sumi[iw * n_x + ix], _mm256_add_epi32(lo, hi));
            }
        }
    }
    for (size_t ix = 0; ix < n_x; ix++) {
        const unsigned char *x = xb + ix * x_stride;
        float dx = load_dx(x);
        __m256i bsums = load256(x + Q8_K_BSUMS);
        /* pairs of 16-sums -> the 8 sums of 32 */
        __m128i q8s = _mm_hadd_epi16(_mm256_castsi256_si128(bsums), _mm256_extracti128_si256(bsums, 1));
        for (size_t iw = 0; iw < n_w; iw++) {
            const unsigned char *w = wb + iw * w_stride;
            size_t a = iw * n_x + ix;
            acc[a] = _mm256_fmadd_ps(_mm256_set1_ps(dx * load_f16(w)), _mm256_cvtepi32_ps(sumi[a]), acc[a]);
            __m128i prod = _mm_madd_epi16(mins[iw], q8s);
            acc_m[a] = _mm_fmadd_ps(_mm_set1_ps(dx * load_f16(w + 2)), _mm_cvtepi32_ps(prod), acc_m[a]);
        }
    }
}

/* The 32 quants (0..63) of Q6_K chunk 4h + k from ql's two vectors l0, l1
 * and qh's vector hb of half h. 16-bit shifts are safe: each byte is
 * masked before or after. */
static ALWAYS_INLINE __m256i q6_k_chunk(__m256i l0, __m256i l1, __m256i hb, int k) {
    const __m256i low_mask = _mm256_set1_epi8(0x0f);
    switch (k) {
    case 0:
        return _mm256_or_si256(_mm256_and_si256(l0, low_mask),
                               _mm256_and_si256(_mm256_slli_epi16(hb, 4), _mm256_set1_epi8(0x30)));
    case 1:
        return _mm256_or_si256(_mm256_and_si256(l1, low_mask),
                               _mm256_and_si256(_mm256_slli_epi16(hb, 2), _mm256_set1_epi8(0x30)));
    case 2:
        return _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), low_mask),
                               _mm256_and_si256(hb, _mm256_set1_epi8(0x30)));
    default:
        return _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), low_mask),
                               _mm256_and_si256(_mm256_srli_epi16(hb, 2), _mm256_set1_epi8(0x30)));
    }
}

/* Q6_K: ql[128], qh[64], scales[16] (int8, one per 16 elements), d (f16);
 * chunk c = 4h + k of 32 elements takes nibbles of ql[64h + 32 (k%2) ..]
 * (low for k < 2) and bit pair k of qh[32h ..]. Pairs as block_q4_k:
 * acc += (dx d) * (sum_g sc_g (q . qx) - 32 sum_g sc_g bsum_g) */
static ALWAYS_INLINE void block_q6_k(__m256 *acc, const unsigned char *wb, size_t w_stride,
                                     size_t n_w, const unsigned char *xb, size_t x_stride,
                                     size_t n_x) {
    __m256i sc16[TILE_M], sc_first[TILE_M], sc_second[TILE_M], sumi[TILE_M];
    for (size_t iw = 0; iw < n_w; iw++) {
        sc16[iw] = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(const void *)(wb + iw * w_stride + 192)));
        /* scales 0..7 and 8..15, each in both lanes, for pick16 */
        sc_first[iw] = _mm256_permute4x64_epi64(sc16[iw], 0x44);
        sc_second[iw] = _mm256_permute4x64_epi64(sc16[iw], 0xee);
    }
    for (size_t a = 0; a < n_w * n_x; a++) sumi[a] = _mm256_setzero_si256();
    _Pragma("GCC unroll 2")
    for (int h = 0; h < 2; h++) {
        _Pragma("GCC unroll 4")
        for (int k = 0; k < 4; k++) {
            int c = 4 * h + k;
            __m256i xv[TILE_M];
            for (size_t ix = 0; ix < n_x; ix++)
                xv[ix] = load256(xb + ix * x_stride + Q8_K_QS + 32 * (size_t)c);
            for (size_t iw = 0; iw < n_w; iw++) {
                const unsigned char *w = wb + iw * w_stride;
                __m256i q = q6_k_chunk(load256(w + 64 * h), load256(w + 64 * h + 32),
                                       load256(w + 128 + 32 * h), k);
                __m256i scale = pick16(h == 0 ? sc_first[iw] : sc_second[iw], 2 * k, 2 * k + 1);
                for (size_t ix = 0; ix < n_x; ix++)
                    sumi[iw * n_x + ix] = _mm256_add_epi32(
                        sumi[iw * n_x + ix], _mm256_madd_epi16(scale, _mm256_maddubs_epi16(q, xv[ix])));
            }
        }
    }
    for (size_t ix = 0; ix < n_x; ix++) {
        const unsigned char *x = xb + ix * x_stride;
        __m256i bsums = load256(x + Q8_K_BSUMS);
        float dx = load_dx(x);
        for (size_t iw = 0; iw < n_w; iw++) {
            size_t a = iw * n_x + ix;
            __m256i offset = _mm256_madd_epi16(sc16[iw], bsums);
            __m256i s = _mm256_sub_epi32(sumi[a], _mm256_slli_epi32(offset, 5));
            acc[a] = _mm256_fmadd_ps(_mm256_set1_ps(dx * load_f16(wb + iw * w_stride + 208)),
                                     _mm256_cvtepi32_ps(s), acc[a]);
        }
    }
}

static ALWAYS_INLINE float hsum128(__m128 s) {
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

// ---- tiles ----

/* Weights read once (one x row: decode) are asked for this far ahead, so
 * that memory keeps streaming while the integer dots run (as the Q8_0 row
 * tile in quant_avx2.c). */
#define PREFETCH_BYTES 4096
/* Weight rows per one-x-row tile: they share each x chunk's load. */
#define GEMV_ROWS 2

/* out[iw * out_w_stride + ix * out_x_stride] += x row ix . W row iw, for
 * n_w * n_x <= TILE_M pairs, over nb super-blocks; stream: prefetch the
 * weights PREFETCH_BYTES ahead (the n_w rows are contiguous: n_w * w_stride
 * bytes, step bytes a block) */
static ALWAYS_INLINE void tile(float *out, size_t out_w_stride, size_t out_x_stride,
                               const unsigned char *x, size_t x_stride, const unsigned char *w,
                               size_t w_stride, size_t n_w, size_t n_x, size_t nb, vlm_dtype dt,
                               bool stream) {
    __m256 acc[TILE_M];
    __m128 acc_m[TILE_M];
    for (size_t a = 0; a < n_w * n_x; a++) {
        acc[a] = _mm256_setzero_ps();
        acc_m[a] = _mm_setzero_ps();
    }
    size_t wbb = dt == VLM_DTYPE_Q4_K ? VLMI_Q4_K_BLOCK_BYTES : VLMI_Q6_K_BLOCK_BYTES;
    const char *ahead = (const char *)w + PREFETCH_BYTES;
    size_t step = stream ? (n_w * w_stride + nb - 1) / nb : 0;
    for (size_t b = 0; b < nb; b++) {
        if (stream)
            for (size_t line = 0; line < step; line += 64)
                _mm_prefetch(ahead + b * step + line, _MM_HINT_T0);
        const unsigned char *xb = x + b * VLMI_Q8_K_BLOCK_BYTES, *wb = w + b * wbb;
        if (dt == VLM_DTYPE_Q4_K) block_q4_k(acc, acc_m, wb, w_stride, n_w, xb, x_stride, n_x);
        else block_q6_k(acc, wb, w_stride, n_w, xb, x_stride, n_x);
    }
    for (size_t iw = 0; iw < n_w; iw++)
        for (size_t ix = 0; ix < n_x; ix++) {
            size_t a = iw * n_x + ix;
            float s = dt == VLM_DTYPE_Q4_K ? vlmi_avx2_hsum(acc[a]) - hsum128(acc_m[a])
                                           : vlmi_avx2_hsum(acc[a]);
            out[iw * out_w_stride + ix * out_x_stride] += s;
        }
}

/* out (m, n) strided += xq (m rows, x_stride bytes apart) . W (n rows,
 * w_stride bytes apart) over nb super-blocks. One x row (decode): tiles of
 * GEMV_ROWS weight rows, streamed. Else blocks of BLOCK_M rows of x stay in
 * L2 while every weight row passes, in tiles of TILE_M x rows; a weight row
 * stays in L1 for the tiles of one block. */
static ALWAYS_INLINE void q8k_gemm(float *out, size_t out_stride, const unsigned char *xq,
                                   size_t x_stride, const unsigned char *w, size_t w_stride,
                                   size_t m, size_t nb, size_t n, vlm_dtype dt) {
    if (m == 1) {
        size_t j = 0;
        for (; j + GEMV_ROWS <= n; j += GEMV_ROWS)
            tile(out + j, 1, 0, xq, 0, w + j * w_stride, w_stride, GEMV_ROWS, 1, nb, dt, true);
        for (; j < n; j++)
            tile(out + j, 1, 0, xq, 0, w + j * w_stride, w_stride, 1, 1, nb, dt, false);
        return;
    }
    for (size_t i0 = 0; i0 < m; i0 += BLOCK_M) {
        size_t i1 = i0 + BLOCK_M < m ? i0 + BLOCK_M : m;
        for (size_t j = 0; j < n; j++) {
            size_t i = i0;
            for (; i + TILE_M <= i1; i += TILE_M)
                tile(out + i * out_stride + j, 0, out_stride, xq + i * x_stride, x_stride,
                     w + j * w_stride, 0, 1, TILE_M, nb, dt, false);
            for (; i < i1; i++)
                tile(out + i * out_stride + j, 0, out_stride, xq + i * x_stride, x_stride,
                     w + j * w_stride, 0, 1, 1, nb, dt, false);
        }
    }
}

static void q8k_gemm_dtype(float *out, size_t out_stride, const unsigned char *xq,
                           size_t x_stride, const unsigned char *w, size_t w_stride, size_t m,
                           size_t nb, size_t n, vlm_dtype dt) {
    if (dt == VLM_DTYPE_Q4_K) q8k_gemm(out, out_stride, xq, x_stride, w, w_stride, m, nb, n, VLM_DTYPE_Q4_K);
    else q8k_gemm(out, out_stride, xq, x_stride, w, w_stride, m, nb, n, VLM_DTYPE_Q6_K);
}

static void init_rows(float *out, size_t out_stride, const float *bias, size_t m, size_t n) {
    for (size_t i = 0; i < m; i++) {
        if (bias) memcpy(out + i * out_stride, bias, n * sizeof *out);
        else memset(out + i * out_stride, 0, n * sizeof *out);
    }
}

static size_t w_block_bytes(vlm_dtype dt) {
    return dt == VLM_DTYPE_Q4_K ? VLMI_Q4_K_BLOCK_BYTES : VLMI_Q6_K_BLOCK_BYTES;
}

// ---- entries ----

// xq (m, k/256 Q8_K blocks) @ W (n,k)^T (Q4_K or Q6_K) + bias -> out (m,n) strided
void vlmi_avx2_matmul_q8_k(float *out, size_t out_stride, const void *xq, const void *w,
                           vlm_dtype w_dtype, const float *bias, size_t m, size_t k, size_t n) {
    size_t nb = k / VLMI_QK_K;
    init_rows(out, out_stride, bias, m, n);
    q8k_gemm_dtype(out, out_stride, xq, nb * VLMI_Q8_K_BLOCK_BYTES, w, nb * w_block_bytes(w_dtype),
                   m, nb, n, w_dtype);
}

// x (m,k) @ W (n,k)^T (Q4_K or Q6_K) + bias -> out (m,n) strided, x quantized on the fly
void vlmi_avx2_matmul_kquant(float *out, size_t out_stride, const float *x, const void *w,
                             vlm_dtype w_dtype, const float *bias, size_t m, size_t k,
                             size_t n) {
    _Alignas(32) unsigned char xq[QUANT_STACK_BYTES];
    size_t nb = k / VLMI_QK_K;
    size_t wbb = w_block_bytes(w_dtype);
    size_t slab_max = QUANT_STACK_BYTES / VLMI_Q8_K_BLOCK_BYTES;
    init_rows(out, out_stride, bias, m, n);
    /* slabs of blocks (one slab unless rows are very long) x chunks of rows */
    for (size_t b0 = 0; b0 < nb; b0 += slab_max) {
        size_t slab = nb - b0 < slab_max ? nb - b0 : slab_max;
        size_t slab_bytes = slab * VLMI_Q8_K_BLOCK_BYTES;
        size_t rows_per_chunk = QUANT_STACK_BYTES / slab_bytes;
        for (size_t i0 = 0; i0 < m; i0 += rows_per_chunk) {
            size_t rows = m - i0 < rows_per_chunk ? m - i0 : rows_per_chunk;
            for (size_t r = 0; r < rows; r++)
                vlmi_avx2_quantize_q8_k(xq + r * slab_bytes, x + (i0 + r) * k + b0 * VLMI_QK_K,
                                        slab * VLMI_QK_K);
            q8k_gemm_dtype(out + i0 * out_stride, out_stride, xq, slab_bytes,
                           (const unsigned char *)w + b0 * wbb, nb * wbb, rows, slab, n, w_dtype);
        }
    }
}
