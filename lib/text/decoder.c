/* Decoders: ByteLevel, ByteFallback, Fuse, Strip, Replace, Metaspace and
 * Sequence. Each maps a list of token strings to a new list, as
 * tokenizers' decode_chain does; the final list is concatenated. */
#include "text/tokenizer-impl.h"

#include <stdlib.h>
#include <string.h>

typedef enum decoder_kind {
    DEC_BYTE_LEVEL, DEC_BYTE_FALLBACK, DEC_FUSE, DEC_STRIP, DEC_REPLACE, DEC_METASPACE,
    DEC_SEQUENCE
} decoder_kind;

struct vlmi_decoder {
    decoder_kind kind;
    uint32_t content_char;          /* Strip: the character; Metaspace: replacement */
    uint64_t start, stop;           /* Strip */
    bool strip_first;               /* Metaspace: prepend_scheme != never */
    vlmi_pattern pattern;           /* Replace */
    char *content;                  /* Replace */
    size_t content_len;
    vlmi_decoder **children;        /* Sequence */
    size_t n_children;
};

static const char replacement_char[] = "\xEF\xBF\xBD";  /* U+FFFD */

void vlmi_token_decoder_free(vlmi_decoder *d) {
    if (d == NULL) return;
    vlmi_pattern_free(&d->pattern);
    free(d->content);
    for (size_t i = 0; i < d->n_children; i++) vlmi_token_decoder_free(d->children[i]);
    free(d->children);
    free(d);
}

static vlm_status read_char(const cJSON *json, const char *key, const char *what, uint32_t *out) {
    const char *s;
    vlm_status st = vlmi_json_string(json, key, what, true, &s);
    if (st != VLM_OK) return st;
    size_t len = strlen(s), i = 0;
    if (len == 0 || vlmi_utf8_invalid_offset(s, len) != SIZE_MAX || (vlmi_utf8_next(s, &i), i != len))
        return vlmi_fail(VLM_ERR_FORMAT, "tokenizer.json: %s.%s must be one character", what, key);
    i = 0;
    *out = vlmi_utf8_next(s, &i);
    return VLM_OK;
}

