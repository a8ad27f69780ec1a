/* The tokenizer of a GGUF file, built from its tokenizer.ggml.* metadata the
 * way transformers builds it (integrations/gguf/gguf_tokenizer_mapping.py,
 * 5.24), then run by the same pipeline as a tokenizer.json:
 *
 *   "llama" (SentencePiece BPE): the vocabulary as the file spells it; the
 *   merges from tokenizer.ggml.merges, or derived from the vocabulary as
 *   generate_merges does (every split of a token into two tokens, best
 *   first by score, then by the longer left part, then the longer right
 *   part); BPE with byte fallback (<0xNN>) and fused <unk>. Gemma files
 *   (general.architecture gemma, gemma2, gemma3) get GemmaTokenizer's shape:
 *   tokens of two or more blanks stored as real spaces are respelled "▁▁..",
 *   the merge order is the tokens' order in the file (their scores do not
 *   follow it), the normalizer replaces " " by "▁" and there is no prefix
 *   space. Other llama-type files get LlamaTokenizer's Metaspace, with the
 *   prefix space tokenizer.ggml.add_space_prefix states (default true).
 *
 *   "gpt2" (byte-level BPE): tokens respelled into the GPT-2 byte alphabet
 *   when they are not already, tokenizer.ggml.merges, and the split regex
 *   of tokenizer.ggml.pre (llama-bpe / llama3, qwen2 and their aliases)
 *   before the byte-level step.
 *
 * Control tokens (token_type 3) become special added tokens, user-defined
 * ones (4) plain added tokens, all matched whole in the raw text; bos, eos,
 * unk and pad (by id) are special too. tokenizer.ggml.add_bos_token (default
 * true for "llama") and add_eos_token make the post-processor. */
#include "text/tokenizer-impl.h"

#include "io/gguf.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Bounds that keep a lying file from asking for absurd work: far above any
 * real vocabulary (Gemma 3: 262144 tokens of at most a few dozen bytes). */
#define MAX_GGUF_TOKENS ((uint64_t)1 << 24)
#define MAX_GGUF_TOKEN_BYTES 4096

#define TOKEN_TYPE_CONTROL 3
#define TOKEN_TYPE_USER_DEFINED 4

/* U+2581 LOWER ONE EIGHTH BLOCK, SentencePiece's space. */
#define METASPACE "\xe2\x96\x81"

// ----------------------------------------------------------------------------
// reading the metadata

typedef struct gguf_vocab {
    const char *file;           /* for messages */
    const char *model;          /* tokenizer.ggml.model (NUL-terminated copy) */
    char model_buf[32];
    bool gemma;                 /* general.architecture is a Gemma one */
    bool byte_level;            /* "gpt2" */
    size_t n;                   /* tokens */
    const vlmi_gguf_value *tokens;    /* STRING array */
    const char **token_s;       /* (n) each token's bytes in the mapping (owned array) */
    uint32_t *token_len;        /* (n) */
    const vlmi_gguf_value *scores;    /* FLOAT32 array, NULL if absent */
    const vlmi_gguf_value *types;     /* INT32 array, NULL if absent */
    const vlmi_gguf_value *merges;    /* STRING array, NULL if absent */
    int64_t bos, eos, unk, pad; /* -1 when absent */
    bool add_bos, add_eos, add_space_prefix;
    char pre[64];               /* tokenizer.ggml.pre; "" if absent */
} gguf_vocab;

/* An optional key: absent is fine, another type is not. */
static vlm_status optional_array(const vlmi_gguf *g, const char *key, vlmi_gguf_type type,
                                 size_t n, const vlmi_gguf_value **out, bool check_length) {
    *out = NULL;
    if (vlmi_gguf_find_kv(g, key) == NULL) return VLM_OK;
    vlm_status st = vlmi_gguf_get_array(g, key, type, out);
    if (st != VLM_OK) return st;
    if (check_length && (*out)->n_elems != n)
        return vlmi_fail(VLM_ERR_FORMAT, "%s: %s has %llu entries for %zu tokens",
                         vlmi_gguf_path(g), key, (unsigned long long)(*out)->n_elems, n);
    return VLM_OK;
}

static vlm_status optional_id(const vlmi_gguf *g, const char *key, size_t n, int64_t *out) {
    *out = -1;
    if (vlmi_gguf_find_kv(g, key) == NULL) return VLM_OK;
    int64_t v;
    vlm_status st = vlmi_gguf_get_int(g, key, &v);
    if (st != VLM_OK) return st;
    if (v < 0 || (uint64_t)v >= n)
        return vlmi_fail(VLM_ERR_FORMAT, "%s: %s is %lld, outside the %zu tokens",
                         vlmi_gguf_path(g), key, (long long)v, n);
    *out = v;
    return VLM_OK;
}

