/* Raw JSON reading for the two big tables of tokenizer.json.
 *
 * model.vocab (Gemma 3: 262k entries) and model.merges (515k) are most of
 * the file; as a cJSON tree they cost a node (and two mallocs) per entry.
 * vlmi_tokjson_read() walks the document once, building nothing but those
 * two tables (one arena for the vocabulary's strings, one array for the
 * merges, whose strings stay in the text); the loader hands the rest of
 * the document to cJSON, and bpe.c turns the tables into its maps.
 *
 * Errors in the tables are recorded (vlmi_table_status), not reported: the
 * loader reports them where the model is parsed, after the checks that
 * come first (an unsupported model type, say). */
#include "text/tokenizer-impl.h"

#include <stdlib.h>
#include <string.h>

/* ---- tokens ---- */

const char *vlmi_jraw_ws(const char *p, const char *end) {
    /* As cJSON: every byte up to the space is whitespace. */
    while (p < end && (unsigned char)*p <= ' ') p++;
    return p;
}

const char *vlmi_jraw_string_end(const char *p, const char *end, bool *escaped) {
    *escaped = false;
    if (p >= end || *p != '"') return NULL;
    for (p++; p < end; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == '"') return p + 1;
        if (c == '\\') {
            *escaped = true;
            if (++p == end) return NULL;
        } else if (c < 0x20) {
            return NULL;   /* control characters must be escaped */
        }
    }
    return NULL;
}

static int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Four hex digits at p (p + 4 <= end), or -1. */
static int32_t hex4(const char *p, const char *end) {
    if (end - p < 4) return -1;
    int32_t v = 0;
    for (int i = 0; i < 4; i++) {
        int d = hex_digit(p[i]);
        if (d < 0) return -1;
        v = v << 4 | d;
    }
    return v;
}

size_t vlmi_jraw_unescape(const char *p, const char *end, char *dst) {
    size_t n = 0;
    while (p < end) {
        char c = *p++;
        if (c != '\\') {
            dst[n++] = c;
            continue;
        }
        if (p == end) return SIZE_MAX;
        switch (*p++) {
        case '"': dst[n++] = '"'; break;
        case '\\': dst[n++] = '\\'; break;
        case '/': dst[n++] = '/'; break;
        case 'b': dst[n++] = '\b'; break;
        case 'f': dst[n++] = '\f'; break;
        case 'n': dst[n++] = '\n'; break;
        case 'r': dst[n++] = '\r'; break;
        case 't': dst[n++] = '\t'; break;
        case 'u': {
            int32_t cp = hex4(p, end);
            if (cp < 0) return SIZE_MAX;
            p += 4;
            if (cp >= 0xDC00 && cp <= 0xDFFF) return SIZE_MAX;   /* lone low surrogate */
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                /* A high surrogate needs its low half right after it. */
                if (end - p < 6 || p[0] != '\\' || p[1] != 'u') return SIZE_MAX;
                int32_t lo = hex4(p + 2, end);
                if (lo < 0xDC00 || lo > 0xDFFF) return SIZE_MAX;
                p += 6;
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            }
            /* 6 (or 12) escape bytes become at most 3 (or 4): dst keeps up. */
            n += vlmi_utf8_encode((uint32_t)cp, dst + n);
            break;
        }
        default:
            return SIZE_MAX;
        }
    }
    return n;
}

/* ---- the structure walk ---- */

/* Bytes the structure walk stops at: 1 inside strings, 2 outside. */
static const unsigned char stop[256] = {
    ['"'] = 3, ['\\'] = 1, ['{'] = 2, ['['] = 2, ['}'] = 2, [']'] = 2,
};

/* The byte after the string at p (at its '"'), or NULL. Lenient about
 * control characters, as cJSON is. */
