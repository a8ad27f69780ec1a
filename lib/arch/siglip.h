/* A SigLIP vision tower (SiglipVisionTransformer: Idefics3's and Gemma 3's)
 * bound from a Hugging Face checkpoint onto the shared ViT block: the
 * hyperparameters from config.json's vision_config, the tensors by their
 * transformers names under a prefix the family knows ("model.vision_model.",
 * "vision_tower.vision_model." ...). */
#ifndef VLM_ARCH_SIGLIP_H
#define VLM_ARCH_SIGLIP_H

#include "io/safetensors.h"
#include "model/config.h"
#include "nn/vit.h"

/* Validates v (VLM_ERR_FORMAT without a vision_config or with sizes that
 * are not positive, VLM_ERR_UNSUPPORTED for an activation other than
 * gelu_pytorch_tanh / gelu), initialises vit and binds every tensor named
 * prefix + "embeddings.patch_embedding.weight" etc., checking its shape (a
 * missing tensor is VLM_ERR_FORMAT, a shape that disagrees VLM_ERR_SHAPE,
 * both naming it). vit borrows the weights. On failure *vit is empty. */
vlm_status vlmi_siglip_bind(vlmi_vit *vit, const vlmi_vision_config *v,
                            const vlmi_safetensors_set *set, const char *prefix);

#endif