static vlm_status parse_node(const cJSON *json, vlmi_decoder *d) {
    static const char *const byte_level_keys[] = { "type", "add_prefix_space", "trim_offsets",
                                                   "use_regex", NULL };
    static const char *const type_only[] = { "type", NULL };
    static const char *const strip_keys[] = { "type", "content", "start", "stop", NULL };
    static const char *const replace_keys[] = { "type", "pattern", "content", NULL };
    static const char *const metaspace_keys[] = { "type", "replacement", "prepend_scheme", "split",
                                                  "add_prefix_space", "str_rep", NULL };
    static const char *const sequence_keys[] = { "type", "decoders", NULL };
    const char *type;
    vlm_status st = vlmi_json_type(json, "decoder", &type);
    if (st != VLM_OK) return st;
    if (strcmp(type, "ByteLevel") == 0) {
        d->kind = DEC_BYTE_LEVEL;
        return vlmi_json_check_keys(json, "ByteLevel decoder", byte_level_keys);
    }
    if (strcmp(type, "ByteFallback") == 0 || strcmp(type, "Fuse") == 0) {
        d->kind = type[0] == 'B' ? DEC_BYTE_FALLBACK : DEC_FUSE;
        return vlmi_json_check_keys(json, type, type_only);
    }
    if (strcmp(type, "Strip") == 0) {
        const char *what = "Strip decoder";
        d->kind = DEC_STRIP;
        if ((st = vlmi_json_check_keys(json, what, strip_keys)) != VLM_OK ||
            (st = read_char(json, "content", what, &d->content_char)) != VLM_OK ||
            (st = vlmi_json_uint(json, "start", what, true, UINT32_MAX, 0, &d->start)) != VLM_OK)
            return st;
        return vlmi_json_uint(json, "stop", what, true, UINT32_MAX, 0, &d->stop);
    }
    if (strcmp(type, "Replace") == 0) {
        const char *what = "Replace decoder";
        d->kind = DEC_REPLACE;
        const char *content;
        if ((st = vlmi_json_check_keys(json, what, replace_keys)) != VLM_OK ||
            (st = vlmi_json_string(json, "content", what, true, &content)) != VLM_OK)
            return st;
        d->content_len = strlen(content);
        if ((d->content = vlmi_strndup(content, d->content_len)) == NULL) return VLM_ERR_OUT_OF_MEMORY;
        return vlmi_pattern_parse(cJSON_GetObjectItemCaseSensitive(json, "pattern"), what, &d->pattern);
    }
    if (strcmp(type, "Metaspace") == 0) {
        const char *what = "Metaspace decoder";
        d->kind = DEC_METASPACE;
        const char *scheme;
        bool add_prefix_space, split;
        if ((st = vlmi_json_check_keys(json, what, metaspace_keys)) != VLM_OK ||
            (st = read_char(json, "replacement", what, &d->content_char)) != VLM_OK ||
            (st = vlmi_json_bool(json, "add_prefix_space", what, true, &add_prefix_space)) != VLM_OK ||
            (st = vlmi_json_bool(json, "split", what, true, &split)) != VLM_OK ||
            (st = vlmi_json_string(json, "prepend_scheme", what, false, &scheme)) != VLM_OK)
            return st;
        if (scheme == NULL) d->strip_first = add_prefix_space;
        else if (strcmp(scheme, "always") == 0 || strcmp(scheme, "first") == 0) d->strip_first = true;
        else if (strcmp(scheme, "never") == 0) d->strip_first = false;
        else return vlmi_fail(VLM_ERR_FORMAT, "tokenizer.json: %s.prepend_scheme '%s' is unknown", what, scheme);
        return VLM_OK;
    }
    if (strcmp(type, "Sequence") == 0) {
        d->kind = DEC_SEQUENCE;
        if ((st = vlmi_json_check_keys(json, "Sequence decoder", sequence_keys)) != VLM_OK) return st;
        const cJSON *list = cJSON_GetObjectItemCaseSensitive(json, "decoders");
        if (!cJSON_IsArray(list))
            return vlmi_fail(VLM_ERR_FORMAT, "tokenizer.json: Sequence decoder.decoders must be an array");
        d->children = vlmi_calloc((size_t)cJSON_GetArraySize(list), sizeof *d->children);
        if (d->children == NULL) return VLM_ERR_OUT_OF_MEMORY;
        for (const cJSON *item = list->child; item != NULL; item = item->next) {
            if ((st = vlmi_token_decoder_parse(item, &d->children[d->n_children])) != VLM_OK) return st;
            if (d->children[d->n_children] != NULL) d->n_children++;
        }
        return VLM_OK;
    }
    return vlmi_fail(VLM_ERR_UNSUPPORTED, "tokenizer.json: decoder type '%s' is not supported", type);
}

vlm_status vlmi_token_decoder_parse(const cJSON *json, vlmi_decoder **out) {
    *out = NULL;
    if (json == NULL || cJSON_IsNull(json)) return VLM_OK;
    vlmi_decoder *d = vlmi_calloc(1, sizeof *d);
    if (d == NULL) return VLM_ERR_OUT_OF_MEMORY;
    vlm_status st = parse_node(json, d);
    if (st != VLM_OK) {
        vlmi_token_decoder_free(d);
        return st;
    }
    *out = d;
    return VLM_OK;
}

/* ---- decoding ---- */

/* Appends bytes as Rust's String::from_utf8_lossy does: each maximal
 * invalid subsequence becomes one U+FFFD. */
