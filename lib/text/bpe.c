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
    uint64_t    *score_rank;     /* (max_id + 1) or NULL: see vlmi_bpe_rank_by_score */
    uint16_t    *n_code_points;  /* (max_id + 1) with score_rank */
    char        *unk_token;      /* NULL: unknown characters are dropped */
    char        *prefix, *suffix; /* continuing_subword_prefix, end_of_word_suffix */
    size_t       prefix_len, suffix_len;
    bool         fuse_unk, byte_fallback, ignore_merges;
};

void vlmi_bpe_free(vlmi_bpe *bpe) {
    if (bpe == NULL) return;
    vlmi_strmap_free(&bpe->vocab);
    vlmi_u64map_free(&bpe->merges);
    free(bpe->score_rank);
    free(bpe->n_code_points);
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

/* The vocabulary and merges come read from the JSON text (json_scan.c):
 * one arena for the strings, no node per entry. */

static vlm_status table_error(const vlmi_table_status *st, const char *field) {
    switch (st->code) {
    case VLMI_TABLE_OK: return VLM_OK;
    case VLMI_TABLE_NO_MEMORY: return VLM_ERR_OUT_OF_MEMORY;
    case VLMI_TABLE_ABSENT:
    case VLMI_TABLE_WRONG_TYPE:
        return vlmi_fail(VLM_ERR_FORMAT, "tokenizer.json: model.%s must be an %s", field,
                         field[0] == 'v' ? "object" : "array");
    case VLMI_TABLE_MALFORMED:
        return vlmi_fail(VLM_ERR_FORMAT, "tokenizer.json: model.%s: malformed JSON near byte %zu", field,
                         st->at);
    case VLMI_TABLE_BAD_ID:
        return vlmi_fail(VLM_ERR_FORMAT, "tokenizer.json: model.vocab[\"%.40s\"] must be an id in [0, 2^31)",
                         st->text);
    case VLMI_TABLE_BAD_MERGE:
        return vlmi_fail(VLM_ERR_FORMAT,
                         "tokenizer.json: model.merges[%zu] must be \"a b\" or [\"a\", \"b\"]", st->index);
    case VLMI_TABLE_NOT_TWO:
        return vlmi_fail(VLM_ERR_FORMAT, "tokenizer.json: model.merges[%zu] \"%.60s\" is not two tokens",
                         st->index, st->text);
    }
    return vlmi_fail(VLM_ERR_FORMAT, "tokenizer.json: model.%s is invalid", field);
}

static vlm_status parse_vocab(vlmi_bpe *bpe, vlmi_bpe_tables *t) {
    vlm_status st = table_error(&t->vocab_status, "vocab");
    if (st != VLM_OK) return st;
    const vlmi_vocab_entry *e = t->entries;
    size_t count = t->n_entries;
    bpe->arena = t->arena;
    t->arena = NULL;
    int32_t max_id = -1;
    for (size_t i = 0; i < count; i++)
        if (e[i].id > max_id) max_id = e[i].id;
    if (max_id >= 0 && (size_t)max_id > count * 16 + MAX_ID_SLACK)
        return vlmi_fail(VLM_ERR_LIMIT, "tokenizer.json: model.vocab ids reach %d for %zu tokens",
                         (int)max_id, count);
    bpe->id_str = vlmi_calloc((size_t)max_id + 1, sizeof *bpe->id_str);
    bpe->id_len = vlmi_calloc((size_t)max_id + 1, sizeof *bpe->id_len);
    if (!bpe->id_str || !bpe->id_len) return VLM_ERR_OUT_OF_MEMORY;
    if ((st = vlmi_strmap_init(&bpe->vocab, count)) != VLM_OK) return st;
    bpe->max_id = max_id;
    bool duplicates = false;
    for (size_t i = 0; i < count && st == VLM_OK; i++) {
        const char *key = bpe->arena + e[i].off;
        size_t before = bpe->vocab.n_used;
        st = vlmi_strmap_put(&bpe->vocab, key, e[i].len, e[i].id);
        duplicates |= bpe->vocab.n_used == before;
        bpe->id_str[e[i].id] = key;
        bpe->id_len[e[i].id] = e[i].len;
    }
    if (st == VLM_OK && duplicates) {
        /* A repeated string keeps its last id (serde's HashMap), and the
         * ids it lost have no string (tokenizers' vocab_r). */
        memset(bpe->id_str, 0, ((size_t)max_id + 1) * sizeof *bpe->id_str);
        for (size_t i = 0; i < count; i++) {
            const char *key = bpe->arena + e[i].off;
            if (vlmi_strmap_get(&bpe->vocab, key, e[i].len) != e[i].id) continue;
            bpe->id_str[e[i].id] = key;
            bpe->id_len[e[i].id] = e[i].len;
        }
    }
    bpe->vocab_size = bpe->vocab.n_used;
    return st;
}

static vlm_status parse_merges(vlmi_bpe *bpe, const vlmi_bpe_tables *t) {
    if (t->merges_status.code == VLMI_TABLE_ABSENT) return vlmi_u64map_init(&bpe->merges, 0);
    vlm_status st = table_error(&t->merges_status, "merges");
    if (st == VLM_OK) st = vlmi_u64map_init(&bpe->merges, t->n_merges);
    for (size_t rank = 0; rank < t->n_merges && st == VLM_OK; rank++) {
        const vlmi_merge_strings *m = &t->merges[rank];
        const char *a = vlmi_bpe_tables_string(t, m->a), *b = vlmi_bpe_tables_string(t, m->b);
        size_t a_len = m->a_len, b_len = m->b_len;
        int32_t a_id = vlmi_strmap_get(&bpe->vocab, a, a_len);
        int32_t b_id = vlmi_strmap_get(&bpe->vocab, b, b_len);
        if (a_id < 0 || b_id < 0)
            return vlmi_fail(VLM_ERR_FORMAT, "tokenizer.json: model.merges[%zu]: \"%.*s\" is not in the vocabulary",
                             rank, (int)(a_id < 0 ? (a_len > 60 ? 60 : a_len) : (b_len > 60 ? 60 : b_len)),
                             a_id < 0 ? a : b);
        /* The merged token drops the right part's continuing-subword prefix. */
        if (b_len < bpe->prefix_len)
            return vlmi_fail(VLM_ERR_FORMAT, "tokenizer.json: model.merges[%zu]: right part shorter than continuing_subword_prefix", rank);
        b += bpe->prefix_len;
        b_len -= bpe->prefix_len;
        int32_t new_id = vlmi_strmap_get2(&bpe->vocab, a, a_len, b, b_len);
        if (new_id < 0) {
            int shown_a = (int)(a_len > 60 ? 60 : a_len), shown_b = (int)(b_len > 60 - (size_t)shown_a ? 60 - (size_t)shown_a : b_len);
            return vlmi_fail(VLM_ERR_FORMAT, "tokenizer.json: model.merges[%zu]: \"%.*s%.*s\" is not in the vocabulary",
                             rank, shown_a, a, shown_b, b);
        }
        /* A repeated pair keeps its last rank, as tokenizers' HashMap does. */
        st = vlmi_u64map_put(&bpe->merges, (uint64_t)(uint32_t)a_id << 32 | (uint32_t)b_id,
                             (uint32_t)rank, (uint32_t)new_id);
    }
    return st;
}

vlm_status vlmi_bpe_parse(const cJSON *model, vlmi_bpe_tables *tables, vlmi_bpe **out) {
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
        (st = parse_vocab(bpe, tables)) != VLM_OK || (st = parse_merges(bpe, tables)) != VLM_OK) {
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
    uint64_t rank;
    uint32_t new_id;
    int32_t  pos;
} merge;

/* Most words fit in the local arrays: no malloc per word. */
#define WORD_LOCAL 64

typedef struct word {
    symbol *symbols;
    size_t  n, cap;
    merge  *heap;
    size_t  heap_n, heap_cap;
    symbol  local_symbols[WORD_LOCAL];
    merge   local_heap[WORD_LOCAL];
} word;

/* Doubles an array that may still be the word's local one. */
static void *grow(void *items, const void *local, size_t *cap, size_t size) {
    size_t new_cap = *cap * 2;
    void *p;
    if (items == local) {
        if ((p = vlmi_malloc(new_cap * size)) != NULL) memcpy(p, items, *cap * size);
    } else {
        p = vlmi_realloc(items, new_cap * size);
    }
    if (p != NULL) *cap = new_cap;
    return p;
}

static bool merge_before(const merge *x, const merge *y) {
    return x->rank != y->rank ? x->rank < y->rank : x->pos < y->pos;
}

static vlm_status heap_push(word *w, merge m) {
    if (w->heap_n == w->heap_cap) {
        merge *p = grow(w->heap, w->local_heap, &w->heap_cap, sizeof *p);
        if (p == NULL) return VLM_ERR_OUT_OF_MEMORY;
        w->heap = p;
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
        symbol *p = grow(w->symbols, w->local_symbols, &w->cap, sizeof *p);
        if (p == NULL) return VLM_ERR_OUT_OF_MEMORY;
        w->symbols = p;
    }
    int32_t n = (int32_t)w->n;
    if (n > 0) w->symbols[n - 1].next = n;
    w->symbols[w->n++] = (symbol){ id, n - 1, -1, len };
    return VLM_OK;
}

/* Packing of a score-ranked merge: the merged token's score rank and first
 * position (in score_rank), then its parts' lengths, longer first. */
#define SCORED_MAX_TOKENS ((size_t)1 << 20)
#define SCORED_MAX_CODE_POINTS 2047u
#define SCORED_RANK_SHIFT 42
#define SCORED_LEFT_SHIFT 31
#define SCORED_RIGHT_SHIFT 20

static bool merge_of(const vlmi_bpe *bpe, int32_t left, int32_t right, uint64_t *rank,
                     uint32_t *new_id) {
    if (bpe->score_rank == NULL) {
        uint32_t r;
        if (!vlmi_u64map_get(&bpe->merges, (uint64_t)(uint32_t)left << 32 | (uint32_t)right, &r,
                             new_id))
            return false;
        *rank = r;
        return true;
    }
    int32_t merged = vlmi_strmap_get2(&bpe->vocab, bpe->id_str[left], bpe->id_len[left],
                                      bpe->id_str[right], bpe->id_len[right]);
    if (merged < 0) return false;
    *new_id = (uint32_t)merged;
    *rank = bpe->score_rank[merged] |
            (uint64_t)(SCORED_MAX_CODE_POINTS - bpe->n_code_points[left]) << SCORED_LEFT_SHIFT |
            (uint64_t)(SCORED_MAX_CODE_POINTS - bpe->n_code_points[right]) << SCORED_RIGHT_SHIFT;
    return true;
}

typedef struct scored_id {
    double score;
    int32_t id;
} scored_id;

static int by_score_then_id(const void *pa, const void *pb) {
    const scored_id *a = pa, *b = pb;
    if (a->score != b->score) return a->score > b->score ? -1 : 1;
    return (a->id > b->id) - (a->id < b->id);
}

vlm_status vlmi_bpe_rank_by_score(vlmi_bpe *bpe, const double *score, const uint32_t *first) {
    size_t n = (size_t)(bpe->max_id + 1);
    if (n > SCORED_MAX_TOKENS)
        return vlmi_fail(VLM_ERR_LIMIT, "%zu tokens ranked by score (at most %zu)", n,
                         SCORED_MAX_TOKENS);
    bpe->score_rank = vlmi_calloc(n ? n : 1, sizeof *bpe->score_rank);
    bpe->n_code_points = vlmi_calloc(n ? n : 1, sizeof *bpe->n_code_points);
    scored_id *order = vlmi_malloc((n ? n : 1) * sizeof *order);
    vlm_status st = bpe->score_rank && bpe->n_code_points && order ? VLM_OK : VLM_ERR_OUT_OF_MEMORY;
    size_t n_live = 0;
    for (size_t id = 0; id < n && st == VLM_OK; id++) {
        const char *s = bpe->id_str[id];
        if (s == NULL) continue;
        size_t cp = 0;
        for (size_t i = 0; i < bpe->id_len[id]; i++) cp += ((unsigned char)s[i] & 0xc0) != 0x80;
        if (cp > SCORED_MAX_CODE_POINTS || first[id] >= SCORED_MAX_TOKENS)
            st = vlmi_fail(VLM_ERR_LIMIT, "token %zu: %zu code points (at most %u)", id, cp,
                           SCORED_MAX_CODE_POINTS);
        bpe->n_code_points[id] = (uint16_t)cp;
        order[n_live++] = (scored_id){ score[id], (int32_t)id };
    }
    /* Gemma's scores fall with the id: the order is already there. */
    bool sorted = true;
    for (size_t k = 1; k < n_live && sorted; k++)
        sorted = order[k - 1].score > order[k].score;
    if (st == VLM_OK && !sorted) qsort(order, n_live, sizeof *order, by_score_then_id);
    uint64_t rank = 0;
    for (size_t k = 0; k < n_live && st == VLM_OK; k++) {
        if (k > 0 && order[k].score != order[k - 1].score) rank++;
        int32_t id = order[k].id;
        bpe->score_rank[id] = rank << SCORED_RANK_SHIFT | first[id];
    }
    free(order);
    return st;
}

static vlm_status merge_all(const vlmi_bpe *bpe, word *w) {
    vlm_status st = VLM_OK;
    uint64_t rank;
    uint32_t new_id;
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
        const char *sym_s = s + start;
        size_t sym_len = byte_len;
        if ((start > 0 && bpe->prefix_len > 0) || (i == len && bpe->suffix_len > 0)) {
            sym->len = 0;
            if (start > 0 && bpe->prefix) st = vlmi_buf_append(sym, bpe->prefix, bpe->prefix_len);
            if (st == VLM_OK) st = vlmi_buf_append(sym, s + start, byte_len);
            if (st == VLM_OK && i == len && bpe->suffix) st = vlmi_buf_append(sym, bpe->suffix, bpe->suffix_len);
            if (st != VLM_OK) break;
            sym_s = sym->data;
            sym_len = sym->len;
        }
        int32_t id = vlmi_strmap_get(&bpe->vocab, sym_s, sym_len);
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
            for (size_t k = 0; k < sym_len && all; k++)
                all = byte_fallback_id(bpe, (unsigned char)sym_s[k]) >= 0;
            if (all) {
                for (size_t k = 0; k < sym_len && st == VLM_OK; k++)
                    st = word_add(w, byte_fallback_id(bpe, (unsigned char)sym_s[k]), 1);
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
    word w;
    w.symbols = w.local_symbols;
    w.heap = w.local_heap;
    w.n = w.heap_n = 0;
    w.cap = w.heap_cap = WORD_LOCAL;
    vlmi_buf sym = { 0 };
    vlm_status st = split_chars(bpe, s, len, &w, &sym);
    if (st == VLM_OK) st = merge_all(bpe, &w);
    for (size_t i = 0; i < w.n && st == VLM_OK; i++)
        if (w.symbols[i].len != 0) st = vlmi_ids_push(ids, w.symbols[i].id);
    if (w.symbols != w.local_symbols) free(w.symbols);
    if (w.heap != w.local_heap) free(w.heap);
    vlmi_buf_free(&sym);
    return st;
}
