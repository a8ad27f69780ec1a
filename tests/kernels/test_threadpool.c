/* The thread pool runs each job once per thread, wakes from sleep, and the
 * threaded matmul gives identical bytes for 1, 2 and 3 threads (and for no
 * pool), whatever the dtype and shape. */
#include "dispatch.h"
#include "kernels.h"
#include "threadpool.h"
#include "test.h"

#include <stdatomic.h>
#include <time.h>

/* |BLAS path - ref| <= BLAS_REF_TOL * k for inputs in [-1, 1] (f32
 * rounding of k-term sums in another order; the weights are dequantized
 * exactly on both sides) */
#define BLAS_REF_TOL 1e-6f

typedef struct count_job {
    atomic_uint calls[8];
    atomic_uint total;
} count_job;

static void count_calls(void *ctx, size_t thread_index, size_t n_threads) {
    count_job *job = ctx;
    atomic_fetch_add(&job->calls[thread_index], 1);
    atomic_fetch_add(&job->total, (unsigned)n_threads);
}

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void test_runs(size_t n_threads) {
    vlmi_threadpool *pool = NULL;
    CHECK_OK(vlmi_threadpool_create(n_threads, &pool));
    if (pool == NULL) return;
    CHECK(vlmi_threadpool_n_threads(pool) == n_threads);
    count_job job;
    memset(&job, 0, sizeof job);
    const unsigned n_jobs = 2000;
    for (unsigned r = 0; r < n_jobs; r++) {
        vlmi_threadpool_run(pool, count_calls, &job);
        if (r == n_jobs / 2) sleep_ms(30); /* let the workers fall asleep */
    }
    for (size_t t = 0; t < n_threads; t++)
        CHECK_MSG(atomic_load(&job.calls[t]) == n_jobs, "%zu threads: thread %zu ran %u jobs",
                  n_threads, t, atomic_load(&job.calls[t]));
    CHECK(atomic_load(&job.total) == n_jobs * n_threads * n_threads);
    /* scratch only grows, and is aligned */
    void *a = vlmi_threadpool_scratch(pool, 100);
    CHECK(a != NULL && (uintptr_t)a % 64 == 0);
    CHECK(vlmi_threadpool_scratch(pool, 50) == a);
    void *b = vlmi_threadpool_scratch(pool, 1 << 20);
    CHECK(b != NULL && (uintptr_t)b % 64 == 0);
    vlmi_threadpool_free(pool);
}

static void test_null_pool(void) {
    count_job job;
    memset(&job, 0, sizeof job);
    vlmi_threadpool_run(NULL, count_calls, &job);
    CHECK(atomic_load(&job.calls[0]) == 1 && atomic_load(&job.total) == 1);
    CHECK(vlmi_threadpool_n_threads(NULL) == 1);
    CHECK(vlmi_threadpool_scratch(NULL, 10) == NULL);
    vlmi_threadpool_free(NULL);
}

static uint64_t rng_state = 88172645463325252u;
static float rng_float(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (float)(rng_state >> 40) * 0x1p-24f * 2.0f - 1.0f;
}

/* w (n rows of k elements of dtype) <- random weights: values in [-1, 1]
 * for the float types, small block scales for the quantized ones */
static void fill_weights(unsigned char *w, vlm_dtype dtype, size_t k, size_t n) {
    size_t w_bytes = vlmi_kernels_row_bytes(dtype, k) * n;
    if (dtype == VLM_DTYPE_F32) {
        for (size_t i = 0; i < n * k; i++) {
            float f = rng_float();
            memcpy(w + 4 * i, &f, 4);
        }
    } else if (dtype == VLM_DTYPE_F16 || dtype == VLM_DTYPE_BF16) {
        for (size_t i = 0; i < n * k; i++) {
            uint16_t h = dtype == VLM_DTYPE_F16 ? vlmi_f32_to_f16(rng_float())
                                                : vlmi_f32_to_bf16(rng_float());
            memcpy(w + 2 * i, &h, 2);
        }
    } else {
        size_t bb = vlmi_kernels_row_bytes(dtype, 32);
        for (size_t b = 0; b < w_bytes / bb; b++) {
            uint16_t d = vlmi_f32_to_f16(0.01f + 0.01f * rng_float());
            memcpy(w + b * bb, &d, 2);
            for (size_t i = 2; i < bb; i++) w[b * bb + i] = (unsigned char)(rng_float() * 127.0f);
        }
    }
}

