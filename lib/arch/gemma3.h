/* Gemma 3: the language model of Gemma3ForConditionalGeneration (gemma-3-4b-it,
 * ShieldGemma 2) and Gemma3ForCausalLM (text-only gemma-3-1b / 270m), bound
 * by name from a Hugging Face checkpoint onto the shared decoder with its
 * Gemma variants: embeddings scaled by sqrt(hidden_size), RMSNorm (1 + w),
 * QK-norm, four norms per layer, GeGLU, query_pre_attn_scalar, sliding-window
 * layers with the local RoPE base, linear RoPE scaling on the global layers,
 * final logit softcapping when the config sets it (attention softcapping is
 * ignored, as transformers' Gemma 3 ignores it).
 *
 * The vision tower, the multimodal projector and the processor are still to
 * come (issue 7); image rows reach the decoder as supplied embeddings with
 * vlmi_decoder_forward_blocks flagging them bidirectional. */
#ifndef VLM_ARCH_GEMMA3_H
#define VLM_ARCH_GEMMA3_H

#include "io/safetensors.h"
#include "model/config.h"
#include "nn/decoder.h"

typedef struct vlmi_gemma3 {
    vlmi_decoder text;       /* the language model and its (tied) LM head */
} vlmi_gemma3;

/* The decoder hyperparameters of a Gemma 3 text config; embed_scale is
 * sqrt(hidden_size) rounded to embedding_dtype as transformers does (BF16:
 * sqrt(2560) = 50.596 becomes 50.5; F32 and the quantized types keep f32).
 * VLM_ERR_UNSUPPORTED for an activation other than gelu_pytorch_tanh or a
 * RoPE type other than default / linear. hp->layer_is_sliding borrows
 * t->layer_is_sliding. */
vlm_status vlmi_gemma3_decoder_hparams(vlmi_decoder_hparams *hp, const vlmi_text_config *t,
                                       vlm_dtype embedding_dtype);

/* Binds the language model, checking every shape against config: a missing
 * tensor is VLM_ERR_FORMAT and a shape that disagrees is VLM_ERR_SHAPE, both
 * naming the tensor. The tensor names may carry any of the prefixes
 * transformers writes: "model." (Gemma3ForCausalLM), "model.language_model."
 * (Gemma3ForConditionalGeneration, transformers 5) or "language_model.model."
 * (the Hub's 4.x checkpoints). The model borrows weights, which must outlive
 * it. On failure *model is empty. */
vlm_status vlmi_gemma3_bind(vlmi_gemma3 *model, const vlmi_model_config *config,
                            const vlmi_safetensors_set *weights);
/* Releases what bind allocated; NULL or empty is fine. */
void vlmi_gemma3_free(vlmi_gemma3 *model);

#endif
