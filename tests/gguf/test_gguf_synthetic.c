/* GGUF loading without a real file: a tiny Gemma 3 GGUF written here (F32
 * weights, a 12-token SentencePiece vocabulary) loads through vlm_model_load
 * with its config, tokenizer and chat template, and runs; then one broken or
 * lying piece of metadata or one bad tensor at a time must give a clear
 * status naming the key or the tensor (tokenizer, config, binding, and
 * through vlm_model_load). Also: the llama-type tokenizer outside Gemma
 * (Metaspace, merges by score), the gpt2 one (byte-level, file merges, qwen2
 * split), and a Gemma 3 hub directory binding through the registry. */
#include "arch/gemma3.h"
#include "io/gguf.h"
#include "model.h"
#include "test.h"
#include "text/tokenizer-impl.h"
#include "vlm.h"

#include <math.h>
#include <unistd.h>

#define DIM 32
#define HEADS 2
#define HEAD_DIM 16
#define FFN 64
#define ALIGN 32

static const char *const tokens[] = {
    "<pad>", "<eos>", "<bos>", "<unk>", "<start_of_turn>", "<end_of_turn>",
    "a", "b", "ab", "\xe2\x96\x81", "\xe2\x96\x81" "a", "  ",
};
#define N_TOKENS (sizeof tokens / sizeof tokens[0])
static const int32_t token_types[N_TOKENS] = {3, 3, 3, 3, 3, 3, 1, 1, 1, 1, 1, 4};

/* What to break in the file. */
typedef enum mutation {
    OK = 0,
    NO_TOKENS,            /* tokenizer.ggml.tokens missing */
    TOKENS_AS_INTS,       /* tokenizer.ggml.tokens an int32 array */
    SCORES_SHORT,         /* one score fewer than tokens */
    TYPES_AS_FLOATS,      /* token_type a float32 array */
    BOS_OUT_OF_RANGE,     /* bos_token_id 999 */
    MODEL_BERT,           /* tokenizer.ggml.model "bert" */
    EMPTY_TOKEN,          /* a token of 0 bytes */
    BAD_UTF8_TOKEN,       /* a token that is not UTF-8 */
    ADD_BOS_NO_ID,        /* add_bos_token true, no bos_token_id */
    NO_HIDDEN,            /* gemma3.embedding_length missing */
    HIDDEN_AS_STRING,     /* gemma3.embedding_length a string */
    HUGE_LAYERS,          /* gemma3.block_count 1e9 */
    KV_HEADS_3,           /* head_count_kv not dividing head_count */
    NEGATIVE_EPS,         /* layer_norm_rms_epsilon -1 */
    NO_WINDOW,            /* attention.sliding_window missing */
    EXTRA_TOKEN,          /* 13 tokens for a 12-row embedding */
    Q_SHAPE,              /* blk.0.attn_q.weight (24, 32) */
    NO_FFN_UP,            /* blk.0.ffn_up.weight missing */
} mutation;

// ----------------------------------------------------------------------------
// a GGUF writer (version 3, little-endian hosts)

typedef struct out {
    unsigned char *data;
    size_t len, cap;
} out;

static void put(out *o, const void *p, size_t n) {
    if (o->len + n > o->cap) {
        o->cap = (o->len + n) * 2 + 1024;
        o->data = realloc(o->data, o->cap);
    }
    memcpy(o->data + o->len, p, n);
    o->len += n;
}
static void put_u32(out *o, uint32_t v) { put(o, &v, 4); }
static void put_u64(out *o, uint64_t v) { put(o, &v, 8); }
static void put_str(out *o, const char *s, size_t n) { put_u64(o, n); put(o, s, n); }
static void put_key(out *o, const char *k, uint32_t type) { put_str(o, k, strlen(k)); put_u32(o, type); }