/* vlmi_matmul on pools of 1..3 threads and on no pool: the same bytes. */
static void test_matmul_threads(vlm_dtype dtype, size_t m, size_t k, size_t n) {
    size_t w_bytes = vlmi_kernels_row_bytes(dtype, k) * n;
    unsigned char *w = malloc(w_bytes + 1);
    float *x = malloc(m * k * sizeof(float)), *bias = malloc(n * sizeof(float));
    float *first = malloc(m * n * sizeof(float)), *out = malloc(m * n * sizeof(float));
    for (size_t i = 0; i < m * k; i++) x[i] = rng_float();
    for (size_t j = 0; j < n; j++) bias[j] = rng_float();
    fill_weights(w, dtype, k, n);
    vlmi_matmul(NULL, first, x, w, dtype, bias, m, k, n);
    for (size_t t = 1; t <= 3; t++) {
        vlmi_threadpool *pool = NULL;
        CHECK_OK(vlmi_threadpool_create(t, &pool));
        memset(out, 0, m * n * sizeof(float));
        vlmi_matmul(pool, out, x, w, dtype, bias, m, k, n);
        float max_diff = 0;
        for (size_t i = 0; i < m * n; i++) max_diff = fmaxf(max_diff, fabsf(out[i] - first[i]));
        CHECK_MSG(max_diff == 0.0f,
                  "dtype %d m=%zu k=%zu n=%zu: %zu threads differ from one by %g", (int)dtype,
                  m, k, n, t, max_diff);
        vlmi_threadpool_free(pool);
    }
    free(w);
    free(x);
    free(bias);
    free(first);
    free(out);
}

/* Many rows (the BLAS path when the build has one: weights dequantized
 * to f32 chunk by chunk in the pool's scratch): pools of 1..3 threads give
 * the same bytes, within BLAS_REF_TOL of ref (exact dequantization, f32
 * dots). */
static void test_matmul_many_rows(vlm_dtype dtype, size_t m, size_t k, size_t n) {
    size_t w_bytes = vlmi_kernels_row_bytes(dtype, k) * n;
    unsigned char *w = malloc(w_bytes + 1);
    float *x = malloc(m * k * sizeof(float)), *bias = malloc(n * sizeof(float));
    float *want = malloc(m * n * sizeof(float)), *first = malloc(m * n * sizeof(float));
    float *out = malloc(m * n * sizeof(float));
    for (size_t i = 0; i < m * k; i++) x[i] = rng_float();
    for (size_t j = 0; j < n; j++) bias[j] = rng_float();
    fill_weights(w, dtype, k, n);
    vlmi_kernels_tier(VLMI_KERNELS_REF)->matmul(want, n, x, w, dtype, bias, m, k, n);
    /* the tier's kernels may quantize x (no BLAS): then only the thread check */
    bool exact_w = vlmi_blas_available() && vlmi_kernels()->tier != VLMI_KERNELS_REF;
    for (size_t t = 1; t <= 3; t++) {
        vlmi_threadpool *pool = NULL;
        CHECK_OK(vlmi_threadpool_create(t, &pool));
        float *got = t == 1 ? first : out;
        memset(got, 0, m * n * sizeof(float));
        vlmi_matmul(pool, got, x, w, dtype, bias, m, k, n);
        float max_diff = 0;
        for (size_t i = 0; i < m * n && t > 1; i++) max_diff = fmaxf(max_diff, fabsf(got[i] - first[i]));
        CHECK_MSG(max_diff == 0.0f, "dtype %d m=%zu k=%zu n=%zu: %zu threads differ from one by %g",
                  (int)dtype, m, k, n, t, max_diff);
        vlmi_threadpool_free(pool);
    }
    float ref_diff = 0;
    for (size_t i = 0; i < m * n; i++) ref_diff = fmaxf(ref_diff, fabsf(first[i] - want[i]));
    CHECK_MSG(!exact_w || ref_diff <= BLAS_REF_TOL * (float)k,
              "dtype %d m=%zu k=%zu n=%zu: %g from ref", (int)dtype, m, k, n, ref_diff);
    free(w);
    free(x);
    free(bias);
    free(want);
    free(first);
    free(out);
}

int main(void) {
    test_null_pool();
    for (size_t t = 1; t <= 4; t++) test_runs(t);
    const vlm_dtype dtypes[] = {VLM_DTYPE_F32, VLM_DTYPE_F16, VLM_DTYPE_BF16, VLM_DTYPE_Q8_0,
                                VLM_DTYPE_Q4_0};
    for (size_t d = 0; d < sizeof dtypes / sizeof *dtypes; d++) {
        test_matmul_threads(dtypes[d], 1, 256, 133);
        test_matmul_threads(dtypes[d], 5, 320, 70);
        test_matmul_threads(dtypes[d], 40, 96, 200);  /* f32: the BLAS path */
        test_matmul_threads(dtypes[d], 1, 64, 17);
        /* 260 rows: over BLAS_DEQUANT_MIN_ROWS; n past two 512-row chunks */
        test_matmul_many_rows(dtypes[d], 260, 64, 1100);
        /* 530 rows of x: three uneven x tiles of one weight chunk */
        test_matmul_many_rows(dtypes[d], 530, 64, 70);
    }
    return test_finish("threadpool");
}
