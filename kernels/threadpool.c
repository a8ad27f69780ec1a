/* Thread pool (see threadpool.h).
 *
 * A job is published by bumping `generation`; workers spin on it for a
 * while, then sleep on `wake`. The submitter only takes the mutex when some
 * worker may be asleep: a worker announces itself in `n_sleeping` before its
 * last look at `generation` (both sequentially consistent), so either the
 * worker sees the new generation or the submitter sees the sleeper. */
#include "threadpool.h"

#include "vlm-impl.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>

#if defined(__x86_64__) || defined(__i386__)
#  include <emmintrin.h>
#  define CPU_RELAX() _mm_pause()
#elif defined(__aarch64__)
#  define CPU_RELAX() __asm__ volatile("yield")
#else
#  define CPU_RELAX() ((void)0)
#endif

/* Spins before sleeping: about 100-300 us, longer than the gap between two
 * matmuls of a decode step, far shorter than the gap between two steps a
 * caller might leave. */
#define SPIN_ITERATIONS 4096

struct vlmi_threadpool {
    size_t n_threads;
    pthread_t *threads;          /* (n_threads - 1) workers */
    size_t n_started;
    pthread_mutex_t mutex;
    pthread_cond_t wake;
    atomic_uint generation;      /* bumped once per job */
    atomic_uint n_sleeping;      /* workers in (or about to enter) cond_wait */
    atomic_size_t n_running;     /* workers still inside the current job */
    atomic_bool stopping;
    vlmi_parallel_fn fn;         /* the current job, written before generation */
    void *ctx;
    void *scratch;               /* vlmi_threadpool_scratch */
    size_t scratch_bytes;
};

typedef struct worker_arg {
    vlmi_threadpool *pool;
    size_t index;
} worker_arg;

/* Waits for a generation other than seen; false when the pool is stopping. */
static bool wait_for_job(vlmi_threadpool *pool, unsigned seen) {
    for (int i = 0; i < SPIN_ITERATIONS; i++) {
        if (atomic_load_explicit(&pool->generation, memory_order_acquire) != seen) return true;
        CPU_RELAX();
    }
    pthread_mutex_lock(&pool->mutex);
    atomic_fetch_add(&pool->n_sleeping, 1);
    while (atomic_load(&pool->generation) == seen && !atomic_load(&pool->stopping))
        pthread_cond_wait(&pool->wake, &pool->mutex);
    atomic_fetch_sub(&pool->n_sleeping, 1);
    pthread_mutex_unlock(&pool->mutex);
    return atomic_load(&pool->generation) != seen;
}

static void *worker_main(void *p) {
    worker_arg *arg = p;
    vlmi_threadpool *pool = arg->pool;
    size_t index = arg->index;
    free(arg);
    unsigned seen = 0;
    for (;;) {
        if (!wait_for_job(pool, seen)) break;
        seen = atomic_load_explicit(&pool->generation, memory_order_acquire);
        if (atomic_load(&pool->stopping)) break;
        pool->fn(pool->ctx, index, pool->n_threads);
        atomic_fetch_sub_explicit(&pool->n_running, 1, memory_order_release);
    }
    return NULL;
}

vlm_status vlmi_threadpool_create(size_t n_threads, vlmi_threadpool **out) {
    *out = NULL;
    if (n_threads == 0) n_threads = 1;
    vlmi_threadpool *pool = vlmi_calloc(1, sizeof *pool);
    if (pool == NULL) return VLM_ERR_OUT_OF_MEMORY;
    pool->n_threads = n_threads;
    atomic_init(&pool->generation, 0);
    atomic_init(&pool->n_sleeping, 0);
    atomic_init(&pool->n_running, 0);
    atomic_init(&pool->stopping, false);
    if (pthread_mutex_init(&pool->mutex, NULL) != 0) {
        free(pool);
        return vlmi_fail(VLM_ERR_INTERNAL, "thread pool: cannot create a mutex");
    }
    if (pthread_cond_init(&pool->wake, NULL) != 0) {
        pthread_mutex_destroy(&pool->mutex);
        free(pool);
        return vlmi_fail(VLM_ERR_INTERNAL, "thread pool: cannot create a condition variable");
    }
    if (n_threads > 1) {
        pool->threads = vlmi_calloc(n_threads - 1, sizeof *pool->threads);
        if (pool->threads == NULL) {
            vlmi_threadpool_free(pool);
            return VLM_ERR_OUT_OF_MEMORY;
        }
    }
    for (size_t i = 1; i < n_threads; i++) {
        worker_arg *arg = vlmi_malloc(sizeof *arg);
        if (arg == NULL) {
            vlmi_threadpool_free(pool);
            return VLM_ERR_OUT_OF_MEMORY;
        }
        *arg = (worker_arg){pool, i};
        if (pthread_create(&pool->threads[i - 1], NULL, worker_main, arg) != 0) {
            free(arg);
            vlmi_threadpool_free(pool);
            return vlmi_fail(VLM_ERR_INTERNAL, "thread pool: cannot start thread %zu of %zu",
                             i + 1, n_threads);
        }
        pool->n_started++;
    }
    *out = pool;
    return VLM_OK;
}

void vlmi_threadpool_free(vlmi_threadpool *pool) {
    if (pool == NULL) return;
    pthread_mutex_lock(&pool->mutex);
    atomic_store(&pool->stopping, true);
    atomic_fetch_add(&pool->generation, 1);
    pthread_cond_broadcast(&pool->wake);
    pthread_mutex_unlock(&pool->mutex);
    for (size_t i = 0; i < pool->n_started; i++) pthread_join(pool->threads[i], NULL);
    pthread_cond_destroy(&pool->wake);
    pthread_mutex_destroy(&pool->mutex);
    free(pool->scratch);
    free(pool->threads);
    free(pool);
}

size_t vlmi_threadpool_n_threads(const vlmi_threadpool *pool) {
    return pool ? pool->n_threads : 1;
}

void vlmi_threadpool_run(vlmi_threadpool *pool, vlmi_parallel_fn fn, void *ctx) {
    if (pool == NULL || pool->n_threads == 1) {
        fn(ctx, 0, 1);
        return;
    }
    pool->fn = fn;
    pool->ctx = ctx;
    atomic_store_explicit(&pool->n_running, pool->n_threads - 1, memory_order_relaxed);
    atomic_fetch_add(&pool->generation, 1); /* seq_cst: publishes fn, ctx */
    if (atomic_load(&pool->n_sleeping) > 0) {
        pthread_mutex_lock(&pool->mutex);
        pthread_cond_broadcast(&pool->wake);
        pthread_mutex_unlock(&pool->mutex);
    }
    fn(ctx, 0, pool->n_threads);
    /* spin, then yield: with more threads than free cores the worker we wait
     * for may need this core */
    for (int spins = 0; atomic_load_explicit(&pool->n_running, memory_order_acquire) != 0; spins++) {
        if (spins < SPIN_ITERATIONS) CPU_RELAX();
        else sched_yield();
    }
}

void *vlmi_threadpool_scratch(vlmi_threadpool *pool, size_t bytes) {
    if (pool == NULL) return NULL;
    if (bytes <= pool->scratch_bytes) return pool->scratch;
    void *grown = NULL;
    size_t rounded = (bytes + 63) / 64 * 64;
    if (posix_memalign(&grown, 64, rounded) != 0) return NULL;
    free(pool->scratch);
    pool->scratch = grown;
    pool->scratch_bytes = rounded;
    return grown;
}