static vlm_status append_lossy(vlmi_buf *out, const char *s, size_t len) {
    vlm_status st = VLM_OK;
    size_t i = 0;
    while (i < len && st == VLM_OK) {
        size_t bad = vlmi_utf8_invalid_offset(s + i, len - i);
        size_t good = bad == SIZE_MAX ? len - i : bad;
        st = vlmi_buf_append(out, s + i, good);
        i += good;
        if (i >= len || st != VLM_OK) break;
        /* Length of the invalid prefix: the longest valid-so-far prefix of
         * a sequence, at least one byte. */
        const unsigned char *u = (const unsigned char *)s + i;
        size_t need = vlmi_utf8_seq_len(u[0]), skip = 1;
        if (need > 1) {
            unsigned char lo = 0x80, hi = 0xBF;
            if (u[0] == 0xE0) lo = 0xA0;
            else if (u[0] == 0xED) hi = 0x9F;
            else if (u[0] == 0xF0) lo = 0x90;
            else if (u[0] == 0xF4) hi = 0x8F;
            while (skip < need && i + skip < len) {
                unsigned char c = u[skip];
                unsigned char l = skip == 1 ? lo : 0x80, h = skip == 1 ? hi : 0xBF;
                if (c < l || c > h) break;
                skip++;
            }
        }
        st = vlmi_buf_append(out, replacement_char, 3);
        i += skip;
    }
    return st;
}

/* The steps below read in and append to out (cleared by the caller), using
 * the scratch's buffers for their working memory. */

static vlm_status decode_byte_level(const vlmi_strlist *in, vlmi_strlist *out,
                                    vlmi_decode_scratch *scratch) {
    vlmi_buf *bytes = &scratch->bytes, *text = &scratch->token;
    bytes->len = 0;
    text->len = 0;
    vlm_status st = VLM_OK;
    for (size_t t = 0; t < in->n && st == VLM_OK; t++) {
        size_t len;
        const char *s = vlmi_strlist_at(in, t, &len);
        /* A token with any character outside the table is kept as it is. */
        size_t mark = bytes->len;
        bool all = true;
        for (size_t i = 0; i < len && st == VLM_OK;) {
            int b = vlmi_byte_level_byte(vlmi_utf8_next(s, &i));
            if (b < 0) { all = false; break; }
            unsigned char c = (unsigned char)b;
            st = vlmi_buf_append(bytes, &c, 1);
        }
        if (!all) {
            bytes->len = mark;
            st = vlmi_buf_append(bytes, s, len);
        }
    }
    if (st == VLM_OK) st = vlmi_buf_reserve(text, bytes->len);
    if (st == VLM_OK) st = append_lossy(text, bytes->data ? bytes->data : "", bytes->len);
    if (st == VLM_OK) st = vlmi_strlist_push(out, text->data ? text->data : "", text->len);
    return st;
}

static int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* "<0xAB>" -> 0xAB, as u8::from_str_radix(&token[3..5], 16) reads it
 * (which also takes "+A"). -1 if the token is not a byte. */
static int byte_token(const char *s, size_t len) {
    if (len != 6 || memcmp(s, "<0x", 3) != 0 || s[5] != '>') return -1;
    if (s[3] == '+') return hex_digit(s[4]);
    int hi = hex_digit(s[3]), lo = hex_digit(s[4]);
    return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
}

static vlm_status flush_bytes(vlmi_buf *pending, vlmi_strlist *out) {
    vlm_status st = VLM_OK;
    if (pending->len == 0) return VLM_OK;
    if (vlmi_utf8_invalid_offset(pending->data, pending->len) == SIZE_MAX) {
        st = vlmi_strlist_push(out, pending->data, pending->len);
    } else {
        /* Invalid UTF-8: one U+FFFD per byte. */
        for (size_t i = 0; i < pending->len && st == VLM_OK; i++)
            st = vlmi_strlist_push(out, replacement_char, 3);
    }
    pending->len = 0;
    return st;
}

static vlm_status decode_byte_fallback(const vlmi_strlist *in, vlmi_strlist *out,
                                       vlmi_decode_scratch *scratch) {
    vlmi_buf *pending = &scratch->bytes;
    pending->len = 0;
    vlm_status st = VLM_OK;
    for (size_t t = 0; t < in->n && st == VLM_OK; t++) {
        size_t len;
        const char *s = vlmi_strlist_at(in, t, &len);
        int b = byte_token(s, len);
        if (b >= 0) {
            unsigned char c = (unsigned char)b;
            st = vlmi_buf_append(pending, &c, 1);
            continue;
        }
        st = flush_bytes(pending, out);
        if (st == VLM_OK) st = vlmi_strlist_push(out, s, len);
    }
    if (st == VLM_OK) st = flush_bytes(pending, out);
    return st;
}

