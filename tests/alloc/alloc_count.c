/* The allocator wrappers of the alloc tests (see alloc_count.h). */
#include "alloc_count.h"

#include <dlfcn.h>
#include <errno.h>
#include <execinfo.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Two ways in: with ALLOC_COUNT_INTERPOSE the test defines malloc itself,
 * which also catches the calls libc and other shared libraries make (glibc
 * routes its own calls through the interposed symbol); otherwise the
 * --wrap wrappers see the calls of the statically linked objects only. */
#ifdef ALLOC_COUNT_INTERPOSE
void *__libc_malloc(size_t size);
void *__libc_calloc(size_t count, size_t size);
void *__libc_realloc(void *ptr, size_t size);
void __libc_free(void *ptr);
void *__libc_memalign(size_t alignment, size_t size);
#define REAL(name) __libc_##name
#define WRAP(name) name
#else
void *__real_malloc(size_t size);
void *__real_calloc(size_t count, size_t size);
void *__real_realloc(void *ptr, size_t size);
void __real_free(void *ptr);
int __real_posix_memalign(void **out, size_t alignment, size_t size);
void *__real_aligned_alloc(size_t alignment, size_t size);
void *__wrap_malloc(size_t size);
void *__wrap_calloc(size_t count, size_t size);
void *__wrap_realloc(void *ptr, size_t size);
void __wrap_free(void *ptr);
int __wrap_posix_memalign(void **out, size_t alignment, size_t size);
void *__wrap_aligned_alloc(size_t alignment, size_t size);
#define REAL(name) __real_##name
#define WRAP(name) __wrap_##name
#endif

#define MAX_TRACES 4
#define TRACE_DEPTH 16

static atomic_int counting;
static atomic_size_t n_allocs, n_frees;
static atomic_int n_traces;
static atomic_int wrapped;   /* set by a wrapper: --wrap took effect */
static void *traces[MAX_TRACES][TRACE_DEPTH];
static int trace_len[MAX_TRACES];
static const char *trace_kind[MAX_TRACES];
static _Thread_local int in_record;

static void record(const char *kind) {
    if (in_record) return;
    in_record = 1;
    int k = atomic_fetch_add(&n_traces, 1);
    if (k < MAX_TRACES) {
        trace_kind[k] = kind;
        trace_len[k] = backtrace(traces[k], TRACE_DEPTH);
    }
    in_record = 0;
}

static void count_alloc(const char *kind) {
    atomic_store_explicit(&wrapped, 1, memory_order_relaxed);
    if (atomic_load_explicit(&counting, memory_order_relaxed)) {
        atomic_fetch_add(&n_allocs, 1);
        record(kind);
    }
}

void *WRAP(malloc)(size_t size) {
    count_alloc("malloc");
    return REAL(malloc)(size);
}

void *WRAP(calloc)(size_t count, size_t size) {
    count_alloc("calloc");
    return REAL(calloc)(count, size);
}

void *WRAP(realloc)(void *ptr, size_t size) {
    count_alloc("realloc");
    return REAL(realloc)(ptr, size);
}

void WRAP(free)(void *ptr) {
    if (ptr != NULL && atomic_load_explicit(&counting, memory_order_relaxed)) {
        atomic_fetch_add(&n_frees, 1);
        record("free");
    }
    REAL(free)(ptr);
}

int WRAP(posix_memalign)(void **out, size_t alignment, size_t size) {
    count_alloc("posix_memalign");
#ifdef ALLOC_COUNT_INTERPOSE
    if (alignment < sizeof(void *) || (alignment & (alignment - 1)) != 0) return EINVAL;
    *out = __libc_memalign(alignment, size);
    return *out != NULL ? 0 : ENOMEM;
#else
    return REAL(posix_memalign)(out, alignment, size);
#endif
}

void *WRAP(aligned_alloc)(size_t alignment, size_t size) {
    count_alloc("aligned_alloc");
#ifdef ALLOC_COUNT_INTERPOSE
    return __libc_memalign(alignment, size);
#else
    return REAL(aligned_alloc)(alignment, size);
#endif
}

int alloc_count_init(void) {
    /* backtrace loads its unwinder on first use, which allocates */
    void *frames[4];
    backtrace(frames, 4);
    void *volatile p = malloc(1);   /* volatile: not optimized away */
    free(p);
    return atomic_load(&wrapped);
}

void alloc_count_start(void) {
    atomic_store(&n_allocs, 0);
    atomic_store(&n_frees, 0);
    atomic_store(&n_traces, 0);
    atomic_store(&counting, 1);
}

void alloc_count_stop(void) { atomic_store(&counting, 0); }

int alloc_count_active(void) { return atomic_load(&counting); }

alloc_counts alloc_count_get(void) {
    alloc_counts c = { atomic_load(&n_allocs), atomic_load(&n_frees) };
    return c;
}

/* One frame as "function at file:line" through addr2line when it is
 * installed, else as binary(+offset). */
static void print_frame(void *address) {
    Dl_info info;
    if (dladdr(address, &info) == 0 || info.dli_fname == NULL) {
        fprintf(stderr, "    %p\n", address);
        return;
    }
    /* a return address: the call is the byte before it */
    unsigned long offset = (unsigned long)((char *)address - (char *)info.dli_fbase) - 1;
    char command[4200];
    snprintf(command, sizeof command, "addr2line -f -i -p -e '%s' 0x%lx 2>/dev/null",
             info.dli_fname, offset);
    FILE *p = strchr(info.dli_fname, '\'') == NULL ? popen(command, "r") : NULL;
    char line[1024];
    int printed = 0;
    while (p != NULL && fgets(line, sizeof line, p) != NULL) {
        if (strncmp(line, "??", 2) == 0) continue;
        fprintf(stderr, "    %s", line);
        printed = 1;
    }
    if (p != NULL) pclose(p);
    if (!printed) fprintf(stderr, "    %s(+0x%lx)\n", info.dli_fname, offset);
}

void alloc_count_report(const char *what) {
    int n = atomic_load(&n_traces);
    if (n > MAX_TRACES) n = MAX_TRACES;
    for (int k = 0; k < n; k++) {
        fprintf(stderr, "%s: %s call %d of %d, from:\n", what, trace_kind[k], k + 1,
                atomic_load(&n_traces));
        /* skip record() and the wrapper */
        for (int f = 2; f < trace_len[k]; f++) print_frame(traces[k][f]);
    }
}
