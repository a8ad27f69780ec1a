/* Qwen2.5-VL's language model from a GGUF file as llama.cpp converts it
 * (convert_hf_to_gguf.py, Qwen2VLModel: general.architecture "qwen2vl"),
 * onto the same decoder as a hub checkpoint (see qwen2_5_vl.h).
 *
 * What the file states (llama.cpp src/llama-arch.cpp, llama-model.cpp for
 * LLM_ARCH_QWEN2VL): qwen2vl.{embedding_length, block_count,
 * feed_forward_length, context_length, attention.head_count,
 * attention.head_count_kv, attention.layer_norm_rms_epsilon, rope.freq_base,
 * rope.dimension_sections} (four entries, t / h / w and a 0 llama.cpp pads
 * with), tensors token_embd, blk.N.{attn_norm, attn_q, attn_k, attn_v (each
 * with its bias), attn_output, ffn_norm, ffn_gate, ffn_up, ffn_down},
 * output_norm and output unless the head is tied. Shapes here are PyTorch's
 * (the reader reverses ggml's ne[]).
 *
 * What it leaves out is llama.cpp's choice, which agrees with transformers'
 * Qwen2.5-VL: SiLU, rope.freq_base 10000 when absent (llama_model_loader's
 * default), a tied head when output.weight is absent, and generation ending
 * at eos and at the end-of-generation tokens llama-vocab.cpp recognises by
 * their text (<|im_end|>, <|endoftext|>), which is the eos list of
 * Qwen2.5-VL's generation_config.json. The placeholder tokens
 * (<|image_pad|>, <|video_pad|>, <|vision_start|>, <|vision_end|>) are found
 * by their text in tokenizer.ggml.tokens, as Qwen2_5_VLProcessor finds them
 * in the tokenizer. */
#include "arch/qwen2_5_vl.h"

#include "arch/gguf_metadata.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ARCH "qwen2vl"
#define KEY(suffix) ARCH "." suffix

/* Bounds on sizes from the metadata, far above Qwen2.5-VL-72B's (hidden
 * 8192, 80 layers, ffn 29568, 64 heads), so that a lying file cannot make us
 * allocate absurd buffers. */
#define MAX_HIDDEN (1 << 16)
#define MAX_FFN (1 << 20)
#define MAX_HEADS 1024
#define MAX_HEAD_DIM 1024
/* llama_model_loader's rope.freq_base when the file has none */
#define LLAMA_DEFAULT_ROPE_BASE 10000.0
/* llama.cpp writes 4 rope sections; the 4th (unused by Qwen2-VL's M-RoPE) is 0 */
#define GGUF_ROPE_SECTIONS 4

// ----------------------------------------------------------------------------
// metadata

/* qwen2vl.rope.dimension_sections: rotary pairs per axis (t, h, w, 0) that
 * must cover the head's head_dim / 2 pairs. */
static vlm_status get_rope_sections(vlmi_rope_config *rope, const vlmi_gguf *g,
                                    int32_t head_dim) {
    const char *key = KEY("rope.dimension_sections");
    const vlmi_gguf_kv *kv = vlmi_gguf_find_kv(g, key);
    if (kv == NULL)
        return vlmi_fail(VLM_ERR_FORMAT, "%s: %s missing (Qwen2-VL's multimodal RoPE)",
                         vlmi_gguf_path(g), key);
    int64_t s[GGUF_ROPE_SECTIONS] = {0}, sum = 0;
    bool ok = kv->value.type == VLMI_GGUF_ARRAY && kv->value.n_elems >= VLMI_DECODER_MROPE_AXES &&
              kv->value.n_elems <= GGUF_ROPE_SECTIONS;
    vlmi_gguf_value e;
    for (uint64_t i = 0; ok && i < kv->value.n_elems; i++) {
        ok = vlmi_gguf_array_get(&kv->value, i, &e) && vlmi_gguf_value_int(&e, &s[i]) &&
             s[i] >= 0 && s[i] <= MAX_HEAD_DIM;
        sum += ok ? s[i] : 0;
    }
    if (!ok || s[VLMI_DECODER_MROPE_AXES] != 0 || sum * 2 != head_dim)
        return vlmi_fail(VLM_ERR_FORMAT, "%s: %s must be 3 or 4 non-negative integers, the "
                         "4th 0, covering the %d rotary pairs of a head (head_dim %d)",
                         vlmi_gguf_path(g), key, (int)(head_dim / 2), (int)head_dim);
    rope->n_mrope_section = VLMI_DECODER_MROPE_AXES;
    for (int a = 0; a < VLMI_DECODER_MROPE_AXES; a++) rope->mrope_section[a] = (int32_t)s[a];
    return VLM_OK;
}

