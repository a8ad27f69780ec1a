/* Shared mmproj tower binding (see clip_gguf.h). */
#include "arch/clip_gguf.h"

#include <stdio.h>

vlm_status vlmi_clip_bind_block_attention(vlmi_vit_layer *w, const vlmi_gguf *g, size_t l,
                                          const vlmi_vit_hparams *hp) {
    size_t dim = hp->dim;
    bool biased_norms = hp->norm == VLMI_VIT_LAYERNORM;
    const size_t square[2] = {dim, dim};
    char name[64];
#define NAME(s) (snprintf(name, sizeof name, "v.blk.%zu." s, l), name)
    vlm_status st = vlmi_weights_gguf_load_f32(w->ln1_weight, g, dim, NAME("ln1.weight"));
    if (st == VLM_OK && biased_norms) st = vlmi_weights_gguf_load_f32(w->ln1_bias, g, dim, NAME("ln1.bias"));
    if (st == VLM_OK) st = vlmi_weights_gguf_matrix(&w->wq, g, 2, square, NAME("attn_q.weight"));
    if (st == VLM_OK) st = vlmi_weights_gguf_load_f32(w->bq, g, dim, NAME("attn_q.bias"));
    if (st == VLM_OK) st = vlmi_weights_gguf_matrix(&w->wk, g, 2, square, NAME("attn_k.weight"));
    if (st == VLM_OK) st = vlmi_weights_gguf_load_f32(w->bk, g, dim, NAME("attn_k.bias"));
    if (st == VLM_OK) st = vlmi_weights_gguf_matrix(&w->wv, g, 2, square, NAME("attn_v.weight"));
    if (st == VLM_OK) st = vlmi_weights_gguf_load_f32(w->bv, g, dim, NAME("attn_v.bias"));
    if (st == VLM_OK) st = vlmi_weights_gguf_matrix(&w->wo, g, 2, square, NAME("attn_out.weight"));
    if (st == VLM_OK) st = vlmi_weights_gguf_load_f32(w->bo, g, dim, NAME("attn_out.bias"));
    if (st == VLM_OK) st = vlmi_weights_gguf_load_f32(w->ln2_weight, g, dim, NAME("ln2.weight"));
    if (st == VLM_OK && biased_norms) st = vlmi_weights_gguf_load_f32(w->ln2_bias, g, dim, NAME("ln2.bias"));
#undef NAME
    return st;
}

bool vlmi_clip_ffn_swapped(const vlmi_gguf *g, size_t l, size_t dim, size_t ffn) {
    char name[64];
    snprintf(name, sizeof name, "v.blk.%zu.ffn_down.weight", l);
    const vlmi_tensor_info *d = vlmi_gguf_find_tensor(g, name);
    return d != NULL && d->n_dims == 2 && d->shape[1] == (int64_t)dim && ffn != dim;
}