static vlm_status optional_bool(const vlmi_gguf *g, const char *key, bool def, bool *out) {
    *out = def;
    if (vlmi_gguf_find_kv(g, key) == NULL) return VLM_OK;
    return vlmi_gguf_get_bool(g, key, out);
}

static vlm_status read_vocab(const vlmi_gguf *g, gguf_vocab *v) {
    memset(v, 0, sizeof *v);
    v->file = vlmi_gguf_path(g);
    const char *s;
    size_t len;
    vlm_status st = vlmi_gguf_get_string(g, "tokenizer.ggml.model", &s, &len);
    if (st != VLM_OK) return st;
    if (len >= sizeof v->model_buf) len = sizeof v->model_buf - 1;
    memcpy(v->model_buf, s, len);
    v->model = v->model_buf;
    if (strcmp(v->model, "llama") != 0 && strcmp(v->model, "gpt2") != 0)
        return vlmi_fail(VLM_ERR_UNSUPPORTED, "%s: tokenizer.ggml.model '%s' is not supported "
                         "(llama, gpt2)", v->file, v->model);
    v->byte_level = strcmp(v->model, "gpt2") == 0;
    if (vlmi_gguf_find_kv(g, "general.architecture") != NULL &&
        vlmi_gguf_get_string(g, "general.architecture", &s, &len) == VLM_OK && !v->byte_level)
        v->gemma = (len == 5 && memcmp(s, "gemma", 5) == 0) ||
                   (len == 6 && (memcmp(s, "gemma2", 6) == 0 || memcmp(s, "gemma3", 6) == 0));
    if (vlmi_gguf_find_kv(g, "tokenizer.ggml.pre") != NULL) {
        if ((st = vlmi_gguf_get_string(g, "tokenizer.ggml.pre", &s, &len)) != VLM_OK) return st;
        if (len >= sizeof v->pre) len = sizeof v->pre - 1;
        memcpy(v->pre, s, len);
    }

    if ((st = vlmi_gguf_get_array(g, "tokenizer.ggml.tokens", VLMI_GGUF_STRING, &v->tokens)) != VLM_OK)
        return st;
    if (v->tokens->n_elems == 0 || v->tokens->n_elems > MAX_GGUF_TOKENS)
        return vlmi_fail(v->tokens->n_elems ? VLM_ERR_LIMIT : VLM_ERR_FORMAT,
                         "%s: tokenizer.ggml.tokens has %llu tokens (1 .. %llu)", v->file,
                         (unsigned long long)v->tokens->n_elems, (unsigned long long)MAX_GGUF_TOKENS);
    v->n = (size_t)v->tokens->n_elems;
    v->token_s = vlmi_calloc(v->n, sizeof *v->token_s);
    v->token_len = vlmi_calloc(v->n, sizeof *v->token_len);
    if (v->token_s == NULL || v->token_len == NULL) return VLM_ERR_OUT_OF_MEMORY;
    vlmi_gguf_cursor cursor = { 0 };
    vlmi_gguf_value e;
    for (size_t i = 0; vlmi_gguf_array_next(v->tokens, &cursor, &e); i++) {
        size_t n_bytes;
        vlmi_gguf_value_string(&e, &v->token_s[i], &n_bytes);
        if (n_bytes == 0 || n_bytes > MAX_GGUF_TOKEN_BYTES)
            return vlmi_fail(n_bytes ? VLM_ERR_LIMIT : VLM_ERR_FORMAT, "%s: tokenizer.ggml.tokens[%zu] "
                             "is %zu bytes (1 .. %d)", v->file, i, n_bytes, MAX_GGUF_TOKEN_BYTES);
        if (vlmi_utf8_invalid_offset(v->token_s[i], n_bytes) != SIZE_MAX ||
            memchr(v->token_s[i], 0, n_bytes) != NULL)
            return vlmi_fail(VLM_ERR_FORMAT, "%s: tokenizer.ggml.tokens[%zu] is not valid UTF-8 "
                             "text", v->file, i);
        v->token_len[i] = (uint32_t)n_bytes;
    }
    if ((st = optional_array(g, "tokenizer.ggml.scores", VLMI_GGUF_FLOAT32, v->n, &v->scores, true)) != VLM_OK ||
        (st = optional_array(g, "tokenizer.ggml.token_type", VLMI_GGUF_INT32, v->n, &v->types, true)) != VLM_OK ||
        (st = optional_array(g, "tokenizer.ggml.merges", VLMI_GGUF_STRING, v->n, &v->merges, false)) != VLM_OK ||
        (st = optional_id(g, "tokenizer.ggml.bos_token_id", v->n, &v->bos)) != VLM_OK ||
        (st = optional_id(g, "tokenizer.ggml.eos_token_id", v->n, &v->eos)) != VLM_OK ||
        (st = optional_id(g, "tokenizer.ggml.unknown_token_id", v->n, &v->unk)) != VLM_OK ||
        (st = optional_id(g, "tokenizer.ggml.padding_token_id", v->n, &v->pad)) != VLM_OK ||
        (st = optional_bool(g, "tokenizer.ggml.add_bos_token", !v->byte_level, &v->add_bos)) != VLM_OK ||
        (st = optional_bool(g, "tokenizer.ggml.add_eos_token", false, &v->add_eos)) != VLM_OK ||
        (st = optional_bool(g, "tokenizer.ggml.add_space_prefix", true, &v->add_space_prefix)) != VLM_OK)
        return st;
    if (v->byte_level && v->merges == NULL)
        return vlmi_fail(VLM_ERR_FORMAT, "%s: tokenizer.ggml.merges missing (a gpt2 tokenizer "
                         "needs its merges)", v->file);
    if (!v->byte_level && !v->gemma && v->merges == NULL && v->scores == NULL)
        return vlmi_fail(VLM_ERR_FORMAT, "%s: tokenizer.ggml.scores missing (the merges of a "
                         "llama tokenizer without tokenizer.ggml.merges come from them)", v->file);
    if ((v->add_bos && v->bos < 0) || (v->add_eos && v->eos < 0))
        return vlmi_fail(VLM_ERR_FORMAT, "%s: tokenizer.ggml.add_%s_token is true but "
                         "tokenizer.ggml.%s_token_id is missing", v->file,
                         v->add_bos && v->bos < 0 ? "bos" : "eos",
                         v->add_bos && v->bos < 0 ? "bos" : "eos");
    return VLM_OK;
}

