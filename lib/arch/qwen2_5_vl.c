/* Qwen2.5-VL: binding and the family-specific steps (see qwen2_5_vl.h). */
#include "arch/qwen2_5_vl.h"

#include "dispatch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* modeling_qwen2_5_vl hard-codes the merger's ln_q epsilon */
#define MERGER_NORM_EPS 1e-6f

/* Where the tensors live, by the checkpoint's layout. */
typedef struct name_layout {
    const char *text;    /* before "embed_tokens.weight", "layers.N.", "norm.weight" */
    const char *vision;  /* before "patch_embed.", "blocks.N.", "merger." */
} name_layout;

static const name_layout layouts[] = {
    {"model.", "visual."},                         /* transformers 5 save, Hub 4.x */
    {"model.language_model.", "model.visual."},    /* transformers 5 module names */
};

static const name_layout *find_layout(const vlmi_safetensors_set *set) {
    char name[96];
    for (size_t i = 0; i < sizeof layouts / sizeof layouts[0]; i++) {
        snprintf(name, sizeof name, "%sembed_tokens.weight", layouts[i].text);
        if (vlmi_safetensors_set_find(set, name) != NULL) return &layouts[i];
    }
    return &layouts[0]; /* its names in the errors */
}

// ----------------------------------------------------------------------------
// text model (Qwen2 with M-RoPE)

vlm_status vlmi_qwen2_5_vl_decoder_hparams(vlmi_decoder_hparams *hp, const vlmi_text_config *t) {
    if (strcmp(t->hidden_act, "silu") != 0)
        return vlmi_fail(VLM_ERR_UNSUPPORTED, "config.json: text_config.hidden_act '%s' "
                         "(only silu is supported)", t->hidden_act);
    /* 4.x configs say "mrope", transformers 5 rewrites it to "default" */
    if (strcmp(t->rope.type, "default") != 0 && strcmp(t->rope.type, "mrope") != 0)
        return vlmi_fail(VLM_ERR_UNSUPPORTED, "config.json: text_config rope type '%s' "
                         "(default or mrope)", t->rope.type);
    if (t->rope.n_mrope_section != 0 && t->rope.n_mrope_section != VLMI_DECODER_MROPE_AXES)
        return vlmi_fail(VLM_ERR_UNSUPPORTED, "config.json: mrope_section has %d entries "
                         "(3: temporal, height, width)", (int)t->rope.n_mrope_section);
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
        .qkv_bias = true,
        /* use_sliding_window: the layers from max_window_layers on (or as
         * layer_types says) see the last sliding_window tokens, at the
         * global rope_theta (the config parser resolves which) */
        .sliding_window = t->sliding_window > 0 ? (size_t)t->sliding_window : 0,
        .layer_is_sliding = t->sliding_window > 0 ? t->layer_is_sliding : NULL,
    };
    for (int32_t a = 0; a < t->rope.n_mrope_section; a++)
        hp->mrope_section[a] = (size_t)t->rope.mrope_section[a];
    return VLM_OK;
}