static void kv_str(out *o, size_t *n, const char *k, const char *v) {
    put_key(o, k, VLMI_GGUF_STRING); put_str(o, v, strlen(v)); (*n)++;
}
static void kv_u32(out *o, size_t *n, const char *k, uint32_t v) {
    put_key(o, k, VLMI_GGUF_UINT32); put_u32(o, v); (*n)++;
}
static void kv_f32(out *o, size_t *n, const char *k, float v) {
    put_key(o, k, VLMI_GGUF_FLOAT32); put(o, &v, 4); (*n)++;
}
static void kv_bool(out *o, size_t *n, const char *k, bool v) {
    unsigned char b = v;
    put_key(o, k, VLMI_GGUF_BOOL); put(o, &b, 1); (*n)++;
}
static void kv_array(out *o, size_t *n, const char *k, uint32_t elem, uint64_t count) {
    put_key(o, k, VLMI_GGUF_ARRAY); put_u32(o, elem); put_u64(o, count); (*n)++;
}

typedef struct tensor {
    const char *name;
    uint32_t n_dims;
    uint64_t ne[2];   /* innermost first */
} tensor;

static size_t tensor_list(tensor *t, mutation m) {
    size_t n = 0;
    t[n++] = (tensor){"token_embd.weight", 2, {DIM, N_TOKENS}};
    t[n++] = (tensor){"output_norm.weight", 1, {DIM, 0}};
    t[n++] = (tensor){"blk.0.attn_norm.weight", 1, {DIM, 0}};
    t[n++] = (tensor){"blk.0.attn_q.weight", 2, {DIM, m == Q_SHAPE ? 24 : HEADS * HEAD_DIM}};
    t[n++] = (tensor){"blk.0.attn_k.weight", 2, {DIM, HEAD_DIM}};
    t[n++] = (tensor){"blk.0.attn_v.weight", 2, {DIM, HEAD_DIM}};
    t[n++] = (tensor){"blk.0.attn_output.weight", 2, {HEADS * HEAD_DIM, DIM}};
    t[n++] = (tensor){"blk.0.attn_q_norm.weight", 1, {HEAD_DIM, 0}};
    t[n++] = (tensor){"blk.0.attn_k_norm.weight", 1, {HEAD_DIM, 0}};
    t[n++] = (tensor){"blk.0.post_attention_norm.weight", 1, {DIM, 0}};
    t[n++] = (tensor){"blk.0.ffn_norm.weight", 1, {DIM, 0}};
    t[n++] = (tensor){"blk.0.ffn_gate.weight", 2, {DIM, FFN}};
    if (m != NO_FFN_UP) t[n++] = (tensor){"blk.0.ffn_up.weight", 2, {DIM, FFN}};
    t[n++] = (tensor){"blk.0.ffn_down.weight", 2, {FFN, DIM}};
    t[n++] = (tensor){"blk.0.post_ffw_norm.weight", 1, {DIM, 0}};
    return n;
}

