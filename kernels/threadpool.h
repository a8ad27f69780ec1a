/* A thread pool for the matrix-vector work of decoding: persistent workers
 * that spin briefly between jobs (a decode step runs a few hundred small
 * matmuls back to back, and a sleep/wake round trip per matmul would cost
 * more than the matmul), then sleep on a condition variable when idle.
 *
 * The caller's thread is worker 0: a pool of n threads starts n - 1. One
 * thread at a time submits work to a pool (a model's or session's pool is
 * used by the thread driving it). */
#ifndef VLM_KERNELS_THREADPOOL_H
#define VLM_KERNELS_THREADPOOL_H

#include "vlm.h"

#include <stddef.h>

typedef struct vlmi_threadpool vlmi_threadpool;

/* A job: runs once on each of the n_threads threads, with its index. */
typedef void (*vlmi_parallel_fn)(void *ctx, size_t thread_index, size_t n_threads);

/* Creates a pool of n_threads (>= 1; 1 starts no thread). VLM_ERR_OUT_OF_MEMORY
 * or VLM_ERR_INTERNAL (threads could not start), with the message set. */
vlm_status vlmi_threadpool_create(size_t n_threads, vlmi_threadpool **out);
/* Stops and joins the workers; NULL is fine. */
void vlmi_threadpool_free(vlmi_threadpool *pool);

/* Threads of the pool; 1 for NULL. */
size_t vlmi_threadpool_n_threads(const vlmi_threadpool *pool);

/* Runs fn(ctx, i, n) for i in 0..n-1, i = 0 on the calling thread, and
 * returns when every call has returned. A NULL pool runs fn(ctx, 0, 1). */
void vlmi_threadpool_run(vlmi_threadpool *pool, vlmi_parallel_fn fn, void *ctx);

/* Scratch memory of at least `bytes`, 64-byte aligned, owned by the pool and
 * kept for reuse (it only grows, so steady-state work allocates nothing).
 * NULL for a NULL pool or when out of memory; the caller then takes a path
 * without scratch. Valid until the next call; for the submitting thread. */
void *vlmi_threadpool_scratch(vlmi_threadpool *pool, size_t bytes);

#endif