static vlm_status bind_decoder(vlmi_decoder *dec, const vlmi_text_config *t,
                               const name_layout *names, const vlmi_safetensors_set *set) {
    vlmi_decoder_hparams hp;
    vlm_status st = vlmi_qwen2_5_vl_decoder_hparams(&hp, t);
    if (st == VLM_OK) st = vlmi_decoder_init(dec, &hp);
    if (st != VLM_OK) return st;

    const char *p = names->text;
    size_t dim = hp.dim, q_dim = hp.n_heads * hp.head_dim;
    size_t kv_dim = hp.n_kv_heads * hp.head_dim, ffn = hp.ffn_dim;
    const size_t vec[1] = {dim}, q_vec[1] = {q_dim}, kv_vec[1] = {kv_dim};
    st = vlmi_weights_matrix(&dec->token_embedding, set, hp.n_vocab, dim,
                             "%sembed_tokens.weight", p);
    for (size_t l = 0; st == VLM_OK && l < hp.n_layers; l++) {
        vlmi_decoder_layer *w = &dec->layers[l];
#define LAYER "%slayers.%zu."
        if (st == VLM_OK) st = vlmi_weights_load_f32(w->attn_norm, set, 1, vec, LAYER "input_layernorm.weight", p, l);
        if (st == VLM_OK) st = vlmi_weights_matrix(&w->wq, set, q_dim, dim, LAYER "self_attn.q_proj.weight", p, l);
        if (st == VLM_OK) st = vlmi_weights_load_f32(w->bq, set, 1, q_vec, LAYER "self_attn.q_proj.bias", p, l);
        if (st == VLM_OK) st = vlmi_weights_matrix(&w->wk, set, kv_dim, dim, LAYER "self_attn.k_proj.weight", p, l);
        if (st == VLM_OK) st = vlmi_weights_load_f32(w->bk, set, 1, kv_vec, LAYER "self_attn.k_proj.bias", p, l);
        if (st == VLM_OK) st = vlmi_weights_matrix(&w->wv, set, kv_dim, dim, LAYER "self_attn.v_proj.weight", p, l);
        if (st == VLM_OK) st = vlmi_weights_load_f32(w->bv, set, 1, kv_vec, LAYER "self_attn.v_proj.bias", p, l);
        if (st == VLM_OK) st = vlmi_weights_matrix(&w->wo, set, dim, q_dim, LAYER "self_attn.o_proj.weight", p, l);
        if (st == VLM_OK) st = vlmi_weights_load_f32(w->ffn_norm, set, 1, vec, LAYER "post_attention_layernorm.weight", p, l);
        if (st == VLM_OK) st = vlmi_weights_matrix(&w->w_gate, set, ffn, dim, LAYER "mlp.gate_proj.weight", p, l);
        if (st == VLM_OK) st = vlmi_weights_matrix(&w->w_up, set, ffn, dim, LAYER "mlp.up_proj.weight", p, l);
        if (st == VLM_OK) st = vlmi_weights_matrix(&w->w_down, set, dim, ffn, LAYER "mlp.down_proj.weight", p, l);
#undef LAYER
    }
    if (st == VLM_OK) st = vlmi_weights_load_f32(dec->final_norm, set, 1, vec, "%snorm.weight", p);
    if (st == VLM_OK) {
        if (t->tie_word_embeddings)
            dec->lm_head = dec->token_embedding;
        else
            st = vlmi_weights_matrix(&dec->lm_head, set, hp.n_vocab, dim, "lm_head.weight");
    }
    if (st != VLM_OK) vlmi_decoder_free(dec);
    return st;
}

// ----------------------------------------------------------------------------
// vision model (windowed ViT with 2-D rotary)

vlm_status vlmi_qwen2_5_vl_vit_hparams(vlmi_vit_hparams *hp, const vlmi_vision_config *v,
                                       uint8_t *full_attention) {
    if (!v->present)
        return vlmi_fail(VLM_ERR_FORMAT, "config.json: vision_config missing");
    if (strcmp(v->hidden_act, "silu") != 0)
        return vlmi_fail(VLM_ERR_UNSUPPORTED, "config.json: vision_config.hidden_act '%s' "
                         "(only silu is supported)", v->hidden_act);
    if (v->spatial_merge_size <= 0 || v->temporal_patch_size <= 0 || v->window_size < 0)
        return vlmi_fail(VLM_ERR_FORMAT, "config.json: vision_config.spatial_merge_size and "
                         "temporal_patch_size must be positive");
    size_t merge = (size_t)v->spatial_merge_size, patch = (size_t)v->patch_size;
    for (int32_t i = 0; i < v->n_fullatt_block_indexes; i++)
        full_attention[v->fullatt_block_indexes[i]] = 1; /* the parser checked < depth */
    *hp = (vlmi_vit_hparams){
        .dim = (size_t)v->hidden_size,
        .ffn_dim = (size_t)v->intermediate_size,
        .n_layers = (size_t)v->num_hidden_layers,
        .n_heads = (size_t)v->num_attention_heads,
        .n_channels = (size_t)v->num_channels,
        .patch_size = patch,
        .norm_eps = (float)v->layer_norm_eps,
        .activation = VLMI_VIT_SILU,
        .norm = VLMI_VIT_RMSNORM,
        .gated_mlp = true,
        .rope_theta = v->rope_theta > 0.0 ? (float)v->rope_theta
                                          : VLMI_QWEN2_5_VL_VISION_ROPE_THETA,
        .temporal_patch_size = (size_t)v->temporal_patch_size,
        .merge_size = merge,
        /* vit_merger_window_size = window_size // spatial_merge_size // patch_size */
        .window_groups = (size_t)v->window_size / merge / patch,
        .layer_full_attention = full_attention,
    };
    return VLM_OK;
}

/* Rows [first, first + rows) of a bound (n, cols) matrix, as a matrix. */
static vlmi_matrix matrix_rows(const vlmi_matrix *m, size_t first, size_t rows) {
    size_t row_bytes = vlmi_kernels_row_bytes(m->dtype, m->cols);
    return (vlmi_matrix){.data = (const unsigned char *)m->data + first * row_bytes,
                         .dtype = m->dtype, .rows = rows, .cols = m->cols};
}

