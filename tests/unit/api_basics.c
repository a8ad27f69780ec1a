/* Contract tests of the parts of vlm.h that need no model: versions,
 * statuses, error messages, logging, params structs, NULL handling. */
#include "vlm.h"
#include "vlm-impl.h"
#include "test.h"

#include <pthread.h>

static int log_calls;
static vlm_log_level last_level;
static char last_message[256];

static void capture_log(vlm_log_level level, const char *message, void *user_data) {
    (void)user_data;
    log_calls++;
    last_level = level;
    snprintf(last_message, sizeof last_message, "%s", message);
}

static void *fail_in_thread(void *arg) {
    (void)arg;
    vlmi_fail(VLM_ERR_IO, "error from another thread");
    return NULL;
}

/* A caller compiled against an older, shorter vlm_generate_params. */
typedef struct { size_t struct_size; int32_t max_tokens; } old_generate_params;

int main(void) {
    /* versions agree between header and library */
    CHECK(vlm_version_number() == VLM_VERSION_NUMBER);
    char expected[32];
    snprintf(expected, sizeof expected, "%d.%d.%d", VLM_VERSION_MAJOR, VLM_VERSION_MINOR,
             VLM_VERSION_PATCH);
    CHECK(strcmp(vlm_version_string(), expected) == 0);
    CHECK(strstr(vlm_build_info(), expected) != NULL);

    /* every status has its own name; unknown values are named as such */
    for (int s = VLM_OK; s <= VLM_ERR_INTERNAL; s++) {
        const char *name = vlm_status_string((vlm_status)s);
        CHECK(strncmp(name, "VLM_", 4) == 0 && strcmp(name, "VLM_ERR_UNKNOWN") != 0);
        for (int t = VLM_OK; t < s; t++)
            CHECK(strcmp(name, vlm_status_string((vlm_status)t)) != 0);
    }
    CHECK(strcmp(vlm_status_string((vlm_status)999), "VLM_ERR_UNKNOWN") == 0);
    CHECK(strcmp(vlm_status_string((vlm_status)-1), "VLM_ERR_UNKNOWN") == 0);

    /* last error: set by a failure, per thread, cleared explicitly */
    CHECK(strcmp(vlm_last_error(), "") == 0);
    CHECK(vlmi_fail(VLM_ERR_FORMAT, "config.json: %s missing", "hidden_size") == VLM_ERR_FORMAT);
    CHECK(strcmp(vlm_last_error(), "config.json: hidden_size missing") == 0);
    pthread_t thread;
    pthread_create(&thread, NULL, fail_in_thread, NULL);
    pthread_join(thread, NULL);
    CHECK(strcmp(vlm_last_error(), "config.json: hidden_size missing") == 0);
    vlmi_fail_prefix(VLM_ERR_FORMAT, "model");
    CHECK(strcmp(vlm_last_error(), "model: config.json: hidden_size missing") == 0);
    vlmi_clear_error();
    CHECK(strcmp(vlm_last_error(), "") == 0);
    /* long messages are truncated, not overflowed */
    char long_name[4000];
    memset(long_name, 'x', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = '\0';
    vlmi_fail(VLM_ERR_IO, "%s", long_name);
    CHECK(strlen(vlm_last_error()) < sizeof long_name && strlen(vlm_last_error()) > 100);

    /* logging: off by default, level filter, callback receives the text */
    vlmi_log(VLM_LOG_ERROR, "nobody listens");
    CHECK(log_calls == 0);
    vlm_log_set(capture_log, VLM_LOG_WARN, NULL);
    vlmi_log(VLM_LOG_INFO, "filtered");
    CHECK(log_calls == 0);
    vlmi_log(VLM_LOG_WARN, "kept %d", 7);
    CHECK(log_calls == 1 && last_level == VLM_LOG_WARN && strcmp(last_message, "kept 7") == 0);
    vlm_log_set(NULL, VLM_LOG_DEBUG, NULL);
    vlmi_log(VLM_LOG_ERROR, "discarded");
    CHECK(log_calls == 1);

    /* params init sets struct_size and the documented defaults */
    vlm_generate_params gp;
    memset(&gp, 0xff, sizeof gp);
    vlm_generate_params_init(&gp, sizeof gp);
    CHECK(gp.struct_size == sizeof gp);
    CHECK(gp.max_tokens == 256 && gp.temperature == 0.0f && gp.top_k == 0);
    CHECK(gp.top_p == 1.0f && gp.min_p == 0.0f && gp.repeat_penalty == 1.0f);
    CHECK(gp.on_token == NULL && gp.user_data == NULL);
    vlm_model_params mp;
    vlm_model_params_init(&mp, sizeof mp);
    CHECK(mp.struct_size == sizeof mp && mp.n_threads == 0 && mp.progress == NULL);
    vlm_session_params sp;
    vlm_session_params_init(&sp, sizeof sp);
    CHECK(sp.struct_size == sizeof sp && sp.n_ctx == 0);
    vlm_image_params ip;
    vlm_image_params_init(&ip, sizeof ip);
    CHECK(ip.struct_size == sizeof ip && ip.apply_exif_orientation && ip.max_pixels > 0);
    vlm_generate_params_init(NULL, 0); /* must not crash */

    /* an older caller's shorter struct: init fills only its bytes, the
     * library reads its fields and defaults the rest */
    struct { old_generate_params params; unsigned char canary[64]; } guarded;
    memset(&guarded, 0xAB, sizeof guarded);
    vlm_generate_params_init((vlm_generate_params *)(void *)&guarded.params, sizeof guarded.params);
    CHECK(guarded.params.struct_size == sizeof guarded.params && guarded.params.max_tokens == 256);
    int canary_intact = 1;
    for (size_t i = 0; i < sizeof guarded.canary; i++) canary_intact &= guarded.canary[i] == 0xAB;
    CHECK(canary_intact);
    /* an older caller's shorter struct: its fields are read, the rest default */
    old_generate_params old = { sizeof old, 5 };
    vlm_generate_params merged;
    VLMI_READ_PARAMS(merged, (const void *)&old, vlm_generate_params_init);
    CHECK(merged.max_tokens == 5 && merged.top_p == 1.0f && merged.struct_size == sizeof merged);

    /* frees accept NULL */
    vlm_free(NULL);
    vlm_model_free(NULL);
    vlm_session_free(NULL);
    vlm_image_free(NULL);
    vlm_tokenizer_free(NULL);
    vlm_detokenizer_free(NULL);

    /* NULL arguments are statuses, not crashes */
    vlm_session *session = (vlm_session *)&gp;
    CHECK_STATUS(VLM_ERR_INVALID_ARGUMENT, vlm_session_create(NULL, NULL, &session));
    CHECK(session == NULL);
    CHECK(strstr(vlm_last_error(), "model") != NULL);
    CHECK_STATUS(VLM_ERR_INVALID_ARGUMENT, vlm_session_add_turn(NULL, VLM_ROLE_USER, "hi", NULL, 0));
    CHECK_STATUS(VLM_ERR_INVALID_ARGUMENT, vlm_session_generate(NULL, NULL));

    return test_finish("api_basics");
}