static float score_at(const gguf_vocab *v, size_t i) {
    vlmi_gguf_value e;
    double d = 0.0;
    if (v->scores && vlmi_gguf_array_get(v->scores, i, &e)) vlmi_gguf_value_float(&e, &d);
    return (float)d;
}

static int32_t type_at(const gguf_vocab *v, size_t i) {
    vlmi_gguf_value e;
    int64_t t = 1;
    if (v->types && vlmi_gguf_array_get(v->types, i, &e)) vlmi_gguf_value_int(&e, &t);
    return (int32_t)t;
}

// ----------------------------------------------------------------------------
// the vocabulary, respelled as the tokenizer sees it

/* Python's str.isspace: what str.strip() removes. */
static bool python_isspace(uint32_t cp) {
    return (cp >= 0x09 && cp <= 0x0d) || (cp >= 0x1c && cp <= 0x20) || cp == 0x85 ||
           cp == 0xa0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200a) || cp == 0x2028 ||
           cp == 0x2029 || cp == 0x202f || cp == 0x205f || cp == 0x3000;
}

static size_t count_code_points(const char *s, size_t len) {
    size_t n = 0;
    for (size_t i = 0; i < len; i++) n += ((unsigned char)s[i] & 0xc0) != 0x80;
    return n;
}

/* Gemma: a token holding a space and nothing but whitespace is "▁" times
 * its length in code points. */
static bool gemma_respell(const char *s, size_t len) {
    if (memchr(s, ' ', len) == NULL) return false;
    for (size_t i = 0; i < len;)
        if (!python_isspace(vlmi_utf8_next(s, &i))) return false;
    return true;
}

/* GPT-2's byte alphabet: true if every character of s is one. */
static bool in_byte_alphabet(const char *s, size_t len) {
    for (size_t i = 0; i < len;)
        if (vlmi_byte_level_byte(vlmi_utf8_next(s, &i)) < 0) return false;
    return true;
}

