/* All of a hub model directory's JSON configuration in one struct.
 *
 * config.json is required; preprocessor_config.json, processor_config.json,
 * video_preprocessor_config.json, generation_config.json,
 * tokenizer_config.json, chat_template.json and chat_template.jinja are read
 * when present. Each file is bounded to VLMI_JSON_MAX_FILE_SIZE (16 MiB;
 * larger is VLM_ERR_LIMIT). Errors name the file's path and the key. */
#ifndef VLM_MODEL_HUB_CONFIG_H
#define VLM_MODEL_HUB_CONFIG_H

#include "model/config.h"
#include "model/generation_config.h"
#include "model/processor_config.h"
#include "model/tokenizer_config.h"

typedef struct vlmi_hub_config {
    vlmi_model_config model;            /* config.json */
    bool has_processor;                 /* preprocessor_config.json or processor_config.json */
    vlmi_processor_config processor;    /* image processor (+ processor_config.json) */
    bool has_video_processor;           /* video_preprocessor_config.json */
    vlmi_processor_config video_processor;
    bool has_generation;                /* generation_config.json; else GenerationConfig
                                           defaults */
    vlmi_generation_config generation;
    bool has_tokenizer;                 /* tokenizer_config.json or a chat template file */
    vlmi_tokenizer_config tokenizer;    /* chat template resolved across the files */
} vlmi_hub_config;

/* Reads model_dir's configuration files into *out. On failure *out is empty
 * (safe to free). Caller frees with vlmi_hub_config_free. */
vlm_status vlmi_hub_config_load(const char *model_dir, vlmi_hub_config *out);

/* Where the configuration files come from when not from a directory: read
 * gives the text of the file called name ("config.json") in *text (malloc'd,
 * caller frees) and *size, or *text NULL when there is no such file (an
 * error of its own naming the file when required); display names the file
 * in messages ("model.gguf:libvlm.file.config.json"). */
typedef vlm_status (*vlmi_hub_file_reader)(void *ctx, const char *name, bool required,
                                           char **text, size_t *size, char *display,
                                           size_t display_size);

/* The same configuration as vlmi_hub_config_load, from the files read
 * gives (a GGUF file written by vlm-quantize: lib/model_gguf_hub.c). */
vlm_status vlmi_hub_config_load_from(vlmi_hub_file_reader read, void *ctx,
                                     vlmi_hub_config *out);

/* Releases everything load allocated and zeroes the struct; NULL is fine. */
void vlmi_hub_config_free(vlmi_hub_config *config);

#endif
