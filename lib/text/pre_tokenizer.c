/* Pre-tokenizers: ByteLevel, Split, Metaspace, Digits, Punctuation,
 * Whitespace, WhitespaceSplit, CharDelimiterSplit and Sequence. Each cuts
 * the text pieces further; pieces that are already added tokens pass
 * through, and empty pieces are dropped (tokenizers' PreTokenizedString). */
#include "text/tokenizer-impl.h"

#include <stdlib.h>
#include <string.h>

typedef enum pre_kind {
    PRE_BYTE_LEVEL, PRE_SPLIT, PRE_METASPACE, PRE_DIGITS, PRE_PUNCTUATION,
    PRE_WHITESPACE, PRE_WHITESPACE_SPLIT, PRE_CHAR_DELIMITER, PRE_SEQUENCE
} pre_kind;

typedef enum prepend_scheme { PREPEND_ALWAYS, PREPEND_FIRST, PREPEND_NEVER } prepend_scheme;

struct vlmi_pre_tokenizer {
    pre_kind kind;
    bool add_prefix_space, use_regex;    /* ByteLevel */
    vlmi_pattern pattern;                /* Split; ByteLevel's GPT-2 regex */
    vlmi_split_behavior behavior;        /* Split, Punctuation */
    bool invert;                         /* Split */
    uint32_t replacement;                /* Metaspace; CharDelimiterSplit delimiter */
    prepend_scheme prepend;              /* Metaspace */
    bool split;                          /* Metaspace */
    bool individual_digits;              /* Digits */
    vlmi_pre_tokenizer **children;       /* Sequence */
    size_t n_children;
};

/* The regex tokenizers' ByteLevel pre-tokenizer splits with (GPT-2's). */
static const char byte_level_regex[] =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

/* ---- the GPT-2 byte table ---- */

