/* Qwen2.5-VL: a windowed ViT with 2-D rotary positions and a patch merger,
 * and a Qwen2 decoder (q/k/v biases) with multimodal RoPE, bound by name
 * from a Hugging Face checkpoint (Qwen2_5_VLForConditionalGeneration).
 *
 * An image (a video) is the processor's pixel rows with its patch grid
 * (grid_t, grid_h, grid_w); it becomes grid_t * grid_h * grid_w / merge^2
 * feature rows in the text model's width, one per <|image_pad|>
 * (<|video_pad|>) token of the prompt. The decoder then runs at the
 * positions vlmi_qwen2vl_rope_index gives (qwen2_5_vl_rope.h) through
 * vlmi_decoder_forward_positions. */
#ifndef VLM_ARCH_QWEN2_5_VL_H
#define VLM_ARCH_QWEN2_5_VL_H

#include "arch/qwen2_5_vl_rope.h"
#include "io/safetensors.h"
#include "model/config.h"
#include "nn/decoder.h"
#include "nn/vit.h"

/* Qwen2_5_VLVisionRotaryEmbedding's base when the config does not set it
 * (the Hub's 4.x configs never do). */
#define VLMI_QWEN2_5_VL_VISION_ROPE_THETA 10000.0f

typedef struct vlmi_qwen2_5_vl {
    vlmi_decoder text;          /* the language model and its (tied) LM head */
    vlmi_vit vision;            /* visual.patch_embed and visual.blocks */
    float *merger_norm;         /* (vision dim) visual.merger.ln_q, f32, owned */
    vlmi_matrix merger_fc1;     /* (vision dim * merge^2, the same) merger.mlp.0 */
    float *merger_fc1_bias;     /* (vision dim * merge^2) owned */
    vlmi_matrix merger_fc2;     /* (text dim, vision dim * merge^2) merger.mlp.2 */
    float *merger_fc2_bias;     /* (text dim) owned */
    float *merger_storage;      /* the merger's f32 vectors above point into it */
    float *patch_storage;       /* (vision dim, 3 * temporal * patch^2) f32 patch
                                   kernel assembled from an mmproj GGUF's per-frame
                                   halves, owned; NULL when vision.patch_embedding
                                   points into the checkpoint */
    vlmi_qwen2vl_rope_params rope; /* placeholder ids, merge size, tokens_per_second */
} vlmi_qwen2_5_vl;

/* Binds every tensor, checking each shape against config: a missing tensor
 * is VLM_ERR_FORMAT and a shape that disagrees is VLM_ERR_SHAPE, both naming
 * the tensor; a config the blocks do not support is VLM_ERR_UNSUPPORTED.
 * Names as transformers 5 and the Hub's 4.x checkpoints save them ("model.*",
 * "visual.*", "lm_head.weight" unless tied) or as transformers 5 holds them in
 * memory ("model.language_model.*", "model.visual.*"). The model borrows
 * weights, which must outlive it. On failure *model is empty. */
vlm_status vlmi_qwen2_5_vl_bind(vlmi_qwen2_5_vl *model, const vlmi_model_config *config,
                                const vlmi_safetensors_set *weights);
/* Releases what bind allocated; NULL or empty is fine. */
void vlmi_qwen2_5_vl_free(vlmi_qwen2_5_vl *model);

/* The blocks' hyperparameters from the config (shared with the GGUF binders):
 * an unsupported activation or rope type is VLM_ERR_UNSUPPORTED.
 * full_attention (num_hidden_layers) receives fullatt_block_indexes as flags. */
vlm_status vlmi_qwen2_5_vl_decoder_hparams(vlmi_decoder_hparams *hp, const vlmi_text_config *t);
vlm_status vlmi_qwen2_5_vl_vit_hparams(vlmi_vit_hparams *hp, const vlmi_vision_config *v,
                                       uint8_t *full_attention);
/* model->rope from config once the blocks are bound: the placeholder ids must
 * lie inside the vocabulary (VLM_ERR_FORMAT naming source otherwise). */