static unsigned char *make_gguf(mutation m, size_t *size) {
    out o = {0}, kv = {0};
    size_t n_kv = 0, n_tok = N_TOKENS + (m == EXTRA_TOKEN);
    kv_str(&kv, &n_kv, "general.architecture", "gemma3");
    if (m == HIDDEN_AS_STRING) kv_str(&kv, &n_kv, "gemma3.embedding_length", "32");
    else if (m != NO_HIDDEN) kv_u32(&kv, &n_kv, "gemma3.embedding_length", DIM);
    kv_u32(&kv, &n_kv, "gemma3.block_count", m == HUGE_LAYERS ? 1000000000u : 1);
    kv_u32(&kv, &n_kv, "gemma3.feed_forward_length", FFN);
    kv_u32(&kv, &n_kv, "gemma3.context_length", 128);
    kv_u32(&kv, &n_kv, "gemma3.attention.head_count", HEADS);
    kv_u32(&kv, &n_kv, "gemma3.attention.head_count_kv", m == KV_HEADS_3 ? 3 : 1);
    kv_u32(&kv, &n_kv, "gemma3.attention.key_length", HEAD_DIM);
    kv_u32(&kv, &n_kv, "gemma3.attention.value_length", HEAD_DIM);
    kv_f32(&kv, &n_kv, "gemma3.attention.layer_norm_rms_epsilon", m == NEGATIVE_EPS ? -1.0f : 1e-6f);
    kv_f32(&kv, &n_kv, "gemma3.rope.freq_base", 1e6f);
    if (m != NO_WINDOW) kv_u32(&kv, &n_kv, "gemma3.attention.sliding_window", 16);
    kv_str(&kv, &n_kv, "tokenizer.ggml.model", m == MODEL_BERT ? "bert" : "llama");
    kv_str(&kv, &n_kv, "tokenizer.ggml.pre", "default");
    if (m == TOKENS_AS_INTS) {
        kv_array(&kv, &n_kv, "tokenizer.ggml.tokens", VLMI_GGUF_INT32, n_tok);
        for (size_t i = 0; i < n_tok; i++) put_u32(&kv, (uint32_t)i);
    } else if (m != NO_TOKENS) {
        kv_array(&kv, &n_kv, "tokenizer.ggml.tokens", VLMI_GGUF_STRING, n_tok);
        for (size_t i = 0; i < n_tok; i++) {
            const char *s = i < N_TOKENS ? tokens[i] : "extra";
            if (m == EMPTY_TOKEN && i == 7) s = "";
            if (m == BAD_UTF8_TOKEN && i == 7) s = "\xff\xfe";
            put_str(&kv, s, strlen(s));
        }
    }
    size_t n_scores = n_tok - (m == SCORES_SHORT);
    kv_array(&kv, &n_kv, "tokenizer.ggml.scores", VLMI_GGUF_FLOAT32, n_scores);
    for (size_t i = 0; i < n_scores; i++) { float f = -(float)i; put(&kv, &f, 4); }
    if (m == TYPES_AS_FLOATS) {
        kv_array(&kv, &n_kv, "tokenizer.ggml.token_type", VLMI_GGUF_FLOAT32, n_tok);
        for (size_t i = 0; i < n_tok; i++) { float f = 1.0f; put(&kv, &f, 4); }
    } else {
        kv_array(&kv, &n_kv, "tokenizer.ggml.token_type", VLMI_GGUF_INT32, n_tok);
        for (size_t i = 0; i < n_tok; i++) put_u32(&kv, i < N_TOKENS ? (uint32_t)token_types[i] : 1);
    }
    if (m != ADD_BOS_NO_ID) kv_u32(&kv, &n_kv, "tokenizer.ggml.bos_token_id", m == BOS_OUT_OF_RANGE ? 999 : 2);
    kv_u32(&kv, &n_kv, "tokenizer.ggml.eos_token_id", 1);
    kv_u32(&kv, &n_kv, "tokenizer.ggml.unknown_token_id", 3);
    kv_u32(&kv, &n_kv, "tokenizer.ggml.padding_token_id", 0);
    kv_bool(&kv, &n_kv, "tokenizer.ggml.add_bos_token", true);
    kv_bool(&kv, &n_kv, "tokenizer.ggml.add_space_prefix", false);
    kv_str(&kv, &n_kv, "tokenizer.chat_template", "{{ bos_token }}{% for m in messages %}{{ m.content }}{% endfor %}");

    tensor t[16];
    size_t n_t = tensor_list(t, m);
    put(&o, "GGUF", 4);
    put_u32(&o, 3);
    put_u64(&o, n_t);
    put_u64(&o, n_kv);
    put(&o, kv.data, kv.len);
    uint64_t offset = 0;
    for (size_t i = 0; i < n_t; i++) {
        put_str(&o, t[i].name, strlen(t[i].name));
        put_u32(&o, t[i].n_dims);
        for (uint32_t d = 0; d < t[i].n_dims; d++) put_u64(&o, t[i].ne[d]);
        put_u32(&o, 0); /* F32 */
        put_u64(&o, offset);
        uint64_t bytes = t[i].ne[0] * (t[i].n_dims > 1 ? t[i].ne[1] : 1) * 4;
        offset += (bytes + ALIGN - 1) / ALIGN * ALIGN;
    }
    static const unsigned char zeros[ALIGN];
    put(&o, zeros, (ALIGN - o.len % ALIGN) % ALIGN);
    for (size_t i = 0; i < n_t; i++) {
        size_t count = t[i].ne[0] * (t[i].n_dims > 1 ? t[i].ne[1] : 1);
        bool is_norm = t[i].n_dims == 1;
        for (size_t k = 0; k < count; k++) {
            /* norms near 1 (stored as 1 + w), weights small and varied */
            float f = is_norm ? 1.0f + 0.1f * sinf((float)k) : 0.2f * sinf(0.37f * (float)(k + 7 * i));
            put(&o, &f, 4);
        }
        put(&o, zeros, (ALIGN - o.len % ALIGN) % ALIGN);
    }
    free(kv.data);
    *size = o.len;
    return o.data;
}

