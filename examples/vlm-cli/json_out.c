/* What every subcommand's --json shares: the session's timings and the
 * printing. */
#include "cli.h"

#include <stdlib.h>

void cli_json_add_timings(cJSON *out, const vlm_session *session) {
    vlm_timings t = {.struct_size = sizeof t}; /* zeros before the first generate */
    vlm_session_timings(session, &t);
    cJSON *timings = cJSON_AddObjectToObject(out, "timings");
    cJSON_AddNumberToObject(timings, "load_ms", t.load_ms);
    cJSON_AddNumberToObject(timings, "preprocess_ms", t.preprocess_ms);
    cJSON_AddNumberToObject(timings, "encode_ms", t.encode_ms);
    cJSON_AddNumberToObject(timings, "prefill_ms", t.prefill_ms);
    cJSON_AddNumberToObject(timings, "decode_ms", t.decode_ms);
    cJSON_AddNumberToObject(timings, "n_prompt_tokens", t.n_prompt_tokens);
    cJSON_AddNumberToObject(timings, "n_prefill_tokens", t.n_prefill_tokens);
    cJSON_AddNumberToObject(timings, "n_image_tokens", t.n_image_tokens);
    cJSON_AddNumberToObject(timings, "n_cached_images", t.n_cached_images);
    cJSON_AddNumberToObject(timings, "n_generated_tokens", t.n_generated_tokens);
    cJSON_AddNumberToObject(timings, "prefill_tokens_per_s", t.prefill_tokens_per_s);
    cJSON_AddNumberToObject(timings, "decode_tokens_per_s", t.decode_tokens_per_s);
}

bool cli_json_print(const cJSON *out) {
    char *printed = cJSON_Print(out);
    if (printed == NULL) {
        fprintf(stderr, "vlm-cli: --json: out of memory\n");
        return false;
    }
    printf("%s\n", printed);
    free(printed);
    return true;
}
