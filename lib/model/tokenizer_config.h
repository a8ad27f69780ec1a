/* tokenizer_config.json plus the chat template files: special-token strings,
 * add_bos_token, model_max_length, and the chat template.
 *
 * The chat template may come from tokenizer_config.json "chat_template",
 * chat_template.json {"chat_template": ...} or chat_template.jinja (raw text);
 * the value may be a string or HF's list of {"name", "template"} objects, of
 * which the one named "default" is the default template. The hub loader reads
 * them in transformers' order of precedence: chat_template.jinja, then
 * chat_template.json (what the processor uses), then tokenizer_config.json. */
#ifndef VLM_MODEL_TOKENIZER_CONFIG_H
#define VLM_MODEL_TOKENIZER_CONFIG_H

#include "vlm-impl.h"

#include <stdbool.h>

#define VLMI_TOKENIZER_NAME_MAX 64

typedef struct vlmi_named_template {
    char *name;                    /* "default", "tool_use", ... */
    char *text;                    /* Jinja source */
} vlmi_named_template;

typedef struct vlmi_tokenizer_config {
    /* Special tokens as strings; a plain string or an AddedToken object's
     * "content". NULL when absent or null. */
    char *bos_token;
    char *eos_token;
    char *pad_token;
    char *unk_token;
    int add_bos_token;             /* -1: not stated (tokenizer.json decides), 0, 1 */
    int add_eos_token;             /* -1: not stated, 0, 1 */
    int64_t model_max_length;      /* tokens; INT64_MAX when absent or HF's "no
                                      limit" (int(1e30)) */
    char tokenizer_class[VLMI_TOKENIZER_NAME_MAX]; /* "GPT2Tokenizer"; "" if absent */
    char *chat_template;           /* the default template; NULL if none */
    char chat_template_source[VLMI_TOKENIZER_NAME_MAX]; /* file it came from; "" */
    vlmi_named_template *chat_templates; /* (n_chat_templates) list form only */
    size_t n_chat_templates;
} vlmi_tokenizer_config;

/* Parses tokenizer_config.json text (size bytes, need not be NUL-terminated;
 * file names it in messages). On failure *out is empty. Free with
 * vlmi_tokenizer_config_free. */
vlm_status vlmi_tokenizer_config_parse(const char *json, size_t size, const char *file,
                                       vlmi_tokenizer_config *out);

/* chat_template.json {"chat_template": string or list}: replaces the chat
 * template in *config (on failure *config is unchanged). */
vlm_status vlmi_chat_template_parse_json(const char *json, size_t size, const char *file,
                                         vlmi_tokenizer_config *config);

/* chat_template.jinja: the whole text (must be UTF-8 without NUL) becomes the
 * chat template of *config. */
vlm_status vlmi_chat_template_set_jinja(const char *text, size_t size, const char *file,
                                        vlmi_tokenizer_config *config);

/* Releases what the parsers allocated and empties the struct; NULL is fine. */
void vlmi_tokenizer_config_free(vlmi_tokenizer_config *config);

#endif
