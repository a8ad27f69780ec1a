/* Gemma 3 language model: binding onto the shared decoder (see gemma3.h). */
#include "arch/gemma3.h"
#include "arch/siglip.h"

#include "dispatch.h"
#include "kernels.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// ----------------------------------------------------------------------------
// hyperparameters

/* sqrt(hidden_size) as Gemma3TextScaledWordEmbedding applies it: a Python
 * float made an f32 tensor, then cast to the embedding weight's dtype. */
static float embedding_scale(size_t hidden_size, vlm_dtype dtype) {
    float scale = (float)sqrt((double)hidden_size);
    if (dtype == VLM_DTYPE_BF16) return vlmi_bf16_to_f32(vlmi_f32_to_bf16(scale));
    if (dtype == VLM_DTYPE_F16) return vlmi_f16_to_f32(vlmi_f32_to_f16(scale));
    return scale;
}

vlm_status vlmi_gemma3_decoder_hparams(vlmi_decoder_hparams *hp, const vlmi_text_config *t,
                                       vlm_dtype embedding_dtype) {
    if (strcmp(t->hidden_act, "gelu_pytorch_tanh") != 0)
        return vlmi_fail(VLM_ERR_UNSUPPORTED, "config.json: text_config.hidden_activation '%s' "
                         "(only gelu_pytorch_tanh is supported)", t->hidden_act);
    bool linear = strcmp(t->rope.type, "linear") == 0;
    if ((!linear && strcmp(t->rope.type, "default") != 0) || t->rope.n_mrope_section != 0)
        return vlmi_fail(VLM_ERR_UNSUPPORTED, "config.json: text_config rope type '%s' "
                         "(default or linear)", t->rope.type);
    /* the config parser has checked sizes positive and the window set where
     * a layer slides */
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
        .activation = VLMI_DECODER_GELU_TANH,
        .embed_scale = embedding_scale((size_t)t->hidden_size, embedding_dtype),
        .qk_norm = true,
        .post_norms = true,
        /* Gemma3Attention.scaling = query_pre_attn_scalar**-0.5 (0: head_dim's) */
        .attn_scale = t->query_pre_attn_scalar > 0.0
                          ? (float)pow(t->query_pre_attn_scalar, -0.5) : 0.0f,
        /* attn_logit_softcapping is not applied: Gemma3Attention keeps it but
         * never passes it to the attention (transformers 5.24), and no Gemma 3
         * release sets it */
        .final_softcap = (float)t->final_logit_softcapping,
        .rope_freq_scale = linear ? (float)t->rope.factor : 0.0f,
        .sliding_window = t->sliding_window > 0 ? (size_t)t->sliding_window : 0,
        .layer_is_sliding = t->sliding_window > 0 ? t->layer_is_sliding : NULL,
        .rope_theta_sliding = (float)t->rope_local_base_freq,
    };
    return VLM_OK;
}

// ----------------------------------------------------------------------------
// weights

/* Where the language model's tensors live, by the checkpoint's layout. */
typedef struct name_layout {
    const char *prefix;   /* before "embed_tokens.weight", "layers.N.", "norm.weight" */
    const char *lm_head;  /* the untied LM head */
} name_layout;

static const name_layout layouts[] = {
    {"model.language_model.", "lm_head.weight"},                /* transformers 5 save */
    {"language_model.model.", "language_model.lm_head.weight"}, /* Hub 4.x checkpoints */
    /* ShieldGemma2ForImageClassification wraps the model as "model." */
    {"model.model.language_model.model.", "model.lm_head.weight"}, /* transformers 5.24 save */
    {"model.language_model.model.", "model.language_model.lm_head.weight"}, /* Hub 4.x */
    {"model.", "lm_head.weight"},                               /* Gemma3ForCausalLM */
};

static const name_layout *find_layout(const vlmi_safetensors_set *set) {
    char name[96];
    for (size_t i = 0; i < sizeof layouts / sizeof layouts[0]; i++) {
        snprintf(name, sizeof name, "%sembed_tokens.weight", layouts[i].prefix);
        if (vlmi_safetensors_set_find(set, name) != NULL) return &layouts[i];
    }
    return &layouts[sizeof layouts / sizeof layouts[0] - 1]; /* its name in the error */
}

