/* The BPE model: vocabulary and merge ranks from tokenizer.json, and the
 * merge loop of tokenizers' Word::merge_all (a min-heap of candidate pairs
 * by (rank, position) over a linked list of symbols). */
#include "text/tokenizer-impl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A sparse vocabulary is refused above this many ids per entry, so that a
 * lying file cannot make the id table huge. */
#define MAX_ID_SLACK (1u << 20)

struct vlmi_bpe {
    vlmi_strmap  vocab;          /* token string -> id; keys live in arena */
    char        *arena;
    const char **id_str;         /* (max_id + 1) strings, NULL for gaps */
    uint32_t    *id_len;
    int32_t      max_id;
    size_t       vocab_size;     /* distinct strings */
    vlmi_u64map  merges;         /* (left << 32 | right) -> (rank, new id) */
    char        *unk_token;      /* NULL: unknown characters are dropped */
    char        *prefix, *suffix; /* continuing_subword_prefix, end_of_word_suffix */
    size_t       prefix_len, suffix_len;
    bool         fuse_unk, byte_fallback, ignore_merges;
};

void vlmi_bpe_free(vlmi_bpe *bpe) {
    if (bpe == NULL) return;
    vlmi_strmap_free(&bpe->vocab);
    vlmi_u64map_free(&bpe->merges);
    free(bpe->arena);
    free(bpe->id_str);
    free(bpe->id_len);
    free(bpe->unk_token);
    free(bpe->prefix);
    free(bpe->suffix);
    free(bpe);
}

/* ---- loading ---- */

static vlm_status dup_option(const cJSON *model, const char *key, char **out, size_t *len) {
    const char *s;
    vlm_status st = vlmi_json_string(model, key, "model", false, &s);
    if (st != VLM_OK || s == NULL) return st;
    size_t n = strlen(s);
    if ((*out = vlmi_strndup(s, n)) == NULL) return VLM_ERR_OUT_OF_MEMORY;
    if (len) *len = n;
    return VLM_OK;
}

static vlm_status parse_vocab(vlmi_bpe *bpe, const cJSON *vocab) {
    if (!cJSON_IsObject(vocab))
        return vlmi_fail(VLM_ERR_FORMAT, "tokenizer.json: model.vocab must be an object");
    size_t count = 0, bytes = 0;
    int32_t max_id = -1;
    for (const cJSON *e = vocab->child; e != NULL; e = e->next) {
        double d = e->valuedouble;
        if (!cJSON_IsNumber(e) || !(d >= 0) || d > (double)INT32_MAX || (double)(int32_t)d != d)
            return vlmi_fail(VLM_ERR_FORMAT,
                             "tokenizer.json: model.vocab[\"%.40s\"] must be an id in [0, 2^31)",
                             e->string ? e->string : "");
        if ((int32_t)d > max_id) max_id = (int32_t)d;
        count++;
        bytes += strlen(e->string) + 1;
    }
    if (max_id >= 0 && (size_t)max_id > count * 16 + MAX_ID_SLACK)
        return vlmi_fail(VLM_ERR_LIMIT, "tokenizer.json: model.vocab ids reach %d for %zu tokens",
                         (int)max_id, count);
    bpe->arena = vlmi_malloc(bytes ? bytes : 1);
    bpe->id_str = vlmi_calloc((size_t)max_id + 1, sizeof *bpe->id_str);
    bpe->id_len = vlmi_calloc((size_t)max_id + 1, sizeof *bpe->id_len);
    if (!bpe->arena || !bpe->id_str || !bpe->id_len) return VLM_ERR_OUT_OF_MEMORY;
    vlm_status st = vlmi_strmap_init(&bpe->vocab, count);
    if (st != VLM_OK) return st;
    bpe->max_id = max_id;
    size_t used = 0;
    for (const cJSON *e = vocab->child; e != NULL; e = e->next) {
        size_t len = strlen(e->string);
        char *key = bpe->arena + used;
        memcpy(key, e->string, len + 1);
        used += len + 1;
        int32_t id = (int32_t)e->valuedouble;
        if ((st = vlmi_strmap_put(&bpe->vocab, key, len, id)) != VLM_OK) return st;
        bpe->id_str[id] = key;
        bpe->id_len[id] = (uint32_t)len;
    }
    bpe->vocab_size = bpe->vocab.n_used;
    return VLM_OK;
}