// ----------------------------------------------------------------------------
// the good file

static void write_file(const char *path, const unsigned char *data, size_t size) {
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL && fwrite(data, 1, size, f) == size);
    if (f) fclose(f);
}

static void test_good(const char *path) {
    size_t size;
    unsigned char *data = make_gguf(OK, &size);
    write_file(path, data, size);
    free(data);
    vlm_model *m = NULL;
    CHECK_OK(vlm_model_load(path, NULL, &m));
    if (m == NULL) return;
    CHECK(m->family == VLMI_FAMILY_GEMMA3 && strcmp(vlm_model_architecture(m), "gemma3") == 0);
    const vlmi_text_config *tc = &m->config.model.text;
    CHECK(tc->vocab_size == (int32_t)N_TOKENS && tc->hidden_size == DIM && tc->head_dim == HEAD_DIM);
    CHECK(tc->n_eos_token_ids == 2 && tc->eos_token_ids[0] == 1 && tc->eos_token_ids[1] == 5);
    CHECK(m->config.tokenizer.chat_template != NULL &&
          strcmp(m->config.tokenizer.chat_template_source, "tokenizer.chat_template") == 0);
    CHECK(m->config.tokenizer.bos_token && strcmp(m->config.tokenizer.bos_token, "<bos>") == 0);
    CHECK(m->gemma3.text.layers[0].sliding && m->gemma3.text.final_norm[0] == 1.0f);
    CHECK_OK(vlmi_gemma3_check_kernels(&m->gemma3));

    // tokenizer: " " -> "▁", merges by position (ab before ▁a), <bos> added,
    // control tokens whole, the respelled "  " token a "▁▁"
    const vlm_tokenizer *tok = vlm_model_tokenizer(m);
    int32_t ids[16];
    size_t n = 0, len = 0;
    char text[64];
    CHECK_OK(vlm_tokenize(tok, "ab a", 4, VLM_TOKENIZE_ADD_SPECIAL | VLM_TOKENIZE_PARSE_SPECIAL, ids, 16, &n));
    CHECK(n == 3 && ids[0] == 2 && ids[1] == 8 && ids[2] == 10);
    CHECK_OK(vlm_tokenize(tok, "<start_of_turn>b", 16, VLM_TOKENIZE_PARSE_SPECIAL, ids, 16, &n));
    CHECK(n == 2 && ids[0] == 4 && ids[1] == 7);
    CHECK(vlm_token_lookup(tok, "\xe2\x96\x81\xe2\x96\x81") == 11);
    CHECK_OK(vlm_detokenize(tok, (const int32_t[]){8, 10, 7}, 3, 0, text, sizeof text, &len));
    CHECK(strcmp(text, "ab ab") == 0);

    // the decoder runs and gives finite logits
    const vlmi_decoder *dec = &m->gemma3.text;
    vlmi_decoder_state *s = NULL;
    float emb[3 * DIM];
    const int32_t prompt[3] = {2, 8, 10};
    CHECK_OK(vlmi_decoder_state_create(dec, 32, 8, &s));
    if (s != NULL) {
        CHECK_OK(vlmi_decoder_embed(emb, dec, prompt, 3));
        CHECK_OK(vlmi_decoder_forward_pool(s, dec, emb, 3, NULL, NULL));
        bool finite = true;
        for (size_t i = 0; i < N_TOKENS; i++) finite &= isfinite(s->logits[i]) != 0;
        CHECK(finite && s->n_past == 3);
    }
    vlmi_decoder_state_free(s);
    vlm_model_free(m);
}