/* A Gemma RMSNorm weight w, stored as the 1 + w the kernel multiplies by
 * (Gemma3RMSNorm: x_normed * (1.0 + w.float()), the same f32 sum). */
static vlm_status load_norm(float *dst, const vlmi_safetensors_set *set, size_t n,
                            const char *prefix, const char *name, size_t layer) {
    char full[160];
    snprintf(full, sizeof full, "%slayers.%zu.%s", prefix, layer, name);
    const size_t shape[1] = {n};
    vlm_status st = vlmi_weights_load_f32(dst, set, 1, shape, "%s", full);
    if (st == VLM_OK)
        for (size_t i = 0; i < n; i++) dst[i] = 1.0f + dst[i];
    return st;
}

static vlm_status bind_decoder(vlmi_decoder *dec, const vlmi_text_config *t,
                               const vlmi_safetensors_set *set) {
    const name_layout *names = find_layout(set);
    const char *p = names->prefix;
    char embed_name[96];
    snprintf(embed_name, sizeof embed_name, "%sembed_tokens.weight", p);
    const vlmi_tensor_info *embed = vlmi_safetensors_set_find(set, embed_name);

    vlmi_decoder_hparams hp;
    vlm_status st = vlmi_gemma3_decoder_hparams(&hp, t, embed ? embed->dtype : VLM_DTYPE_F32);
    if (st == VLM_OK) st = vlmi_decoder_init(dec, &hp);
    if (st != VLM_OK) return st;

    size_t dim = hp.dim, q_dim = hp.n_heads * hp.head_dim;
    size_t kv_dim = hp.n_kv_heads * hp.head_dim, ffn = hp.ffn_dim, hd = hp.head_dim;
    st = vlmi_weights_matrix(&dec->token_embedding, set, hp.n_vocab, dim, "%s", embed_name);
    for (size_t l = 0; st == VLM_OK && l < hp.n_layers; l++) {
        vlmi_decoder_layer *w = &dec->layers[l];
#define LAYER "%slayers.%zu."
        if (st == VLM_OK) st = load_norm(w->attn_norm, set, dim, p, "input_layernorm.weight", l);
        if (st == VLM_OK) st = vlmi_weights_matrix(&w->wq, set, q_dim, dim, LAYER "self_attn.q_proj.weight", p, l);
        if (st == VLM_OK) st = vlmi_weights_matrix(&w->wk, set, kv_dim, dim, LAYER "self_attn.k_proj.weight", p, l);
        if (st == VLM_OK) st = vlmi_weights_matrix(&w->wv, set, kv_dim, dim, LAYER "self_attn.v_proj.weight", p, l);
        if (st == VLM_OK) st = vlmi_weights_matrix(&w->wo, set, dim, q_dim, LAYER "self_attn.o_proj.weight", p, l);
        if (st == VLM_OK) st = load_norm(w->q_norm, set, hd, p, "self_attn.q_norm.weight", l);
        if (st == VLM_OK) st = load_norm(w->k_norm, set, hd, p, "self_attn.k_norm.weight", l);
        if (st == VLM_OK) st = load_norm(w->attn_post_norm, set, dim, p, "post_attention_layernorm.weight", l);
        if (st == VLM_OK) st = load_norm(w->ffn_norm, set, dim, p, "pre_feedforward_layernorm.weight", l);
        if (st == VLM_OK) st = vlmi_weights_matrix(&w->w_gate, set, ffn, dim, LAYER "mlp.gate_proj.weight", p, l);
        if (st == VLM_OK) st = vlmi_weights_matrix(&w->w_up, set, ffn, dim, LAYER "mlp.up_proj.weight", p, l);
        if (st == VLM_OK) st = vlmi_weights_matrix(&w->w_down, set, dim, ffn, LAYER "mlp.down_proj.weight", p, l);
        if (st == VLM_OK) st = load_norm(w->ffn_post_norm, set, dim, p, "post_feedforward_layernorm.weight", l);
#undef LAYER
    }
    if (st == VLM_OK) {
        const size_t vec[1] = {dim};
        st = vlmi_weights_load_f32(dec->final_norm, set, 1, vec, "%snorm.weight", p);
        for (size_t i = 0; st == VLM_OK && i < dim; i++) dec->final_norm[i] += 1.0f;
    }
    if (st == VLM_OK) {
        if (t->tie_word_embeddings)
            dec->lm_head = dec->token_embedding;
        else
            st = vlmi_weights_matrix(&dec->lm_head, set, hp.n_vocab, dim, "%s", names->lm_head);
    }
    if (st != VLM_OK) vlmi_decoder_free(dec);
    return st;
}

