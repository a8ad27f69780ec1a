/* generation_config.json: the model's default decoding settings.
 *
 * Keys the file leaves out (or sets to null) take the defaults of transformers
 * GenerationConfig.__init__: max_length 20, temperature 1.0, top_k 50,
 * top_p 1.0, do_sample false, repetition_penalty 1.0. Token ids the file does
 * not state are -1. No heap memory: the struct needs no free. */
#ifndef VLM_MODEL_GENERATION_CONFIG_H
#define VLM_MODEL_GENERATION_CONFIG_H

#include "vlm-impl.h"

#include <stdbool.h>

#define VLMI_GENERATION_MAX_EOS 16

typedef struct vlmi_generation_config {
    int64_t bos_token_id;          /* -1 when absent */
    int64_t eos_token_ids[VLMI_GENERATION_MAX_EOS]; /* (n_eos_token_ids) any ends a
                                      reply; "eos_token_id" may be an int or a list */
    int32_t n_eos_token_ids;
    int64_t pad_token_id;          /* -1 when absent */
    int64_t max_length;            /* prompt + reply tokens, > 0 */
    int64_t max_new_tokens;        /* reply tokens; 0 when absent (max_length rules) */
    bool do_sample;                /* false: greedy */
    double temperature;            /* >= 0; used only when do_sample */
    int64_t top_k;                 /* >= 0; 0 disables */
    double top_p;                  /* (0, 1] */
    double repetition_penalty;     /* > 0; 1.0 disables */
} vlmi_generation_config;

/* Fills the GenerationConfig defaults. */
void vlmi_generation_config_init(vlmi_generation_config *config);

/* Parses generation_config.json text (size bytes, need not be NUL-terminated;
 * file names it in messages). On failure *out holds the defaults. */
vlm_status vlmi_generation_config_parse(const char *json, size_t size, const char *file,
                                        vlmi_generation_config *out);

#endif