static vlm_status bind_vit(vlmi_vit *vit, const vlmi_vision_config *v, const name_layout *names,
                           const vlmi_safetensors_set *set) {
    vlmi_vit_hparams hp;
    uint8_t *full_attention = vlmi_calloc((size_t)v->num_hidden_layers + 1, 1);
    if (full_attention == NULL) return VLM_ERR_OUT_OF_MEMORY;
    vlm_status st = vlmi_qwen2_5_vl_vit_hparams(&hp, v, full_attention);
    if (st == VLM_OK) st = vlmi_vit_init(vit, &hp);
    free(full_attention);
    if (st != VLM_OK) return st;

    const char *p = names->vision;
    size_t dim = hp.dim, ffn = hp.ffn_dim, ps = hp.patch_size;
    const size_t vec[1] = {dim}, ffn_vec[1] = {ffn}, qkv_vec[1] = {3 * dim};
    const size_t conv[5] = {dim, hp.n_channels, hp.temporal_patch_size, ps, ps};
    float *qkv_bias = vlmi_calloc(3 * dim, sizeof(float)); /* split into bq, bk, bv */
    if (qkv_bias == NULL) {
        vlmi_vit_free(vit);
        return VLM_ERR_OUT_OF_MEMORY;
    }
    st = vlmi_weights_matrix_nd(&vit->patch_embedding, set, 5, conv,
                                "%spatch_embed.proj.weight", p);
    for (size_t l = 0; st == VLM_OK && l < hp.n_layers; l++) {
        vlmi_vit_layer *w = &vit->layers[l];
        vlmi_matrix qkv;
#define LAYER "%sblocks.%zu."
        if (st == VLM_OK) st = vlmi_weights_load_f32(w->ln1_weight, set, 1, vec, LAYER "norm1.weight", p, l);
        if (st == VLM_OK) st = vlmi_weights_matrix(&qkv, set, 3 * dim, dim, LAYER "attn.qkv.weight", p, l);
        if (st == VLM_OK) st = vlmi_weights_load_f32(qkv_bias, set, 1, qkv_vec, LAYER "attn.qkv.bias", p, l);
        if (st == VLM_OK) {
            /* the fused projection's row ranges: q, k, v */
            w->wq = matrix_rows(&qkv, 0, dim);
            w->wk = matrix_rows(&qkv, dim, dim);
            w->wv = matrix_rows(&qkv, 2 * dim, dim);
            memcpy(w->bq, qkv_bias, dim * sizeof(float));
            memcpy(w->bk, qkv_bias + dim, dim * sizeof(float));
            memcpy(w->bv, qkv_bias + 2 * dim, dim * sizeof(float));
        }
        if (st == VLM_OK) st = vlmi_weights_matrix(&w->wo, set, dim, dim, LAYER "attn.proj.weight", p, l);
        if (st == VLM_OK) st = vlmi_weights_load_f32(w->bo, set, 1, vec, LAYER "attn.proj.bias", p, l);
        if (st == VLM_OK) st = vlmi_weights_load_f32(w->ln2_weight, set, 1, vec, LAYER "norm2.weight", p, l);
        if (st == VLM_OK) st = vlmi_weights_matrix(&w->fc1, set, ffn, dim, LAYER "mlp.gate_proj.weight", p, l);
        if (st == VLM_OK) st = vlmi_weights_load_f32(w->fc1_bias, set, 1, ffn_vec, LAYER "mlp.gate_proj.bias", p, l);
        if (st == VLM_OK) st = vlmi_weights_matrix(&w->w_up, set, ffn, dim, LAYER "mlp.up_proj.weight", p, l);
        if (st == VLM_OK) st = vlmi_weights_load_f32(w->up_bias, set, 1, ffn_vec, LAYER "mlp.up_proj.bias", p, l);
        if (st == VLM_OK) st = vlmi_weights_matrix(&w->fc2, set, dim, ffn, LAYER "mlp.down_proj.weight", p, l);
        if (st == VLM_OK) st = vlmi_weights_load_f32(w->fc2_bias, set, 1, vec, LAYER "mlp.down_proj.bias", p, l);
#undef LAYER
    }
    free(qkv_bias);
    if (st != VLM_OK) vlmi_vit_free(vit);
    return st;
}

// ----------------------------------------------------------------------------
// patch merger