// ----------------------------------------------------------------------------
// broken files

/* Opens the mutated file in memory and runs what it breaks: the tokenizer,
 * then the config, then the binding. */
static void expect(mutation m, vlm_status want, const char *needle) {
    size_t size;
    unsigned char *data = make_gguf(m, &size);
    vlmi_gguf *g = NULL;
    vlm_status st = vlmi_gguf_open_memory(data, size, "synthetic.gguf", &g);
    if (st == VLM_OK) {
        vlm_tokenizer *tok = NULL;
        vlmi_model_config config;
        vlmi_gemma3 model;
        st = vlmi_tokenizer_load_gguf(g, &tok);
        vlm_tokenizer_free(tok);
        if (st == VLM_OK && (st = vlmi_gemma3_gguf_config(&config, g)) == VLM_OK) {
            st = vlmi_gemma3_bind_gguf(&model, &config, g);
            vlmi_gemma3_free(&model);
            vlmi_model_config_free(&config);
        }
    }
    CHECK_MSG(st == want && strstr(vlm_last_error(), needle) != NULL,
              "mutation %d: %s \"%s\", expected %s naming \"%s\"", (int)m, vlm_status_string(st),
              vlm_last_error(), vlm_status_string(want), needle);
    vlmi_gguf_close(g);
    free(data);
}

static void test_broken(const char *path) {
    expect(NO_TOKENS, VLM_ERR_FORMAT, "tokenizer.ggml.tokens");
    expect(TOKENS_AS_INTS, VLM_ERR_FORMAT, "tokenizer.ggml.tokens");
    expect(SCORES_SHORT, VLM_ERR_FORMAT, "tokenizer.ggml.scores has 11 entries for 12 tokens");
    expect(TYPES_AS_FLOATS, VLM_ERR_FORMAT, "tokenizer.ggml.token_type");
    expect(BOS_OUT_OF_RANGE, VLM_ERR_FORMAT, "tokenizer.ggml.bos_token_id is 999");
    expect(MODEL_BERT, VLM_ERR_UNSUPPORTED, "tokenizer.ggml.model 'bert'");
    expect(EMPTY_TOKEN, VLM_ERR_FORMAT, "tokenizer.ggml.tokens[7]");
    expect(BAD_UTF8_TOKEN, VLM_ERR_FORMAT, "tokenizer.ggml.tokens[7] is not valid UTF-8");
    expect(ADD_BOS_NO_ID, VLM_ERR_FORMAT, "bos_token_id is missing");
    expect(NO_HIDDEN, VLM_ERR_FORMAT, "gemma3.embedding_length");
    expect(HIDDEN_AS_STRING, VLM_ERR_FORMAT, "gemma3.embedding_length");
    expect(HUGE_LAYERS, VLM_ERR_FORMAT, "gemma3.block_count is 1000000000");
    expect(KV_HEADS_3, VLM_ERR_FORMAT, "kv heads must divide heads");
    expect(NEGATIVE_EPS, VLM_ERR_FORMAT, "gemma3.attention.layer_norm_rms_epsilon");
    expect(NO_WINDOW, VLM_ERR_FORMAT, "gemma3.attention.sliding_window");
    expect(EXTRA_TOKEN, VLM_ERR_FORMAT, "tokenizer.ggml.tokens has 13 tokens but token_embd.weight has 12 rows");
    expect(Q_SHAPE, VLM_ERR_SHAPE, "blk.0.attn_q.weight: shape [24, 32], the metadata expects [32, 32]");
    expect(NO_FFN_UP, VLM_ERR_FORMAT, "blk.0.ffn_up.weight: missing");

    // through vlm_model_load: the status and a message naming the file
    const mutation via_load[2] = {Q_SHAPE, SCORES_SHORT};
    for (int k = 0; k < 2; k++) {
        size_t size;
        unsigned char *data = make_gguf(via_load[k], &size);
        write_file(path, data, size);
        free(data);
        vlm_model *m = NULL;
        vlm_status st = vlm_model_load(path, NULL, &m);
        CHECK_MSG(st == (k == 0 ? VLM_ERR_SHAPE : VLM_ERR_FORMAT) && m == NULL &&
                  strstr(vlm_last_error(), path) != NULL,
                  "vlm_model_load: %s \"%s\"", vlm_status_string(st), vlm_last_error());
    }
}


