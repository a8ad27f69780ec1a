/* Gemma 3 from a GGUF file as llama.cpp converts it (see gemma3.h):
 * hyperparameters from the gemma3.* metadata with llama.cpp's fixed choices,
 * tensors by llama.cpp's names onto the same decoder as a hub checkpoint.
 *
 * What the metadata leaves out is llama.cpp's (src/llama-model.cpp, gemma3)
 * and agrees with transformers' Gemma3TextConfig defaults, which its GGUF
 * loader uses: every 6th layer global, the others sliding; RoPE base
 * rope.freq_base on the global layers and 10000 on the sliding ones;
 * attention scale 1/sqrt(key_length) (1/sqrt(hidden / heads) for the 62-layer
 * 27B); GELU tanh; tied LM head when there is no output.weight.
 *
 * GGUF writes dims innermost first; the reader reverses them, so shapes here
 * are PyTorch's (token_embd.weight is (n_vocab, hidden)). llama.cpp stores
 * every Gemma RMSNorm weight as 1 + w already: the norms are used as stored
 * (transformers' loader subtracts the 1 that Gemma3RMSNorm adds back). */
#include "arch/gemma3.h"

#include "arch/gguf_metadata.h"
#include "dispatch.h"
#include "io/gguf.h"
#include "kernels.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Bounds on sizes from the metadata: far above Gemma 3 27B's (hidden 5376,
 * 62 layers, ffn 21504, 32 heads, head_dim 128), so that a lying file cannot
 * make us allocate absurd buffers. */
#define MAX_HIDDEN (1 << 16)
#define MAX_FFN (1 << 20)
#define MAX_HEADS 1024
#define MAX_HEAD_DIM 1024
/* llama.cpp's gemma3 sliding-window pattern and local RoPE base */
#define GEMMA3_SWA_PATTERN 6
#define GEMMA3_LOCAL_ROPE_BASE 10000.0

// ----------------------------------------------------------------------------
// hyperparameters

/* A required size in [1, max]; messages name the file and key. */
static vlm_status get_size(const vlmi_gguf *g, const char *key, int64_t max, int32_t *out) {
    return vlmi_gguf_meta_int32(g, key, true, 1, max, 0, out);
}

/* The same for a key that may be absent (*out keeps def). */
static vlm_status get_size_or(const vlmi_gguf *g, const char *key, int64_t max, int32_t def,
                              int32_t *out) {
    return vlmi_gguf_meta_int32(g, key, false, 1, max, def, out);
}

/* The id of a control token spelled text, or -1 (llama.cpp's end-of-
 * generation tokens include Gemma's <end_of_turn>). */
static int64_t control_token(const vlmi_gguf *g, const char *text) {
    const vlmi_gguf_kv *tokens = vlmi_gguf_find_kv(g, "tokenizer.ggml.tokens");
    const vlmi_gguf_kv *types = vlmi_gguf_find_kv(g, "tokenizer.ggml.token_type");
    if (tokens == NULL || types == NULL || tokens->value.type != VLMI_GGUF_ARRAY ||
        tokens->value.elem_type != VLMI_GGUF_STRING || types->value.type != VLMI_GGUF_ARRAY)
        return -1;
    size_t want = strlen(text);
    vlmi_gguf_cursor cursor = { 0 };
    vlmi_gguf_value e, type;
    for (uint64_t i = 0; vlmi_gguf_array_next(&tokens->value, &cursor, &e); i++) {
        const char *s;
        size_t len;
        int64_t t;
        if (vlmi_gguf_value_string(&e, &s, &len) && len == want && memcmp(s, text, len) == 0 &&
            vlmi_gguf_array_get(&types->value, i, &type) && vlmi_gguf_value_int(&type, &t) && t == 3)
            return (int64_t)i;
    }
    return -1;
}

