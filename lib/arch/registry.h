/* Which model family implements a checkpoint: config.json "architectures"[0]
 * -> family. model/ never looks at architecture names itself; adding a family
 * means one file in lib/arch/ and one line in registry.c. */
#ifndef VLM_ARCH_REGISTRY_H
#define VLM_ARCH_REGISTRY_H

#include "vlm-impl.h"

typedef enum vlmi_family {
    VLMI_FAMILY_NONE = 0,      /* not bound (GGUF files for now) */
    VLMI_FAMILY_IDEFICS3 = 1   /* Idefics3 / SmolVLM / SmolVLM2 */
} vlmi_family;

/* The family of architecture. An unknown name is VLM_ERR_UNSUPPORTED with a
 * message naming it and listing the supported ones. */
vlm_status vlmi_arch_lookup(const char *architecture, vlmi_family *out);

/* "Idefics3" etc., for messages. */
const char *vlmi_family_name(vlmi_family family);

#endif
