/* The parts of llama.cpp's mmproj vision towers (tools/mtmd/clip.cpp) that
 * every projector type names alike: "v.blk.N." norms and attention, and the
 * ffn names of old files. Bound onto the vlmi ViT; the MLP and the
 * projector differ by family and stay in its binder. */
#ifndef VLM_ARCH_CLIP_GGUF_H
#define VLM_ARCH_CLIP_GGUF_H

#include "io/gguf.h"
#include "nn/vit.h"

/* Block l's ln1 and ln2 (their biases only for a LayerNorm tower) and
 * attn_q / attn_k / attn_v / attn_out with their biases, (dim, dim) each. */
vlm_status vlmi_clip_bind_block_attention(vlmi_vit_layer *w, const vlmi_gguf *g, size_t l,
                                          const vlmi_vit_hparams *hp);

/* clip.cpp is_ffn_swapped: files of the first converters named the MLP's
 * input projection ffn_down and its output ffn_up, recognised by ffn_down's
 * inner size being the tower's width. */
bool vlmi_clip_ffn_swapped(const vlmi_gguf *g, size_t l, size_t dim, size_t ffn);

#endif