// ----------------------------------------------------------------------------
// the other tokenizer shapes: llama-type outside Gemma (Metaspace, prefix
// space) and gpt2 (byte-level, merges from the file, qwen2 split)

/* Tokenizer keys only (no tensors), of a llama (SentencePiece) or a qwen2
 * (gpt2) file. */
static unsigned char *make_tokenizer_gguf(bool gpt2, size_t *size) {
    static const char *const spm[] = {"<unk>", "<s>", "</s>", "a", "b", "ab",
                                      "\xe2\x96\x81", "\xe2\x96\x81" "a"};
    static const char *const bytes[] = {"<|endoftext|>", "a", "b", "ab", "\xc4\xa0",
                                        "\xc4\xa0" "a", "<|im_start|>"};
    const char *const *toks = gpt2 ? bytes : spm;
    size_t n_tok = gpt2 ? 7 : 8, n_kv = 0;
    out kv = {0}, o = {0};
    kv_str(&kv, &n_kv, "general.architecture", gpt2 ? "qwen2" : "llama");
    kv_str(&kv, &n_kv, "tokenizer.ggml.model", gpt2 ? "gpt2" : "llama");
    kv_str(&kv, &n_kv, "tokenizer.ggml.pre", gpt2 ? "qwen2" : "default");
    kv_array(&kv, &n_kv, "tokenizer.ggml.tokens", VLMI_GGUF_STRING, n_tok);
    for (size_t i = 0; i < n_tok; i++) put_str(&kv, toks[i], strlen(toks[i]));
    kv_array(&kv, &n_kv, "tokenizer.ggml.token_type", VLMI_GGUF_INT32, n_tok);
    for (size_t i = 0; i < n_tok; i++)
        put_u32(&kv, gpt2 ? (i == 0 || i == 6 ? 3 : 1) : (i < 3 ? 3 : 1));
    if (gpt2) {
        static const char *const merges[] = {"a b", "\xc4\xa0 a"};
        kv_array(&kv, &n_kv, "tokenizer.ggml.merges", VLMI_GGUF_STRING, 2);
        for (size_t i = 0; i < 2; i++) put_str(&kv, merges[i], strlen(merges[i]));
        kv_bool(&kv, &n_kv, "tokenizer.ggml.add_bos_token", false);
        kv_u32(&kv, &n_kv, "tokenizer.ggml.eos_token_id", 0);
    } else {
        /* scores: "▁a" outranks "ab" */
        static const float scores[] = {0, 0, 0, -1, -2, -5, -3, -4};
        kv_array(&kv, &n_kv, "tokenizer.ggml.scores", VLMI_GGUF_FLOAT32, n_tok);
        put(&kv, scores, sizeof scores);
        kv_u32(&kv, &n_kv, "tokenizer.ggml.bos_token_id", 1);
        kv_u32(&kv, &n_kv, "tokenizer.ggml.unknown_token_id", 0);
    }
    put(&o, "GGUF", 4);
    put_u32(&o, 3);
    put_u64(&o, 0);
    put_u64(&o, n_kv);
    put(&o, kv.data, kv.len);
    free(kv.data);
    *size = o.len;
    return o.data;
}