vlm_status vlmi_qwen2_5_vl_set_rope_params(vlmi_qwen2_5_vl *model,
                                           const vlmi_model_config *config, const char *source);

/* ---- llama.cpp's GGUF files (qwen2_5_vl_gguf.c, qwen2_5_vl_mmproj.c) ---- */
struct vlmi_gguf;
struct vlmi_hub_config;

/* config.json as a hub directory would state it, from a "qwen2vl" text
 * GGUF's metadata (qwen2vl.*, tokenizer.ggml.* for the special ids). Errors
 * name the file and key. On failure *out is empty. */
vlm_status vlmi_qwen2_5_vl_gguf_config(vlmi_model_config *out, const struct vlmi_gguf *gguf);
/* Binds the decoder (llama.cpp tensor names) checked against config; the
 * vision side stays empty until vlmi_qwen2_5_vl_bind_mmproj. */
vlm_status vlmi_qwen2_5_vl_bind_gguf(vlmi_qwen2_5_vl *model, const vlmi_model_config *config,
                                     const struct vlmi_gguf *gguf);
/* The vision tower and merger from llama.cpp's "qwen2.5vl_merger" mmproj GGUF:
 * fills config->model.vision, the image processor settings and the placeholder
 * ids (looked up in the text GGUF's vocabulary), binds them onto model. On
 * failure the model and config are back to text only. */
vlm_status vlmi_qwen2_5_vl_bind_mmproj(vlmi_qwen2_5_vl *model, struct vlmi_hub_config *config,
                                       const struct vlmi_gguf *mmproj,
                                       const struct vlmi_gguf *text);

/* Buffers for encoding images or videos of up to max_patches pixel rows. */
typedef struct vlmi_qwen2_5_vl_image_state {
    size_t max_patches;
    vlmi_vit_state *vit;
    float *hidden;   /* (max_patches, vision dim) encoder output */
    float *merged;   /* (max_patches / merge^2, vision dim * merge^2) normed groups */
    float *inner;    /* (max_patches / merge^2, vision dim * merge^2) merger MLP */
} vlmi_qwen2_5_vl_image_state;

vlm_status vlmi_qwen2_5_vl_image_state_create(const vlmi_qwen2_5_vl *model, size_t max_patches,
                                              vlmi_qwen2_5_vl_image_state **out);
void vlmi_qwen2_5_vl_image_state_free(vlmi_qwen2_5_vl_image_state *s); /* NULL is fine */

/* The vision encoder and the patch merger (ln_q RMSNorm, each merge^2 rows
 * concatenated, Linear, GELU, Linear) on one image or video. n_rows must
 * equal grid_t * grid_h * grid_w (VLM_ERR_INVALID_ARGUMENT otherwise, as
 * must a grid not made of whole merge groups); more rows than the state
 * holds is VLM_ERR_LIMIT. pool may be NULL.
 * pixel_values (n_rows, 3 * temporal * patch^2), as the Qwen2-VL processor
 * makes them -> features (n_rows / merge^2, text dim) */
vlm_status vlmi_qwen2_5_vl_encode_image_pool(float *features, vlmi_qwen2_5_vl_image_state *s,
                                             const vlmi_qwen2_5_vl *model,
                                             const float *pixel_values, size_t n_rows,
                                             size_t grid_t, size_t grid_h, size_t grid_w,
                                             vlmi_threadpool *pool);

/* Input embeddings of a prompt: token embeddings, with the k-th
 * <|image_pad|> or <|video_pad|> token (in prompt order) replaced by row k
 * of image_rows. The placeholder count must equal n_image_rows
 * (VLM_ERR_INVALID_ARGUMENT otherwise, as transformers refuses).
 * ids (n), image_rows (n_image_rows, text dim) -> out (n, text dim) */
vlm_status vlmi_qwen2_5_vl_embed(float *out, const vlmi_qwen2_5_vl *model, const int32_t *ids,
                                 size_t n, const float *image_rows, size_t n_image_rows);

#endif
