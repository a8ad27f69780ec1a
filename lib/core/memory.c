/* Allocation wrappers: every failure becomes VLM_ERR_OUT_OF_MEMORY with a
 * message, so callers only check for NULL. */
#include "vlm-impl.h"

#include <stdlib.h>
#include <string.h>

void *vlmi_malloc(size_t size) {
    void *p = malloc(size ? size : 1);
    if (p == NULL) vlmi_fail(VLM_ERR_OUT_OF_MEMORY, "out of memory (%zu bytes)", size);
    return p;
}

void *vlmi_calloc(size_t count, size_t size) {
    size_t total;
    if (vlmi_mul_overflow(count, size, &total)) {
        vlmi_fail(VLM_ERR_OUT_OF_MEMORY, "allocation size overflows (%zu x %zu)", count, size);
        return NULL;
    }
    void *p = calloc(total ? total : 1, 1);
    if (p == NULL) vlmi_fail(VLM_ERR_OUT_OF_MEMORY, "out of memory (%zu bytes)", total);
    return p;
}

void *vlmi_realloc(void *ptr, size_t size) {
    void *p = realloc(ptr, size ? size : 1);
    if (p == NULL) vlmi_fail(VLM_ERR_OUT_OF_MEMORY, "out of memory (%zu bytes)", size);
    return p;
}

char *vlmi_strndup(const char *s, size_t n) {
    char *p = vlmi_malloc(n + 1);
    if (p == NULL) return NULL;
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *vlmi_strdup(const char *s) { return vlmi_strndup(s, strlen(s)); }

void vlm_free(void *ptr) { free(ptr); }