/* Appends one token's string as the tokenizer spells it, NUL-terminated. */
static vlm_status append_token(vlmi_buf *arena, const gguf_vocab *v, const char *s, size_t len) {
    vlm_status st = VLM_OK;
    if (v->gemma && gemma_respell(s, len)) {
        size_t n = count_code_points(s, len);
        for (size_t k = 0; k < n && st == VLM_OK; k++) st = vlmi_buf_append(arena, METASPACE, 3);
    } else if (v->byte_level && !in_byte_alphabet(s, len)) {
        for (size_t k = 0; k < len && st == VLM_OK; k++) {
            char enc[4];
            size_t n = vlmi_utf8_encode(vlmi_byte_level_char((uint8_t)s[k]), enc);
            st = vlmi_buf_append(arena, enc, n);
        }
    } else {
        st = vlmi_buf_append(arena, s, len);
    }
    if (st == VLM_OK) st = vlmi_buf_append(arena, "", 1);
    return st;
}

/* Fills tables->arena and entries (id = position in the file). */
static vlm_status build_vocab(const gguf_vocab *v, vlmi_bpe_tables *t) {
    vlmi_buf arena = { 0 };
    t->entries = vlmi_calloc(v->n, sizeof *t->entries);
    if (t->entries == NULL) return VLM_ERR_OUT_OF_MEMORY;
    vlm_status st = vlmi_buf_reserve(&arena, v->n * 8);
    for (size_t i = 0; st == VLM_OK && i < v->n; i++) {
        size_t off = arena.len;
        st = append_token(&arena, v, v->token_s[i], v->token_len[i]);
        t->entries[i] = (vlmi_vocab_entry){ off, (uint32_t)(arena.len - off - 1), (int32_t)i };
    }
    if (st != VLM_OK) {
        vlmi_buf_free(&arena);
        return st;
    }
    t->arena = arena.data;   /* taken over by the BPE model */
    t->n_entries = v->n;
    t->vocab_status.code = VLMI_TABLE_OK;
    return VLM_OK;
}

// ----------------------------------------------------------------------------
// merges

static vlm_status push_merge(vlmi_bpe_tables *t, vlmi_merge_strings m) {
    if (t->n_merges == t->merges_cap) {
        size_t cap = t->merges_cap ? t->merges_cap * 2 : 1024;
        vlmi_merge_strings *p = vlmi_realloc(t->merges, cap * sizeof *p);
        if (p == NULL) return VLM_ERR_OUT_OF_MEMORY;
        t->merges = p;
        t->merges_cap = cap;
    }
    t->merges[t->n_merges++] = m;
    return VLM_OK;
}

/* tokenizer.ggml.merges: "a b" each, both parts spelled as the vocabulary
 * is. Each merge is copied into text as "ab" (NUL-terminated), which the
 * tables' merges_text then points at. */
static vlm_status read_file_merges(const gguf_vocab *v, vlmi_bpe_tables *t, vlmi_buf *text) {
    vlmi_gguf_cursor cursor = { 0 };
    vlmi_gguf_value e;
    vlm_status st = VLM_OK;
    for (size_t i = 0; st == VLM_OK && vlmi_gguf_array_next(v->merges, &cursor, &e); i++) {
        const char *s;
        size_t len;
        vlmi_gguf_value_string(&e, &s, &len);
        const char *space = memchr(s, ' ', len);
        /* transformers splits on every space; a merge must be two parts */
        if (space == NULL || memchr(space + 1, ' ', len - (size_t)(space + 1 - s)) != NULL ||
            vlmi_utf8_invalid_offset(s, len) != SIZE_MAX || memchr(s, 0, len) != NULL ||
            len > 2 * MAX_GGUF_TOKEN_BYTES) {
            st = vlmi_fail(VLM_ERR_FORMAT, "%s: tokenizer.ggml.merges[%zu] is not \"a b\"",
                           v->file, i);
            break;
        }
        size_t a_len = (size_t)(space - s), b_len = len - a_len - 1;
        size_t off = text->len;
        st = vlmi_buf_append(text, s, a_len);
        if (st == VLM_OK) st = vlmi_buf_append(text, space + 1, b_len);
        if (st == VLM_OK) st = vlmi_buf_append(text, "", 1);
        if (st == VLM_OK)
            st = push_merge(t, (vlmi_merge_strings){ off, off + a_len, (uint32_t)a_len, (uint32_t)b_len });
    }
    return st;
}

// ----------------------------------------------------------------------------
// the pipeline's components, described as a tokenizer.json would describe them

/* The split regexes of transformers' GGUF_PRE_TOKENIZER_SPLITS for the
 * tokenizer.ggml.pre names seen on byte-level vision-language models. */
#define LLAMA3_SPLIT                                                                    \
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}"             \
    "| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
#define QWEN2_SPLIT                                                                     \
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}"                  \
    "| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"

