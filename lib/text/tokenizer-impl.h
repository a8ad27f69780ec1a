/* Internal declarations of the tokenizer (lib/text). The pipeline follows
 * Hugging Face tokenizers step by step, so that every id matches:
 *
 *   text -> added tokens split off (raw) -> normalizer -> added tokens split
 *   off (normalized) -> pre-tokenizer -> BPE per piece -> post-processor
 *
 * and ids -> tokens -> decoder chain -> text. */
#ifndef VLM_TEXT_TOKENIZER_IMPL_H
#define VLM_TEXT_TOKENIZER_IMPL_H

#include "vlm-impl.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

/* ---- growable byte buffer ---- */

typedef struct vlmi_buf {
    char  *data;   /* NUL-terminated when non-NULL */
    size_t len;
    size_t cap;
} vlmi_buf;

vlm_status vlmi_buf_reserve(vlmi_buf *buf, size_t extra);
vlm_status vlmi_buf_append(vlmi_buf *buf, const void *bytes, size_t n);
void vlmi_buf_free(vlmi_buf *buf);

/* ---- UTF-8 and the Unicode classes the pipeline needs (utf8.c) ---- */

/* Offset of the first byte that does not start a valid UTF-8 sequence (RFC
 * 3629: no overlongs, no surrogates, nothing above U+10FFFF), or SIZE_MAX. */
size_t vlmi_utf8_invalid_offset(const char *s, size_t len);
/* Decodes the code point at s[*i] of valid UTF-8 and advances *i. */
uint32_t vlmi_utf8_next(const char *s, size_t *i);
/* Length in bytes of the sequence that starts with byte b (1 if invalid). */
size_t vlmi_utf8_seq_len(unsigned char b);
/* Writes cp as UTF-8, returns its length (1..4). */
size_t vlmi_utf8_encode(uint32_t cp, char out[4]);
/* Length of the longest prefix of s[0..len) that does not end inside a
 * UTF-8 sequence which the following bytes could still complete. */
size_t vlmi_utf8_complete_prefix(const char *s, size_t len);

bool vlmi_unicode_is_whitespace(uint32_t cp);   /* White_Space (Rust is_whitespace) */
bool vlmi_unicode_is_numeric(uint32_t cp);      /* Nd, Nl, No (Rust is_numeric) */
bool vlmi_unicode_is_punctuation(uint32_t cp);  /* P* or ASCII punctuation */
bool vlmi_unicode_is_word(uint32_t cp);         /* regex \w (Unicode) */

/* ---- hash maps (hashmap.c) ---- */

/* String -> int32. Keys are borrowed: they must outlive the map. */
typedef struct vlmi_strmap {
    struct vlmi_strmap_slot *slots;
    size_t n_slots;   /* power of two */
    size_t n_used;
} vlmi_strmap;

vlm_status vlmi_strmap_init(vlmi_strmap *map, size_t expected);
/* Inserts or overwrites. */
vlm_status vlmi_strmap_put(vlmi_strmap *map, const char *key, size_t key_len,
                           int32_t value);
/* Value for key, or -1. */
int32_t vlmi_strmap_get(const vlmi_strmap *map, const char *key, size_t key_len);
/* Value for the key a followed by b, or -1. */
int32_t vlmi_strmap_get2(const vlmi_strmap *map, const char *a, size_t a_len, const char *b,
                         size_t b_len);
void vlmi_strmap_free(vlmi_strmap *map);

/* uint64 -> two uint32 (a merge rank and its result, or a trie edge). */
typedef struct vlmi_u64map {
    struct vlmi_u64map_slot *slots;
    size_t n_slots;
    size_t n_used;
} vlmi_u64map;

vlm_status vlmi_u64map_init(vlmi_u64map *map, size_t expected);
vlm_status vlmi_u64map_put(vlmi_u64map *map, uint64_t key, uint32_t a, uint32_t b);
/* True if found; fills *a and *b. */
bool vlmi_u64map_get(const vlmi_u64map *map, uint64_t key, uint32_t *a, uint32_t *b);
void vlmi_u64map_free(vlmi_u64map *map);

/* ---- patterns: a literal string or an Oniguruma regex (pattern.c) ---- */

typedef struct vlmi_span {
    size_t start, end;
    bool   is_match;
} vlmi_span;

