/* Added tokens ("added_tokens" in tokenizer.json): ids assigned as
 * tokenizers' AddedVocabulary does, and the text split around them before
 * the model sees it. Matching is leftmost-longest (Aho-Corasick
 * LeftmostLongest in tokenizers) over two tries: tokens matched on the raw
 * text, and tokens with "normalized": true matched on normalized text. */
#include "text/tokenizer-impl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct added_token {
    char   *content;
    size_t  len;
    int32_t id;
    bool    special, lstrip, rstrip, single_word, normalized;
} added_token;

/* A byte trie; edges map (node << 8 | byte) -> child. */
typedef struct trie {
    vlmi_u64map edges;
    int32_t    *terminal;   /* per node: token index, or -1 */
    size_t      n_nodes, cap;
} trie;

struct vlmi_added_vocab {
    added_token *tokens;
    size_t       n;
    vlmi_strmap  by_content;  /* content -> index in tokens */
    vlmi_u64map  by_id;       /* id -> index in tokens */
    int32_t      max_id;
    trie         raw, normalized;
};

/* ---- trie ---- */

static vlm_status trie_add_node(trie *t, uint32_t *out) {
    if (t->n_nodes == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 64;
        int32_t *p = vlmi_realloc(t->terminal, cap * sizeof *p);
        if (p == NULL) return VLM_ERR_OUT_OF_MEMORY;
        t->terminal = p;
        t->cap = cap;
    }
    t->terminal[t->n_nodes] = -1;
    *out = (uint32_t)t->n_nodes++;
    return VLM_OK;
}

static vlm_status trie_init(trie *t) {
    uint32_t root;
    vlm_status st = vlmi_u64map_init(&t->edges, 64);
    return st == VLM_OK ? trie_add_node(t, &root) : st;
}

/* Inserts s; an earlier pattern with the same bytes keeps priority. */
static vlm_status trie_insert(trie *t, const char *s, size_t len, int32_t index) {
    uint32_t node = 0, child, unused;
    for (size_t i = 0; i < len; i++) {
        uint64_t key = (uint64_t)node << 8 | (unsigned char)s[i];
        if (!vlmi_u64map_get(&t->edges, key, &child, &unused)) {
            vlm_status st = trie_add_node(t, &child);
            if (st == VLM_OK) st = vlmi_u64map_put(&t->edges, key, child, 0);
            if (st != VLM_OK) return st;
        }
        node = child;
    }
    if (t->terminal[node] < 0) t->terminal[node] = index;
    return VLM_OK;
}

/* Longest pattern starting at s[0..len): its token index and length. */
static bool trie_longest(const trie *t, const char *s, size_t len, int32_t *index, size_t *mlen) {
    uint32_t node = 0, child, unused;
    bool found = false;
    for (size_t i = 0; i < len; i++) {
        if (!vlmi_u64map_get(&t->edges, (uint64_t)node << 8 | (unsigned char)s[i], &child, &unused))
            break;
        node = child;
        if (t->terminal[node] >= 0) {
            *index = t->terminal[node];
            *mlen = i + 1;
            found = true;
        }
    }
    return found;
}

static void trie_free(trie *t) {
    vlmi_u64map_free(&t->edges);
    free(t->terminal);
    memset(t, 0, sizeof *t);
}

/* ---- loading ---- */

void vlmi_added_vocab_free(vlmi_added_vocab *added) {
    if (added == NULL) return;
    for (size_t i = 0; i < added->n; i++) free(added->tokens[i].content);
    free(added->tokens);
    vlmi_strmap_free(&added->by_content);
    vlmi_u64map_free(&added->by_id);
    trie_free(&added->raw);
    trie_free(&added->normalized);
    free(added);
}

static vlm_status parse_token(const cJSON *json, size_t index, added_token *t) {
    static const char *const keys[] = { "id", "content", "single_word", "lstrip", "rstrip",
                                        "normalized", "special", NULL };
    char what[48];
    snprintf(what, sizeof what, "added_tokens[%zu]", index);
    if (!cJSON_IsObject(json))
        return vlmi_fail(VLM_ERR_FORMAT, "tokenizer.json: %s must be an object", what);
    const char *content;
    uint64_t id;
    vlm_status st;
    if ((st = vlmi_json_check_keys(json, what, keys)) != VLM_OK ||
        (st = vlmi_json_string(json, "content", what, true, &content)) != VLM_OK ||
        (st = vlmi_json_uint(json, "id", what, true, INT32_MAX, 0, &id)) != VLM_OK ||
        (st = vlmi_json_bool(json, "special", what, false, &t->special)) != VLM_OK ||
        (st = vlmi_json_bool(json, "single_word", what, false, &t->single_word)) != VLM_OK ||
        (st = vlmi_json_bool(json, "lstrip", what, false, &t->lstrip)) != VLM_OK ||
        (st = vlmi_json_bool(json, "rstrip", what, false, &t->rstrip)) != VLM_OK ||
        (st = vlmi_json_bool(json, "normalized", what, !t->special, &t->normalized)) != VLM_OK)
        return st;
    t->id = (int32_t)id;
    t->len = strlen(content);
    t->content = vlmi_strndup(content, t->len);
    return t->content ? VLM_OK : VLM_ERR_OUT_OF_MEMORY;
}