static bool byte_is_printable(unsigned b) {
    return (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
}

uint32_t vlmi_byte_level_char(uint8_t byte) {
    if (byte_is_printable(byte)) return byte;
    /* The others get 256, 257, ... in byte order: 0x00-0x20 (33 of them),
     * 0x7F-0xA0 (34), 0xAD. */
    if (byte <= 0x20) return 256u + byte;
    if (byte <= 0xA0) return 256u + 33u + (byte - 0x7Fu);
    return 256u + 67u;
}

int vlmi_byte_level_byte(uint32_t cp) {
    if (cp < 256) return byte_is_printable(cp) ? (int)cp : -1;
    if (cp >= 256 + 68) return -1;  /* 68 bytes are not printable */
    uint32_t n = cp - 256;
    if (n < 33) return (int)n;
    if (n < 67) return (int)(0x7F + n - 33);
    return 0xAD;
}

/* ---- parsing ---- */

void vlmi_pre_tokenizer_free(vlmi_pre_tokenizer *p) {
    if (p == NULL) return;
    vlmi_pattern_free(&p->pattern);
    for (size_t i = 0; i < p->n_children; i++) vlmi_pre_tokenizer_free(p->children[i]);
    free(p->children);
    free(p);
}

/* A JSON string holding exactly one character. */
static vlm_status read_char(const cJSON *json, const char *key, const char *what, bool required,
                            uint32_t def, uint32_t *out) {
    const char *s;
    vlm_status st = vlmi_json_string(json, key, what, required, &s);
    if (st != VLM_OK) return st;
    if (s == NULL) { *out = def; return VLM_OK; }
    size_t len = strlen(s), i = 0;
    if (len == 0 || vlmi_utf8_invalid_offset(s, len) != SIZE_MAX ||
        (vlmi_utf8_next(s, &i), i != len))
        return vlmi_fail(VLM_ERR_FORMAT, "tokenizer.json: %s.%s must be one character", what, key);
    i = 0;
    *out = vlmi_utf8_next(s, &i);
    return VLM_OK;
}

static vlm_status parse_node(const cJSON *json, vlmi_pre_tokenizer *p) {
    static const char *const byte_level_keys[] = { "type", "add_prefix_space", "trim_offsets",
                                                   "use_regex", NULL };
    static const char *const split_keys[] = { "type", "pattern", "behavior", "invert", NULL };
    static const char *const metaspace_keys[] = { "type", "replacement", "prepend_scheme", "split",
                                                  "add_prefix_space", "str_rep", NULL };
    static const char *const digits_keys[] = { "type", "individual_digits", NULL };
    static const char *const punctuation_keys[] = { "type", "behavior", NULL };
    static const char *const delimiter_keys[] = { "type", "delimiter", NULL };
    static const char *const type_only[] = { "type", NULL };
    static const char *const sequence_keys[] = { "type", "pretokenizers", NULL };
    const char *type;
    vlm_status st = vlmi_json_type(json, "pre_tokenizer", &type);
    if (st != VLM_OK) return st;

    if (strcmp(type, "ByteLevel") == 0) {
        const char *what = "ByteLevel pre_tokenizer";
        p->kind = PRE_BYTE_LEVEL;
        bool trim_offsets;  /* changes offsets only, never ids */
        if ((st = vlmi_json_check_keys(json, what, byte_level_keys)) != VLM_OK ||
            (st = vlmi_json_bool(json, "add_prefix_space", what, true, &p->add_prefix_space)) != VLM_OK ||
            (st = vlmi_json_bool(json, "trim_offsets", what, true, &trim_offsets)) != VLM_OK ||
            (st = vlmi_json_bool(json, "use_regex", what, true, &p->use_regex)) != VLM_OK)
            return st;
        return p->use_regex ? vlmi_pattern_compile_regex(byte_level_regex, what, &p->pattern) : VLM_OK;
    }
    if (strcmp(type, "Split") == 0) {
        const char *what = "Split pre_tokenizer";
        p->kind = PRE_SPLIT;
        if ((st = vlmi_json_check_keys(json, what, split_keys)) != VLM_OK ||
            (st = vlmi_json_bool(json, "invert", what, false, &p->invert)) != VLM_OK ||
            (st = vlmi_split_behavior_parse(cJSON_GetObjectItemCaseSensitive(json, "behavior"),
                                            what, &p->behavior)) != VLM_OK)
            return st;
        return vlmi_pattern_parse(cJSON_GetObjectItemCaseSensitive(json, "pattern"), what,
                                  &p->pattern);
    }
    if (strcmp(type, "Metaspace") == 0) {
        const char *what = "Metaspace pre_tokenizer";
        p->kind = PRE_METASPACE;
        bool add_prefix_space;
        const char *scheme;
        if ((st = vlmi_json_check_keys(json, what, metaspace_keys)) != VLM_OK ||
            (st = read_char(json, "replacement", what, true, 0x2581, &p->replacement)) != VLM_OK ||
            (st = vlmi_json_bool(json, "split", what, true, &p->split)) != VLM_OK ||
            (st = vlmi_json_bool(json, "add_prefix_space", what, true, &add_prefix_space)) != VLM_OK ||
            (st = vlmi_json_string(json, "prepend_scheme", what, false, &scheme)) != VLM_OK)
            return st;
        /* Files older than prepend_scheme carry add_prefix_space instead. */
        if (scheme == NULL) p->prepend = add_prefix_space ? PREPEND_ALWAYS : PREPEND_NEVER;
        else if (strcmp(scheme, "always") == 0) p->prepend = PREPEND_ALWAYS;
        else if (strcmp(scheme, "first") == 0) p->prepend = PREPEND_FIRST;
        else if (strcmp(scheme, "never") == 0) p->prepend = PREPEND_NEVER;
        else return vlmi_fail(VLM_ERR_FORMAT, "tokenizer.json: %s.prepend_scheme '%s' is unknown",
                              what, scheme);
        return VLM_OK;
    }
    if (strcmp(type, "Digits") == 0) {
        p->kind = PRE_DIGITS;
        if ((st = vlmi_json_check_keys(json, "Digits pre_tokenizer", digits_keys)) != VLM_OK)
            return st;
        return vlmi_json_bool(json, "individual_digits", "Digits pre_tokenizer", false,
                              &p->individual_digits);
    }
    if (strcmp(type, "Punctuation") == 0) {
        p->kind = PRE_PUNCTUATION;
        p->behavior = VLMI_SPLIT_ISOLATED;
        if ((st = vlmi_json_check_keys(json, "Punctuation pre_tokenizer", punctuation_keys)) != VLM_OK)
            return st;
        const cJSON *b = cJSON_GetObjectItemCaseSensitive(json, "behavior");
        if (b == NULL || cJSON_IsNull(b)) return VLM_OK;
        return vlmi_split_behavior_parse(b, "Punctuation pre_tokenizer", &p->behavior);
    }
    if (strcmp(type, "Whitespace") == 0 || strcmp(type, "WhitespaceSplit") == 0) {
        p->kind = type[10] == '\0' ? PRE_WHITESPACE : PRE_WHITESPACE_SPLIT;
        return vlmi_json_check_keys(json, type, type_only);
    }
    if (strcmp(type, "CharDelimiterSplit") == 0) {
        const char *what = "CharDelimiterSplit pre_tokenizer";
        p->kind = PRE_CHAR_DELIMITER;
        if ((st = vlmi_json_check_keys(json, what, delimiter_keys)) != VLM_OK) return st;
        return read_char(json, "delimiter", what, true, 0, &p->replacement);
    }
    if (strcmp(type, "Sequence") == 0) {
        p->kind = PRE_SEQUENCE;
        if ((st = vlmi_json_check_keys(json, "Sequence pre_tokenizer", sequence_keys)) != VLM_OK)
            return st;
        const cJSON *list = cJSON_GetObjectItemCaseSensitive(json, "pretokenizers");
        if (!cJSON_IsArray(list))
            return vlmi_fail(VLM_ERR_FORMAT,
                             "tokenizer.json: Sequence pre_tokenizer.pretokenizers must be an array");
        p->children = vlmi_calloc((size_t)cJSON_GetArraySize(list), sizeof *p->children);
        if (p->children == NULL) return VLM_ERR_OUT_OF_MEMORY;
        for (const cJSON *item = list->child; item != NULL; item = item->next) {
            st = vlmi_pre_tokenizer_parse(item, &p->children[p->n_children]);
            if (st != VLM_OK) return st;
            if (p->children[p->n_children] != NULL) p->n_children++;
        }
        return VLM_OK;
    }
    return vlmi_fail(VLM_ERR_UNSUPPORTED,
                     "tokenizer.json: pre_tokenizer type '%s' is not supported", type);
}

vlm_status vlmi_pre_tokenizer_parse(const cJSON *json, vlmi_pre_tokenizer **out) {
    *out = NULL;
    if (json == NULL || cJSON_IsNull(json)) return VLM_OK;
    vlmi_pre_tokenizer *p = vlmi_calloc(1, sizeof *p);
    if (p == NULL) return VLM_ERR_OUT_OF_MEMORY;
    vlm_status st = parse_node(json, p);
    if (st != VLM_OK) {
        vlmi_pre_tokenizer_free(p);
        return st;
    }
    *out = p;
    return VLM_OK;
}

/* ---- application ---- */

typedef bool (*char_predicate)(uint32_t cp, const vlmi_pre_tokenizer *p);

static bool is_numeric(uint32_t cp, const vlmi_pre_tokenizer *p) { (void)p; return vlmi_unicode_is_numeric(cp); }
static bool is_punctuation(uint32_t cp, const vlmi_pre_tokenizer *p) { (void)p; return vlmi_unicode_is_punctuation(cp); }
static bool is_whitespace(uint32_t cp, const vlmi_pre_tokenizer *p) { (void)p; return vlmi_unicode_is_whitespace(cp); }
static bool is_replacement(uint32_t cp, const vlmi_pre_tokenizer *p) { return cp == p->replacement; }

/* tokenizers' Pattern for Fn(char) -> bool: every matching character is a
 * match of its own. */
static vlm_status find_chars(char_predicate pred, const vlmi_pre_tokenizer *p, const char *s,
                             size_t len, vlmi_spans *out) {
    out->n = 0;
    if (len == 0) return vlmi_spans_push(out, 0, 0, false);
    size_t last = 0;
    vlm_status st = VLM_OK;
    for (size_t i = 0; i < len && st == VLM_OK;) {
        size_t start = i;
        uint32_t cp = vlmi_utf8_next(s, &i);
        if (!pred(cp, p)) continue;
        if (last < start) st = vlmi_spans_push(out, last, start, false);
        if (st == VLM_OK) st = vlmi_spans_push(out, start, i, true);
        last = i;
    }
    if (st == VLM_OK && last < len) st = vlmi_spans_push(out, last, len, false);
    return st;
}

/* Whitespace: the runs matched by \w+|[^\w\s]+, whitespace dropped. */
static vlm_status find_whitespace_words(const char *s, size_t len, vlmi_spans *out) {
    out->n = 0;
    vlm_status st = VLM_OK;
    size_t i = 0;
    while (i < len && st == VLM_OK) {
        size_t start = i;
        uint32_t cp = vlmi_utf8_next(s, &i);
        if (vlmi_unicode_is_whitespace(cp)) continue;
        bool word = vlmi_unicode_is_word(cp);
        size_t end = i;
        while (end < len) {
            size_t j = end;
            uint32_t c = vlmi_utf8_next(s, &j);
            if (vlmi_unicode_is_whitespace(c) || vlmi_unicode_is_word(c) != word) break;
            end = j;
        }
        st = vlmi_spans_push(out, start, end, false);
        i = end;
    }
    return st;
}

/* Appends the kept spans of s (is_match == false, non-empty) to out. */
static vlm_status push_spans(const vlmi_spans *spans, const char *s, bool at_origin,
                             vlmi_pieces *out) {
    vlm_status st = VLM_OK;
    for (size_t k = 0; k < spans->n && st == VLM_OK; k++) {
        const vlmi_span *sp = &spans->items[k];
        if (sp->is_match || sp->end == sp->start) continue;
        st = vlmi_pieces_push(out, s + sp->start, sp->end - sp->start, -1,
                              at_origin && sp->start == 0);
    }
    return st;
}

static vlm_status push_byte_level(const char *s, size_t len, bool at_origin, vlmi_pieces *out) {
    if (len == 0) return VLM_OK;
    /* Every byte maps to a character below U+0800: two bytes at most. */
    char local[512] = "";   /* (initialized: gcc cannot see n > 0) */
    char *mapped = len <= sizeof local / 2 ? local : vlmi_malloc(len * 2);
    if (mapped == NULL) return VLM_ERR_OUT_OF_MEMORY;
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        uint32_t cp = vlmi_byte_level_char((uint8_t)s[i]);
        if (cp < 0x80) {
            mapped[n++] = (char)cp;
        } else {
            mapped[n++] = (char)(0xC0 | cp >> 6);
            mapped[n++] = (char)(0x80 | (cp & 0x3F));
        }
    }
    vlm_status st = vlmi_pieces_push(out, mapped, n, -1, at_origin);
    if (len > sizeof local / 2) free(mapped);
    return st;
}

