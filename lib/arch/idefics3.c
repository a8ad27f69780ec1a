/* Idefics3 / SmolVLM: binding and the family-specific steps (see idefics3.h). */
#include "arch/idefics3.h"
#include "arch/siglip.h"

#include "dispatch.h"

#include <stdlib.h>
#include <string.h>

#define TEXT_PREFIX "model.text_model."
#define VISION_PREFIX "model.vision_model."

// ----------------------------------------------------------------------------
// text model (Llama)

static vlm_status decoder_hparams(vlmi_decoder_hparams *hp, const vlmi_text_config *t) {
    if (strcmp(t->hidden_act, "silu") != 0)
        return vlmi_fail(VLM_ERR_UNSUPPORTED, "config.json: text_config.hidden_act '%s' "
                         "(only silu is supported)", t->hidden_act);
    if (strcmp(t->rope.type, "default") != 0 || t->rope.n_mrope_section != 0)
        return vlmi_fail(VLM_ERR_UNSUPPORTED, "config.json: text_config rope type '%s' "
                         "(only default RoPE is supported)", t->rope.type);
    /* the config parser has checked these are positive */
    *hp = (vlmi_decoder_hparams){
        .n_vocab = (size_t)t->vocab_size,
        .dim = (size_t)t->hidden_size,
        .ffn_dim = (size_t)t->intermediate_size,
        .n_layers = (size_t)t->num_hidden_layers,
        .n_heads = (size_t)t->num_attention_heads,
        .n_kv_heads = (size_t)t->num_key_value_heads,
        .head_dim = (size_t)t->head_dim,
        .norm_eps = (float)t->rms_norm_eps,
        .rope_theta = (float)t->rope.theta,
    };
    return VLM_OK;
}

static vlm_status bind_decoder(vlmi_decoder *dec, const vlmi_text_config *t,
                               bool tie_word_embeddings, const vlmi_safetensors_set *set) {
    vlmi_decoder_hparams hp;
    vlm_status st = decoder_hparams(&hp, t);
    if (st == VLM_OK) st = vlmi_decoder_init(dec, &hp);
    if (st != VLM_OK) return st;

    size_t dim = hp.dim, q_dim = hp.n_heads * hp.head_dim;
    size_t kv_dim = hp.n_kv_heads * hp.head_dim, ffn = hp.ffn_dim;
    const size_t vec[1] = {dim};
    st = vlmi_weights_matrix(&dec->token_embedding, set, hp.n_vocab, dim,
                             TEXT_PREFIX "embed_tokens.weight");
    for (size_t l = 0; st == VLM_OK && l < hp.n_layers; l++) {
        vlmi_decoder_layer *w = &dec->layers[l];
#define LAYER TEXT_PREFIX "layers.%zu."
        if (st == VLM_OK) st = vlmi_weights_load_f32(w->attn_norm, set, 1, vec, LAYER "input_layernorm.weight", l);
        if (st == VLM_OK) st = vlmi_weights_matrix(&w->wq, set, q_dim, dim, LAYER "self_attn.q_proj.weight", l);
        if (st == VLM_OK) st = vlmi_weights_matrix(&w->wk, set, kv_dim, dim, LAYER "self_attn.k_proj.weight", l);
        if (st == VLM_OK) st = vlmi_weights_matrix(&w->wv, set, kv_dim, dim, LAYER "self_attn.v_proj.weight", l);
        if (st == VLM_OK) st = vlmi_weights_matrix(&w->wo, set, dim, q_dim, LAYER "self_attn.o_proj.weight", l);
        if (st == VLM_OK) st = vlmi_weights_load_f32(w->ffn_norm, set, 1, vec, LAYER "post_attention_layernorm.weight", l);
        if (st == VLM_OK) st = vlmi_weights_matrix(&w->w_gate, set, ffn, dim, LAYER "mlp.gate_proj.weight", l);
        if (st == VLM_OK) st = vlmi_weights_matrix(&w->w_up, set, ffn, dim, LAYER "mlp.up_proj.weight", l);
        if (st == VLM_OK) st = vlmi_weights_matrix(&w->w_down, set, dim, ffn, LAYER "mlp.down_proj.weight", l);
#undef LAYER
    }
    if (st == VLM_OK) st = vlmi_weights_load_f32(dec->final_norm, set, 1, vec, TEXT_PREFIX "norm.weight");
    if (st == VLM_OK) {
        if (tie_word_embeddings)
            dec->lm_head = dec->token_embedding;
        else
            st = vlmi_weights_matrix(&dec->lm_head, set, hp.n_vocab, dim, "lm_head.weight");
    }
    if (st != VLM_OK) vlmi_decoder_free(dec);
    return st;
}

// ----------------------------------------------------------------------------
// connector

// x (side*side, dim) -> out (side*side / scale^2, dim * scale^2)
void vlmi_idefics3_pixel_shuffle(float *out, const float *x, size_t side, size_t dim,
                                 size_t scale) {
    size_t out_side = side / scale, out_dim = dim * scale * scale;
    for (size_t i = 0; i < out_side; i++)
        for (size_t j = 0; j < out_side; j++) {
            float *row = out + (i * out_side + j) * out_dim;
            for (size_t b = 0; b < scale; b++)
                for (size_t a = 0; a < scale; a++)
                    memcpy(row + (b * scale + a) * dim,
                           x + ((i * scale + b) * side + (j * scale + a)) * dim,
                           dim * sizeof(float));
        }
}