/* One merge given as "a b" or ["a", "b"]. */
static vlm_status merge_parts(const cJSON *m, size_t rank, const char **a, size_t *a_len,
                              const char **b, size_t *b_len) {
    if (cJSON_IsString(m)) {
        /* tokenizers splits on every space and wants exactly two parts. */
        const char *s = m->valuestring, *space = strchr(s, ' ');
        if (space == NULL || strchr(space + 1, ' ') != NULL)
            return vlmi_fail(VLM_ERR_FORMAT,
                             "tokenizer.json: model.merges[%zu] \"%.60s\" is not two tokens", rank, s);
        *a = s;
        *a_len = (size_t)(space - s);
        *b = space + 1;
        *b_len = strlen(space + 1);
        return VLM_OK;
    }
    if (cJSON_IsArray(m) && cJSON_GetArraySize(m) == 2 && cJSON_IsString(m->child) &&
        cJSON_IsString(m->child->next)) {
        *a = m->child->valuestring;
        *a_len = strlen(*a);
        *b = m->child->next->valuestring;
        *b_len = strlen(*b);
        return VLM_OK;
    }
    return vlmi_fail(VLM_ERR_FORMAT,
                     "tokenizer.json: model.merges[%zu] must be \"a b\" or [\"a\", \"b\"]", rank);
}

static vlm_status parse_merges(vlmi_bpe *bpe, const cJSON *merges) {
    if (merges == NULL || cJSON_IsNull(merges)) return vlmi_u64map_init(&bpe->merges, 0);
    if (!cJSON_IsArray(merges))
        return vlmi_fail(VLM_ERR_FORMAT, "tokenizer.json: model.merges must be an array");
    vlm_status st = vlmi_u64map_init(&bpe->merges, (size_t)cJSON_GetArraySize(merges));
    vlmi_buf joined = { 0 };
    size_t rank = 0;
    for (const cJSON *m = merges->child; m != NULL && st == VLM_OK; m = m->next) {
        /* Legacy merges.txt headers are skipped without taking a rank. */
        if (cJSON_IsString(m) && strncmp(m->valuestring, "#version", 8) == 0) continue;
        const char *a = NULL, *b = NULL;
        size_t a_len = 0, b_len = 0;
        if ((st = merge_parts(m, rank, &a, &a_len, &b, &b_len)) != VLM_OK) break;
        int32_t a_id = vlmi_strmap_get(&bpe->vocab, a, a_len);
        int32_t b_id = vlmi_strmap_get(&bpe->vocab, b, b_len);
        if (a_id < 0 || b_id < 0) {
            st = vlmi_fail(VLM_ERR_FORMAT, "tokenizer.json: model.merges[%zu]: \"%.*s\" is not in the vocabulary",
                           rank, (int)(a_id < 0 ? (a_len > 60 ? 60 : a_len) : (b_len > 60 ? 60 : b_len)),
                           a_id < 0 ? a : b);
            break;
        }
        /* The merged token drops the right part's continuing-subword prefix. */
        if (b_len < bpe->prefix_len) {
            st = vlmi_fail(VLM_ERR_FORMAT, "tokenizer.json: model.merges[%zu]: right part shorter than continuing_subword_prefix", rank);
            break;
        }
        joined.len = 0;
        if ((st = vlmi_buf_append(&joined, a, a_len)) != VLM_OK ||
            (st = vlmi_buf_append(&joined, b + bpe->prefix_len, b_len - bpe->prefix_len)) != VLM_OK)
            break;
        int32_t new_id = vlmi_strmap_get(&bpe->vocab, joined.data, joined.len);
        if (new_id < 0) {
            st = vlmi_fail(VLM_ERR_FORMAT, "tokenizer.json: model.merges[%zu]: \"%.60s\" is not in the vocabulary",
                           rank, joined.data);
            break;
        }
        /* A repeated pair keeps its last rank, as tokenizers' HashMap does. */
        st = vlmi_u64map_put(&bpe->merges, (uint64_t)(uint32_t)a_id << 32 | (uint32_t)b_id,
                             (uint32_t)rank, (uint32_t)new_id);
        rank++;
    }
    vlmi_buf_free(&joined);
    return st;
}