/* eos, then llama.cpp's end-of-generation tokens of a Qwen vocabulary. */
static vlm_status get_stop_ids(vlmi_text_config *t, const vlmi_gguf *g) {
    static const char *const end_of_generation[] = {"<|im_end|>", "<|endoftext|>"};
    int64_t eos;
    vlm_status st = vlmi_gguf_meta_token_id(g, "tokenizer.ggml.eos_token_id", t->vocab_size, &eos);
    if (st != VLM_OK) return st;
    if (eos >= 0) t->eos_token_ids[t->n_eos_token_ids++] = eos;
    for (size_t i = 0; i < sizeof end_of_generation / sizeof end_of_generation[0]; i++) {
        int64_t id = vlmi_gguf_meta_vocab_id(g, end_of_generation[i]);
        if (id >= 0 && id != eos && id < t->vocab_size)
            t->eos_token_ids[t->n_eos_token_ids++] = id;
    }
    return VLM_OK;
}

/* The placeholder and vision markers, by their text; -1 when absent. */
static void get_vision_tokens(vlmi_model_config *out, const vlmi_gguf *g) {
    out->image_token_id = vlmi_gguf_meta_vocab_id(g, "<|image_pad|>");
    out->video_token_id = vlmi_gguf_meta_vocab_id(g, "<|video_pad|>");
    out->vision_start_token_id = vlmi_gguf_meta_vocab_id(g, "<|vision_start|>");
    out->vision_end_token_id = vlmi_gguf_meta_vocab_id(g, "<|vision_end|>");
}

static vlm_status text_config(vlmi_text_config *t, const vlmi_gguf *g) {
    const char *file = vlmi_gguf_path(g);
    snprintf(t->model_type, sizeof t->model_type, "qwen2_5_vl_text");
    snprintf(t->hidden_act, sizeof t->hidden_act, "silu");
    int32_t value_length = 0;
    vlm_status st;
    if ((st = vlmi_gguf_meta_int32(g, KEY("embedding_length"), true, 1, MAX_HIDDEN, 0, &t->hidden_size)) != VLM_OK ||
        (st = vlmi_gguf_meta_int32(g, KEY("block_count"), true, 1, VLMI_CONFIG_MAX_LAYERS, 0, &t->num_hidden_layers)) != VLM_OK ||
        (st = vlmi_gguf_meta_int32(g, KEY("feed_forward_length"), true, 1, MAX_FFN, 0, &t->intermediate_size)) != VLM_OK ||
        (st = vlmi_gguf_meta_int32(g, KEY("context_length"), true, 1, INT32_MAX, 0, &t->max_position_embeddings)) != VLM_OK ||
        (st = vlmi_gguf_meta_int32(g, KEY("attention.head_count"), true, 1, MAX_HEADS, 0, &t->num_attention_heads)) != VLM_OK ||
        (st = vlmi_gguf_meta_int32(g, KEY("attention.head_count_kv"), false, 1, MAX_HEADS, t->num_attention_heads,
                        &t->num_key_value_heads)) != VLM_OK ||
        (st = vlmi_gguf_meta_int32(g, KEY("attention.key_length"), false, 1, MAX_HEAD_DIM,
                        t->hidden_size / t->num_attention_heads, &t->head_dim)) != VLM_OK ||
        (st = vlmi_gguf_meta_int32(g, KEY("attention.value_length"), false, 1, MAX_HEAD_DIM, t->head_dim,
                        &value_length)) != VLM_OK ||
        (st = vlmi_gguf_meta_positive(g, KEY("attention.layer_norm_rms_epsilon"), true, 1.0, 0.0,
                           &t->rms_norm_eps)) != VLM_OK ||
        (st = vlmi_gguf_meta_positive(g, KEY("rope.freq_base"), false, 1e12, LLAMA_DEFAULT_ROPE_BASE,
                           &t->rope.theta)) != VLM_OK)
        return st;
    if (t->num_attention_heads % t->num_key_value_heads != 0 || t->head_dim < 2 ||
        t->head_dim % 2 != 0 || value_length != t->head_dim)
        return vlmi_fail(VLM_ERR_FORMAT, "%s: " ARCH ".attention: %d heads, %d kv heads, "
                         "key_length %d, value_length %d (kv heads must divide heads, key_length "
                         "be even and equal value_length)", file, (int)t->num_attention_heads,
                         (int)t->num_key_value_heads, (int)t->head_dim, (int)value_length);
    if (vlmi_gguf_find_kv(g, KEY("rope.scaling.type")) != NULL) {
        const char *type;
        size_t len;
        if ((st = vlmi_gguf_get_string(g, KEY("rope.scaling.type"), &type, &len)) != VLM_OK)
            return st;
        if (!(len == 4 && memcmp(type, "none", 4) == 0))
            return vlmi_fail(VLM_ERR_UNSUPPORTED, "%s: " KEY("rope.scaling.type") " '%.*s' "
                             "(only none)", file, (int)(len > 32 ? 32 : len), type);
    }
    snprintf(t->rope.type, sizeof t->rope.type, "default");
    t->rope.factor = 1.0;
    if ((st = get_rope_sections(&t->rope, g, t->head_dim)) != VLM_OK ||
        (st = vlmi_gguf_meta_vocab_size(g, t->hidden_size, &t->vocab_size)) != VLM_OK ||
        (st = vlmi_gguf_meta_token_id(g, "tokenizer.ggml.bos_token_id", t->vocab_size, &t->bos_token_id)) != VLM_OK ||
        (st = vlmi_gguf_meta_token_id(g, "tokenizer.ggml.padding_token_id", t->vocab_size, &t->pad_token_id)) != VLM_OK)
        return st;
    t->tie_word_embeddings = vlmi_gguf_find_tensor(g, "output.weight") == NULL;
    return get_stop_ids(t, g);
}