static const struct { const char *pre, *regex; } pre_splits[] = {
    {"llama3", LLAMA3_SPLIT},     {"llama-v3", LLAMA3_SPLIT}, {"llama-bpe", LLAMA3_SPLIT},
    {"falcon3", LLAMA3_SPLIT},    {"pixtral", LLAMA3_SPLIT},  {"lfm2", LLAMA3_SPLIT},
    {"dbrx", LLAMA3_SPLIT},       {"smaug-bpe", LLAMA3_SPLIT}, {"qwen2", QWEN2_SPLIT},
    {"deepseek-r1-qwen", QWEN2_SPLIT}, {"megrez", QWEN2_SPLIT},
};

static vlm_status add_string(cJSON *obj, const char *key, const char *value) {
    return cJSON_AddStringToObject(obj, key, value) ? VLM_OK : VLM_ERR_OUT_OF_MEMORY;
}

/* JSON text of the normalizer, pre-tokenizer and decoder; "" for none. */
static void component_texts(const gguf_vocab *v, const char **normalizer, const char **pre,
                            const char **decoder) {
    static const char gemma_normalizer[] =
        "{\"type\":\"Replace\",\"pattern\":{\"String\":\" \"},\"content\":\"" METASPACE "\"}";
    static const char gemma_pre[] =
        "{\"type\":\"Split\",\"pattern\":{\"String\":\" \"},\"behavior\":\"MergedWithPrevious\","
        "\"invert\":false}";
    static const char spm_decoder[] =
        "{\"type\":\"Sequence\",\"decoders\":[{\"type\":\"Replace\",\"pattern\":{\"String\":\""
        METASPACE "\"},\"content\":\" \"},{\"type\":\"ByteFallback\"},{\"type\":\"Fuse\"}]}";
    static const char spm_decoder_strip[] =
        "{\"type\":\"Sequence\",\"decoders\":[{\"type\":\"Replace\",\"pattern\":{\"String\":\""
        METASPACE "\"},\"content\":\" \"},{\"type\":\"ByteFallback\"},{\"type\":\"Fuse\"},"
        "{\"type\":\"Strip\",\"content\":\" \",\"start\":1,\"stop\":0}]}";
    static const char metaspace_first[] =
        "{\"type\":\"Metaspace\",\"replacement\":\"" METASPACE "\",\"prepend_scheme\":\"first\","
        "\"split\":false}";
    static const char metaspace_never[] =
        "{\"type\":\"Metaspace\",\"replacement\":\"" METASPACE "\",\"prepend_scheme\":\"never\","
        "\"split\":false}";
    static const char byte_level[] =
        "{\"type\":\"ByteLevel\",\"add_prefix_space\":false,\"trim_offsets\":true,\"use_regex\":true}";
    *normalizer = *pre = "";
    if (v->byte_level) {
        *pre = byte_level;   /* replaced by a Split + ByteLevel for a known pre */
        *decoder = byte_level;
    } else if (v->gemma) {
        *normalizer = gemma_normalizer;
        *pre = gemma_pre;
        *decoder = spm_decoder;
    } else {
        *pre = v->add_space_prefix ? metaspace_first : metaspace_never;
        *decoder = v->add_space_prefix ? spm_decoder_strip : spm_decoder;
    }
}

static vlm_status byte_level_pre(const gguf_vocab *v, cJSON **out) {
    *out = NULL;
    const char *regex = NULL;
    for (size_t i = 0; i < sizeof pre_splits / sizeof pre_splits[0]; i++)
        if (strcmp(v->pre, pre_splits[i].pre) == 0) regex = pre_splits[i].regex;
    if (regex == NULL) return VLM_OK;
    cJSON *seq = cJSON_Parse("{\"type\":\"Sequence\",\"pretokenizers\":[{\"type\":\"Split\","
                             "\"behavior\":\"Isolated\",\"invert\":false},{\"type\":\"ByteLevel\","
                             "\"add_prefix_space\":false,\"trim_offsets\":true,\"use_regex\":false}]}");
    cJSON *split = seq ? cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(seq, "pretokenizers"), 0) : NULL;
    cJSON *pattern = split ? cJSON_AddObjectToObject(split, "pattern") : NULL;
    if (pattern == NULL || add_string(pattern, "Regex", regex) != VLM_OK) {
        cJSON_Delete(seq);
        return VLM_ERR_OUT_OF_MEMORY;
    }
    *out = seq;
    return VLM_OK;
}

