/* Peak multiply-accumulate rates of one core, f32 FMA against the AVX2 int8
 * and int16 dot-product chains an int8 GEMM would use (no VNNI): the ceiling
 * that decides whether int8 weights can beat an f32 sgemm on this CPU.
 * Nine independent accumulators (FMA latency x 2 pipes), inputs kept opaque
 * so nothing is hoisted, 15 ymm registers, so no spills (objdump to check).
 * Three rounds, the best of each: a peak, robust to a busy neighbour.
 *   cc -O2 -mavx2 -mfma bench/int8_vs_fma.c -o int8_vs_fma && ./int8_vs_fma */
#include <immintrin.h>
#include <stdio.h>
#include <time.h>

#define OPAQUE(x) __asm__ volatile("" : "+x"(x))
#define ITERATIONS 20000000L

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static float sink_f;
static int sink_i;

/* G multiply-accumulates/s of 3x3 vfmadd231ps (8 each) */
static double rate_fma(void) {
    __m256 f0 = _mm256_setzero_ps(), f1 = f0, f2 = f0, f3 = f0, f4 = f0, f5 = f0, f6 = f0,
           f7 = f0, f8 = f0;
    __m256 w0 = _mm256_set1_ps(1.0001f), w1 = w0, w2 = w0;
    __m256 a0 = _mm256_set1_ps(0.9999f), a1 = a0, a2 = a0;
    double t0 = now_s();
    for (long i = 0; i < ITERATIONS; i++) {
        OPAQUE(w0); OPAQUE(w1); OPAQUE(w2); OPAQUE(a0); OPAQUE(a1); OPAQUE(a2);
        f0 = _mm256_fmadd_ps(a0, w0, f0); f1 = _mm256_fmadd_ps(a0, w1, f1);
        f2 = _mm256_fmadd_ps(a0, w2, f2); f3 = _mm256_fmadd_ps(a1, w0, f3);
        f4 = _mm256_fmadd_ps(a1, w1, f4); f5 = _mm256_fmadd_ps(a1, w2, f5);
        f6 = _mm256_fmadd_ps(a2, w0, f6); f7 = _mm256_fmadd_ps(a2, w1, f7);
        f8 = _mm256_fmadd_ps(a2, w2, f8);
    }
    double rate = ITERATIONS * 9.0 * 8 / (now_s() - t0) * 1e-9;
    __m256 s = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(f0, f1), _mm256_add_ps(f2, f3)),
                             _mm256_add_ps(_mm256_add_ps(f4, f5), _mm256_add_ps(f6, f7)));
    sink_f += _mm256_cvtss_f32(_mm256_add_ps(s, f8));
    return rate;
}

/* int16: vpmaddwd (16 products, pairs summed) + vpaddd into int32;
 * int8 (int8 != 0): vpmaddubsw (32 u8 x s8 products, pairs summed to int16)
 * + vpmaddwd by ones + vpaddd */
static double rate_int(int int8) {
    __m256i c0 = _mm256_setzero_si256(), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0,
            c6 = c0, c7 = c0, c8 = c0;
    __m256i w0 = _mm256_set1_epi16(3), w1 = w0, w2 = w0;
    __m256i a0 = _mm256_set1_epi16(5), a1 = a0, a2 = a0;
    const __m256i ones = _mm256_set1_epi16(1);
#define DOT(c, a, w)                                                                         \
    c = _mm256_add_epi32(c, int8 ? _mm256_madd_epi16(_mm256_maddubs_epi16(a, w), ones)       \
                                 : _mm256_madd_epi16(a, w))
    double t0 = now_s();
    for (long i = 0; i < ITERATIONS; i++) {
        OPAQUE(w0); OPAQUE(w1); OPAQUE(w2); OPAQUE(a0); OPAQUE(a1); OPAQUE(a2);
        DOT(c0, a0, w0); DOT(c1, a0, w1); DOT(c2, a0, w2); DOT(c3, a1, w0); DOT(c4, a1, w1);
        DOT(c5, a1, w2); DOT(c6, a2, w0); DOT(c7, a2, w1); DOT(c8, a2, w2);
    }
#undef DOT
    double rate = ITERATIONS * 9.0 * (int8 ? 32 : 16) / (now_s() - t0) * 1e-9;
    __m256i s = _mm256_add_epi32(_mm256_add_epi32(_mm256_add_epi32(c0, c1), _mm256_add_epi32(c2, c3)),
                                 _mm256_add_epi32(_mm256_add_epi32(c4, c5), _mm256_add_epi32(c6, c7)));
    sink_i += _mm256_extract_epi32(_mm256_add_epi32(s, c8), 0);
    return rate;
}

int main(void) {
    double fma = 0, i16 = 0, i8 = 0;
    for (int round = 0; round < 3; round++) {
        double r = rate_fma();
        fma = r > fma ? r : fma;
        r = rate_int(0);
        i16 = r > i16 ? r : i16;
        r = rate_int(1);
        i8 = r > i8 ? r : i8;
    }
    printf("one core, G multiply-accumulates/s (best of 3):\n");
    printf("  f32 vfmadd231ps                          %6.1f (1.00x)\n", fma);
    printf("  int16 vpmaddwd + vpaddd                  %6.1f (%.2fx)\n", i16, i16 / fma);
    printf("  int8 vpmaddubsw + vpmaddwd + vpaddd      %6.1f (%.2fx; before sign handling and block scales)\n",
           i8, i8 / fma);
    return sink_f == 1.0f && sink_i == 1; /* the sums stay live */
}