static vlm_status bind_merger(vlmi_qwen2_5_vl *model, const vlmi_model_config *config,
                              const name_layout *names, const vlmi_safetensors_set *set) {
    const char *p = names->vision;
    size_t vdim = model->vision.hp.dim, merge = model->vision.hp.merge_size;
    size_t wide, out = model->text.hp.dim;
    if (__builtin_mul_overflow(merge, merge, &wide) || __builtin_mul_overflow(vdim, wide, &wide))
        return vlmi_fail(VLM_ERR_FORMAT, "config.json: vision_config.spatial_merge_size %zu is "
                         "out of range", merge);
    if (config->vision.out_hidden_size != 0 && (size_t)config->vision.out_hidden_size != out)
        return vlmi_fail(VLM_ERR_FORMAT, "config.json: vision_config.out_hidden_size %d is not "
                         "the text hidden_size %zu", (int)config->vision.out_hidden_size, out);
    /* the matrices' shapes first: they bound the sizes allocated below by
     * what the file holds, whatever the config claims */
    vlm_status st = vlmi_weights_matrix(&model->merger_fc1, set, wide, wide, "%smerger.mlp.0.weight", p);
    if (st == VLM_OK) st = vlmi_weights_matrix(&model->merger_fc2, set, out, wide, "%smerger.mlp.2.weight", p);
    if (st != VLM_OK) return st;
    model->merger_storage = vlmi_calloc(vdim + wide + out, sizeof(float));
    if (model->merger_storage == NULL) return VLM_ERR_OUT_OF_MEMORY;
    model->merger_norm = model->merger_storage;
    model->merger_fc1_bias = model->merger_norm + vdim;
    model->merger_fc2_bias = model->merger_fc1_bias + wide;
    const size_t norm_vec[1] = {vdim}, wide_vec[1] = {wide}, out_vec[1] = {out};
    st = vlmi_weights_load_f32(model->merger_norm, set, 1, norm_vec, "%smerger.ln_q.weight", p);
    if (st == VLM_OK) st = vlmi_weights_load_f32(model->merger_fc1_bias, set, 1, wide_vec, "%smerger.mlp.0.bias", p);
    if (st == VLM_OK) st = vlmi_weights_load_f32(model->merger_fc2_bias, set, 1, out_vec, "%smerger.mlp.2.bias", p);
    return st;
}

// ----------------------------------------------------------------------------
// the whole model

vlm_status vlmi_qwen2_5_vl_bind(vlmi_qwen2_5_vl *model, const vlmi_model_config *config,
                                const vlmi_safetensors_set *weights) {
    memset(model, 0, sizeof *model);
    const name_layout *names = find_layout(weights);
    vlm_status st = bind_decoder(&model->text, &config->text, names, weights);
    if (st == VLM_OK) st = bind_vit(&model->vision, &config->vision, names, weights);
    if (st == VLM_OK) st = bind_merger(model, config, names, weights);
    if (st == VLM_OK) st = vlmi_qwen2_5_vl_set_rope_params(model, config, "config.json");
    if (st != VLM_OK) vlmi_qwen2_5_vl_free(model);
    return st;
}

vlm_status vlmi_qwen2_5_vl_set_rope_params(vlmi_qwen2_5_vl *model,
                                           const vlmi_model_config *config, const char *source) {
    int64_t vocab = config->text.vocab_size;
    if (config->image_token_id < 0 || config->image_token_id >= vocab ||
        config->video_token_id < 0 || config->video_token_id >= vocab)
        return vlmi_fail(VLM_ERR_FORMAT, "%s: image_token_id or video_token_id missing or "
                         "outside the vocabulary", source);
    model->rope = (vlmi_qwen2vl_rope_params){
        .image_token_id = (int32_t)config->image_token_id,
        .video_token_id = (int32_t)config->video_token_id,
        .spatial_merge_size = (uint32_t)config->vision.spatial_merge_size,
        .tokens_per_second = (uint32_t)config->vision.tokens_per_second,
    };
    return VLM_OK;
}

void vlmi_qwen2_5_vl_free(vlmi_qwen2_5_vl *model) {
    if (model == NULL) return;
    vlmi_decoder_free(&model->text);
    vlmi_vit_free(&model->vision);
    free(model->merger_storage);
    free(model->patch_storage);
    memset(model, 0, sizeof *model);
}

// ----------------------------------------------------------------------------
// images and prompts