static vlm_status decode_strip(const vlmi_decoder *d, const vlmi_strlist *in, vlmi_strlist *out) {
    vlm_status st = VLM_OK;
    for (size_t t = 0; t < in->n && st == VLM_OK; t++) {
        size_t len;
        const char *s = vlmi_strlist_at(in, t, &len);
        size_t begin = 0, end = len, i = 0;
        for (uint64_t k = 0; k < d->start && i < len; k++) {
            if (vlmi_utf8_next(s, &i) != d->content_char) break;
            begin = i;
        }
        for (uint64_t k = 0; k < d->stop && end > begin; k++) {
            size_t j = end - 1;
            while (j > 0 && ((unsigned char)s[j] & 0xC0) == 0x80) j--;
            size_t probe = j;
            if (vlmi_utf8_next(s, &probe) != d->content_char) break;
            end = j;
        }
        st = vlmi_strlist_push(out, s + begin, end > begin ? end - begin : 0);
    }
    return st;
}

/* A String pattern allocates nothing once the scratch has grown; a Regex
 * one still does inside Oniguruma (vlmi_pattern_find's match region). */
static vlm_status decode_replace(const vlmi_decoder *d, const vlmi_strlist *in, vlmi_strlist *out,
                                 vlmi_decode_scratch *scratch) {
    vlmi_spans *spans = &scratch->spans;
    vlmi_buf *token = &scratch->token;
    vlm_status st = VLM_OK;
    for (size_t t = 0; t < in->n && st == VLM_OK; t++) {
        size_t len;
        const char *s = vlmi_strlist_at(in, t, &len);
        token->len = 0;
        st = vlmi_buf_reserve(token, len);
        if (st == VLM_OK) st = vlmi_pattern_find(&d->pattern, s, len, spans);
        for (size_t k = 0; k < spans->n && st == VLM_OK; k++) {
            const vlmi_span *sp = &spans->items[k];
            st = sp->is_match ? vlmi_buf_append(token, d->content, d->content_len)
                              : vlmi_buf_append(token, s + sp->start, sp->end - sp->start);
        }
        if (st == VLM_OK) st = vlmi_strlist_push(out, token->data, token->len);
    }
    return st;
}

/* Every replacement character becomes a space, except in the first token
 * (where tokenizers drops them all) when a prefix was prepended. */
static vlm_status decode_metaspace(const vlmi_decoder *d, const vlmi_strlist *in, vlmi_strlist *out,
                                   vlmi_decode_scratch *scratch) {
    vlmi_buf *token = &scratch->token;
    vlm_status st = VLM_OK;
    for (size_t t = 0; t < in->n && st == VLM_OK; t++) {
        size_t len;
        const char *s = vlmi_strlist_at(in, t, &len);
        token->len = 0;
        st = vlmi_buf_reserve(token, len);
        for (size_t i = 0; i < len && st == VLM_OK;) {
            size_t start = i;
            if (vlmi_utf8_next(s, &i) != d->content_char) {
                st = vlmi_buf_append(token, s + start, i - start);
            } else if (!(t == 0 && d->strip_first)) {
                st = vlmi_buf_append(token, " ", 1);
            }
        }
        if (st == VLM_OK) st = vlmi_strlist_push(out, token->data, token->len);
    }
    return st;
}

/* One decoder that is not a Sequence: in -> out (cleared first). */
static vlm_status decode_step(const vlmi_decoder *d, const vlmi_strlist *in, vlmi_strlist *out,
                              vlmi_decode_scratch *scratch) {
    vlmi_strlist_clear(out);
    switch (d->kind) {
    case DEC_BYTE_LEVEL: return decode_byte_level(in, out, scratch);
    case DEC_BYTE_FALLBACK: return decode_byte_fallback(in, out, scratch);
    case DEC_FUSE: {
        vlm_status st = vlmi_buf_reserve(&out->text, in->text.len);
        if (st == VLM_OK && in->n > 0)
            st = vlmi_strlist_push(out, in->text.data + in->offsets[0],
                                   in->offsets[in->n] - in->offsets[0]);
        else if (st == VLM_OK) st = vlmi_strlist_push(out, "", 0);
        return st;
    }
    case DEC_STRIP: return decode_strip(d, in, out);
    case DEC_REPLACE: return decode_replace(d, in, out, scratch);
    case DEC_METASPACE: return decode_metaspace(d, in, out, scratch);
    case DEC_SEQUENCE: break;
    }
    return vlmi_fail(VLM_ERR_INTERNAL, "unknown decoder kind %d", (int)d->kind);
}