// ----------------------------------------------------------------------------
// vision tower (SigLIP)

/* Where the tower's and the projector's tensors live: the first prefix under
 * which the patch embedding / the projection exists. */
static const char *const vision_prefixes[] = {
    "vision_tower.vision_model.",       /* Hub 4.x checkpoints */
    "model.vision_tower.vision_model.", /* early transformers 5 saves */
    "vision_tower.",                    /* transformers 5.24 save_pretrained */
    "model.vision_tower.",              /* transformers 5 in-memory names */
    "model.model.vision_tower.",        /* ShieldGemma 2, transformers 5.24 save */
};
static const char *const projector_prefixes[] = {
    "multi_modal_projector.",
    "model.multi_modal_projector.",
    "model.model.multi_modal_projector.", /* ShieldGemma 2, transformers 5.24 save */
};

static const char *find_prefix(const vlmi_safetensors_set *set, const char *const *prefixes,
                               size_t n, const char *suffix) {
    char name[160];
    for (size_t i = 0; i < n; i++) {
        snprintf(name, sizeof name, "%s%s", prefixes[i], suffix);
        if (vlmi_safetensors_set_find(set, name) != NULL) return prefixes[i];
    }
    return prefixes[0]; /* its name in the error */
}

// ----------------------------------------------------------------------------
// multimodal projector

static vlm_status bind_projector(vlmi_gemma3 *model, const vlmi_model_config *config,
                                 const vlmi_safetensors_set *set) {
    const vlmi_vit_hparams *vp = &model->vision.hp;
    size_t side = vp->image_size / vp->patch_size;
    int32_t tokens = config->mm_tokens_per_image;
    size_t tokens_side = tokens > 0 ? (size_t)lround(sqrt((double)tokens)) : 0;
    if (tokens <= 0 || tokens_side * tokens_side != (size_t)tokens || side % tokens_side != 0 ||
        vp->image_size % vp->patch_size != 0)
        return vlmi_fail(VLM_ERR_FORMAT, "config.json: mm_tokens_per_image %d does not pool "
                         "the %zux%zu patch grid of vision_config", (int)tokens, side, side);
    model->patches_per_side = side;
    model->pool_kernel = side / tokens_side;
    model->tokens_per_image = (size_t)tokens;
    model->mm_norm_eps = (float)config->vision.layer_norm_eps;

    const char *p = find_prefix(set, projector_prefixes,
                                sizeof projector_prefixes / sizeof projector_prefixes[0],
                                "mm_input_projection_weight");
    size_t vdim = vp->dim, tdim = model->text.hp.dim;
    model->mm_norm = vlmi_calloc(vdim, sizeof(float));
    float *stored = vlmi_calloc(vdim * tdim, sizeof(float));
    model->mm_projection_storage = vlmi_calloc(vdim * tdim, sizeof(float));
    if (model->mm_norm == NULL || stored == NULL || model->mm_projection_storage == NULL) {
        free(stored);
        return VLM_ERR_OUT_OF_MEMORY;
    }
    const size_t norm_shape[1] = {vdim}, proj_shape[2] = {vdim, tdim};
    vlm_status st = vlmi_weights_load_f32(model->mm_norm, set, 1, norm_shape,
                                          "%smm_soft_emb_norm.weight", p);
    for (size_t i = 0; st == VLM_OK && i < vdim; i++) model->mm_norm[i] += 1.0f;
    if (st == VLM_OK)
        st = vlmi_weights_load_f32(stored, set, 2, proj_shape, "%smm_input_projection_weight", p);
    // (vision, text) as stored -> (text, vision), the layout the matmul reads
    if (st == VLM_OK)
        for (size_t v = 0; v < vdim; v++)
            for (size_t t = 0; t < tdim; t++)
                model->mm_projection_storage[t * vdim + v] = stored[v * tdim + t];
    free(stored);
    model->projection = (vlmi_matrix){model->mm_projection_storage, VLM_DTYPE_F32, tdim, vdim};
    return st;
}