/* Splits one text piece s into out. */
static vlm_status split_piece(const vlmi_pre_tokenizer *p, const char *s, size_t len,
                              bool at_origin, vlmi_buf *scratch, vlmi_spans *spans,
                              vlmi_pieces *out) {
    vlm_status st;
    switch (p->kind) {
    case PRE_BYTE_LEVEL: {
        scratch->len = 0;
        if (p->add_prefix_space && (len == 0 || s[0] != ' ')) {
            if ((st = vlmi_buf_append(scratch, " ", 1)) != VLM_OK) return st;
        }
        if ((st = vlmi_buf_append(scratch, s, len)) != VLM_OK) return st;
        if (!p->use_regex) return push_byte_level(scratch->data, scratch->len, at_origin, out);
        if ((st = vlmi_pattern_find(&p->pattern, scratch->data, scratch->len, spans)) != VLM_OK)
            return st;
        for (size_t k = 0; k < spans->n && st == VLM_OK; k++) {
            const vlmi_span *sp = &spans->items[k];
            st = push_byte_level(scratch->data + sp->start, sp->end - sp->start,
                                 at_origin && sp->start == 0, out);
        }
        return st;
    }
    case PRE_SPLIT:
        if ((st = vlmi_pattern_find(&p->pattern, s, len, spans)) != VLM_OK) return st;
        if (p->invert)
            for (size_t k = 0; k < spans->n; k++) spans->items[k].is_match = !spans->items[k].is_match;
        if ((st = vlmi_split_apply_behavior(spans, p->behavior)) != VLM_OK) return st;
        return push_spans(spans, s, at_origin, out);
    case PRE_METASPACE: {
        char rep[4];
        size_t rep_len = vlmi_utf8_encode(p->replacement, rep);
        /* Spaces become the replacement first, then the prefix is added
         * unless the result already starts with one. */
        scratch->len = 0;
        for (size_t i = 0; i < len;) {
            size_t start = i;
            while (i < len && s[i] != ' ') i++;
            if ((st = vlmi_buf_append(scratch, s + start, i - start)) != VLM_OK) return st;
            if (i < len) {
                if ((st = vlmi_buf_append(scratch, rep, rep_len)) != VLM_OK) return st;
                i++;
            }
        }
        bool starts_with_rep = scratch->len >= rep_len && memcmp(scratch->data, rep, rep_len) == 0;
        if ((p->prepend == PREPEND_ALWAYS || (p->prepend == PREPEND_FIRST && at_origin)) &&
            !starts_with_rep) {
            if ((st = vlmi_buf_reserve(scratch, rep_len)) != VLM_OK) return st;
            memmove(scratch->data + rep_len, scratch->data, scratch->len + 1);
            memcpy(scratch->data, rep, rep_len);
            scratch->len += rep_len;
        }
        if (!p->split) {
            if (scratch->len == 0) return VLM_OK;
            return vlmi_pieces_push(out, scratch->data, scratch->len, -1, at_origin);
        }
        if ((st = find_chars(is_replacement, p, scratch->data, scratch->len, spans)) != VLM_OK ||
            (st = vlmi_split_apply_behavior(spans, VLMI_SPLIT_MERGED_WITH_NEXT)) != VLM_OK)
            return st;
        return push_spans(spans, scratch->data, at_origin, out);
    }
    case PRE_DIGITS:
    case PRE_PUNCTUATION:
    case PRE_WHITESPACE_SPLIT:
    case PRE_CHAR_DELIMITER: {
        char_predicate pred = p->kind == PRE_DIGITS ? is_numeric
                            : p->kind == PRE_PUNCTUATION ? is_punctuation
                            : p->kind == PRE_WHITESPACE_SPLIT ? is_whitespace : is_replacement;
        vlmi_split_behavior behavior =
            p->kind == PRE_DIGITS ? (p->individual_digits ? VLMI_SPLIT_ISOLATED : VLMI_SPLIT_CONTIGUOUS)
            : p->kind == PRE_PUNCTUATION ? p->behavior : VLMI_SPLIT_REMOVED;
        if ((st = find_chars(pred, p, s, len, spans)) != VLM_OK ||
            (st = vlmi_split_apply_behavior(spans, behavior)) != VLM_OK)
            return st;
        return push_spans(spans, s, at_origin, out);
    }
    case PRE_WHITESPACE:
        if ((st = find_whitespace_words(s, len, spans)) != VLM_OK) return st;
        return push_spans(spans, s, at_origin, out);
    case PRE_SEQUENCE:
        break;
    }
    return vlmi_fail(VLM_ERR_INTERNAL, "pre-tokenizer kind %d cannot split", (int)p->kind);
}