static const char *skip_string(const char *p, const char *end) {
    for (p++;;) {
        while (p < end && !(stop[(unsigned char)*p] & 1)) p++;
        if (p == end) return NULL;
        if (*p == '"') return p + 1;
        if ((p += 2) > end) return NULL;   /* an escaped byte */
    }
}

/* Skips one value of any kind, tracking only strings and brackets: the
 * values located here are validated by their readers (the vocabulary and
 * merges) or by cJSON (everything else). NULL if it does not end. */
static const char *skip_value(const char *p, const char *end) {
    if (p == end) return NULL;
    if (*p == '"') return skip_string(p, end);
    if (*p != '{' && *p != '[') {
        /* A number or literal. */
        while (p < end && *p != ',' && *p != '}' && *p != ']' && (unsigned char)*p > ' ') p++;
        return p;
    }
    size_t depth = 0;
    for (;;) {
        while (p < end && !(stop[(unsigned char)*p] & 2)) p++;
        if (p == end) return NULL;
        char c = *p;
        if (c == '"') {
            if ((p = skip_string(p, end)) == NULL) return NULL;
            continue;
        }
        if (c == '{' || c == '[') depth++;
        else if (--depth == 0) return p + 1;
        p++;
    }
}

/* ---- the two tables ---- */

static void set_status(vlmi_table_status *st, vlmi_table_error code, size_t at, size_t index,
                       const char *text, size_t text_len) {
    st->code = code;
    st->at = at;
    st->index = index;
    if (text_len >= sizeof st->text) text_len = sizeof st->text - 1;
    if (text) memcpy(st->text, text, text_len);
    st->text[text ? text_len : 0] = '\0';
}

/* A JSON integer in [0, INT32_MAX] at *pp (a fraction or exponent makes
 * it something else, as for serde's u32). */
static bool read_id(const char **pp, const char *end, int32_t *out) {
    const char *p = *pp;
    if (p == end || *p < '0' || *p > '9') return false;
    if (*p == '0' && p + 1 < end && p[1] >= '0' && p[1] <= '9') return false;
    int64_t v = 0;
    for (; p < end && *p >= '0' && *p <= '9'; p++)
        if ((v = v * 10 + (*p - '0')) > INT32_MAX) return false;
    if (p < end && (*p == '.' || *p == 'e' || *p == 'E')) return false;
    *pp = p;
    *out = (int32_t)v;
    return true;
}

/* Reads the object at p into t's vocabulary; the end of the value, or NULL
 * with t->vocab_status set. */
static const char *read_vocab(vlmi_bpe_tables *t, const char *p, const char *end, size_t at) {
    const char *base = p;
    vlmi_table_status *st = &t->vocab_status;
#define VOCAB_MALFORMED() (set_status(st, VLMI_TABLE_MALFORMED, at + (size_t)(p - base), 0, NULL, 0), (const char *)NULL)
    if (*p != '{') {
        set_status(st, VLMI_TABLE_WRONG_TYPE, at, 0, NULL, 0);
        return NULL;
    }
    /* Decoded keys never outgrow their JSON, so the arena has room. */
    size_t n = 0, cap = (size_t)(end - p) / 24 + 16, used = 0;
    t->arena = vlmi_malloc((size_t)(end - p) + 1);
    t->entries = vlmi_malloc(cap * sizeof *t->entries);
    if (t->arena == NULL || t->entries == NULL) {
        set_status(st, VLMI_TABLE_NO_MEMORY, at, 0, NULL, 0);
        return NULL;
    }
    p = vlmi_jraw_ws(p + 1, end);
    if (p < end && *p == '}') return p + 1;
    for (;;) {
        bool escaped;
        const char *q = vlmi_jraw_string_end(p, end, &escaped);
        if (q == NULL) return VOCAB_MALFORMED();
        char *key = t->arena + used;
        size_t len = (size_t)(q - p) - 2;
        if (escaped) len = vlmi_jraw_unescape(p + 1, q - 1, key);
        else memcpy(key, p + 1, len);
        if (len == SIZE_MAX) return VOCAB_MALFORMED();
        key[len] = '\0';
        p = vlmi_jraw_ws(q, end);
        if (p == end || *p != ':') return VOCAB_MALFORMED();
        p = vlmi_jraw_ws(p + 1, end);
        int32_t id;
        if (!read_id(&p, end, &id)) {
            set_status(st, VLMI_TABLE_BAD_ID, at + (size_t)(p - base), n, key, len);
            return NULL;
        }
        if (n == cap) {
            vlmi_vocab_entry *bigger = vlmi_realloc(t->entries, 2 * cap * sizeof *bigger);
            if (bigger == NULL) {
                set_status(st, VLMI_TABLE_NO_MEMORY, at, 0, NULL, 0);
                return NULL;
            }
            t->entries = bigger;
            cap *= 2;
        }
        t->entries[n++] = (vlmi_vocab_entry){ used, (uint32_t)len, id };
        t->n_entries = n;
        used += len + 1;
        p = vlmi_jraw_ws(p, end);
        if (p < end && *p == ',') {
            p = vlmi_jraw_ws(p + 1, end);
            continue;
        }
        if (p < end && *p == '}') return p + 1;
        return VOCAB_MALFORMED();
    }
#undef VOCAB_MALFORMED
}

