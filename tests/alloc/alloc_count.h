/* Counting the allocator calls of libvlm: the alloc tests link with
 * -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,--wrap=free (and the
 * aligned allocators), so every call from the objects of the static
 * internal library (and from the test) goes through the wrappers in
 * alloc_count.c, which count while counting is on and forward to the real
 * functions. Calls made inside shared libraries (libc's qsort, Oniguruma)
 * are not seen that way; built with -DALLOC_COUNT_INTERPOSE, alloc_count.c
 * defines malloc and friends instead, which glibc's own calls reach too
 * (not with sanitizers, whose runtime owns malloc). */
#ifndef VLM_TEST_ALLOC_COUNT_H
#define VLM_TEST_ALLOC_COUNT_H

#include <stddef.h>

typedef struct alloc_counts {
    size_t allocs;  /* malloc, calloc, realloc */
    size_t frees;   /* free of a non-NULL pointer */
} alloc_counts;

/* Makes sure the wrappers are linked in and readies the stack traces. */
int alloc_count_init(void);
/* Clears the counts and starts counting (any thread). */
void alloc_count_start(void);
/* Stops counting. */
void alloc_count_stop(void);
int alloc_count_active(void);
alloc_counts alloc_count_get(void);
/* Prints where the first few counted calls came from: one stack per call,
 * named by addr2line when it is installed. */
void alloc_count_report(const char *what);

#endif
