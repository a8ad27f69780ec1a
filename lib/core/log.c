/* The process-wide log callback. */
#include "vlm-impl.h"

#include <stdio.h>

static vlm_log_fn log_fn;
static vlm_log_level log_min_level = VLM_LOG_INFO;
static void *log_user_data;

void vlm_log_set(vlm_log_fn fn, vlm_log_level min_level, void *user_data) {
    log_fn = fn;
    log_min_level = min_level;
    log_user_data = user_data;
}

void vlmi_log(vlm_log_level level, const char *fmt, ...) {
    if (log_fn == NULL || level < log_min_level) return;
    char message[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    log_fn(level, message, log_user_data);
}