/* A string at *pp: offset and length, in the text (from base) or, when it
 * had escapes, decoded into t->escapes (offset tagged with ESCAPED). False
 * if malformed (or out of memory: *oom). */
#define ESCAPED ((size_t)1 << (sizeof(size_t) * 8 - 1))

static bool read_merge_string(vlmi_bpe_tables *t, const char **pp, const char *end,
                              const char *base, size_t *off, uint32_t *len, bool *oom) {
    bool escaped;
    const char *p = *pp, *q = vlmi_jraw_string_end(p, end, &escaped);
    if (q == NULL) return false;
    *pp = q;
    size_t n = (size_t)(q - p) - 2;
    if (!escaped) {
        *off = (size_t)(p + 1 - base);
        *len = (uint32_t)n;
        return true;
    }
    if (vlmi_buf_reserve(&t->escapes, n + 1) != VLM_OK) {
        *oom = true;
        return false;
    }
    if ((n = vlmi_jraw_unescape(p + 1, q - 1, t->escapes.data + t->escapes.len)) == SIZE_MAX)
        return false;
    *off = t->escapes.len | ESCAPED;
    *len = (uint32_t)n;
    t->escapes.len += n;
    t->escapes.data[t->escapes.len] = '\0';
    return true;
}

const char *vlmi_bpe_tables_string(const vlmi_bpe_tables *t, size_t off) {
    return off & ESCAPED ? t->escapes.data + (off & ~ESCAPED) : t->merges_text + off;
}