// ----------------------------------------------------------------------------
// the whole model

vlm_status vlmi_gemma3_bind(vlmi_gemma3 *model, const vlmi_model_config *config,
                            const vlmi_safetensors_set *weights) {
    memset(model, 0, sizeof *model);
    model->image_token_id = -1;
    vlm_status st = bind_decoder(&model->text, &config->text, weights);
    if (st == VLM_OK && config->vision.present) {
        model->has_vision = true;
        st = vlmi_siglip_bind(&model->vision, &config->vision, weights,
                              find_prefix(weights, vision_prefixes,
                                          sizeof vision_prefixes / sizeof vision_prefixes[0],
                                          "embeddings.patch_embedding.weight"));
        if (st == VLM_OK) st = bind_projector(model, config, weights);
        if (st == VLM_OK && (config->image_token_id < 0 || config->image_token_id > INT32_MAX))
            st = vlmi_fail(VLM_ERR_FORMAT, "config.json: image_token_index missing");
        if (st == VLM_OK) model->image_token_id = (int32_t)config->image_token_id;
    }
    if (st != VLM_OK) vlmi_gemma3_free(model);
    return st;
}

void vlmi_gemma3_free(vlmi_gemma3 *model) {
    if (model == NULL) return;
    vlmi_decoder_free(&model->text);
    vlmi_vit_free(&model->vision);
    free(model->mm_norm);
    free(model->mm_projection_storage);
    memset(model, 0, sizeof *model);
    model->image_token_id = -1;
}

// ----------------------------------------------------------------------------
// images and prompts

vlm_status vlmi_gemma3_image_state_create(const vlmi_gemma3 *model,
                                          vlmi_gemma3_image_state **out) {
    *out = NULL;
    if (!model->has_vision)
        return vlmi_fail(VLM_ERR_STATE, "Gemma 3: the model has no vision tower");
    const vlmi_vit_hparams *vp = &model->vision.hp;
    vlmi_gemma3_image_state *s = vlmi_calloc(1, sizeof *s);
    if (s == NULL) return VLM_ERR_OUT_OF_MEMORY;
    vlm_status st = vlmi_vit_state_create(&model->vision, &s->vit);
    if (st == VLM_OK) {
        s->hidden = vlmi_calloc(vlmi_vit_n_patches(vp) * vp->dim, sizeof(float));
        s->pooled = vlmi_calloc(model->tokens_per_image * vp->dim, sizeof(float));
        if (s->hidden == NULL || s->pooled == NULL) st = VLM_ERR_OUT_OF_MEMORY;
    }
    if (st != VLM_OK) {
        vlmi_gemma3_image_state_free(s);
        return st;
    }
    *out = s;
    return VLM_OK;
}

void vlmi_gemma3_image_state_free(vlmi_gemma3_image_state *s) {
    if (s == NULL) return;
    free(s->pooled);
    free(s->hidden);
    vlmi_vit_state_free(s->vit);
    free(s);
}

/* nn.AvgPool2d(kernel, stride=kernel) over the patch grid, per channel: the
 * kernel x kernel sum divided by its area.
 * x (side*side, dim) -> out ((side/kernel)^2, dim) */
