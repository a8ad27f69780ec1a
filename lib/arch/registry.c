/* The architecture -> family table (see registry.h). */
#include "arch/registry.h"
#include "arch/family.h"

#include <string.h>

typedef struct arch_entry {
    const char *architecture;  /* as config.json "architectures"[0] spells it */
    vlmi_family family;
} arch_entry;

static const arch_entry known_architectures[] = {
    {"Idefics3ForConditionalGeneration", VLMI_FAMILY_IDEFICS3}, /* SmolVLM */
    {"SmolVLMForConditionalGeneration", VLMI_FAMILY_IDEFICS3},  /* SmolVLM2 */
    {"Gemma3ForConditionalGeneration", VLMI_FAMILY_GEMMA3},     /* gemma-3-4b-it ... */
    {"Gemma3ForCausalLM", VLMI_FAMILY_GEMMA3},                  /* gemma-3-1b, 270m */
    {"ShieldGemma2ForImageClassification", VLMI_FAMILY_GEMMA3}, /* shieldgemma-2-4b-it */
    {"Qwen2_5_VLForConditionalGeneration", VLMI_FAMILY_QWEN2_5_VL},
};

#define N_KNOWN (sizeof known_architectures / sizeof known_architectures[0])

vlm_status vlmi_arch_lookup(const char *architecture, vlmi_family *out) {
    *out = VLMI_FAMILY_NONE;
    for (size_t i = 0; i < N_KNOWN; i++)
        if (strcmp(known_architectures[i].architecture, architecture) == 0) {
            *out = known_architectures[i].family;
            return VLM_OK;
        }
    char supported[512] = "";
    for (size_t i = 0; i < N_KNOWN; i++) {
        if (i > 0) strncat(supported, ", ", sizeof supported - strlen(supported) - 1);
        strncat(supported, known_architectures[i].architecture,
                sizeof supported - strlen(supported) - 1);
    }
    return vlmi_fail(VLM_ERR_UNSUPPORTED, "architecture '%s' is not supported (supported: %s)",
                     architecture, supported);
}

/* GGUF general.architecture (llama.cpp's names) -> family. */
static const arch_entry known_gguf_architectures[] = {
    {"gemma3", VLMI_FAMILY_GEMMA3},
    {"qwen2vl", VLMI_FAMILY_QWEN2_5_VL}, /* Qwen2-VL's and Qwen2.5-VL's text model */
};

vlmi_family vlmi_arch_from_gguf(const char *gguf_architecture) {
    for (size_t i = 0; i < sizeof known_gguf_architectures / sizeof known_gguf_architectures[0]; i++)
        if (strcmp(known_gguf_architectures[i].architecture, gguf_architecture) == 0)
            return known_gguf_architectures[i].family;
    return VLMI_FAMILY_NONE;
}

const char *vlmi_family_name(vlmi_family family) {
    switch (family) {
    case VLMI_FAMILY_IDEFICS3: return "Idefics3";
    case VLMI_FAMILY_GEMMA3: return "Gemma3";
    case VLMI_FAMILY_QWEN2_5_VL: return "Qwen2.5-VL";
    case VLMI_FAMILY_NONE: break;
    }
    return "none";
}

const vlmi_family_ops *vlmi_family_ops_of(vlmi_family family) {
    switch (family) {
    case VLMI_FAMILY_IDEFICS3: return &vlmi_idefics3_ops;
    case VLMI_FAMILY_GEMMA3: return &vlmi_gemma3_ops;
    case VLMI_FAMILY_QWEN2_5_VL: return &vlmi_qwen2_5_vl_ops;
    case VLMI_FAMILY_NONE: break;
    }
    return NULL;
}