/* One element of the merges at *pp: "a b" or ["a", "b"]. */
static bool read_merge(vlmi_bpe_tables *t, const char **pp, const char *end, const char *base,
                       size_t at) {
    vlmi_table_status *st = &t->merges_status;
    const char *p = *pp;
    size_t rank = t->n_merges;
    bool oom = false;
    vlmi_merge_strings m;
    if (*p == '"') {
        size_t off;
        uint32_t len;
        if (!read_merge_string(t, &p, end, base, &off, &len, &oom)) goto malformed;
        *pp = p;
        const char *s = vlmi_bpe_tables_string(t, off);
        /* Legacy merges.txt headers are skipped without taking a rank. */
        if (len >= 8 && memcmp(s, "#version", 8) == 0) return true;
        /* tokenizers splits on every space and wants exactly two parts. */
        const char *space = memchr(s, ' ', len);
        if (space == NULL || memchr(space + 1, ' ', len - (size_t)(space + 1 - s)) != NULL) {
            set_status(st, VLMI_TABLE_NOT_TWO, at + (size_t)(*pp - base), rank, s, len);
            return false;
        }
        uint32_t a_len = (uint32_t)(space - s);
        m = (vlmi_merge_strings){ off, off + a_len + 1, a_len, len - a_len - 1 };
    } else if (*p == '[') {
        p = vlmi_jraw_ws(p + 1, end);
        if (p == end || *p != '"') goto shape;
        if (!read_merge_string(t, &p, end, base, &m.a, &m.a_len, &oom)) goto malformed;
        p = vlmi_jraw_ws(p, end);
        if (p == end || *p != ',') goto shape;
        p = vlmi_jraw_ws(p + 1, end);
        if (p == end || *p != '"') goto shape;
        if (!read_merge_string(t, &p, end, base, &m.b, &m.b_len, &oom)) goto malformed;
        p = vlmi_jraw_ws(p, end);
        if (p == end || *p != ']') goto shape;
        *pp = p + 1;
    } else {
        goto shape;
    }
    if (rank == t->merges_cap) {
        vlmi_merge_strings *bigger = vlmi_realloc(t->merges, 2 * rank * sizeof *bigger);
        if (bigger == NULL) {
            set_status(st, VLMI_TABLE_NO_MEMORY, at, 0, NULL, 0);
            return false;
        }
        t->merges = bigger;
        t->merges_cap = 2 * rank;
    }
    t->merges[t->n_merges++] = m;
    return true;
shape:
    set_status(st, VLMI_TABLE_BAD_MERGE, at + (size_t)(p - base), rank, NULL, 0);
    return false;
malformed:
    set_status(st, oom ? VLMI_TABLE_NO_MEMORY : VLMI_TABLE_MALFORMED, at + (size_t)(p - base), rank,
               NULL, 0);
    return false;
}

/* Reads the array at p into t's merges; the end of the value, or NULL with
 * t->merges_status set. */
static const char *read_merges(vlmi_bpe_tables *t, const char *p, const char *end, size_t at) {
    const char *base = p;
    vlmi_table_status *st = &t->merges_status;
    t->merges_text = p;
    if (end - p >= 4 && memcmp(p, "null", 4) == 0) return p + 4;
    if (*p != '[') {
        set_status(st, VLMI_TABLE_WRONG_TYPE, at, 0, NULL, 0);
        return NULL;
    }
    t->merges_cap = (size_t)(end - p) / 32 + 16;
    if ((t->merges = vlmi_malloc(t->merges_cap * sizeof *t->merges)) == NULL) {
        set_status(st, VLMI_TABLE_NO_MEMORY, at, 0, NULL, 0);
        return NULL;
    }
    p = vlmi_jraw_ws(p + 1, end);
    if (p < end && *p == ']') return p + 1;
    for (;;) {
        if (p == end) break;
        if (!read_merge(t, &p, end, base, at)) return NULL;
        p = vlmi_jraw_ws(p, end);
        if (p < end && *p == ',') {
            p = vlmi_jraw_ws(p + 1, end);
            continue;
        }
        if (p < end && *p == ']') return p + 1;
        break;
    }
    set_status(st, VLMI_TABLE_MALFORMED, at + (size_t)(p - base), 0, NULL, 0);
    return NULL;
}

void vlmi_bpe_tables_free(vlmi_bpe_tables *t) {
    free(t->arena);
    free(t->entries);
    free(t->merges);
    vlmi_buf_free(&t->escapes);
    memset(t, 0, sizeof *t);
    t->vocab_status.code = t->merges_status.code = VLMI_TABLE_ABSENT;
}

/* Forgets a table (a later duplicate key replaces it). */
static void reset_vocab(vlmi_bpe_tables *t) {
    free(t->arena);
    free(t->entries);
    t->arena = NULL;
    t->entries = NULL;
    t->n_entries = 0;
    memset(&t->vocab_status, 0, sizeof t->vocab_status);
}