vlm_status vlmi_qwen2_5_vl_gguf_config(vlmi_model_config *out, const vlmi_gguf *gguf) {
    memset(out, 0, sizeof *out);
    const char *arch;
    size_t arch_len;
    vlm_status st = vlmi_gguf_get_string(gguf, "general.architecture", &arch, &arch_len);
    if (st != VLM_OK) return st;
    if (arch_len != strlen(ARCH) || memcmp(arch, ARCH, arch_len) != 0)
        return vlmi_fail(VLM_ERR_UNSUPPORTED, "%s: general.architecture '%.*s' is not " ARCH,
                         vlmi_gguf_path(gguf), (int)(arch_len > 64 ? 64 : arch_len), arch);
    snprintf(out->architecture, sizeof out->architecture, "Qwen2_5_VLForConditionalGeneration");
    snprintf(out->model_type, sizeof out->model_type, "qwen2_5_vl");
    out->boi_token_id = out->eoi_token_id = -1;
    out->yes_token_id = out->no_token_id = -1;
    if ((st = text_config(&out->text, gguf)) != VLM_OK) {
        vlmi_model_config_free(out);
        return st;
    }
    get_vision_tokens(out, gguf);
    return VLM_OK;
}

// ----------------------------------------------------------------------------
// tensors

static vlm_status matrix(vlmi_matrix *out, const vlmi_gguf *g, size_t rows, size_t cols,
                         const char *name) {
    const size_t shape[2] = {rows, cols};
    return vlmi_weights_gguf_matrix(out, g, 2, shape, name);
}

vlm_status vlmi_qwen2_5_vl_bind_gguf(vlmi_qwen2_5_vl *model, const vlmi_model_config *config,
                                     const vlmi_gguf *gguf) {
    memset(model, 0, sizeof *model);
    vlmi_decoder *dec = &model->text;
    vlmi_decoder_hparams hp;
    vlm_status st = vlmi_qwen2_5_vl_decoder_hparams(&hp, &config->text);
    if (st == VLM_OK) st = vlmi_decoder_init(dec, &hp);
    if (st != VLM_OK) return st;

    size_t dim = hp.dim, q_dim = hp.n_heads * hp.head_dim;
    size_t kv_dim = hp.n_kv_heads * hp.head_dim, ffn = hp.ffn_dim;
    char name[64];
    st = matrix(&dec->token_embedding, gguf, hp.n_vocab, dim, "token_embd.weight");
    for (size_t l = 0; st == VLM_OK && l < hp.n_layers; l++) {
        vlmi_decoder_layer *w = &dec->layers[l];
#define NAME(s) (snprintf(name, sizeof name, "blk.%zu." s, l), name)
        if (st == VLM_OK) st = vlmi_weights_gguf_load_f32(w->attn_norm, gguf, dim, NAME("attn_norm.weight"));
        if (st == VLM_OK) st = matrix(&w->wq, gguf, q_dim, dim, NAME("attn_q.weight"));
        if (st == VLM_OK) st = vlmi_weights_gguf_load_f32(w->bq, gguf, q_dim, NAME("attn_q.bias"));
        if (st == VLM_OK) st = matrix(&w->wk, gguf, kv_dim, dim, NAME("attn_k.weight"));
        if (st == VLM_OK) st = vlmi_weights_gguf_load_f32(w->bk, gguf, kv_dim, NAME("attn_k.bias"));
        if (st == VLM_OK) st = matrix(&w->wv, gguf, kv_dim, dim, NAME("attn_v.weight"));
        if (st == VLM_OK) st = vlmi_weights_gguf_load_f32(w->bv, gguf, kv_dim, NAME("attn_v.bias"));
        if (st == VLM_OK) st = matrix(&w->wo, gguf, dim, q_dim, NAME("attn_output.weight"));
        if (st == VLM_OK) st = vlmi_weights_gguf_load_f32(w->ffn_norm, gguf, dim, NAME("ffn_norm.weight"));
        if (st == VLM_OK) st = matrix(&w->w_gate, gguf, ffn, dim, NAME("ffn_gate.weight"));
        if (st == VLM_OK) st = matrix(&w->w_up, gguf, ffn, dim, NAME("ffn_up.weight"));
        if (st == VLM_OK) st = matrix(&w->w_down, gguf, dim, ffn, NAME("ffn_down.weight"));
#undef NAME
    }
    if (st == VLM_OK) st = vlmi_weights_gguf_load_f32(dec->final_norm, gguf, dim, "output_norm.weight");
    if (st == VLM_OK) {
        if (config->text.tie_word_embeddings)
            dec->lm_head = dec->token_embedding;
        else
            st = matrix(&dec->lm_head, gguf, hp.n_vocab, dim, "output.weight");
    }
    if (st != VLM_OK) vlmi_qwen2_5_vl_free(model);
    return st;
}
