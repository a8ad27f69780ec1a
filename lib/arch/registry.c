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

const char *vlmi_family_name(vlmi_family family) {
    switch (family) {
    case VLMI_FAMILY_IDEFICS3: return "Idefics3";
    case VLMI_FAMILY_NONE: break;
    }
    return "none";
}

const vlmi_family_ops *vlmi_family_ops_of(vlmi_family family) {
    switch (family) {
    case VLMI_FAMILY_IDEFICS3: return &vlmi_idefics3_ops;
    case VLMI_FAMILY_NONE: break;
    }
    return NULL;
}