vlm_status vlmi_gemma3_gguf_config(vlmi_model_config *out, const vlmi_gguf *gguf) {
    memset(out, 0, sizeof *out);
    const char *file = vlmi_gguf_path(gguf);
    const char *arch;
    size_t arch_len;
    vlm_status st = vlmi_gguf_get_string(gguf, "general.architecture", &arch, &arch_len);
    if (st != VLM_OK) return st;
    if (arch_len != 6 || memcmp(arch, "gemma3", 6) != 0)
        return vlmi_fail(VLM_ERR_UNSUPPORTED, "%s: general.architecture '%.*s' is not gemma3",
                         file, (int)(arch_len > 64 ? 64 : arch_len), arch);
    snprintf(out->architecture, sizeof out->architecture, "Gemma3ForCausalLM");
    snprintf(out->model_type, sizeof out->model_type, "gemma3_text");
    out->image_token_id = out->video_token_id = -1;
    out->vision_start_token_id = out->vision_end_token_id = -1;
    out->boi_token_id = out->eoi_token_id = -1;

    vlmi_text_config *t = &out->text;
    snprintf(t->model_type, sizeof t->model_type, "gemma3_text");
    snprintf(t->hidden_act, sizeof t->hidden_act, "gelu_pytorch_tanh");
    int32_t value_length = 0;
    if ((st = get_size(gguf, "gemma3.embedding_length", MAX_HIDDEN, &t->hidden_size)) != VLM_OK ||
        (st = get_size(gguf, "gemma3.block_count", VLMI_CONFIG_MAX_LAYERS, &t->num_hidden_layers)) != VLM_OK ||
        (st = get_size(gguf, "gemma3.feed_forward_length", MAX_FFN, &t->intermediate_size)) != VLM_OK ||
        (st = get_size(gguf, "gemma3.attention.head_count", MAX_HEADS, &t->num_attention_heads)) != VLM_OK ||
        (st = get_size_or(gguf, "gemma3.attention.head_count_kv", MAX_HEADS, t->num_attention_heads,
                          &t->num_key_value_heads)) != VLM_OK ||
        (st = get_size_or(gguf, "gemma3.attention.key_length", MAX_HEAD_DIM,
                          t->hidden_size / t->num_attention_heads, &t->head_dim)) != VLM_OK ||
        (st = get_size_or(gguf, "gemma3.attention.value_length", MAX_HEAD_DIM, t->head_dim,
                          &value_length)) != VLM_OK ||
        (st = get_size(gguf, "gemma3.context_length", INT32_MAX, &t->max_position_embeddings)) != VLM_OK ||
        (st = get_size(gguf, "gemma3.attention.sliding_window", INT32_MAX, &t->sliding_window)) != VLM_OK ||
        (st = vlmi_gguf_meta_positive(gguf, "gemma3.attention.layer_norm_rms_epsilon", true, 1.0, 0.0,
                           &t->rms_norm_eps)) != VLM_OK ||
        (st = vlmi_gguf_meta_positive(gguf, "gemma3.rope.freq_base", false, 1e12, 1e6, &t->rope.theta)) != VLM_OK)
        return st;
    if (t->num_attention_heads % t->num_key_value_heads != 0 || t->head_dim < 2 ||
        t->head_dim % 2 != 0 || value_length != t->head_dim)
        return vlmi_fail(VLM_ERR_FORMAT, "%s: gemma3.attention: %d heads, %d kv heads, key_length "
                         "%d, value_length %d (kv heads must divide heads, key_length be even, "
                         "positive and equal value_length)", file, (int)t->num_attention_heads,
                         (int)t->num_key_value_heads, (int)t->head_dim, (int)value_length);

    // RoPE: linear scaling of the global layers when the file states it
    snprintf(t->rope.type, sizeof t->rope.type, "default");
    t->rope.factor = 1.0;
    if (vlmi_gguf_find_kv(gguf, "gemma3.rope.scaling.type") != NULL) {
        const char *type;
        size_t len;
        if ((st = vlmi_gguf_get_string(gguf, "gemma3.rope.scaling.type", &type, &len)) != VLM_OK)
            return st;
        if (len == 6 && memcmp(type, "linear", 6) == 0) {
            snprintf(t->rope.type, sizeof t->rope.type, "linear");
            if ((st = vlmi_gguf_meta_positive(gguf, "gemma3.rope.scaling.factor", true, 1e6, 1.0,
                                   &t->rope.factor)) != VLM_OK)
                return st;
        } else if (!(len == 4 && memcmp(type, "none", 4) == 0)) {
            return vlmi_fail(VLM_ERR_UNSUPPORTED, "%s: gemma3.rope.scaling.type '%.*s' (linear "
                             "or none)", file, (int)(len > 32 ? 32 : len), type);
        }
    }
    if ((st = vlmi_gguf_meta_positive(gguf, "gemma3.final_logit_softcapping", false, 1e6, 0.0,
                           &t->final_logit_softcapping)) != VLM_OK)
        return st;
    t->rope_local_base_freq = GEMMA3_LOCAL_ROPE_BASE;
    t->query_pre_attn_scalar = t->num_hidden_layers == 62 /* 27B */
                                   ? (double)(t->hidden_size / t->num_attention_heads)
                                   : (double)t->head_dim;
    t->sliding_window_pattern = GEMMA3_SWA_PATTERN;
    t->layer_is_sliding = vlmi_calloc((size_t)t->num_hidden_layers, 1);
    if (t->layer_is_sliding == NULL) return VLM_ERR_OUT_OF_MEMORY;
    for (int32_t l = 0; l < t->num_hidden_layers; l++)
        t->layer_is_sliding[l] = (l + 1) % GEMMA3_SWA_PATTERN != 0;

    // the vocabulary: the embedding's rows, which the tokenizer must match
    int32_t stated;
    if ((st = vlmi_gguf_meta_vocab_size(gguf, t->hidden_size, &t->vocab_size)) == VLM_OK &&
        (st = get_size_or(gguf, "gemma3.vocab_size", INT32_MAX, t->vocab_size, &stated)) == VLM_OK &&
        stated != t->vocab_size)
        st = vlmi_fail(VLM_ERR_FORMAT, "%s: gemma3.vocab_size is %d but token_embd.weight "
                       "has %d rows", file, (int)stated, (int)t->vocab_size);
    t->tie_word_embeddings = vlmi_gguf_find_tensor(gguf, "output.weight") == NULL;

    // special tokens: eos, and <end_of_turn> as llama.cpp ends generation at it
    int64_t eos = -1;
    if (st == VLM_OK) st = vlmi_gguf_meta_token_id(gguf, "tokenizer.ggml.bos_token_id", t->vocab_size, &t->bos_token_id);
    if (st == VLM_OK) st = vlmi_gguf_meta_token_id(gguf, "tokenizer.ggml.eos_token_id", t->vocab_size, &eos);
    if (st == VLM_OK) st = vlmi_gguf_meta_token_id(gguf, "tokenizer.ggml.padding_token_id", t->vocab_size, &t->pad_token_id);
    if (st == VLM_OK) {
        if (eos >= 0) t->eos_token_ids[t->n_eos_token_ids++] = eos;
        int64_t end_of_turn = control_token(gguf, "<end_of_turn>");
        if (end_of_turn >= 0 && end_of_turn != eos && end_of_turn < t->vocab_size)
            t->eos_token_ids[t->n_eos_token_ids++] = end_of_turn;
    }
    if (st != VLM_OK) vlmi_model_config_free(out);
    return st;
}