typedef struct vlmi_spans {
    vlmi_span *items;
    size_t n, cap;
} vlmi_spans;

vlm_status vlmi_spans_push(vlmi_spans *spans, size_t start, size_t end, bool is_match);
vlm_status vlmi_spans_reserve(vlmi_spans *spans, size_t n);   /* room for n in all */
void vlmi_spans_free(vlmi_spans *spans);

typedef struct vlmi_pattern {
    char  *literal;       /* non-NULL for a String pattern */
    size_t literal_len;
    void  *regex;         /* OnigRegex for a Regex pattern */
} vlmi_pattern;

/* Reads {"String": "..."} or {"Regex": "..."} at what (for messages). */
vlm_status vlmi_pattern_parse(const cJSON *json, const char *what, vlmi_pattern *out);
/* Compiles a regex with the syntax Hugging Face tokenizers uses. */
vlm_status vlmi_pattern_compile_regex(const char *source, const char *what,
                                      vlmi_pattern *out);
void vlmi_pattern_free(vlmi_pattern *pattern);
/* Cuts s[0..len) into consecutive spans, matches and the text between them
 * (tokenizers' Pattern::find_matches). Appends to *out (cleared first). */
vlm_status vlmi_pattern_find(const vlmi_pattern *pattern, const char *s, size_t len,
                             vlmi_spans *out);

/* How a split treats the delimiters it found (tokenizers'
 * SplitDelimiterBehavior). */
typedef enum vlmi_split_behavior {
    VLMI_SPLIT_REMOVED = 0,
    VLMI_SPLIT_ISOLATED,
    VLMI_SPLIT_MERGED_WITH_PREVIOUS,
    VLMI_SPLIT_MERGED_WITH_NEXT,
    VLMI_SPLIT_CONTIGUOUS
} vlmi_split_behavior;

vlm_status vlmi_split_behavior_parse(const cJSON *json, const char *what,
                                     vlmi_split_behavior *out);
/* Rewrites spans (covering a string) into the pieces to keep, in place:
 * afterwards each span with is_match == false is a piece, and spans with
 * is_match == true are to be dropped. */
vlm_status vlmi_split_apply_behavior(vlmi_spans *spans, vlmi_split_behavior behavior);

/* ---- pieces: the text cut into splits, some already tokens ---- */

typedef struct vlmi_piece {
    size_t  offset, len;  /* bytes in the owning vlmi_pieces' text */
    int32_t token;        /* added-token id, or -1 while still text */
    bool    at_origin;    /* starts at offset 0 of the caller's text */
} vlmi_piece;

typedef struct vlmi_pieces {
    vlmi_buf    text;
    vlmi_piece *items;
    size_t      n, cap;
} vlmi_pieces;

vlm_status vlmi_pieces_push(vlmi_pieces *pieces, const char *s, size_t len,
                            int32_t token, bool at_origin);
void vlmi_pieces_clear(vlmi_pieces *pieces);
void vlmi_pieces_free(vlmi_pieces *pieces);

/* ---- normalizers (normalizer.c) ---- */

typedef struct vlmi_normalizer vlmi_normalizer;

/* NULL json (or JSON null) gives *out = NULL: no normalizer. */
vlm_status vlmi_normalizer_parse(const cJSON *json, vlmi_normalizer **out);
void vlmi_normalizer_free(vlmi_normalizer *normalizer);
/* Normalizes s[0..len) into *out (replacing its contents). */
vlm_status vlmi_normalizer_apply(const vlmi_normalizer *normalizer, const char *s,
                                 size_t len, vlmi_buf *out);

/* ---- pre-tokenizers (pre_tokenizer.c) ---- */

typedef struct vlmi_pre_tokenizer vlmi_pre_tokenizer;

vlm_status vlmi_pre_tokenizer_parse(const cJSON *json, vlmi_pre_tokenizer **out);
void vlmi_pre_tokenizer_free(vlmi_pre_tokenizer *pre);
/* Splits every text piece of *pieces further (tokens stay as they are). */
vlm_status vlmi_pre_tokenizer_apply(const vlmi_pre_tokenizer *pre, vlmi_pieces *pieces);