vlm_status vlmi_pre_tokenizer_apply(const vlmi_pre_tokenizer *p, vlmi_pieces *pieces) {
    if (p == NULL) return VLM_OK;
    if (p->kind == PRE_SEQUENCE) {
        for (size_t i = 0; i < p->n_children; i++) {
            vlm_status st = vlmi_pre_tokenizer_apply(p->children[i], pieces);
            if (st != VLM_OK) return st;
        }
        return VLM_OK;
    }
    vlmi_pieces out = { 0 };
    vlmi_buf scratch = { 0 };
    vlmi_spans spans = { 0 };
    vlm_status st = VLM_OK;
    for (size_t i = 0; i < pieces->n && st == VLM_OK; i++) {
        const vlmi_piece *pc = &pieces->items[i];
        const char *s = pieces->text.data + pc->offset;
        if (pc->token >= 0) st = vlmi_pieces_push(&out, s, pc->len, pc->token, pc->at_origin);
        else st = split_piece(p, s, pc->len, pc->at_origin, &scratch, &spans, &out);
    }
    vlmi_buf_free(&scratch);
    vlmi_spans_free(&spans);
    if (st != VLM_OK) {
        vlmi_pieces_free(&out);
        return st;
    }
    vlmi_pieces_free(pieces);
    *pieces = out;
    return VLM_OK;
}