/* tokenizers' decode_chain. A Sequence runs its children in turn, so a
 * nested Sequence is the same as its children in its place: the whole
 * chain runs as one flat list of steps, each reading the list the previous
 * one wrote (*cur) and writing the other of the scratch's two lists. */
static vlm_status decode_chain(const vlmi_decoder *d, const vlmi_strlist **cur,
                               vlmi_decode_scratch *scratch) {
    if (d->kind == DEC_SEQUENCE) {
        vlm_status st = VLM_OK;
        for (size_t c = 0; c < d->n_children && st == VLM_OK; c++)
            st = decode_chain(d->children[c], cur, scratch);
        return st;
    }
    vlmi_strlist *next = *cur == &scratch->lists[0] ? &scratch->lists[1] : &scratch->lists[0];
    vlm_status st = decode_step(d, *cur, next, scratch);
    *cur = next;
    return st;
}

vlm_status vlmi_decode_scratch_reserve(vlmi_decode_scratch *scratch, size_t n_tokens,
                                       size_t text_bytes) {
    vlm_status st = VLM_OK;
    if ((st = vlmi_strlist_reserve(&scratch->tokens, n_tokens, text_bytes)) != VLM_OK) return st;
    for (int i = 0; i < 2; i++)
        if ((st = vlmi_strlist_reserve(&scratch->lists[i], n_tokens, text_bytes)) != VLM_OK)
            return st;
    scratch->bytes.len = scratch->token.len = 0;
    if ((st = vlmi_buf_reserve(&scratch->bytes, text_bytes)) != VLM_OK ||
        (st = vlmi_buf_reserve(&scratch->token, text_bytes)) != VLM_OK)
        return st;
    return vlmi_spans_reserve(&scratch->spans, n_tokens);
}

void vlmi_decode_scratch_free(vlmi_decode_scratch *scratch) {
    vlmi_strlist_free(&scratch->tokens);
    vlmi_strlist_free(&scratch->lists[0]);
    vlmi_strlist_free(&scratch->lists[1]);
    vlmi_buf_free(&scratch->bytes);
    vlmi_buf_free(&scratch->token);
    vlmi_spans_free(&scratch->spans);
}

vlm_status vlmi_token_decoder_decode_scratch(const vlmi_decoder *decoder,
                                             const vlmi_strlist *tokens,
                                             vlmi_decode_scratch *scratch, vlmi_buf *out) {
    out->len = 0;
    vlm_status st = vlmi_buf_reserve(out, tokens->text.len);
    if (st != VLM_OK) return st;
    out->data[0] = '\0';
    if (decoder == NULL) {
        /* No decoder: tokens joined with spaces. */
        for (size_t i = 0; i < tokens->n && st == VLM_OK; i++) {
            size_t len;
            const char *s = vlmi_strlist_at(tokens, i, &len);
            if (i > 0) st = vlmi_buf_append(out, " ", 1);
            if (st == VLM_OK) st = vlmi_buf_append(out, s, len);
        }
        return st;
    }
    const vlmi_strlist *result = tokens;
    st = decode_chain(decoder, &result, scratch);
    if (st == VLM_OK && result->n > 0)
        st = vlmi_buf_append(out, result->text.data + result->offsets[0],
                             result->offsets[result->n] - result->offsets[0]);
    return st;
}

vlm_status vlmi_token_decoder_decode(const vlmi_decoder *decoder, vlmi_strlist *tokens, vlmi_buf *out) {
    vlmi_decode_scratch scratch = { 0 };
    vlm_status st = vlmi_token_decoder_decode_scratch(decoder, tokens, &scratch, out);
    vlmi_decode_scratch_free(&scratch);
    return st;
}