vlm_status vlmi_bpe_parse(const cJSON *model, vlmi_bpe **out) {
    static const char *const keys[] = { "type", "dropout", "unk_token", "continuing_subword_prefix",
                                         "end_of_word_suffix", "fuse_unk", "byte_fallback",
                                         "ignore_merges", "vocab", "merges", NULL };
    *out = NULL;
    if (model == NULL || cJSON_IsNull(model))
        return vlmi_fail(VLM_ERR_FORMAT, "tokenizer.json: model missing");
    const char *type;
    vlm_status st = vlmi_json_type(model, "model", &type);
    if (st != VLM_OK) return st;
    if (strcmp(type, "BPE") != 0)
        return vlmi_fail(VLM_ERR_UNSUPPORTED, "tokenizer.json: model type '%s' is not supported", type);
    if ((st = vlmi_json_check_keys(model, "BPE model", keys)) != VLM_OK) return st;
    const cJSON *dropout = cJSON_GetObjectItemCaseSensitive(model, "dropout");
    if (dropout != NULL && !cJSON_IsNull(dropout) &&
        !(cJSON_IsNumber(dropout) && dropout->valuedouble == 0.0))
        return vlmi_fail(VLM_ERR_UNSUPPORTED, "tokenizer.json: BPE dropout is not supported (must be null)");

    vlmi_bpe *bpe = vlmi_calloc(1, sizeof *bpe);
    if (bpe == NULL) return VLM_ERR_OUT_OF_MEMORY;
    if ((st = vlmi_json_bool(model, "fuse_unk", "model", false, &bpe->fuse_unk)) != VLM_OK ||
        (st = vlmi_json_bool(model, "byte_fallback", "model", false, &bpe->byte_fallback)) != VLM_OK ||
        (st = vlmi_json_bool(model, "ignore_merges", "model", false, &bpe->ignore_merges)) != VLM_OK ||
        (st = dup_option(model, "unk_token", &bpe->unk_token, NULL)) != VLM_OK ||
        (st = dup_option(model, "continuing_subword_prefix", &bpe->prefix, &bpe->prefix_len)) != VLM_OK ||
        (st = dup_option(model, "end_of_word_suffix", &bpe->suffix, &bpe->suffix_len)) != VLM_OK ||
        (st = parse_vocab(bpe, cJSON_GetObjectItemCaseSensitive(model, "vocab"))) != VLM_OK ||
        (st = parse_merges(bpe, cJSON_GetObjectItemCaseSensitive(model, "merges"))) != VLM_OK) {
        vlmi_bpe_free(bpe);
        return st;
    }
    *out = bpe;
    return VLM_OK;
}

/* ---- lookups ---- */

int32_t vlmi_bpe_token_to_id(const vlmi_bpe *bpe, const char *s, size_t len) {
    return vlmi_strmap_get(&bpe->vocab, s, len);
}

const char *vlmi_bpe_id_to_token(const vlmi_bpe *bpe, int32_t id, size_t *len) {
    if (id < 0 || id > bpe->max_id || bpe->id_str[id] == NULL) return NULL;
    *len = bpe->id_len[id];
    return bpe->id_str[id];
}

size_t vlmi_bpe_vocab_size(const vlmi_bpe *bpe) { return bpe->vocab_size; }
int32_t vlmi_bpe_max_id(const vlmi_bpe *bpe) { return bpe->max_id; }

/* ---- the merge loop ---- */

typedef struct symbol {
    int32_t id;
    int32_t prev, next;   /* -1 at the ends */
    size_t  len;          /* bytes; 0 once merged into its left neighbour */
} symbol;

