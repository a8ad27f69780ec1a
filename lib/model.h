/* The vlm_model handle: everything loaded from a hub directory or GGUF file. */
#ifndef VLM_MODEL_H
#define VLM_MODEL_H

#include "vlm-impl.h"

struct vlm_model {
    char *path;            /* as given to vlm_model_load */
    char *architecture;    /* config "architectures"[0] or GGUF general.architecture */
    int32_t n_threads;     /* resolved: > 0 */
};

#endif
