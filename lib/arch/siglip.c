/* The SigLIP vision tower from a Hugging Face checkpoint (see siglip.h). */
#include "arch/siglip.h"

#include <string.h>

static vlm_status vit_hparams(vlmi_vit_hparams *hp, const vlmi_vision_config *v) {
    if (!v->present)
        return vlmi_fail(VLM_ERR_FORMAT, "config.json: vision_config missing");
    vlmi_vit_activation act;
    if (strcmp(v->hidden_act, "gelu_pytorch_tanh") == 0)
        act = VLMI_VIT_GELU_TANH;
    else if (strcmp(v->hidden_act, "gelu") == 0)
        act = VLMI_VIT_GELU_ERF;
    else
        return vlmi_fail(VLM_ERR_UNSUPPORTED, "config.json: vision_config.hidden_act '%s' "
                         "(gelu_pytorch_tanh or gelu)", v->hidden_act);
    if (v->image_size <= 0 || v->patch_size <= 0)
        return vlmi_fail(VLM_ERR_FORMAT, "config.json: vision_config.image_size and "
                         "patch_size must be positive");
    *hp = (vlmi_vit_hparams){
        .dim = (size_t)v->hidden_size,
        .ffn_dim = (size_t)v->intermediate_size,
        .n_layers = (size_t)v->num_hidden_layers,
        .n_heads = (size_t)v->num_attention_heads,
        .n_channels = (size_t)v->num_channels,
        .image_size = (size_t)v->image_size,
        .patch_size = (size_t)v->patch_size,
        .norm_eps = (float)v->layer_norm_eps,
        .activation = act,
    };
    return VLM_OK;
}

vlm_status vlmi_siglip_bind(vlmi_vit *vit, const vlmi_vision_config *v,
                            const vlmi_safetensors_set *set, const char *p) {
    vlmi_vit_hparams hp;
    vlm_status st = vit_hparams(&hp, v);
    if (st == VLM_OK) st = vlmi_vit_init(vit, &hp);
    if (st != VLM_OK) return st;

    size_t dim = hp.dim, ffn = hp.ffn_dim, ps = hp.patch_size;
    const size_t vec[1] = {dim}, ffn_vec[1] = {ffn};
    const size_t conv[4] = {dim, hp.n_channels, ps, ps};
    st = vlmi_weights_matrix_nd(&vit->patch_embedding, set, 4, conv,
                                "%sembeddings.patch_embedding.weight", p);
    if (st == VLM_OK) st = vlmi_weights_load_f32(vit->patch_bias, set, 1, vec, "%sembeddings.patch_embedding.bias", p);
    if (st == VLM_OK) st = vlmi_weights_matrix(&vit->position_embedding, set, vlmi_vit_n_patches(&hp), dim, "%sembeddings.position_embedding.weight", p);
    for (size_t l = 0; st == VLM_OK && l < hp.n_layers; l++) {
        vlmi_vit_layer *w = &vit->layers[l];
#define LAYER "%sencoder.layers.%zu."
        if (st == VLM_OK) st = vlmi_weights_load_f32(w->ln1_weight, set, 1, vec, LAYER "layer_norm1.weight", p, l);
        if (st == VLM_OK) st = vlmi_weights_load_f32(w->ln1_bias, set, 1, vec, LAYER "layer_norm1.bias", p, l);
        if (st == VLM_OK) st = vlmi_weights_matrix(&w->wq, set, dim, dim, LAYER "self_attn.q_proj.weight", p, l);
        if (st == VLM_OK) st = vlmi_weights_load_f32(w->bq, set, 1, vec, LAYER "self_attn.q_proj.bias", p, l);
        if (st == VLM_OK) st = vlmi_weights_matrix(&w->wk, set, dim, dim, LAYER "self_attn.k_proj.weight", p, l);
        if (st == VLM_OK) st = vlmi_weights_load_f32(w->bk, set, 1, vec, LAYER "self_attn.k_proj.bias", p, l);
        if (st == VLM_OK) st = vlmi_weights_matrix(&w->wv, set, dim, dim, LAYER "self_attn.v_proj.weight", p, l);
        if (st == VLM_OK) st = vlmi_weights_load_f32(w->bv, set, 1, vec, LAYER "self_attn.v_proj.bias", p, l);
        if (st == VLM_OK) st = vlmi_weights_matrix(&w->wo, set, dim, dim, LAYER "self_attn.out_proj.weight", p, l);
        if (st == VLM_OK) st = vlmi_weights_load_f32(w->bo, set, 1, vec, LAYER "self_attn.out_proj.bias", p, l);
        if (st == VLM_OK) st = vlmi_weights_load_f32(w->ln2_weight, set, 1, vec, LAYER "layer_norm2.weight", p, l);
        if (st == VLM_OK) st = vlmi_weights_load_f32(w->ln2_bias, set, 1, vec, LAYER "layer_norm2.bias", p, l);
        if (st == VLM_OK) st = vlmi_weights_matrix(&w->fc1, set, ffn, dim, LAYER "mlp.fc1.weight", p, l);
        if (st == VLM_OK) st = vlmi_weights_load_f32(w->fc1_bias, set, 1, ffn_vec, LAYER "mlp.fc1.bias", p, l);
        if (st == VLM_OK) st = vlmi_weights_matrix(&w->fc2, set, dim, ffn, LAYER "mlp.fc2.weight", p, l);
        if (st == VLM_OK) st = vlmi_weights_load_f32(w->fc2_bias, set, 1, vec, LAYER "mlp.fc2.bias", p, l);
#undef LAYER
    }
    if (st == VLM_OK) st = vlmi_weights_load_f32(vit->post_norm_weight, set, 1, vec, "%spost_layernorm.weight", p);
    if (st == VLM_OK) st = vlmi_weights_load_f32(vit->post_norm_bias, set, 1, vec, "%spost_layernorm.bias", p);
    if (st != VLM_OK) vlmi_vit_free(vit);
    return st;
}