typedef struct merge {
    uint32_t rank, new_id;
    int32_t  pos;
} merge;

typedef struct word {
    symbol *symbols;
    size_t  n, cap;
    merge  *heap;
    size_t  heap_n, heap_cap;
} word;

static bool merge_before(const merge *x, const merge *y) {
    return x->rank != y->rank ? x->rank < y->rank : x->pos < y->pos;
}

static vlm_status heap_push(word *w, merge m) {
    if (w->heap_n == w->heap_cap) {
        size_t cap = w->heap_cap ? w->heap_cap * 2 : 16;
        merge *p = vlmi_realloc(w->heap, cap * sizeof *p);
        if (p == NULL) return VLM_ERR_OUT_OF_MEMORY;
        w->heap = p;
        w->heap_cap = cap;
    }
    size_t i = w->heap_n++;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!merge_before(&m, &w->heap[parent])) break;
        w->heap[i] = w->heap[parent];
        i = parent;
    }
    w->heap[i] = m;
    return VLM_OK;
}

static merge heap_pop(word *w) {
    merge top = w->heap[0], last = w->heap[--w->heap_n];
    size_t i = 0, n = w->heap_n;
    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= n) break;
        if (child + 1 < n && merge_before(&w->heap[child + 1], &w->heap[child])) child++;
        if (!merge_before(&w->heap[child], &last)) break;
        w->heap[i] = w->heap[child];
        i = child;
    }
    if (n > 0) w->heap[i] = last;
    return top;
}

static vlm_status word_add(word *w, int32_t id, size_t len) {
    if (w->n == w->cap) {
        size_t cap = w->cap ? w->cap * 2 : 32;
        symbol *p = vlmi_realloc(w->symbols, cap * sizeof *p);
        if (p == NULL) return VLM_ERR_OUT_OF_MEMORY;
        w->symbols = p;
        w->cap = cap;
    }
    int32_t n = (int32_t)w->n;
    if (n > 0) w->symbols[n - 1].next = n;
    w->symbols[w->n++] = (symbol){ id, n - 1, -1, len };
    return VLM_OK;
}

static bool merge_of(const vlmi_bpe *bpe, int32_t left, int32_t right, uint32_t *rank,
                     uint32_t *new_id) {
    return vlmi_u64map_get(&bpe->merges, (uint64_t)(uint32_t)left << 32 | (uint32_t)right, rank,
                           new_id);
}

static vlm_status merge_all(const vlmi_bpe *bpe, word *w) {
    vlm_status st = VLM_OK;
    uint32_t rank, new_id;
    for (size_t i = 0; i + 1 < w->n && st == VLM_OK; i++)
        if (merge_of(bpe, w->symbols[i].id, w->symbols[i + 1].id, &rank, &new_id))
            st = heap_push(w, (merge){ rank, new_id, (int32_t)i });
    while (w->heap_n > 0 && st == VLM_OK) {
        merge top = heap_pop(w);
        symbol *cur = &w->symbols[top.pos];
        if (cur->len == 0 || cur->next == -1) continue;
        int32_t next_pos = cur->next;
        symbol right = w->symbols[next_pos];
        /* Skip entries made stale by an earlier merge. */
        if (!merge_of(bpe, cur->id, right.id, &rank, &new_id) || new_id != top.new_id) continue;
        cur->id = (int32_t)top.new_id;
        cur->len += right.len;
        cur->next = right.next;
        w->symbols[next_pos].len = 0;
        if (right.next > -1 && (size_t)right.next < w->n) w->symbols[right.next].prev = top.pos;
        if (cur->prev >= 0 && merge_of(bpe, w->symbols[cur->prev].id, cur->id, &rank, &new_id))
            st = heap_push(w, (merge){ rank, new_id, cur->prev });
        cur = &w->symbols[top.pos];
        if (st == VLM_OK && cur->next >= 0 &&
            merge_of(bpe, cur->id, w->symbols[cur->next].id, &rank, &new_id))
            st = heap_push(w, (merge){ rank, new_id, top.pos });
    }
    return st;
}

