/* Fuzz target: the same bytes parsed as each hub JSON file kind
 * (config.json, preprocessor_config.json, processor_config.json,
 * generation_config.json, tokenizer_config.json, chat_template.json and
 * chat_template.jinja), all from memory. Every call must return a status and
 * leave nothing allocated after its free. */
#include "model/hub_config.h"

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *text = (const char *)data;

    vlmi_model_config model;
    if (vlmi_model_config_parse(text, size, "config.json", &model) == VLM_OK) {
        /* the validated invariants downstream code relies on */
        if (model.text.head_dim <= 0 || model.text.layer_is_sliding == NULL ||
            model.text.num_attention_heads % model.text.num_key_value_heads != 0)
            __builtin_trap();
    }
    vlmi_model_config_free(&model);

    vlmi_processor_config processor;
    vlmi_processor_config_parse(text, size, "preprocessor_config.json", &processor);
    vlmi_processor_config_apply_processor_json(text, size, "processor_config.json", &processor);

    vlmi_generation_config generation;
    vlmi_generation_config_parse(text, size, "generation_config.json", &generation);

    vlmi_tokenizer_config tokenizer;
    vlmi_tokenizer_config_parse(text, size, "tokenizer_config.json", &tokenizer);
    vlmi_chat_template_parse_json(text, size, "chat_template.json", &tokenizer);
    vlmi_tokenizer_config_free(&tokenizer);
    vlmi_chat_template_set_jinja(text, size, "chat_template.jinja", &tokenizer);
    vlmi_tokenizer_config_free(&tokenizer);
    return 0;
}
