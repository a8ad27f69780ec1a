/* UTF-8 decoding and validation, and the few Unicode classes the tokenizer
 * pipeline tests characters against. The classes follow what Rust's char
 * methods and regex crate answer, since tokenizers is written in Rust. */
#include "text/tokenizer-impl.h"

#include <utf8proc.h>

size_t vlmi_utf8_seq_len(unsigned char b) {
    if (b < 0x80) return 1;
    if (b >= 0xC2 && b <= 0xDF) return 2;
    if (b >= 0xE0 && b <= 0xEF) return 3;
    if (b >= 0xF0 && b <= 0xF4) return 4;
    return 1;
}

/* Length of the valid sequence at s[i], 0 if invalid; *incomplete is set
 * when the sequence is a valid prefix cut short by the end of the input. */
static size_t valid_seq_at(const unsigned char *s, size_t len, size_t i, bool *incomplete) {
    *incomplete = false;
    unsigned char b = s[i];
    if (b < 0x80) return 1;
    size_t n;
    unsigned char lo = 0x80, hi = 0xBF;  /* allowed range of the second byte */
    if (b >= 0xC2 && b <= 0xDF) n = 2;
    else if (b == 0xE0) { n = 3; lo = 0xA0; }
    else if (b >= 0xE1 && b <= 0xEC) n = 3;
    else if (b == 0xED) { n = 3; hi = 0x9F; }         /* no surrogates */
    else if (b >= 0xEE && b <= 0xEF) n = 3;
    else if (b == 0xF0) { n = 4; lo = 0x90; }          /* no overlongs */
    else if (b >= 0xF1 && b <= 0xF3) n = 4;
    else if (b == 0xF4) { n = 4; hi = 0x8F; }          /* <= U+10FFFF */
    else return 0;
    for (size_t k = 1; k < n; k++) {
        if (i + k >= len) { *incomplete = true; return 0; }
        unsigned char c = s[i + k];
        unsigned char l = k == 1 ? lo : 0x80, h = k == 1 ? hi : 0xBF;
        if (c < l || c > h) return 0;
    }
    return n;
}

size_t vlmi_utf8_invalid_offset(const char *s, size_t len) {
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    while (i < len) {
        if (u[i] < 0x80) { i++; continue; }
        bool incomplete;
        size_t n = valid_seq_at(u, len, i, &incomplete);
        if (n == 0) return i;
        i += n;
    }
    return SIZE_MAX;
}

size_t vlmi_utf8_complete_prefix(const char *s, size_t len) {
    const unsigned char *u = (const unsigned char *)s;
    /* Only the last 3 bytes can hold an unfinished sequence. */
    size_t start = len > 3 ? len - 3 : 0;
    for (size_t i = start; i < len; i++) {
        if (u[i] < 0x80 || (u[i] & 0xC0) == 0x80) continue;
        bool incomplete;
        size_t n = valid_seq_at(u, len, i, &incomplete);
        if (n == 0 && incomplete) return i;
    }
    return len;
}

uint32_t vlmi_utf8_next(const char *s, size_t *i) {
    const unsigned char *u = (const unsigned char *)s + *i;
    uint32_t cp;
    if (u[0] < 0x80) { cp = u[0]; *i += 1; }
    else if (u[0] < 0xE0) { cp = ((uint32_t)(u[0] & 0x1F) << 6) | (u[1] & 0x3F); *i += 2; }
    else if (u[0] < 0xF0) {
        cp = ((uint32_t)(u[0] & 0x0F) << 12) | ((uint32_t)(u[1] & 0x3F) << 6) | (u[2] & 0x3F);
        *i += 3;
    } else {
        cp = ((uint32_t)(u[0] & 0x07) << 18) | ((uint32_t)(u[1] & 0x3F) << 12) |
             ((uint32_t)(u[2] & 0x3F) << 6) | (u[3] & 0x3F);
        *i += 4;
    }
    return cp;
}

size_t vlmi_utf8_encode(uint32_t cp, char out[4]) {
    if (cp < 0x80) { out[0] = (char)cp; return 1; }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

bool vlmi_unicode_is_whitespace(uint32_t c) {
    return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 ||
           c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 ||
           c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

static utf8proc_category_t category(uint32_t c) {
    return utf8proc_category((utf8proc_int32_t)c);
}

bool vlmi_unicode_is_numeric(uint32_t c) {
    if (c < 0x80) return c >= '0' && c <= '9';
    utf8proc_category_t k = category(c);
    return k == UTF8PROC_CATEGORY_ND || k == UTF8PROC_CATEGORY_NL ||
           k == UTF8PROC_CATEGORY_NO;
}

bool vlmi_unicode_is_punctuation(uint32_t c) {
    if (c < 0x80)
        return (c >= 0x21 && c <= 0x2F) || (c >= 0x3A && c <= 0x40) ||
               (c >= 0x5B && c <= 0x60) || (c >= 0x7B && c <= 0x7E);
    utf8proc_category_t k = category(c);
    return k >= UTF8PROC_CATEGORY_PC && k <= UTF8PROC_CATEGORY_PO;
}

bool vlmi_unicode_is_word(uint32_t c) {
    if (c < 0x80)
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
               c == '_';
    if (c == 0x200C || c == 0x200D) return true;  /* Join_Control */
    /* Other_Alphabetic symbols: circled and squared Latin letters. */
    if ((c >= 0x24B6 && c <= 0x24E9) || (c >= 0x1F130 && c <= 0x1F149) ||
        (c >= 0x1F150 && c <= 0x1F169) || (c >= 0x1F170 && c <= 0x1F189))
        return true;
    utf8proc_category_t k = category(c);
    switch (k) {
    case UTF8PROC_CATEGORY_LU: case UTF8PROC_CATEGORY_LL: case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM: case UTF8PROC_CATEGORY_LO:
    case UTF8PROC_CATEGORY_MN: case UTF8PROC_CATEGORY_MC: case UTF8PROC_CATEGORY_ME:
    case UTF8PROC_CATEGORY_ND: case UTF8PROC_CATEGORY_NL: case UTF8PROC_CATEGORY_PC:
        return true;
    default:
        return false;
    }
}
