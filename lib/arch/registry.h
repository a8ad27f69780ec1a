/* Which model family implements a checkpoint: config.json "architectures"[0]
 * -> family. model/ never looks at architecture names itself; adding a family
 * means one file in lib/arch/ and one line in registry.c. */
#ifndef VLM_ARCH_REGISTRY_H
#define VLM_ARCH_REGISTRY_H

#include "vlm-impl.h"

typedef enum vlmi_family {
    VLMI_FAMILY_NONE = 0,      /* not bound (a GGUF of an architecture we do not know) */
    VLMI_FAMILY_IDEFICS3 = 1,  /* Idefics3 / SmolVLM / SmolVLM2 */
    VLMI_FAMILY_GEMMA3 = 2,    /* Gemma 3 (text-only and vision-language), ShieldGemma 2 */
    VLMI_FAMILY_QWEN2_5_VL = 3 /* Qwen2.5-VL */
} vlmi_family;

/* The family of architecture. An unknown name is VLM_ERR_UNSUPPORTED with a
 * message naming it and listing the supported ones. */
vlm_status vlmi_arch_lookup(const char *architecture, vlmi_family *out);

/* The family of a GGUF file's general.architecture ("gemma3"); NONE for one
 * no family reads (such files still load, unbound). */
vlmi_family vlmi_arch_from_gguf(const char *gguf_architecture);

/* "Idefics3" etc., for messages. */
const char *vlmi_family_name(vlmi_family family);

#endif