/* The GPT-2 byte <-> printable character table. */
uint32_t vlmi_byte_level_char(uint8_t byte);
/* Byte for a byte-level character, or -1 if cp is not one. */
int vlmi_byte_level_byte(uint32_t cp);

/* ---- BPE model (bpe.c) ---- */

typedef struct vlmi_bpe vlmi_bpe;

/* model.vocab and model.merges as read from the JSON text (json_scan.c). */
typedef enum vlmi_table_error {
    VLMI_TABLE_OK = 0,
    VLMI_TABLE_ABSENT,       /* no such key in the model */
    VLMI_TABLE_WRONG_TYPE,   /* not an object (vocab) or array (merges) */
    VLMI_TABLE_MALFORMED,    /* bad JSON at byte at */
    VLMI_TABLE_BAD_ID,       /* vocab: the value of key text is not an id */
    VLMI_TABLE_BAD_MERGE,    /* merges[index] is neither "a b" nor ["a", "b"] */
    VLMI_TABLE_NOT_TWO,      /* merges[index] "text" does not split in two */
    VLMI_TABLE_NO_MEMORY
} vlmi_table_error;

typedef struct vlmi_table_status {
    vlmi_table_error code;
    size_t at, index;   /* byte offset in the file; entry index */
    char   text[64];
} vlmi_table_status;

typedef struct vlmi_vocab_entry {
    size_t   off;      /* of the NUL-terminated string in the arena */
    uint32_t len;
    int32_t  id;
} vlmi_vocab_entry;

typedef struct vlmi_merge_strings {
    size_t   a, b;     /* string offsets, see vlmi_bpe_tables_string */
    uint32_t a_len, b_len;
} vlmi_merge_strings;

typedef struct vlmi_bpe_tables {
    vlmi_table_status   vocab_status, merges_status;
    char               *arena;      /* the vocabulary's strings */
    vlmi_vocab_entry   *entries;    /* in file order */
    size_t              n_entries;
    const char         *merges_text;   /* the merges' JSON (borrowed) */
    vlmi_buf            escapes;       /* merge strings that had escapes */
    vlmi_merge_strings *merges;     /* in rank order */
    size_t              n_merges, merges_cap;
    vlmi_span           cut[2];     /* vocab, merges values in the file (is_match: present) */
} vlmi_bpe_tables;

/* Walks a tokenizer.json once, reading the last top-level "model" object's
 * last "vocab" and "merges" into *t (errors in them are recorded in the
 * statuses). False if the document's structure could not be walked; *t
 * is then empty. */
bool vlmi_tokjson_read(const char *json, size_t len, vlmi_bpe_tables *t);
/* Reads one table (vocab or merges) at p into *t, replacing what was
 * there; at is p's offset in the file. Returns the end of the value, or
 * NULL if it could not even be delimited. */
const char *vlmi_bpe_tables_read(vlmi_bpe_tables *t, bool vocab, const char *p, const char *end,
                                 size_t at);
/* The string of a merge at offset off. */
const char *vlmi_bpe_tables_string(const vlmi_bpe_tables *t, size_t off);
void vlmi_bpe_tables_free(vlmi_bpe_tables *t);

/* Options come from json (whose "vocab" and "merges" are ignored), the
 * vocabulary and merges from tables (whose arena bpe takes over). */
vlm_status vlmi_bpe_parse(const cJSON *json, vlmi_bpe_tables *tables, vlmi_bpe **out);
void vlmi_bpe_free(vlmi_bpe *bpe);
/* For vocabularies that list no merges (SentencePiece models in GGUF files):
 * a pair merges when its concatenation is a token, ranked as transformers'
 * generate_merges orders the merges it derives from scores: the merged
 * token's score (higher first), its left then right part's length in code
 * points (longer first), then the merged token's first position. score and
 * first are per id (max_id + 1 of them; ids without a string are ignored). */
vlm_status vlmi_bpe_rank_by_score(vlmi_bpe *bpe, const double *score, const uint32_t *first);
/* Appends the ids of one pre-token to *ids (growing it). */
typedef struct vlmi_ids {
    int32_t *items;
    size_t n, cap;
} vlmi_ids;
vlm_status vlmi_ids_push(vlmi_ids *ids, int32_t id);
vlm_status vlmi_ids_reserve(vlmi_ids *ids, size_t n);   /* room for n in all */
void vlmi_ids_free(vlmi_ids *ids);
vlm_status vlmi_bpe_tokenize(const vlmi_bpe *bpe, const char *word, size_t len,
                             vlmi_ids *ids);