/* The token string of id as the file spells it (for added tokens). */
static bool token_at(const gguf_vocab *v, int64_t id, const char **s, size_t *len) {
    if (id < 0 || (uint64_t)id >= v->n) return false;
    *s = v->token_s[id];
    *len = v->token_len[id];
    return true;
}

/* Adds token id unless its string is listed already: each added token
 * appears once, as tokenizers serializes them (the first listing wins). */
static vlm_status push_added(cJSON *list, const gguf_vocab *v, int64_t id, bool special,
                             vlmi_strmap *listed) {
    const char *s;
    size_t len;
    if (!token_at(v, id, &s, &len) || vlmi_strmap_get(listed, s, len) >= 0) return VLM_OK;
    vlm_status st = vlmi_strmap_put(listed, s, len, 1);
    char *content = st == VLM_OK ? vlmi_strndup(s, len) : NULL;
    if (content == NULL) return VLM_ERR_OUT_OF_MEMORY;
    cJSON *t = cJSON_CreateObject();
    st = t && cJSON_AddItemToArray(list, t) ? VLM_OK : VLM_ERR_OUT_OF_MEMORY;
    if (st != VLM_OK) cJSON_Delete(t);
    if (st == VLM_OK && (!cJSON_AddNumberToObject(t, "id", (double)id) ||
                         add_string(t, "content", content) != VLM_OK ||
                         !cJSON_AddFalseToObject(t, "single_word") || !cJSON_AddFalseToObject(t, "lstrip") ||
                         !cJSON_AddFalseToObject(t, "rstrip") || !cJSON_AddFalseToObject(t, "normalized") ||
                         !cJSON_AddBoolToObject(t, "special", special)))
        st = VLM_ERR_OUT_OF_MEMORY;
    free(content);
    return st;
}

/* The bos / eos / unk / pad (and Gemma's <mask>) the tokenizer class adds as
 * special tokens, then transformers' add_gguf_special_tokens: control tokens
 * (token_type 3) special, user-defined ones (4) not. A user-defined token is
 * added only if the vocabulary holds it as spelled (Gemma's runs of spaces
 * are not: they were respelled). A byte-level control token outside the
 * byte alphabet is a llama.cpp mislabel and is skipped, as transformers
 * does. */
static vlm_status added_tokens(const gguf_vocab *v, const vlmi_bpe *bpe, cJSON **out) {
    vlmi_strmap listed = { 0 };
    cJSON *list = cJSON_CreateArray();
    if ((*out = list) == NULL) return VLM_ERR_OUT_OF_MEMORY;
    vlm_status st = vlmi_strmap_init(&listed, 64);
    const int64_t specials[4] = { v->bos, v->eos, v->unk, v->pad };
    for (size_t k = 0; k < 4 && st == VLM_OK; k++) st = push_added(list, v, specials[k], true, &listed);
    if (st == VLM_OK && v->gemma) {
        /* GemmaTokenizer's mask_token, when the vocabulary has one */
        int32_t mask = vlmi_bpe_token_to_id(bpe, "<mask>", 6);
        if (mask >= 0) st = push_added(list, v, mask, true, &listed);
    }
    for (size_t i = 0; i < v->n && st == VLM_OK && v->types; i++) {
        int32_t type = type_at(v, i);
        if (type != TOKEN_TYPE_CONTROL && type != TOKEN_TYPE_USER_DEFINED) continue;
        const char *s = v->token_s[i];
        size_t len = v->token_len[i];
        if (type == TOKEN_TYPE_CONTROL && v->byte_level && !in_byte_alphabet(s, len)) continue;
        if (type == TOKEN_TYPE_USER_DEFINED && vlmi_bpe_token_to_id(bpe, s, len) < 0) continue;
        st = push_added(list, v, (int64_t)i, type == TOKEN_TYPE_CONTROL, &listed);
    }
    vlmi_strmap_free(&listed);
    return st;
}

