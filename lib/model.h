/* The vlm_model handle: everything loaded from a hub directory or GGUF file. */
#ifndef VLM_MODEL_H
#define VLM_MODEL_H

#include "vlm-impl.h"
#include "io/gguf.h"
#include "io/safetensors.h"
#include "model/hub_config.h"
#include "arch/idefics3.h"
#include "arch/registry.h"
#include "image_cache.h"

struct vlm_model {
    char *path;                    /* as given to vlm_model_load */
    char *architecture;            /* config "architectures"[0] or GGUF general.architecture */
    int32_t n_threads;             /* resolved: > 0 */
    bool has_config;               /* hub directories: config files were read */
    vlmi_hub_config config;        /* config.json, processor, generation, tokenizer
                                      configs and chat template; valid when has_config */
    vlmi_safetensors_set *weights; /* hub directories; NULL for GGUF */
    vlmi_gguf *gguf;               /* GGUF files; NULL for hub directories */
    vlm_tokenizer *tokenizer;      /* NULL when the model ships none */
    const vlmi_tensor_info **tensors; /* (n_tensors) borrowed from weights or gguf */
    size_t n_tensors;
    vlmi_family family;            /* bound at load from the architecture; NONE for GGUF */
    vlmi_idefics3 idefics3;        /* the bound weights when family is IDEFICS3 */
    double load_ms;                /* wall time vlm_model_load took */
    vlmi_image_cache *image_cache; /* encoded images shared by the sessions; thread-safe */
};

/* Monotonic wall clock in milliseconds, for timings. */
double vlmi_now_ms(void);

#endif