/* id of a vocabulary string, or -1. */
int32_t vlmi_bpe_token_to_id(const vlmi_bpe *bpe, const char *s, size_t len);
/* Vocabulary string of id (borrowed), or NULL. */
const char *vlmi_bpe_id_to_token(const vlmi_bpe *bpe, int32_t id, size_t *len);
size_t vlmi_bpe_vocab_size(const vlmi_bpe *bpe);   /* distinct strings */
int32_t vlmi_bpe_max_id(const vlmi_bpe *bpe);      /* -1 if empty */

/* ---- added tokens (added_tokens.c) ---- */

typedef struct vlmi_added_vocab vlmi_added_vocab;

vlm_status vlmi_added_vocab_parse(const cJSON *json, const vlmi_bpe *bpe,
                                  const vlmi_normalizer *normalizer,
                                  vlmi_added_vocab **out);
void vlmi_added_vocab_free(vlmi_added_vocab *added);
/* Splits text into pieces around added tokens and normalizes the rest
 * (tokenizers' AddedVocabulary::extract_and_normalize). parse_special:
 * special tokens in the text are tokens (otherwise they stay text). */
vlm_status vlmi_added_vocab_extract(const vlmi_added_vocab *added,
                                    const vlmi_normalizer *normalizer,
                                    const char *text, size_t len, bool parse_special,
                                    vlmi_pieces *out);
const char *vlmi_added_vocab_id_to_token(const vlmi_added_vocab *added, int32_t id,
                                         size_t *len, bool *special);
int32_t vlmi_added_vocab_token_to_id(const vlmi_added_vocab *added, const char *s,
                                     size_t len);
int32_t vlmi_added_vocab_max_id(const vlmi_added_vocab *added); /* -1 if none */

/* ---- post-processors (post_processor.c) ---- */

typedef struct vlmi_post_processor vlmi_post_processor;

vlm_status vlmi_post_processor_parse(const cJSON *json, vlmi_post_processor **out);
void vlmi_post_processor_free(vlmi_post_processor *post);
/* Rewrites *ids as the post-processor does with add_special_tokens. */
vlm_status vlmi_post_processor_apply(const vlmi_post_processor *post, vlmi_ids *ids);

/* ---- decoders (decoder.c) ---- */

/* A list of strings sharing one buffer. */
typedef struct vlmi_strlist {
    vlmi_buf text;
    size_t  *offsets;   /* n + 1 entries when n > 0 */
    size_t   n, cap;
} vlmi_strlist;

vlm_status vlmi_strlist_push(vlmi_strlist *list, const char *s, size_t len);
/* Room for n strings of text_bytes in all. */
vlm_status vlmi_strlist_reserve(vlmi_strlist *list, size_t n, size_t text_bytes);
void vlmi_strlist_clear(vlmi_strlist *list);
void vlmi_strlist_free(vlmi_strlist *list);
static inline const char *vlmi_strlist_at(const vlmi_strlist *list, size_t i, size_t *len) {
    *len = list->offsets[i + 1] - list->offsets[i];
    return list->text.data + list->offsets[i];
}

typedef struct vlmi_decoder vlmi_decoder;

vlm_status vlmi_token_decoder_parse(const cJSON *json, vlmi_decoder **out);
void vlmi_token_decoder_free(vlmi_decoder *decoder);
/* Reusable working memory of decoding: the ids' strings, the decoder
 * chain's intermediate lists and buffers. Zero-initialize; everything only
 * grows, so decoding a window no longer than one seen before allocates
 * nothing. */
typedef struct vlmi_decode_scratch {
    vlmi_strlist tokens;     /* the ids' strings (vlmi_tokenizer_decode_scratch) */
    vlmi_strlist lists[2];   /* a decoder step reads one and writes the other */
    vlmi_buf     bytes;      /* ByteLevel / ByteFallback bytes */
    vlmi_buf     token;      /* one token being rewritten */
    vlmi_spans   spans;      /* Replace matches */
} vlmi_decode_scratch;

