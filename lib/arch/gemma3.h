/* Gemma 3: the language model of Gemma3ForConditionalGeneration (gemma-3-4b-it,
 * ShieldGemma 2) and Gemma3ForCausalLM (text-only gemma-3-1b / 270m), bound
 * by name from a Hugging Face checkpoint onto the shared decoder with its
 * Gemma variants: embeddings scaled by sqrt(hidden_size), RMSNorm (1 + w),
 * QK-norm, four norms per layer, GeGLU, query_pre_attn_scalar, sliding-window
 * layers with the local RoPE base, linear RoPE scaling on the global layers,
 * final logit softcapping when the config sets it (attention softcapping is
 * ignored, as transformers' Gemma 3 ignores it).
 *
 * With a vision_config (Gemma3ForConditionalGeneration) the model also binds
 * the SigLIP vision tower (post-LayerNorm, no head) and
 * Gemma3MultiModalProjector: the tower's patches_per_side^2 rows are
 * average-pooled in kernel x kernel squares (kernel = patches_per_side /
 * sqrt(mm_tokens_per_image)) to mm_tokens_per_image rows, RMS-normed with
 * (1 + w) and multiplied by mm_input_projection_weight, which transformers
 * stores (vision dim, text dim), not in nn.Linear's layout. A frame's rows
 * replace the prompt's <image_soft_token> ids as they are, unscaled, and the
 * decoder sees them bidirectionally (vlmi_decoder_forward_blocks). The
 * processor is gemma3_processor.h, the chat format gemma3_chat.h. */
#ifndef VLM_ARCH_GEMMA3_H
#define VLM_ARCH_GEMMA3_H

#include "io/safetensors.h"
#include "model/config.h"
#include "nn/decoder.h"
#include "nn/vit.h"

typedef struct vlmi_gemma3 {
    vlmi_decoder text;       /* the language model and its (tied) LM head */
    /* vision: all zero / false for a text-only checkpoint */
    bool has_vision;         /* config.json has a vision_config */
    vlmi_vit vision;         /* SigLIP vision tower */
    float *mm_norm;          /* (vision dim) 1 + mm_soft_emb_norm.weight, f32, owned */
    float mm_norm_eps;       /* vision_config.layer_norm_eps, as the projector uses */
    vlmi_matrix projection;  /* (text dim, vision dim) f32, mm_input_projection_weight
                                transposed into owned memory (mm_projection_storage) */
    float *mm_projection_storage;
    size_t patches_per_side; /* image_size / patch_size */
    size_t pool_kernel;      /* patches per pooled token along a side */
    size_t tokens_per_image; /* mm_tokens_per_image: rows per frame */
    int32_t image_token_id;  /* <image_soft_token>: replaced by image rows; -1 text-only */
} vlmi_gemma3;

/* The decoder hyperparameters of a Gemma 3 text config; embed_scale is
 * sqrt(hidden_size) rounded to embedding_dtype as transformers does (BF16:
 * sqrt(2560) = 50.596 becomes 50.5; F32 and the quantized types keep f32).
 * VLM_ERR_UNSUPPORTED for an activation other than gelu_pytorch_tanh or a
 * RoPE type other than default / linear. hp->layer_is_sliding borrows
 * t->layer_is_sliding. */
vlm_status vlmi_gemma3_decoder_hparams(vlmi_decoder_hparams *hp, const vlmi_text_config *t,
                                       vlm_dtype embedding_dtype);

/* Binds the language model and, when config has a vision_config, the vision
 * tower and the projector, checking every shape against config: a missing
 * tensor is VLM_ERR_FORMAT and a shape that disagrees is VLM_ERR_SHAPE, both
 * naming the tensor. The tensor names may carry any of the prefixes
 * transformers writes: "model." (Gemma3ForCausalLM), "model.language_model."
 * (Gemma3ForConditionalGeneration in memory, early 5.x saves) or
 * "language_model.model." (the Hub's 4.x checkpoints, and 5.24's
 * save_pretrained); for the tower "vision_tower.vision_model." (Hub 4.x),
 * "vision_tower." (5.24 save_pretrained), either after "model.", and
 * "multi_modal_projector." with or without "model.". The model borrows
 * weights, which must outlive it; the projection is copied (f32). On failure
 * *model is empty. */
vlm_status vlmi_gemma3_bind(vlmi_gemma3 *model, const vlmi_model_config *config,
                            const vlmi_safetensors_set *weights);