static void test_other_tokenizers(const char *path) {
    int32_t ids[16];
    size_t n = 0, len = 0;
    char text[64];
    for (int gpt2 = 0; gpt2 < 2; gpt2++) {
        size_t size;
        unsigned char *data = make_tokenizer_gguf(gpt2, &size);
        write_file(path, data, size);
        free(data);
        vlm_model *m = NULL;
        CHECK_OK(vlm_model_load(path, NULL, &m)); /* no family: loads unbound */
        if (m == NULL) continue;
        CHECK(m->family == VLMI_FAMILY_NONE && !m->has_config);
        const vlm_tokenizer *tok = vlm_model_tokenizer(m);
        CHECK(tok != NULL);
        if (tok == NULL) { vlm_model_free(m); continue; }
        uint32_t flags = VLM_TOKENIZE_ADD_SPECIAL | VLM_TOKENIZE_PARSE_SPECIAL;
        if (!gpt2) {
            /* "▁ab▁a" (prefix space): ▁a (score -4) outranks ab (-5), so
             * the first ▁ takes the a and b stays alone */
            CHECK_OK(vlm_tokenize(tok, "ab a", 4, flags, ids, 16, &n));
            CHECK_MSG(n == 4 && ids[0] == 1 && ids[1] == 7 && ids[2] == 4 && ids[3] == 7,
                      "llama: %zu ids %d %d %d %d", n, ids[0], ids[1], ids[2], ids[3]);
            CHECK_OK(vlm_tokenize(tok, "a", 1, flags, ids, 16, &n));
            CHECK(n == 2 && ids[0] == 1 && ids[1] == 7); /* the prefix space */
            CHECK_OK(vlm_detokenize(tok, (const int32_t[]){7, 4, 7}, 3, 0, text, sizeof text, &len));
            CHECK_MSG(strcmp(text, "ab a") == 0, "llama decode \"%s\"", text);
        } else {
            CHECK_OK(vlm_tokenize(tok, "ab a<|im_start|>", 16, flags, ids, 16, &n));
            CHECK_MSG(n == 3 && ids[0] == 3 && ids[1] == 5 && ids[2] == 6,
                      "gpt2: %zu ids %d %d %d", n, ids[0], ids[1], ids[2]);
            CHECK_OK(vlm_detokenize(tok, ids, 2, 0, text, sizeof text, &len));
            CHECK_MSG(strcmp(text, "ab a") == 0, "gpt2 decode \"%s\"", text);
        }
        vlm_model_free(m);
    }
}

/* A Gemma 3 hub directory binds too (the registry's Gemma3 entries). */
static void test_hub(void) {
    const char *dir = getenv("VLM_TEST_DATA");
    if (dir == NULL) return;
    char path[2048];
    snprintf(path, sizeof path, "%s/gemma3-vlm", dir);
    vlm_model *m = NULL;
    CHECK_OK(vlm_model_load(path, NULL, &m));
    CHECK(m != NULL && m->family == VLMI_FAMILY_GEMMA3 && m->gemma3.has_vision &&
          m->gemma3.text.hp.n_layers > 0);
    vlm_model_free(m);
}

int main(void) {
    const char *tmp = getenv("TMPDIR");
    char path[1024];
    snprintf(path, sizeof path, "%s/vlm_gguf_synthetic_%d.gguf", tmp && tmp[0] ? tmp : "/tmp",
             (int)getpid());
    test_good(path);
    test_broken(path);
    test_other_tokenizers(path);
    test_hub();
    unlink(path);
    return test_finish("gguf_synthetic");
}