// ----------------------------------------------------------------------------
// tensors

/* A (rows, cols) weight, bound without copying. */
static vlm_status matrix(vlmi_matrix *out, const vlmi_gguf *g, size_t rows, size_t cols,
                         const char *name) {
    const size_t shape[2] = {rows, cols};
    return vlmi_weights_gguf_matrix(out, g, 2, shape, name);
}

/* A norm weight (n) as f32, used as stored: llama.cpp wrote 1 + w. */
static vlm_status norm(float *dst, const vlmi_gguf *g, size_t n, const char *name) {
    return vlmi_weights_gguf_load_f32(dst, g, n, name);
}

vlm_status vlmi_gemma3_bind_gguf(vlmi_gemma3 *model, const vlmi_model_config *config,
                                 const vlmi_gguf *gguf) {
    memset(model, 0, sizeof *model);
    model->image_token_id = -1;
    vlmi_decoder *dec = &model->text;
    const vlmi_tensor_info *embd = vlmi_gguf_find_tensor(gguf, "token_embd.weight");
    vlmi_decoder_hparams hp;
    vlm_status st = vlmi_gemma3_decoder_hparams(&hp, &config->text,
                                                embd ? embd->dtype : VLM_DTYPE_F32);
    if (st == VLM_OK) st = vlmi_decoder_init(dec, &hp);
    if (st != VLM_OK) return st;

    size_t dim = hp.dim, q_dim = hp.n_heads * hp.head_dim;
    size_t kv_dim = hp.n_kv_heads * hp.head_dim, ffn = hp.ffn_dim, hd = hp.head_dim;
    char name[64];
    st = matrix(&dec->token_embedding, gguf, hp.n_vocab, dim, "token_embd.weight");
    for (size_t l = 0; st == VLM_OK && l < hp.n_layers; l++) {
        vlmi_decoder_layer *w = &dec->layers[l];
#define NAME(s) (snprintf(name, sizeof name, "blk.%zu." s, l), name)
        if (st == VLM_OK) st = norm(w->attn_norm, gguf, dim, NAME("attn_norm.weight"));
        if (st == VLM_OK) st = matrix(&w->wq, gguf, q_dim, dim, NAME("attn_q.weight"));
        if (st == VLM_OK) st = matrix(&w->wk, gguf, kv_dim, dim, NAME("attn_k.weight"));
        if (st == VLM_OK) st = matrix(&w->wv, gguf, kv_dim, dim, NAME("attn_v.weight"));
        if (st == VLM_OK) st = matrix(&w->wo, gguf, dim, q_dim, NAME("attn_output.weight"));
        if (st == VLM_OK) st = norm(w->q_norm, gguf, hd, NAME("attn_q_norm.weight"));
        if (st == VLM_OK) st = norm(w->k_norm, gguf, hd, NAME("attn_k_norm.weight"));
        if (st == VLM_OK) st = norm(w->attn_post_norm, gguf, dim, NAME("post_attention_norm.weight"));
        if (st == VLM_OK) st = norm(w->ffn_norm, gguf, dim, NAME("ffn_norm.weight"));
        if (st == VLM_OK) st = matrix(&w->w_gate, gguf, ffn, dim, NAME("ffn_gate.weight"));
        if (st == VLM_OK) st = matrix(&w->w_up, gguf, ffn, dim, NAME("ffn_up.weight"));
        if (st == VLM_OK) st = matrix(&w->w_down, gguf, dim, ffn, NAME("ffn_down.weight"));
        if (st == VLM_OK) st = norm(w->ffn_post_norm, gguf, dim, NAME("post_ffw_norm.weight"));
#undef NAME
    }
    if (st == VLM_OK) st = norm(dec->final_norm, gguf, dim, "output_norm.weight");
    if (st == VLM_OK) {
        if (config->text.tie_word_embeddings)
            dec->lm_head = dec->token_embedding;
        else
            st = matrix(&dec->lm_head, gguf, hp.n_vocab, dim, "output.weight");
    }
    if (st != VLM_OK) vlmi_gemma3_free(model);
    return st;
}