/* tokenizers assigns the id: the model's id for a string it knows, else
 * the next free id after the model's vocabulary and earlier added tokens.
 * For well-formed files this is the id the file states. */
static int32_t assign_id(const vlmi_added_vocab *added, const vlmi_bpe *bpe, const added_token *t) {
    int32_t model_id = vlmi_bpe_token_to_id(bpe, t->content, t->len);
    if (model_id >= 0) return model_id;
    int32_t vocab_size = (int32_t)vlmi_bpe_vocab_size(bpe);
    if (added->n == 0) return vocab_size;
    return (added->max_id >= vocab_size || vocab_size == 0) ? added->max_id + 1 : vocab_size;
}

static vlm_status build_tries(vlmi_added_vocab *added, const vlmi_normalizer *normalizer) {
    vlm_status st;
    if ((st = trie_init(&added->raw)) != VLM_OK || (st = trie_init(&added->normalized)) != VLM_OK)
        return st;
    vlmi_buf norm = { 0 };
    /* Special tokens first, then the others: the pattern order of
     * tokenizers' refresh_added_tokens. */
    for (int pass = 0; pass < 2 && st == VLM_OK; pass++) {
        for (size_t i = 0; i < added->n && st == VLM_OK; i++) {
            const added_token *t = &added->tokens[i];
            if (t->special != (pass == 0)) continue;
            if (!t->normalized) {
                st = trie_insert(&added->raw, t->content, t->len, (int32_t)i);
                continue;
            }
            st = vlmi_normalizer_apply(normalizer, t->content, t->len, &norm);
            if (st == VLM_OK && norm.len > 0)
                st = trie_insert(&added->normalized, norm.data, norm.len, (int32_t)i);
        }
    }
    vlmi_buf_free(&norm);
    return st;
}

vlm_status vlmi_added_vocab_parse(const cJSON *json, const vlmi_bpe *bpe,
                                  const vlmi_normalizer *normalizer, vlmi_added_vocab **out) {
    *out = NULL;
    if (json != NULL && !cJSON_IsNull(json) && !cJSON_IsArray(json))
        return vlmi_fail(VLM_ERR_FORMAT, "tokenizer.json: added_tokens must be an array");
    size_t count = json && cJSON_IsArray(json) ? (size_t)cJSON_GetArraySize(json) : 0;
    vlmi_added_vocab *added = vlmi_calloc(1, sizeof *added);
    if (added == NULL) return VLM_ERR_OUT_OF_MEMORY;
    added->max_id = -1;
    vlm_status st = VLM_OK;
    added->tokens = vlmi_calloc(count, sizeof *added->tokens);
    if (added->tokens == NULL) st = VLM_ERR_OUT_OF_MEMORY;
    if (st == VLM_OK) st = vlmi_strmap_init(&added->by_content, count);
    if (st == VLM_OK) st = vlmi_u64map_init(&added->by_id, count);
    size_t index = 0;
    for (const cJSON *item = count ? json->child : NULL; item != NULL && st == VLM_OK;
         item = item->next, index++) {
        added_token t = { 0 };
        if ((st = parse_token(item, index, &t)) != VLM_OK) {
            free(t.content);
            break;
        }
        if (t.len == 0) { free(t.content); continue; }  /* ignored by tokenizers */
        int32_t existing = vlmi_strmap_get(&added->by_content, t.content, t.len);
        if (existing >= 0) {
            /* A repeated content updates the flags and keeps its id; the
             * map's key is the first copy of the content, so that one stays */
            added_token *old = &added->tokens[existing];
            t.special = t.special || old->special;
            t.id = old->id;
            free(t.content);
            t.content = old->content;
            *old = t;
            continue;
        }
        int32_t stated = t.id;
        t.id = assign_id(added, bpe, &t);
        if (t.id != stated)
            vlmi_log(VLM_LOG_WARN, "tokenizer.json: added token '%.60s' states id %d but gets id %d",
                     t.content, (int)stated, (int)t.id);
        added->tokens[added->n] = t;
        if (t.id > added->max_id) added->max_id = t.id;
        st = vlmi_strmap_put(&added->by_content, t.content, t.len, (int32_t)added->n);
        if (st == VLM_OK) st = vlmi_u64map_put(&added->by_id, (uint64_t)t.id, (uint32_t)added->n, 0);
        added->n++;
    }
    if (st == VLM_OK) st = build_tries(added, normalizer);
    if (st != VLM_OK) {
        vlmi_added_vocab_free(added);
        return st;
    }
    *out = added;
    return VLM_OK;
}

