/* Gemma 3 language model: binding onto the shared decoder (see gemma3.h). */
#include "arch/gemma3.h"

#include "kernels.h"

#include <math.h>
#include <stdio.h>
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
// the whole model

vlm_status vlmi_gemma3_bind(vlmi_gemma3 *model, const vlmi_model_config *config,
                            const vlmi_safetensors_set *weights) {
    memset(model, 0, sizeof *model);
    vlm_status st = bind_decoder(&model->text, &config->text, weights);
    if (st != VLM_OK) vlmi_gemma3_free(model);
    return st;
}

void vlmi_gemma3_free(vlmi_gemma3 *model) {
    if (model == NULL) return;
    vlmi_decoder_free(&model->text);
    memset(model, 0, sizeof *model);
}
