/* The vlm_model handle: everything loaded from a hub directory or GGUF file. */
#ifndef VLM_MODEL_H
#define VLM_MODEL_H

#include "vlm-impl.h"
#include "io/gguf.h"
#include "io/safetensors.h"
#include "model/hub_config.h"
#include "arch/gemma3.h"
#include "arch/idefics3.h"
#include "arch/qwen2_5_vl.h"
#include "arch/registry.h"
#include "image_cache.h"

struct vlm_model {
    char *path;                    /* as given to vlm_model_load */
    char *architecture;            /* config "architectures"[0] or GGUF general.architecture */
    int32_t n_threads;             /* resolved: > 0 */
    bool has_config;               /* hub directories: config files were read; GGUF
                                      files of a known family: config filled from
                                      the metadata (see load_gguf in model.c) */
    vlmi_hub_config config;        /* config.json, processor, generation, tokenizer
                                      configs and chat template; valid when has_config.
                                      From a GGUF: model (hparams, bos_token_id,
                                      eos_token_ids, pad_token_id) and tokenizer
                                      (bos/eos/pad/unk_token strings, add_bos/eos_token,
                                      chat_template from tokenizer.chat_template);
                                      has_processor and has_generation false,
                                      has_processor true with an mmproj file */
    vlmi_safetensors_set *weights; /* hub directories, and a hub GGUF's tensors
                                      (model_gguf_hub.h); NULL for other GGUF */
    vlmi_gguf *gguf;               /* GGUF files; NULL for hub directories */
    vlmi_gguf *mmproj;             /* the llama.cpp multimodal projector GGUF given as
                                      vlm_model_params.mmproj_path; NULL without */
    vlm_tokenizer *tokenizer;      /* NULL when the model ships none (GGUF: built
                                      from tokenizer.ggml.* when present) */
    const vlmi_tensor_info **tensors; /* (n_tensors) borrowed from weights or gguf */
    size_t n_tensors;
    vlmi_family family;            /* bound at load from the architecture; NONE for a
                                      GGUF of an architecture no family reads */
    vlmi_idefics3 idefics3;        /* the bound weights when family is IDEFICS3 */
    vlmi_gemma3 gemma3;            /* the bound weights when family is GEMMA3 */
    vlmi_qwen2_5_vl qwen2_5_vl;    /* the bound weights when family is QWEN2_5_VL */
    double load_ms;                /* wall time vlm_model_load took */
    vlmi_image_cache *image_cache; /* encoded images shared by the sessions; thread-safe */
};

/* Monotonic wall clock in milliseconds, for timings. */
double vlmi_now_ms(void);

#endif