/* Releases what bind allocated; NULL or empty is fine. */
void vlmi_gemma3_free(vlmi_gemma3 *model);

// ---- GGUF files (gemma3_gguf.c): llama.cpp's names and metadata ----
struct vlmi_gguf;
/* The config of a GGUF whose general.architecture is gemma3, from its gemma3.*
 * and tokenizer.ggml.*_token_id keys with llama.cpp's fixed choices (sliding
 * pattern 6, local RoPE base 10000); eos_token_ids also holds <end_of_turn>.
 * Errors name the file and key. Free with vlmi_model_config_free. */
vlm_status vlmi_gemma3_gguf_config(vlmi_model_config *out, const struct vlmi_gguf *gguf);
/* Binds the decoder by llama.cpp's tensor names (norms used as stored: 1 + w),
 * shapes checked against config (VLM_ERR_SHAPE / VLM_ERR_FORMAT naming the
 * tensor); borrows gguf. Matrix dtypes are not checked against the kernels. */
vlm_status vlmi_gemma3_bind_gguf(vlmi_gemma3 *model, const vlmi_model_config *config,
                                 const struct vlmi_gguf *gguf);
/* Binds the vision tower and projector of llama.cpp's multimodal projector
 * GGUF (general.architecture "clip", clip.projector_type "gemma3";
 * gemma3_mmproj.c) onto a model bound by vlmi_gemma3_bind_gguf, and fills
 * what a hub directory's files would give: config->model.vision,
 * mm_tokens_per_image and the image token ids (from text's vocabulary), the
 * processor (has_processor). Another architecture or projector type is
 * VLM_ERR_UNSUPPORTED, other errors name the file and the key or tensor. On
 * failure the model and config stay text-only. Borrows mmproj. */
struct vlmi_hub_config;
vlm_status vlmi_gemma3_bind_mmproj(vlmi_gemma3 *model, struct vlmi_hub_config *config,
                                   const struct vlmi_gguf *mmproj, const struct vlmi_gguf *text);
/* VLM_ERR_UNSUPPORTED naming the first weight the kernels cannot read (matmul
 * dtype, or the embedding's row lookup), VLM_OK if a forward pass can run. */
vlm_status vlmi_gemma3_check_kernels(const vlmi_gemma3 *model);

// ---- images (models with has_vision only) ----

/* Buffers for encoding one frame, allocated once. */
typedef struct vlmi_gemma3_image_state {
    vlmi_vit_state *vit;
    float *hidden;   /* (patches_per_side^2, vision dim) tower output */
    float *pooled;   /* (tokens_per_image, vision dim) pooled, then normed */
} vlmi_gemma3_image_state;

/* VLM_ERR_STATE for a text-only model. Caller owns *out. */
vlm_status vlmi_gemma3_image_state_create(const vlmi_gemma3 *model,
                                          vlmi_gemma3_image_state **out);
void vlmi_gemma3_image_state_free(vlmi_gemma3_image_state *s); /* NULL is fine */

/* Vision tower, average pool, soft-embedding norm and projection of one frame
 * (Gemma3Model.get_image_features), with the matrix products split over
 * pool's threads (NULL: the calling thread only).
 * pixels (3, image_size, image_size), as vlmi_gemma3_frame_pixels makes them
 * -> features (tokens_per_image, text dim) */
vlm_status vlmi_gemma3_encode_image_pool(float *features, vlmi_gemma3_image_state *s,
                                         const vlmi_gemma3 *model, const float *pixels,
                                         vlmi_threadpool *pool);

/* Input embeddings of a prompt: the scaled token embeddings, with the k-th
 * <image_soft_token> replaced by row k of image_rows as it is (unscaled, as
 * Gemma3Model's masked_scatter does; the id need not be inside the
 * embedding table). The number of <image_soft_token> ids must equal
 * n_image_rows (VLM_ERR_INVALID_ARGUMENT otherwise, as transformers refuses).
 * bidirectional, if not NULL, receives 1 at the image rows and 0 elsewhere:
 * the token_type_ids vlmi_decoder_forward_blocks takes.
 * ids (n), image_rows (n_image_rows, text dim) -> out (n, text dim),
 * bidirectional (n) */
vlm_status vlmi_gemma3_embed(float *out, const vlmi_gemma3 *model, const int32_t *ids,
                             size_t n, const float *image_rows, size_t n_image_rows,
                             uint8_t *bidirectional);

#endif