// ----------------------------------------------------------------------------
// what the kernels read

/* Notes dtype once in missing (a NULL-ended list of room max). */
static void note_dtype(vlm_dtype *missing, size_t *n, size_t max, vlm_dtype dtype) {
    for (size_t i = 0; i < *n; i++) if (missing[i] == dtype) return;
    if (*n < max) missing[(*n)++] = dtype;
}

vlm_status vlmi_gemma3_check_kernels(const vlmi_gemma3 *model) {
    const vlmi_decoder *dec = &model->text;
    vlm_dtype missing[8];
    size_t n_missing = 0, n_matrices = 0;
    const vlmi_matrix *heads[1] = {&dec->lm_head};
    for (size_t l = 0; l <= dec->hp.n_layers; l++) {
        const vlmi_decoder_layer *w = l < dec->hp.n_layers ? &dec->layers[l] : NULL;
        const vlmi_matrix *layer[7] = {w ? &w->wq : NULL, w ? &w->wk : NULL, w ? &w->wv : NULL,
                                       w ? &w->wo : NULL, w ? &w->w_gate : NULL,
                                       w ? &w->w_up : NULL, w ? &w->w_down : NULL};
        const vlmi_matrix *const *list = w ? layer : heads;
        for (size_t k = 0; k < (w ? 7u : 1u); k++) {
            const vlmi_matrix *m = list[k];
            if (vlmi_kernels_weight_dtype_supported(m->dtype) &&
                vlmi_kernels_row_bytes(m->dtype, m->cols) != 0)
                continue;
            n_matrices++;
            note_dtype(missing, &n_missing, sizeof missing / sizeof missing[0], m->dtype);
        }
    }
    bool embed_ok = vlmi_ref_weight_dtype_supported(dec->token_embedding.dtype);
    if (embed_ok && n_missing == 0) return VLM_OK;
    char msg[256] = "";
    if (!embed_ok)
        snprintf(msg, sizeof msg, "the token embedding's row lookup reads no %s weights yet",
                 vlmi_dtype_name(dec->token_embedding.dtype));
    if (n_missing > 0) {
        snprintf(msg + strlen(msg), sizeof msg - strlen(msg), "%sno matmul kernel reads ",
                 embed_ok ? "" : "; ");
        for (size_t i = 0; i < n_missing; i++)
            snprintf(msg + strlen(msg), sizeof msg - strlen(msg), "%s%s", i ? ", " : "",
                     vlmi_dtype_name(missing[i]));
        snprintf(msg + strlen(msg), sizeof msg - strlen(msg), " weights yet (%zu matrices)",
                 n_matrices);
    }
    return vlmi_fail(VLM_ERR_UNSUPPORTED, "Gemma 3: %s", msg);
}
