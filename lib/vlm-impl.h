/* Internal declarations shared by every part of the library. Never installed.
 * Internal functions are named vlmi_*; only vlm_* symbols are exported. */
#ifndef VLM_IMPL_H
#define VLM_IMPL_H

#include "vlm.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#if defined(__GNUC__) || defined(__clang__)
#  define VLMI_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#  define VLMI_PRINTF(fmt, args)
#endif

/* ---- errors ---- */

/* Records a formatted message as the thread's last error and returns status,
 * so failures read: return vlmi_fail(VLM_ERR_FORMAT, "%s: ...", path); */
vlm_status vlmi_fail(vlm_status status, const char *fmt, ...) VLMI_PRINTF(2, 3);
vlm_status vlmi_failv(vlm_status status, const char *fmt, va_list ap);
/* Prepends "prefix: " to the thread's current message (adds context on the
 * way out) and returns status unchanged. */
vlm_status vlmi_fail_prefix(vlm_status status, const char *prefix);
/* Clears the thread's message; every public entry point calls it first. */
void vlmi_clear_error(void);

/* ---- logging ---- */

void vlmi_log(vlm_log_level level, const char *fmt, ...) VLMI_PRINTF(2, 3);

/* ---- checked arithmetic: true on overflow ---- */

static inline int vlmi_mul_overflow(size_t a, size_t b, size_t *out) {
    return __builtin_mul_overflow(a, b, out);
}
static inline int vlmi_add_overflow(size_t a, size_t b, size_t *out) {
    return __builtin_add_overflow(a, b, out);
}

/* ---- memory: malloc wrappers that record VLM_ERR_OUT_OF_MEMORY ---- */

void *vlmi_malloc(size_t size);                  /* NULL + error on failure */
void *vlmi_calloc(size_t count, size_t size);    /* overflow-checked */
void *vlmi_realloc(void *ptr, size_t size);
char *vlmi_strdup(const char *s);
char *vlmi_strndup(const char *s, size_t n);

/* ---- size-prefixed structs ----
 * A caller compiled against an older header has shorter structs, and says so
 * in struct_size; the library never touches a byte past it. */

/* vlm_*_params_init: writes min(caller_size, our_size) bytes of defaults
 * (our own struct, struct_size included) and records the caller's size. */
static inline void vlmi_params_defaults(void *params, size_t caller_size,
                                        const void *defaults, size_t our_size) {
    if (params == NULL || caller_size < sizeof(size_t)) return;
    memcpy(params, defaults, caller_size < our_size ? caller_size : our_size);
    memcpy(params, &caller_size, sizeof caller_size);
}

/* Reads the params struct a caller passed over our defaults: copies
 * min(caller size, ours) bytes. memcpy keeps it free of aliasing
 * assumptions about src. */
static inline void vlmi_read_params(void *dst, size_t dst_size, const void *src) {
    if (src == NULL) return;
    size_t caller_size;
    memcpy(&caller_size, src, sizeof caller_size);
    memcpy(dst, src, caller_size < dst_size ? caller_size : dst_size);
    memcpy(dst, &dst_size, sizeof dst_size);
}
#define VLMI_READ_PARAMS(dst, src, init_fn) \
    do { init_fn(&(dst), sizeof(dst)); vlmi_read_params(&(dst), sizeof(dst), (src)); } while (0)

/* Fills a caller's output struct (whose struct_size the caller set) from
 * ours: min(its size, ours) bytes, its struct_size kept. False if the
 * caller's struct_size cannot be a struct of ours (< sizeof(size_t)). */
static inline bool vlmi_write_out_struct(void *dst, const void *src, size_t our_size) {
    size_t caller_size;
    memcpy(&caller_size, dst, sizeof caller_size);
    if (caller_size < sizeof(size_t)) return false;
    memcpy(dst, src, caller_size < our_size ? caller_size : our_size);
    memcpy(dst, &caller_size, sizeof caller_size);
    return true;
}

#endif
