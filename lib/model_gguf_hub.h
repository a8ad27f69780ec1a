/* A hub directory in one GGUF file, as examples/vlm-quantize writes it:
 *
 *   general.architecture   "libvlm" (what marks such a file)
 *   libvlm.format_version  1 (a later version is VLM_ERR_UNSUPPORTED)
 *   libvlm.file.<name>     the text of the directory's file <name>
 *                          (config.json, required; tokenizer.json,
 *                          tokenizer_config.json, preprocessor_config.json,
 *                          processor_config.json, video_preprocessor_config.json,
 *                          generation_config.json, chat_template.json,
 *                          chat_template.jinja when the directory had them)
 *   libvlm.shape.<tensor>  INT64 array: the real shape, outermost first, of
 *                          a tensor of more than GGUF's 4 dimensions (stored
 *                          with its outer dimensions merged) or of none (a
 *                          scalar, stored as [1])
 *   tensors                the checkpoint's, under their Hugging Face names
 *
 * vlm_model_load reads it through the same path as the directory (model.c):
 * the configs parsed from the strings, the family binders given the file's
 * tensors as a vlmi_safetensors_set, the tokenizer from tokenizer.json. */
#ifndef VLM_MODEL_GGUF_HUB_H
#define VLM_MODEL_GGUF_HUB_H

#include "io/gguf.h"
#include "io/safetensors.h"
#include "model/hub_config.h"

#define VLMI_GGUF_HUB_ARCHITECTURE "libvlm"
#define VLMI_GGUF_HUB_FORMAT_VERSION 1

/* True when path is a GGUF file whose general.architecture is "libvlm"
 * (false for anything else, including files that fail to open: the GGUF
 * loader reports those). */
bool vlmi_gguf_hub_detect(const char *path);

/* The configuration of the embedded files. VLM_ERR_FORMAT naming the key
 * when libvlm.file.config.json is missing or a value is not a string. */
vlm_status vlmi_gguf_hub_config(const vlmi_gguf *gguf, vlmi_hub_config *out);

/* The tensors as a set (shapes restored from libvlm.shape.*). Caller owns
 * *out; it borrows from gguf. */
vlm_status vlmi_gguf_hub_weights(const vlmi_gguf *gguf, vlmi_safetensors_set **out);

/* The tokenizer of libvlm.file.tokenizer.json; *out NULL without one. */
vlm_status vlmi_gguf_hub_tokenizer(const vlmi_gguf *gguf, vlm_tokenizer **out);

#endif