/* ---- lookups ---- */

const char *vlmi_added_vocab_id_to_token(const vlmi_added_vocab *added, int32_t id, size_t *len,
                                         bool *special) {
    uint32_t index, unused;
    if (id < 0 || !vlmi_u64map_get(&added->by_id, (uint64_t)id, &index, &unused)) return NULL;
    *len = added->tokens[index].len;
    if (special) *special = added->tokens[index].special;
    return added->tokens[index].content;
}

int32_t vlmi_added_vocab_token_to_id(const vlmi_added_vocab *added, const char *s, size_t len) {
    int32_t index = vlmi_strmap_get(&added->by_content, s, len);
    return index >= 0 ? added->tokens[index].id : -1;
}

int32_t vlmi_added_vocab_max_id(const vlmi_added_vocab *added) { return added->max_id; }

/* ---- splitting ---- */

static uint32_t last_char(const char *s, size_t end) {
    size_t i = end - 1;
    while (i > 0 && ((unsigned char)s[i] & 0xC0) == 0x80) i--;
    return vlmi_utf8_next(s, &i);
}

/* Splits s[0..len) around the tokens of t (tokenizers' find_matches), and
 * appends the pieces to out. */
static vlm_status split_on(const vlmi_added_vocab *added, const trie *t, const char *s, size_t len,
                           bool parse_special, bool at_origin, vlmi_pieces *out) {
    size_t start_offset = 0;
    vlm_status st = VLM_OK;
    size_t pos = 0;
    while (pos < len && st == VLM_OK) {
        int32_t index;
        size_t mlen;
        if (!trie_longest(t, s + pos, len - pos, &index, &mlen)) {
            pos++;
            continue;
        }
        size_t start = pos, stop = pos + mlen;
        pos = stop;  /* matches never overlap, skipped or not */
        const added_token *tok = &added->tokens[index];
        if (tok->special && !parse_special) continue;
        if (tok->single_word) {
            bool start_space = start == 0 || !vlmi_unicode_is_word(last_char(s, start));
            size_t j = stop;
            bool stop_space = stop == len || !vlmi_unicode_is_word(vlmi_utf8_next(s, &j));
            if (!start_space || !stop_space) continue;
        }
        if (tok->lstrip) {
            size_t new_start = start;
            while (new_start > 0 && vlmi_unicode_is_whitespace(last_char(s, new_start))) {
                new_start--;
                while (new_start > 0 && ((unsigned char)s[new_start] & 0xC0) == 0x80) new_start--;
            }
            start = new_start > start_offset ? new_start : start_offset;
        }
        if (tok->rstrip) {
            while (stop < len) {
                size_t j = stop;
                if (!vlmi_unicode_is_whitespace(vlmi_utf8_next(s, &j))) break;
                stop = j;
            }
        }
        /* tokenizers keeps scanning from the match end even after rstrip;
         * a match inside the stripped spaces must not overlap. */
        if (start < start_offset) start = start_offset;
        if (start_offset < start)
            st = vlmi_pieces_push(out, s + start_offset, start - start_offset, -1,
                                  at_origin && start_offset == 0);
        if (st == VLM_OK) st = vlmi_pieces_push(out, s + start, stop - start, tok->id, false);
        start_offset = stop;
    }
    if (st == VLM_OK && start_offset < len)
        st = vlmi_pieces_push(out, s + start_offset, len - start_offset, -1,
                              at_origin && start_offset == 0);
    return st;
}

vlm_status vlmi_added_vocab_extract(const vlmi_added_vocab *added, const vlmi_normalizer *normalizer,
                                    const char *text, size_t len, bool parse_special,
                                    vlmi_pieces *out) {
    vlmi_pieces raw = { 0 };
    vlmi_buf norm = { 0 };
    vlmi_pieces_clear(out);
    vlm_status st = split_on(added, &added->raw, text, len, parse_special, true, &raw);
    for (size_t i = 0; i < raw.n && st == VLM_OK; i++) {
        const vlmi_piece *p = &raw.items[i];
        const char *s = raw.text.data + p->offset;
        if (p->token >= 0) {
            st = vlmi_pieces_push(out, s, p->len, p->token, false);
            continue;
        }
        st = vlmi_normalizer_apply(normalizer, s, p->len, &norm);
        if (st == VLM_OK && norm.len > 0)
            st = split_on(added, &added->normalized, norm.data, norm.len, parse_special,
                          p->at_origin, out);
    }
    vlmi_pieces_free(&raw);
    vlmi_buf_free(&norm);
    return st;
}
