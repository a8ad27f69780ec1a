/* The one place that calls BLAS: f32 GEMMs large enough that a tuned sgemm
 * (packing, cache blocking, its own threads) beats our tiles. Which shapes
 * qualify is decided in dispatch.c from measurements (examples/vlm-bench). */
#include "dispatch.h"

#include <string.h>

#if defined(VLM_HAVE_OPENBLAS)
#  include <cblas.h>
#elif defined(VLM_HAVE_ACCELERATE)
#  include <Accelerate/Accelerate.h>
#endif

#if defined(VLM_HAVE_OPENBLAS) || defined(VLM_HAVE_ACCELERATE)

#include <pthread.h>

bool vlmi_blas_available(void) { return true; }

#if defined(VLM_HAVE_OPENBLAS)
/* Our pool splits the work; OpenBLAS's own threads would only compete with
 * it (and make results depend on the thread count). The setting is
 * process-wide, so it is made once. */
static pthread_once_t single_thread_once = PTHREAD_ONCE_INIT;
static void make_single_threaded(void) { openblas_set_num_threads(1); }
#endif

// x (m,k) @ W (n,k)^T + bias (n,) -> out (m,n) strided
void vlmi_blas_matmul(float *out, size_t out_stride, const float *x, const float *w,
                      const float *bias, size_t m, size_t k, size_t n) {
    if (m == 0 || n == 0) return;
    for (size_t i = 0; i < m; i++) {
        if (bias) memcpy(out + i * out_stride, bias, n * sizeof *out);
        else memset(out + i * out_stride, 0, n * sizeof *out);
    }
    if (k == 0) return;
#if defined(VLM_HAVE_OPENBLAS)
    pthread_once(&single_thread_once, make_single_threaded);
#endif
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)m, (int)n, (int)k, 1.0f, x,
                (int)k, w, (int)k, 1.0f, out, (int)out_stride);
}

void vlmi_blas_gemm(bool trans_b, size_t m, size_t n, size_t k, float alpha, const float *a,
                    size_t lda, const float *b, size_t ldb, float beta, float *c, size_t ldc) {
    if (m == 0 || n == 0) return;
#if defined(VLM_HAVE_OPENBLAS)
    pthread_once(&single_thread_once, make_single_threaded);
#endif
    cblas_sgemm(CblasRowMajor, CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans, (int)m,
                (int)n, (int)k, alpha, a, (int)lda, b, (int)ldb, beta, c, (int)ldc);
}

#else

bool vlmi_blas_available(void) { return false; }

void vlmi_blas_gemm(bool trans_b, size_t m, size_t n, size_t k, float alpha, const float *a,
                    size_t lda, const float *b, size_t ldb, float beta, float *c, size_t ldc) {
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < n; j++) {
            float dot = 0.0f;
            for (size_t t = 0; t < k; t++)
                dot += a[i * lda + t] * (trans_b ? b[j * ldb + t] : b[t * ldb + j]);
            c[i * ldc + j] = alpha * dot + (beta != 0.0f ? beta * c[i * ldc + j] : 0.0f);
        }
}

void vlmi_blas_matmul(float *out, size_t out_stride, const float *x, const float *w,
                      const float *bias, size_t m, size_t k, size_t n) {
    vlmi_kernels()->matmul(out, out_stride, x, w, VLM_DTYPE_F32, bias, m, k, n);
}

#endif