/* TemplateProcessing: [bos] $A [eos], as update_post_processor writes it. */
static vlm_status post_processor(const gguf_vocab *v, cJSON **out) {
    *out = NULL;
    if (!v->add_bos && !v->add_eos) return VLM_OK;
    cJSON *root = cJSON_CreateObject(), *single = cJSON_CreateArray(), *specials = cJSON_CreateObject();
    vlm_status st = root && single && specials ? VLM_OK : VLM_ERR_OUT_OF_MEMORY;
    if (st == VLM_OK) st = add_string(root, "type", "TemplateProcessing");
    if (st == VLM_OK) {
        cJSON_AddItemToObject(root, "single", single);
        cJSON_AddItemToObject(root, "special_tokens", specials);
        single = specials = NULL;
    }
    cJSON *s = st == VLM_OK ? cJSON_GetObjectItemCaseSensitive(root, "single") : NULL;
    cJSON *sp = st == VLM_OK ? cJSON_GetObjectItemCaseSensitive(root, "special_tokens") : NULL;
    for (int k = 0; k < 3 && st == VLM_OK; k++) {
        bool is_seq = k == 1;
        int64_t id = k == 0 ? v->bos : v->eos;
        if (!is_seq && !(k == 0 ? v->add_bos : v->add_eos)) continue;
        const char *tok = "A";
        char *name = NULL;
        size_t len;
        if (!is_seq) {
            if (!token_at(v, id, &tok, &len) || (name = vlmi_strndup(tok, len)) == NULL) {
                st = VLM_ERR_OUT_OF_MEMORY;
                break;
            }
            tok = name;
        }
        cJSON *item = cJSON_CreateObject(), *body = cJSON_CreateObject();
        if (!item || !body || add_string(body, "id", tok) != VLM_OK ||
            !cJSON_AddNumberToObject(body, "type_id", 0)) {
            cJSON_Delete(item);
            cJSON_Delete(body);
            free(name);
            st = VLM_ERR_OUT_OF_MEMORY;
            break;
        }
        cJSON_AddItemToObject(item, is_seq ? "Sequence" : "SpecialToken", body);
        cJSON_AddItemToArray(s, item);
        if (!is_seq && cJSON_GetObjectItemCaseSensitive(sp, name) == NULL) {
            cJSON *entry = cJSON_CreateObject();
            cJSON *ids = cJSON_CreateArray();
            cJSON *num = cJSON_CreateNumber((double)id);
            if (!entry || !ids || !num) {
                cJSON_Delete(entry);
                cJSON_Delete(ids);
                cJSON_Delete(num);
                st = VLM_ERR_OUT_OF_MEMORY;
            } else {
                cJSON_AddItemToArray(ids, num);
                cJSON_AddItemToObject(entry, "ids", ids);
                cJSON_AddItemToObject(sp, name, entry);
            }
        }
        free(name);
    }
    cJSON_Delete(single);
    cJSON_Delete(specials);
    if (st != VLM_OK) {
        cJSON_Delete(root);
        return st;
    }
    *out = root;
    return VLM_OK;
}

// ----------------------------------------------------------------------------
// the tokenizer

/* A llama (SentencePiece) vocabulary without tokenizer.ggml.merges: the
 * merges transformers' GGUF converter derives from the scores
 * (generate_merges) are found while tokenizing instead of listed here,
 * which would take ~1 s for Gemma's 262,144 tokens. A repeated string counts
 * at its first position with its last id's score; Gemma's scores are
 * -position. */
static vlm_status rank_by_score(const gguf_vocab *v, const vlmi_bpe_tables *t, const char *arena,
                                vlmi_bpe *bpe) {
    size_t n = (size_t)(vlmi_bpe_max_id(bpe) + 1);
    double *score = vlmi_malloc((n ? n : 1) * sizeof *score);
    uint32_t *first = vlmi_malloc((n ? n : 1) * sizeof *first);
    vlm_status st = score && first ? VLM_OK : VLM_ERR_OUT_OF_MEMORY;
    for (size_t id = 0; id < n && st == VLM_OK; id++) {
        score[id] = v->gemma ? -(double)id : (double)score_at(v, id);
        first[id] = (uint32_t)id;
    }
    if (st == VLM_OK && vlmi_bpe_vocab_size(bpe) < t->n_entries)
        for (size_t i = t->n_entries; i-- > 0;) {   /* the earliest position is written last */
            const vlmi_vocab_entry *e = &t->entries[i];
            int32_t id = vlmi_bpe_token_to_id(bpe, arena + e->off, e->len);
            if (id >= 0) first[id] = (uint32_t)i;
        }
    if (st == VLM_OK) st = vlmi_bpe_rank_by_score(bpe, score, first);
    free(score);
    free(first);
    return st;
}

static vlm_status parse_text(const char *text, vlm_status (*parse)(const cJSON *, void **),
                             void **out) {
    *out = NULL;
    if (text[0] == '\0') return VLM_OK;
    cJSON *json = cJSON_Parse(text);
    if (json == NULL) return VLM_ERR_OUT_OF_MEMORY;
    vlm_status st = parse(json, out);
    cJSON_Delete(json);
    return st;
}

