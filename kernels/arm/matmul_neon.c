/* NEON matmul for f32, f16 and bf16 weights with f32 activations: four
 * weight rows per step share each load of x (the decode case is a stream
 * over the weights); f16 widens with fcvtl, bf16 with a 16-bit shift. */
#include "arm/arm.h"

#include "kernels.h"

#include <arm_neon.h>
#include <string.h>

#define ALWAYS_INLINE inline __attribute__((always_inline))

static ALWAYS_INLINE size_t elem_size(vlm_dtype dt) { return dt == VLM_DTYPE_F32 ? 4 : 2; }

/* Four consecutive weights at byte address p (any alignment). */
static ALWAYS_INLINE float32x4_t load4(const unsigned char *p, vlm_dtype dt) {
    if (dt == VLM_DTYPE_F32) return vreinterpretq_f32_u8(vld1q_u8(p));
    uint16x4_t h = vreinterpret_u16_u8(vld1_u8(p));
    if (dt == VLM_DTYPE_F16) return vcvt_f32_f16(vreinterpret_f16_u16(h));
    return vreinterpretq_f32_u32(vshll_n_u16(h, 16));
}

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

/* x (k) . W rows j..j+3 -> 4 sums */
static ALWAYS_INLINE float32x4_t dot_4rows(const float *x, const unsigned char *w, size_t w_row,
                                           size_t k, vlm_dtype dt) {
    size_t es = elem_size(dt);
    float32x4_t a0 = vdupq_n_f32(0), a1 = a0, a2 = a0, a3 = a0;
    size_t l = 0;
    for (; l + 4 <= k; l += 4) {
        float32x4_t xv = vld1q_f32(x + l);
        a0 = vfmaq_f32(a0, load4(w + l * es, dt), xv);
        a1 = vfmaq_f32(a1, load4(w + w_row + l * es, dt), xv);
        a2 = vfmaq_f32(a2, load4(w + 2 * w_row + l * es, dt), xv);
        a3 = vfmaq_f32(a3, load4(w + 3 * w_row + l * es, dt), xv);
    }
    /* pairwise adds: {sum a0, sum a1, sum a2, sum a3} */
    float32x4_t sums = vpaddq_f32(vpaddq_f32(a0, a1), vpaddq_f32(a2, a3));
    if (l < k) {
        float tail[4] = {0, 0, 0, 0};
        for (; l < k; l++)
            for (size_t r = 0; r < 4; r++) tail[r] += load1(w + r * w_row + l * es, dt) * x[l];
        sums = vaddq_f32(sums, vld1q_f32(tail));
    }
    return sums;
}

static ALWAYS_INLINE float dot1(const float *x, const unsigned char *w, size_t k, vlm_dtype dt) {
    size_t es = elem_size(dt);
    float32x4_t a = vdupq_n_f32(0);
    size_t l = 0;
    for (; l + 4 <= k; l += 4) a = vfmaq_f32(a, load4(w + l * es, dt), vld1q_f32(x + l));
    float sum = vaddvq_f32(a);
    for (; l < k; l++) sum += load1(w + l * es, dt) * x[l];
    return sum;
}

static ALWAYS_INLINE void matmul_dtype(float *out, size_t out_stride, const float *x,
                                       const unsigned char *w, const float *bias, size_t m,
                                       size_t k, size_t n, vlm_dtype dt) {
    size_t w_row = k * elem_size(dt);
    for (size_t i = 0; i < m; i++) {
        const float *xi = x + i * k;
        float *oi = out + i * out_stride;
        size_t j = 0;
        for (; j + 4 <= n; j += 4) {
            float32x4_t s = dot_4rows(xi, w + j * w_row, w_row, k, dt);
            if (bias) s = vaddq_f32(s, vld1q_f32(bias + j));
            vst1q_f32(oi + j, s);
        }
        for (; j < n; j++) {
            float s = dot1(xi, w + j * w_row, k, dt);
            oi[j] = bias ? s + bias[j] : s;
        }
    }
}

// x (m,k) @ W (n,k)^T + bias (n,) -> out (m,n) strided
void vlmi_neon_matmul(float *out, size_t out_stride, const float *x, const void *w,
                      vlm_dtype w_dtype, const float *bias, size_t m, size_t k, size_t n) {
    if (w_dtype == VLM_DTYPE_F32) matmul_dtype(out, out_stride, x, w, bias, m, k, n, VLM_DTYPE_F32);
    else if (w_dtype == VLM_DTYPE_F16) matmul_dtype(out, out_stride, x, w, bias, m, k, n, VLM_DTYPE_F16);
    else matmul_dtype(out, out_stride, x, w, bias, m, k, n, VLM_DTYPE_BF16);
}