static int32_t byte_fallback_id(const vlmi_bpe *bpe, unsigned char byte) {
    char name[8];
    snprintf(name, sizeof name, "<0x%02X>", byte);
    return vlmi_strmap_get(&bpe->vocab, name, 6);
}

/* The initial symbols: one per character (with prefix and suffix), byte
 * fallback or unk for characters outside the vocabulary. */
static vlm_status split_chars(const vlmi_bpe *bpe, const char *s, size_t len, word *w,
                              vlmi_buf *sym) {
    int32_t unk_id = -1;
    size_t unk_len = 0;
    bool unk_pending = false;
    vlm_status st = VLM_OK;
    for (size_t i = 0; i < len && st == VLM_OK;) {
        size_t start = i;
        i += vlmi_utf8_seq_len((unsigned char)s[i]);
        if (i > len) i = len;
        size_t byte_len = i - start;
        sym->len = 0;
        if (start > 0 && bpe->prefix) st = vlmi_buf_append(sym, bpe->prefix, bpe->prefix_len);
        if (st == VLM_OK) st = vlmi_buf_append(sym, s + start, byte_len);
        if (st == VLM_OK && i == len && bpe->suffix) st = vlmi_buf_append(sym, bpe->suffix, bpe->suffix_len);
        if (st != VLM_OK) break;
        int32_t id = vlmi_strmap_get(&bpe->vocab, sym->data, sym->len);
        if (id >= 0) {
            if (unk_pending) {
                if ((st = word_add(w, unk_id, unk_len)) != VLM_OK) break;
                unk_pending = false;
            }
            st = word_add(w, id, byte_len);
            continue;
        }
        if (bpe->byte_fallback) {
            /* All bytes must have a <0xXX> token, or none is used. Like
             * tokenizers, a pending unk is not flushed first. */
            bool all = true;
            for (size_t k = 0; k < sym->len && all; k++)
                all = byte_fallback_id(bpe, (unsigned char)sym->data[k]) >= 0;
            if (all) {
                for (size_t k = 0; k < sym->len && st == VLM_OK; k++)
                    st = word_add(w, byte_fallback_id(bpe, (unsigned char)sym->data[k]), 1);
                continue;
            }
        }
        if (bpe->unk_token == NULL) continue;  /* dropped, as tokenizers does */
        int32_t this_unk = vlmi_strmap_get(&bpe->vocab, bpe->unk_token, strlen(bpe->unk_token));
        if (this_unk < 0)
            return vlmi_fail(VLM_ERR_FORMAT, "tokenizer.json: unk_token '%.60s' is not in the vocabulary",
                             bpe->unk_token);
        if (unk_pending && bpe->fuse_unk) {
            unk_len += byte_len;
        } else {
            if (unk_pending && (st = word_add(w, unk_id, unk_len)) != VLM_OK) break;
            unk_id = this_unk;
            unk_len = byte_len;
            unk_pending = true;
        }
    }
    if (st == VLM_OK && unk_pending) st = word_add(w, unk_id, unk_len);
    return st;
}

vlm_status vlmi_bpe_tokenize(const vlmi_bpe *bpe, const char *s, size_t len, vlmi_ids *ids) {
    if (len == 0) return VLM_OK;
    if (bpe->ignore_merges) {
        int32_t id = vlmi_strmap_get(&bpe->vocab, s, len);
        if (id >= 0) return vlmi_ids_push(ids, id);
    }
    word w = { 0 };
    vlmi_buf sym = { 0 };
    vlm_status st = split_chars(bpe, s, len, &w, &sym);
    if (st == VLM_OK) st = merge_all(bpe, &w);
    for (size_t i = 0; i < w.n && st == VLM_OK; i++)
        if (w.symbols[i].len != 0) st = vlmi_ids_push(ids, w.symbols[i].id);
    free(w.symbols);
    free(w.heap);
    vlmi_buf_free(&sym);
    return st;
}