vlm_status vlmi_qwen2_5_vl_image_state_create(const vlmi_qwen2_5_vl *model, size_t max_patches,
                                              vlmi_qwen2_5_vl_image_state **out) {
    *out = NULL;
    const vlmi_vit_hparams *vp = &model->vision.hp;
    size_t n_floats;
    if (vlmi_mul_overflow(max_patches, vp->dim, &n_floats))
        return vlmi_fail(VLM_ERR_LIMIT, "Qwen2.5-VL: %zu patches are too many", max_patches);
    vlmi_qwen2_5_vl_image_state *s = vlmi_calloc(1, sizeof *s);
    if (s == NULL) return VLM_ERR_OUT_OF_MEMORY;
    s->max_patches = max_patches;
    vlm_status st = vlmi_vit_state_create_rows(&model->vision, max_patches, &s->vit);
    if (st == VLM_OK) {
        /* the merger's groups hold as many floats as the rows they merge */
        s->hidden = vlmi_calloc(n_floats, sizeof(float));
        s->merged = vlmi_calloc(n_floats, sizeof(float));
        s->inner = vlmi_calloc(n_floats, sizeof(float));
        if (!s->hidden || !s->merged || !s->inner) st = VLM_ERR_OUT_OF_MEMORY;
    }
    if (st != VLM_OK) {
        vlmi_qwen2_5_vl_image_state_free(s);
        return st;
    }
    *out = s;
    return VLM_OK;
}

void vlmi_qwen2_5_vl_image_state_free(vlmi_qwen2_5_vl_image_state *s) {
    if (s == NULL) return;
    free(s->inner);
    free(s->merged);
    free(s->hidden);
    vlmi_vit_state_free(s->vit);
    free(s);
}

// pixel_values (n_rows, C*T*P*P) -> features (n_rows / merge^2, text dim)
vlm_status vlmi_qwen2_5_vl_encode_image_pool(float *features, vlmi_qwen2_5_vl_image_state *s,
                                             const vlmi_qwen2_5_vl *model,
                                             const float *pixel_values, size_t n_rows,
                                             size_t grid_t, size_t grid_h, size_t grid_w,
                                             vlmi_threadpool *pool) {
    const vlmi_vit_hparams *vp = &model->vision.hp;
    size_t merge = vp->merge_size, group_rows = merge * merge;
    size_t n_grid;
    if (vlmi_mul_overflow(grid_t, grid_h, &n_grid) || vlmi_mul_overflow(n_grid, grid_w, &n_grid) ||
        n_grid != n_rows)
        return vlmi_fail(VLM_ERR_INVALID_ARGUMENT, "Qwen2.5-VL: grid (%zu, %zu, %zu) does not "
                         "match the %zu pixel rows", grid_t, grid_h, grid_w, n_rows);

    // vision encoder
    vlm_status st = vlmi_vit_encode_rows_pool(s->hidden, s->vit, &model->vision, pixel_values,
                                              grid_t, grid_h, grid_w, pool);
    if (st != VLM_OK) return st;

    // patch merger: ln_q on every row, each group's rows side by side (they
    // are consecutive), then Linear -> GELU -> Linear into the text width
    const vlmi_kernel_table *k = vlmi_kernels();
    size_t n_groups = n_rows / group_rows, wide = vp->dim * group_rows;
    k->rmsnorm(s->merged, s->hidden, model->merger_norm, n_rows, vp->dim, MERGER_NORM_EPS);
    const vlmi_matrix *fc1 = &model->merger_fc1, *fc2 = &model->merger_fc2;
    vlmi_matmul(pool, s->inner, s->merged, fc1->data, fc1->dtype, model->merger_fc1_bias,
                n_groups, wide, fc1->rows);
    k->gelu_erf(s->inner, s->inner, n_groups * wide);
    vlmi_matmul(pool, features, s->inner, fc2->data, fc2->dtype, model->merger_fc2_bias,
                n_groups, wide, fc2->rows);
    return VLM_OK;
}

// ids (n), image_rows (n_image_rows, dim) -> out (n, dim)
vlm_status vlmi_qwen2_5_vl_embed(float *out, const vlmi_qwen2_5_vl *model, const int32_t *ids,
                                 size_t n, const float *image_rows, size_t n_image_rows) {
    size_t n_placeholders = 0;
    for (size_t i = 0; i < n; i++)
        n_placeholders += ids[i] == model->rope.image_token_id ||
                          ids[i] == model->rope.video_token_id;
    if (n_placeholders != n_image_rows)
        return vlmi_fail(VLM_ERR_INVALID_ARGUMENT, "prompt has %zu image/video placeholder "
                         "tokens but the images give %zu feature rows", n_placeholders,
                         n_image_rows);

    vlm_status st = vlmi_decoder_embed(out, &model->text, ids, n);
    if (st != VLM_OK) return st;
    size_t dim = model->text.hp.dim, next_row = 0;
    for (size_t i = 0; i < n; i++)
        if (ids[i] == model->rope.image_token_id || ids[i] == model->rope.video_token_id)
            memcpy(out + i * dim, image_rows + (next_row++) * dim, dim * sizeof(float));
    return VLM_OK;
}