static vlm_status bind_connector(vlmi_idefics3 *model, const vlmi_model_config *config,
                                 const vlmi_safetensors_set *set) {
    const vlmi_vit_hparams *vp = &model->vision.hp;
    size_t side = vp->image_size / vp->patch_size;
    if (config->scale_factor <= 0 || side % (size_t)config->scale_factor != 0)
        return vlmi_fail(VLM_ERR_FORMAT, "config.json: scale_factor %d does not divide the "
                         "%zu patches per side", (int)config->scale_factor, side);
    size_t scale = (size_t)config->scale_factor;
    model->scale_factor = scale;
    model->image_seq_len = (side / scale) * (side / scale);
    return vlmi_weights_matrix(&model->connector, set, model->text.hp.dim,
                               vp->dim * scale * scale,
                               "model.connector.modality_projection.proj.weight");
}

// ----------------------------------------------------------------------------
// the whole model

vlm_status vlmi_idefics3_bind(vlmi_idefics3 *model, const vlmi_model_config *config,
                              const vlmi_safetensors_set *weights) {
    memset(model, 0, sizeof *model);
    /* transformers ties by the top-level flag; the parser reads text_config
     * first. Both are false in every SmolVLM release. */
    vlm_status st = bind_decoder(&model->text, &config->text,
                                 config->text.tie_word_embeddings, weights);
    if (st == VLM_OK) st = vlmi_siglip_bind(&model->vision, &config->vision, weights, VISION_PREFIX);
    if (st == VLM_OK) st = bind_connector(model, config, weights);
    if (st == VLM_OK && (config->image_token_id < 0 ||
                         config->image_token_id >= config->text.vocab_size))
        st = vlmi_fail(VLM_ERR_FORMAT, "config.json: image_token_id missing or outside "
                       "the vocabulary");
    if (st != VLM_OK) {
        vlmi_idefics3_free(model);
        return st;
    }
    model->image_token_id = (int32_t)config->image_token_id;
    return VLM_OK;
}

void vlmi_idefics3_free(vlmi_idefics3 *model) {
    if (model == NULL) return;
    vlmi_decoder_free(&model->text);
    vlmi_vit_free(&model->vision);
    memset(model, 0, sizeof *model);
}

// ----------------------------------------------------------------------------
// images and prompts

vlm_status vlmi_idefics3_image_state_create(const vlmi_idefics3 *model,
                                            vlmi_idefics3_image_state **out) {
    *out = NULL;
    const vlmi_vit_hparams *vp = &model->vision.hp;
    vlmi_idefics3_image_state *s = vlmi_calloc(1, sizeof *s);
    if (s == NULL) return VLM_ERR_OUT_OF_MEMORY;
    vlm_status st = vlmi_vit_state_create(&model->vision, &s->vit);
    if (st == VLM_OK) {
        /* the same number of floats before and after the shuffle */
        size_t n = vlmi_vit_n_patches(vp) * vp->dim;
        s->hidden = vlmi_calloc(n, sizeof(float));
        s->shuffled = vlmi_calloc(n, sizeof(float));
        if (s->hidden == NULL || s->shuffled == NULL) st = VLM_ERR_OUT_OF_MEMORY;
    }
    if (st != VLM_OK) {
        vlmi_idefics3_image_state_free(s);
        return st;
    }
    *out = s;
    return VLM_OK;
}

void vlmi_idefics3_image_state_free(vlmi_idefics3_image_state *s) {
    if (s == NULL) return;
    free(s->shuffled);
    free(s->hidden);
    vlmi_vit_state_free(s->vit);
    free(s);
}

// pixels (3, H, W) -> features (image_seq_len, text dim)
vlm_status vlmi_idefics3_encode_image(float *features, vlmi_idefics3_image_state *s,
                                      const vlmi_idefics3 *model, const float *pixels,
                                      size_t height, size_t width) {
    return vlmi_idefics3_encode_image_pool(features, s, model, pixels, height, width, NULL);
}

vlm_status vlmi_idefics3_encode_image_pool(float *features, vlmi_idefics3_image_state *s,
                                           const vlmi_idefics3 *model, const float *pixels,
                                           size_t height, size_t width,
                                           vlmi_threadpool *pool) {
    const vlmi_vit_hparams *vp = &model->vision.hp;

    // vision encoder
    vlm_status st = vlmi_vit_encode_pool(s->hidden, s->vit, &model->vision, pixels, height,
                                         width, pool);
    if (st != VLM_OK) return st;

    // pixel shuffle: scale x scale neighbours -> one row
    size_t side = vp->image_size / vp->patch_size;
    vlmi_idefics3_pixel_shuffle(s->shuffled, s->hidden, side, vp->dim, model->scale_factor);

    // modality projection into the text model's width
    const vlmi_matrix *proj = &model->connector;
    vlmi_matmul(pool, features, s->shuffled, proj->data, proj->dtype, NULL,
                model->image_seq_len, proj->cols, proj->rows);
    return VLM_OK;
}

// ids (n), image_features (n_image_rows, dim) -> out (n, dim)
vlm_status vlmi_idefics3_embed(float *out, const vlmi_idefics3 *model, const int32_t *ids,
                               size_t n, const float *image_features, size_t n_image_rows) {
    size_t n_image_tokens = 0;
    for (size_t i = 0; i < n; i++) n_image_tokens += ids[i] == model->image_token_id;
    if (n_image_tokens != n_image_rows)
        return vlmi_fail(VLM_ERR_INVALID_ARGUMENT, "prompt has %zu <image> tokens but the "
                         "images give %zu feature rows", n_image_tokens, n_image_rows);

    vlm_status st = vlmi_decoder_embed(out, &model->text, ids, n);
    if (st != VLM_OK) return st;
    size_t dim = model->text.hp.dim, next_row = 0;
    for (size_t i = 0; i < n; i++)
        if (ids[i] == model->image_token_id)
            memcpy(out + i * dim, image_features + (next_row++) * dim, dim * sizeof(float));
    return VLM_OK;
}