static vlm_status parse_normalizer(const cJSON *j, void **out) {
    return vlmi_normalizer_parse(j, (vlmi_normalizer **)out);
}
static vlm_status parse_pre(const cJSON *j, void **out) {
    return vlmi_pre_tokenizer_parse(j, (vlmi_pre_tokenizer **)out);
}
static vlm_status parse_decoder(const cJSON *j, void **out) {
    return vlmi_token_decoder_parse(j, (vlmi_decoder **)out);
}

static vlm_status build(const gguf_vocab *v, vlm_tokenizer *tok) {
    vlmi_bpe_tables tables = { 0 };
    vlmi_buf merge_text = { 0 };
    tables.merges_status.code = VLMI_TABLE_OK;
    vlm_status st = build_vocab(v, &tables);
    if (st == VLM_OK) {
        if (v->merges != NULL) {
            st = read_file_merges(v, &tables, &merge_text);
            tables.merges_text = merge_text.data;
        } else {
            tables.merges_status.code = VLMI_TABLE_ABSENT;
        }
    }
    cJSON *model = NULL;
    if (st == VLM_OK) {
        model = cJSON_CreateObject();
        if (model == NULL || add_string(model, "type", "BPE") != VLM_OK ||
            !cJSON_AddBoolToObject(model, "fuse_unk", !v->byte_level) ||
            !cJSON_AddBoolToObject(model, "byte_fallback", !v->byte_level))
            st = VLM_ERR_OUT_OF_MEMORY;
        const char *unk;
        size_t len;
        if (st == VLM_OK && !v->byte_level && token_at(v, v->unk, &unk, &len)) {
            char *name = vlmi_strndup(unk, len);
            st = name ? add_string(model, "unk_token", name) : VLM_ERR_OUT_OF_MEMORY;
            free(name);
        }
    }
    /* the model keeps the arena; merge_text is read while parsing only */
    const char *arena = tables.arena;
    if (st == VLM_OK) st = vlmi_bpe_parse(model, &tables, &tok->model);
    if (st == VLM_OK && v->merges == NULL) st = rank_by_score(v, &tables, arena, tok->model);
    cJSON_Delete(model);
    vlmi_bpe_tables_free(&tables);
    vlmi_buf_free(&merge_text);
    if (st != VLM_OK) return vlmi_fail_prefix(st, v->file);

    const char *normalizer, *pre, *decoder;
    component_texts(v, &normalizer, &pre, &decoder);
    cJSON *list = NULL, *post = NULL, *split_pre = NULL;
    if ((st = parse_text(normalizer, parse_normalizer, (void **)&tok->normalizer)) == VLM_OK &&
        (st = added_tokens(v, tok->model, &list)) == VLM_OK &&
        (st = vlmi_added_vocab_parse(list, tok->model, tok->normalizer, &tok->added)) == VLM_OK &&
        (st = v->byte_level ? byte_level_pre(v, &split_pre) : VLM_OK) == VLM_OK &&
        (st = split_pre ? vlmi_pre_tokenizer_parse(split_pre, &tok->pre_tokenizer)
                        : parse_text(pre, parse_pre, (void **)&tok->pre_tokenizer)) == VLM_OK &&
        (st = post_processor(v, &post)) == VLM_OK &&
        (st = vlmi_post_processor_parse(post, &tok->post_processor)) == VLM_OK)
        st = parse_text(decoder, parse_decoder, (void **)&tok->decoder);
    cJSON_Delete(list);
    cJSON_Delete(post);
    cJSON_Delete(split_pre);
    if (st != VLM_OK) return st;
    int32_t max_id = vlmi_bpe_max_id(tok->model);
    int32_t added_max = vlmi_added_vocab_max_id(tok->added);
    tok->n_vocab = (size_t)((added_max > max_id ? added_max : max_id) + 1);
    return VLM_OK;
}

vlm_status vlmi_tokenizer_load_gguf(const struct vlmi_gguf *gguf, vlm_tokenizer **out) {
    *out = NULL;
    gguf_vocab v;
    vlm_tokenizer *tok = NULL;
    vlm_status st = read_vocab(gguf, &v);
    if (st == VLM_OK) {
        tok = vlmi_calloc(1, sizeof *tok);
        st = tok ? build(&v, tok) : VLM_ERR_OUT_OF_MEMORY;
    }
    free(v.token_s);
    free(v.token_len);
    if (st != VLM_OK) {
        vlm_tokenizer_free(tok);
        return st;
    }
    *out = tok;
    return VLM_OK;
}