static void average_pool(float *out, const float *x, size_t side, size_t dim, size_t kernel) {
    size_t out_side = side / kernel;
    float area = (float)(kernel * kernel);
    for (size_t i = 0; i < out_side; i++)
        for (size_t j = 0; j < out_side; j++) {
            float *row = out + (i * out_side + j) * dim;
            memset(row, 0, dim * sizeof(float));
            for (size_t b = 0; b < kernel; b++)
                for (size_t a = 0; a < kernel; a++) {
                    const float *src = x + ((i * kernel + b) * side + (j * kernel + a)) * dim;
                    for (size_t d = 0; d < dim; d++) row[d] += src[d];
                }
            for (size_t d = 0; d < dim; d++) row[d] /= area;
        }
}

/* Gemma3RMSNorm in place: x * rsqrt(mean(x^2) + eps) * (1 + w), the 1 + w
 * folded into weight at bind time. x (n, dim) */
static void gemma_rmsnorm(float *x, const float *weight, size_t n, size_t dim, float eps) {
    for (size_t r = 0; r < n; r++) {
        float *row = x + r * dim;
        double sum = 0.0;
        for (size_t d = 0; d < dim; d++) sum += (double)row[d] * row[d];
        float inv = 1.0f / sqrtf((float)(sum / (double)dim) + eps);
        for (size_t d = 0; d < dim; d++) row[d] = row[d] * inv * weight[d];
    }
}

// pixels (3, S, S) -> features (tokens_per_image, text dim)
vlm_status vlmi_gemma3_encode_image_pool(float *features, vlmi_gemma3_image_state *s,
                                         const vlmi_gemma3 *model, const float *pixels,
                                         vlmi_threadpool *pool) {
    if (!model->has_vision)
        return vlmi_fail(VLM_ERR_STATE, "Gemma 3: the model has no vision tower");
    const vlmi_vit_hparams *vp = &model->vision.hp;

    // vision tower, post-LayerNorm
    vlm_status st = vlmi_vit_encode_pool(s->hidden, s->vit, &model->vision, pixels,
                                         vp->image_size, vp->image_size, pool);
    if (st != VLM_OK) return st;

    // average pool the patch grid to tokens_per_image rows
    average_pool(s->pooled, s->hidden, model->patches_per_side, vp->dim, model->pool_kernel);

    // soft-embedding norm, then the projection into the text model's width
    gemma_rmsnorm(s->pooled, model->mm_norm, model->tokens_per_image, vp->dim,
                  model->mm_norm_eps);
    const vlmi_matrix *proj = &model->projection;
    vlmi_matmul(pool, features, s->pooled, proj->data, proj->dtype, NULL,
                model->tokens_per_image, proj->cols, proj->rows);
    return VLM_OK;
}

// ids (n), image_rows (n_image_rows, dim) -> out (n, dim), bidirectional (n)
vlm_status vlmi_gemma3_embed(float *out, const vlmi_gemma3 *model, const int32_t *ids,
                             size_t n, const float *image_rows, size_t n_image_rows,
                             uint8_t *bidirectional) {
    /* a text-only model (also one bound from a GGUF) has no image token */
    int32_t image_id = model->has_vision ? model->image_token_id : -1;
    size_t n_image_tokens = 0;
    for (size_t i = 0; i < n; i++) n_image_tokens += image_id >= 0 && ids[i] == image_id;
    if (n_image_tokens != n_image_rows)
        return vlmi_fail(VLM_ERR_INVALID_ARGUMENT, "prompt has %zu <image_soft_token> ids but "
                         "the images give %zu rows", n_image_tokens, n_image_rows);

    size_t dim = model->text.hp.dim, next_row = 0;
    for (size_t i = 0; i < n;) {
        if (image_id >= 0 && ids[i] == image_id) {
            memcpy(out + i * dim, image_rows + (next_row++) * dim, dim * sizeof(float));
            if (bidirectional != NULL) bidirectional[i] = 1;
            i++;
            continue;
        }
        // a run of text ids, embedded and scaled together
        size_t end = i;
        while (end < n && !(image_id >= 0 && ids[end] == image_id)) end++;
        vlm_status st = vlmi_decoder_embed(out + i * dim, &model->text, ids + i, end - i);
        if (st != VLM_OK) return st;
        if (bidirectional != NULL) memset(bidirectional + i, 0, end - i);
        i = end;
    }
    return VLM_OK;
}
