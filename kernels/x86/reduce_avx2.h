/* Horizontal reductions of one AVX vector, for the kernels/x86 sources
 * (compiled with -mavx2; include nowhere else). */
#ifndef VLM_KERNELS_X86_REDUCE_AVX2_H
#define VLM_KERNELS_X86_REDUCE_AVX2_H

#include <immintrin.h>

/* the sum of the 8 lanes, in a fixed order */
static inline __attribute__((always_inline)) float vlmi_avx2_hsum(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/* the largest of the 8 lanes */
static inline __attribute__((always_inline)) float vlmi_avx2_hmax(__m256 v) {
    __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_max_ps(s, _mm_movehl_ps(s, s));
    s = _mm_max_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

#endif
