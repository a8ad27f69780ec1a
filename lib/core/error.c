/* Per-thread error messages and status names. */
#include "vlm-impl.h"

#include <stdio.h>
#include <string.h>

#define VLMI_ERROR_CAPACITY 1024

static _Thread_local char last_error[VLMI_ERROR_CAPACITY];

vlm_status vlmi_failv(vlm_status status, const char *fmt, va_list ap) {
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    vlmi_log(VLM_LOG_DEBUG, "%s: %s", vlm_status_string(status), last_error);
    return status;
}

vlm_status vlmi_fail(vlm_status status, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vlmi_failv(status, fmt, ap);
    va_end(ap);
    return status;
}

vlm_status vlmi_fail_prefix(vlm_status status, const char *prefix) {
    char old[VLMI_ERROR_CAPACITY];
    memcpy(old, last_error, sizeof old);
    size_t used = strlen(prefix);
    if (used > sizeof last_error - 3) used = sizeof last_error - 3;
    memcpy(last_error, prefix, used);
    memcpy(last_error + used, ": ", 2);
    used += 2;
    size_t rest = strlen(old);
    if (rest > sizeof last_error - 1 - used) rest = sizeof last_error - 1 - used;
    memcpy(last_error + used, old, rest);
    last_error[used + rest] = '\0';
    return status;
}

void vlmi_clear_error(void) { last_error[0] = '\0'; }

const char *vlm_last_error(void) { return last_error; }

const char *vlm_status_string(vlm_status status) {
    switch (status) {
    case VLM_OK: return "VLM_OK";
    case VLM_ERR_INVALID_ARGUMENT: return "VLM_ERR_INVALID_ARGUMENT";
    case VLM_ERR_OUT_OF_MEMORY: return "VLM_ERR_OUT_OF_MEMORY";
    case VLM_ERR_IO: return "VLM_ERR_IO";
    case VLM_ERR_FORMAT: return "VLM_ERR_FORMAT";
    case VLM_ERR_UNSUPPORTED: return "VLM_ERR_UNSUPPORTED";
    case VLM_ERR_BUFFER_TOO_SMALL: return "VLM_ERR_BUFFER_TOO_SMALL";
    case VLM_ERR_LIMIT: return "VLM_ERR_LIMIT";
    case VLM_ERR_CANCELLED: return "VLM_ERR_CANCELLED";
    case VLM_ERR_STATE: return "VLM_ERR_STATE";
    case VLM_ERR_SHAPE: return "VLM_ERR_SHAPE";
    case VLM_ERR_INVALID_UTF8: return "VLM_ERR_INVALID_UTF8";
    case VLM_ERR_INTERNAL: return "VLM_ERR_INTERNAL";
    }
    return "VLM_ERR_UNKNOWN";
}
