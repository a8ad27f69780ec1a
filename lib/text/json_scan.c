/* Raw JSON reading for the two big tables of tokenizer.json.
 *
 * model.vocab (Gemma 3: 262k entries) and model.merges (515k) are most of
 * the file; as a cJSON tree they cost a node (and two mallocs) per entry.
 * vlmi_tokjson_locate() walks the document's structure without building
 * anything and finds those two values; the loader hands the rest of the
 * document to cJSON and bpe.c reads the two tables straight from the text
 * with the string and integer readers below. */
#include "text/tokenizer-impl.h"

#include <string.h>

/* ---- tokens ---- */

const char *vlmi_jraw_ws(const char *p, const char *end) {
    while (p < end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')) p++;
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

/* Skips one value of any kind, tracking only strings and brackets: the
 * values located here are validated by their readers (the vocabulary and
 * merges) or by cJSON (everything else). NULL if it does not end. */
static const char *skip_value(const char *p, const char *end) {
    size_t depth = 0;
    bool escaped;
    while (p < end) {
        char c = *p;
        if (c == '"') {
            if ((p = vlmi_jraw_string_end(p, end, &escaped)) == NULL) return NULL;
            if (depth == 0) return p;
            continue;
        }
        if (c == '{' || c == '[') {
            depth++;
        } else if (c == '}' || c == ']') {
            if (depth == 0) return p;   /* the end of a number or literal */
            if (--depth == 0) return p + 1;
        } else if (depth == 0 && (c == ',' || c == ' ' || c == '\n' || c == '\r' || c == '\t')) {
            return p;   /* the end of a number or literal */
        }
        p++;
    }
    return depth == 0 ? p : NULL;
}

/* Reads an object key at *pp into key (decoded, NUL-terminated, cut at
 * key_size - 1 bytes: only short keys are compared). False if malformed. */
static bool read_key(const char **pp, const char *end, char *key, size_t key_size) {
    bool escaped;
    const char *p = *pp, *q = vlmi_jraw_string_end(p, end, &escaped);
    if (q == NULL) return false;
    key[0] = '\0';
    size_t raw = (size_t)(q - p) - 2;
    if (raw < key_size) {
        size_t n = escaped ? vlmi_jraw_unescape(p + 1, q - 1, key) : raw;
        if (n == SIZE_MAX) return false;
        if (!escaped) memcpy(key, p + 1, raw);
        key[n] = '\0';
        if (strlen(key) != n) key[0] = '\0';   /* an embedded NUL matches nothing */
    }
    *pp = q;
    return true;
}

/* Walks the object at *pp, calling found(key, value start, value end) for
 * each member; *pp ends after the closing brace. */
typedef struct locate_state {
    const char *model, *model_end;
    const char *vocab, *vocab_end, *merges, *merges_end;
} locate_state;

static bool walk_object(const char **pp, const char *end, locate_state *st, bool top) {
    const char *p = vlmi_jraw_ws(*pp, end);
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
        const char *v = vlmi_jraw_ws(p + 1, end), *v_end = skip_value(v, end);
        if (v_end == NULL || v_end == v) return false;
        /* Later duplicates win, as in tokenizers (serde visitors). */
        if (top && strcmp(key, "model") == 0) {
            st->model = v;
            st->model_end = v_end;
        } else if (!top && strcmp(key, "vocab") == 0) {
            st->vocab = v;
            st->vocab_end = v_end;
        } else if (!top && strcmp(key, "merges") == 0) {
            st->merges = v;
            st->merges_end = v_end;
        }
        p = vlmi_jraw_ws(v_end, end);
        if (p == end) return false;
        if (*p == '}') break;
        if (*p != ',') return false;
        p = vlmi_jraw_ws(p + 1, end);
    }
    *pp = p + 1;
    return true;
}

bool vlmi_tokjson_locate(const char *json, size_t len, vlmi_tokjson_spans *out) {
    memset(out, 0, sizeof *out);
    const char *end = json + len, *p = json;
    locate_state st = { 0 };
    if (!walk_object(&p, end, &st, true) || st.model == NULL || *st.model != '{') return false;
    p = st.model;
    if (!walk_object(&p, st.model_end, &st, false)) return false;
    if (st.vocab) {
        out->vocab_start = (size_t)(st.vocab - json);
        out->vocab_end = (size_t)(st.vocab_end - json);
    }
    if (st.merges) {
        out->merges_start = (size_t)(st.merges - json);
        out->merges_end = (size_t)(st.merges_end - json);
    }
    out->has_vocab = st.vocab != NULL;
    out->has_merges = st.merges != NULL;
    return true;
}