/* Grows the scratch to hold n_tokens strings of text_bytes in all. */
vlm_status vlmi_decode_scratch_reserve(vlmi_decode_scratch *scratch, size_t n_tokens,
                                       size_t text_bytes);
void vlmi_decode_scratch_free(vlmi_decode_scratch *scratch);

/* Joins tokens into text as the decoder does (no decoder: joined by " "). */
vlm_status vlmi_token_decoder_decode(const vlmi_decoder *decoder, vlmi_strlist *tokens,
                               vlmi_buf *out);
/* The same with caller-provided working memory; tokens may be
 * &scratch->tokens. *out is reused (its contents replaced). */
vlm_status vlmi_token_decoder_decode_scratch(const vlmi_decoder *decoder,
                                             const vlmi_strlist *tokens,
                                             vlmi_decode_scratch *scratch, vlmi_buf *out);

/* ---- raw JSON for the big tables (json_scan.c) ---- */

/* First non-whitespace byte at or after p (or end). */
const char *vlmi_jraw_ws(const char *p, const char *end);
/* p at a '"': the byte after the closing quote, or NULL (no closing quote,
 * or an unescaped control character). *escaped: a backslash was seen. */
const char *vlmi_jraw_string_end(const char *p, const char *end, bool *escaped);
/* Decodes a string body [p, end) (between the quotes) into dst, which has
 * room for end - p bytes; returns the decoded length, or SIZE_MAX for a bad
 * escape or an unpaired surrogate. */
size_t vlmi_jraw_unescape(const char *p, const char *end, char *dst);

/* ---- the tokenizer (tokenizer.c) ---- */

struct vlm_tokenizer {
    vlmi_normalizer     *normalizer;
    vlmi_pre_tokenizer  *pre_tokenizer;
    vlmi_bpe            *model;
    vlmi_added_vocab    *added;
    vlmi_post_processor *post_processor;
    vlmi_decoder        *decoder;
    size_t               n_vocab;   /* highest id + 1 */
};

/* Loads a tokenizer.json held in memory; source names it in messages. */
vlm_status vlmi_tokenizer_load_memory(const char *json, size_t len, const char *source,
                                      vlm_tokenizer **out);
/* Builds the tokenizer a GGUF file's tokenizer.ggml.* metadata describes, as
 * transformers' GGUF loader does (tokenizer_gguf.c); messages name the file. */
struct vlmi_gguf;
vlm_status vlmi_tokenizer_load_gguf(const struct vlmi_gguf *gguf, vlm_tokenizer **out);
/* Encodes into *ids (internal form of vlm_tokenize). */
vlm_status vlmi_tokenizer_encode(const vlm_tokenizer *tok, const char *text, size_t len,
                                 uint32_t flags, vlmi_ids *ids);
/* Decodes into *out (internal form of vlm_detokenize). */
vlm_status vlmi_tokenizer_decode(const vlm_tokenizer *tok, const int32_t *ids, size_t n,
                                 uint32_t flags, vlmi_buf *out);
/* The same into caller-provided scratch (the streaming detokenizer's):
 * allocates nothing once the scratch and *out have held as long a window. */
vlm_status vlmi_tokenizer_decode_scratch(const vlm_tokenizer *tok, const int32_t *ids, size_t n,
                                         uint32_t flags, vlmi_decode_scratch *scratch,
                                         vlmi_buf *out);

/* ---- JSON helpers shared by the parsers (tokenizer_json.c) ---- */

/* Each returns VLM_ERR_FORMAT naming what/key when the type is wrong. A
 * missing or null key gives the default. */
vlm_status vlmi_json_bool(const cJSON *obj, const char *key, const char *what,
                          bool def, bool *out);
vlm_status vlmi_json_string(const cJSON *obj, const char *key, const char *what,
                            bool required, const char **out);
vlm_status vlmi_json_uint(const cJSON *obj, const char *key, const char *what,
                          bool required, uint64_t max, uint64_t def, uint64_t *out);
/* The "type" of a component, required. */
vlm_status vlmi_json_type(const cJSON *obj, const char *what, const char **out);
/* Fails with VLM_ERR_UNSUPPORTED for any key of obj not in the NULL-ended
 * list, so that unknown options are never silently ignored. */
vlm_status vlmi_json_check_keys(const cJSON *obj, const char *what,
                                const char *const *known);

#endif
