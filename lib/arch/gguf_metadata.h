/* Reading a llama.cpp GGUF's metadata as the GGUF binders of lib/arch/ need
 * it: sizes and floats in a range, special token ids, tokens by their text.
 * Every failure names the file and the key (VLM_ERR_FORMAT). */
#ifndef VLM_ARCH_GGUF_METADATA_H
#define VLM_ARCH_GGUF_METADATA_H

#include "io/gguf.h"

/* An integer key in [lo, hi] into *out; def (and VLM_OK) when the key is
 * absent and not required. */
vlm_status vlmi_gguf_meta_int32(const vlmi_gguf *g, const char *key, bool required, int64_t lo,
                                int64_t hi, int32_t def, int32_t *out);

/* A float key in (0, max]; def when absent and not required. */
vlm_status vlmi_gguf_meta_positive(const vlmi_gguf *g, const char *key, bool required,
                                   double max, double def, double *out);

/* A token id key (tokenizer.ggml.eos_token_id ...) inside [0, n_vocab);
 * -1 when absent. */
vlm_status vlmi_gguf_meta_token_id(const vlmi_gguf *g, const char *key, int64_t n_vocab,
                                   int64_t *out);

/* The id of the token spelled text in tokenizer.ggml.tokens, or -1 (also
 * when the file has no vocabulary). */
int64_t vlmi_gguf_meta_vocab_id(const vlmi_gguf *g, const char *text);

/* Three finite floats (clip.vision.image_mean / image_std); positive: all > 0. */
vlm_status vlmi_gguf_meta_triple(const vlmi_gguf *g, const char *key, bool positive, double *out);

/* The vocabulary size: the rows of token_embd.weight (n_vocab, hidden),
 * which tokenizer.ggml.tokens must match when present. A missing embedding is
 * VLM_ERR_FORMAT, one of another rank VLM_ERR_SHAPE. */
vlm_status vlmi_gguf_meta_vocab_size(const vlmi_gguf *g, int32_t hidden, int32_t *out);

#endif