static void reset_merges(vlmi_bpe_tables *t) {
    free(t->merges);
    vlmi_buf_free(&t->escapes);
    t->merges = NULL;
    t->n_merges = t->merges_cap = 0;
    t->merges_text = NULL;
    memset(&t->merges_status, 0, sizeof t->merges_status);
}

const char *vlmi_bpe_tables_read(vlmi_bpe_tables *t, bool vocab, const char *p, const char *end,
                                 size_t at) {
    const char *next;
    if (vocab) {
        reset_vocab(t);
        next = read_vocab(t, p, end, at);
    } else {
        reset_merges(t);
        next = read_merges(t, p, end, at);
    }
    /* A table that could not be read is still delimited, for the walk. */
    return next ? next : skip_value(p, end);
}

/* ---- the walk ---- */

/* Reads an object key at *pp into key (decoded, NUL-terminated, cut at
 * key_size - 1 bytes: only short keys are compared). False if malformed. */
static bool read_key(const char **pp, const char *end, char *key, size_t key_size) {
    const char *p = *pp;
    if (p == end || *p != '"') return false;
    const char *q = skip_string(p, end);
    if (q == NULL) return false;
    key[0] = '\0';
    size_t raw = (size_t)(q - p) - 2;
    if (raw < key_size) {
        size_t n = vlmi_jraw_unescape(p + 1, q - 1, key);
        if (n == SIZE_MAX) return false;
        key[n] = '\0';
        if (strlen(key) != n) key[0] = '\0';   /* an embedded NUL matches nothing */
    }
    *pp = q;
    return true;
}

/* Walks the object at *pp (the top level, or the model): the model is
 * walked in turn, its vocab and merges read into t; the later of
 * duplicate keys wins, as in tokenizers (serde visitors). *pp ends after
 * the closing brace. */
static bool walk_object(const char **pp, const char *end, const char *json, vlmi_bpe_tables *t,
                        bool top) {
    const char *p = *pp;
    if (p == end || *p != '{') return false;
    p = vlmi_jraw_ws(p + 1, end);
    if (p < end && *p == '}') {
        *pp = p + 1;
        return true;
    }
    for (;;) {
        char key[16];
        if (!read_key(&p, end, key, sizeof key)) return false;
        p = vlmi_jraw_ws(p, end);
        if (p == end || *p != ':') return false;
        const char *v = vlmi_jraw_ws(p + 1, end), *v_end;
        if (v == end) return false;
        if (top && strcmp(key, "model") == 0) {
            reset_vocab(t);
            reset_merges(t);
            t->vocab_status.code = t->merges_status.code = VLMI_TABLE_ABSENT;
            t->cut[0].is_match = t->cut[1].is_match = false;
            v_end = v;
            if (*v == '{' ? !walk_object(&v_end, end, json, t, false) : (v_end = skip_value(v, end)) == NULL)
                return false;
        } else if (!top && (strcmp(key, "vocab") == 0 || strcmp(key, "merges") == 0)) {
            v_end = vlmi_bpe_tables_read(t, key[0] == 'v', v, end, (size_t)(v - json));
            if (v_end == NULL) return false;
            t->cut[key[0] == 'v' ? 0 : 1] = (vlmi_span){ (size_t)(v - json), (size_t)(v_end - json), true };
        } else {
            v_end = skip_value(v, end);
        }
        if (v_end == NULL || v_end == v) return false;
        p = vlmi_jraw_ws(v_end, end);
        if (p == end) return false;
        if (*p == '}') break;
        if (*p != ',') return false;
        p = vlmi_jraw_ws(p + 1, end);
    }
    *pp = p + 1;
    return true;
}

bool vlmi_tokjson_read(const char *json, size_t len, vlmi_bpe_tables *t) {
    vlmi_bpe_tables_free(t);
    const char *p = vlmi_jraw_ws(json, json + len);
    if (walk_object(&p, json + len, json, t, true)) return true;
    vlmi_bpe_tables_free(t);
    return false;
}
