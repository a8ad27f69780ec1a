/* The tokenizer: loading tokenizer.json, the encode and decode pipelines,
 * and the public vlm_tokenizer_* / vlm_tokenize / vlm_detokenize calls. */
#include "text/tokenizer-impl.h"

#include "io/file.h"

#include <stdlib.h>
#include <string.h>

/* tokenizer.json files run to tens of MB (Gemma 3: 33 MB). */
#define MAX_TOKENIZER_JSON_BYTES ((size_t)1 << 30)

/* ---- loading ---- */

void vlm_tokenizer_free(vlm_tokenizer *tok) {
    if (tok == NULL) return;
    vlmi_normalizer_free(tok->normalizer);
    vlmi_pre_tokenizer_free(tok->pre_tokenizer);
    vlmi_bpe_free(tok->model);
    vlmi_added_vocab_free(tok->added);
    vlmi_post_processor_free(tok->post_processor);
    vlmi_token_decoder_free(tok->decoder);
    free(tok);
}

static vlm_status check_null(const cJSON *root, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, key);
    if (v != NULL && !cJSON_IsNull(v))
        return vlmi_fail(VLM_ERR_UNSUPPORTED, "tokenizer.json: %s is not supported (must be null)", key);
    return VLM_OK;
}

/* Drops every member of obj whose key comes again later: tokenizers reads
 * the top level and the model with serde visitors, where the last
 * duplicate wins. */
static vlm_status keep_last_duplicates(cJSON *obj) {
    if (!cJSON_IsObject(obj) || obj->child == NULL || obj->child->next == NULL) return VLM_OK;
    vlmi_strmap seen;
    vlm_status st = vlmi_strmap_init(&seen, (size_t)cJSON_GetArraySize(obj));
    cJSON *item = obj->child->prev;   /* cJSON: the first child's prev is the last */
    while (item != NULL && st == VLM_OK) {
        cJSON *prev = item == obj->child ? NULL : item->prev;
        const char *key = item->string ? item->string : "";
        size_t len = strlen(key);
        if (vlmi_strmap_get(&seen, key, len) >= 0)
            cJSON_Delete(cJSON_DetachItemViaPointer(obj, item));
        else
            st = vlmi_strmap_put(&seen, key, len, 1);
        item = prev;
    }
    vlmi_strmap_free(&seen);
    return st;
}

static vlm_status load_json(cJSON *root, vlmi_bpe_tables *tables, vlm_tokenizer *tok) {
    if (!cJSON_IsObject(root))
        return vlmi_fail(VLM_ERR_FORMAT, "tokenizer.json: the top level must be an object");
    vlm_status st;
    cJSON *model = cJSON_GetObjectItemCaseSensitive(root, "model");
    if ((st = keep_last_duplicates(model)) != VLM_OK) return st;
    if ((st = check_null(root, "truncation")) != VLM_OK || (st = check_null(root, "padding")) != VLM_OK)
        return st;
    /* The model and normalizer come first: added tokens need both. */
    if ((st = vlmi_bpe_parse(model, tables, &tok->model)) != VLM_OK ||
        (st = vlmi_normalizer_parse(cJSON_GetObjectItemCaseSensitive(root, "normalizer"),
                                    &tok->normalizer)) != VLM_OK ||
        (st = vlmi_added_vocab_parse(cJSON_GetObjectItemCaseSensitive(root, "added_tokens"),
                                     tok->model, tok->normalizer, &tok->added)) != VLM_OK ||
        (st = vlmi_pre_tokenizer_parse(cJSON_GetObjectItemCaseSensitive(root, "pre_tokenizer"),
                                       &tok->pre_tokenizer)) != VLM_OK ||
        (st = vlmi_post_processor_parse(cJSON_GetObjectItemCaseSensitive(root, "post_processor"),
                                        &tok->post_processor)) != VLM_OK ||
        (st = vlmi_token_decoder_parse(cJSON_GetObjectItemCaseSensitive(root, "decoder"), &tok->decoder)) != VLM_OK)
        return st;
    int32_t max_id = vlmi_bpe_max_id(tok->model);
    int32_t added_max = vlmi_added_vocab_max_id(tok->added);
    if (added_max > max_id) max_id = added_max;
    tok->n_vocab = (size_t)(max_id + 1);
    return VLM_OK;
}

/* The document without model.vocab and model.merges, which become {} and
 * [] (bpe.c reads them from the original text): cJSON then builds a few
 * thousand nodes instead of a million. */
typedef struct cut_doc {
    char  *text;
    size_t len;
    size_t cut_at[2], cut_len[2];   /* in text: replacement offset, bytes removed - 2 */
    int    n_cuts;
} cut_doc;

static vlm_status make_cut_doc(const char *json, size_t len, const vlmi_span cut[2], cut_doc *out) {
    size_t start[2], end[2];
    const char *with[2];
    int n = 0;
    for (int i = 0; i < 2; i++) {
        if (!cut[i].is_match) continue;
        start[n] = cut[i].start;
        end[n] = cut[i].end;
        with[n++] = i == 0 ? "{}" : "[]";
    }
    if (n == 2 && start[1] < start[0]) {
        size_t s = start[0], e = end[0];
        const char *w = with[0];
        start[0] = start[1]; end[0] = end[1]; with[0] = with[1];
        start[1] = s; end[1] = e; with[1] = w;
    }
    size_t removed = 0;
    for (int i = 0; i < n; i++) removed += end[i] - start[i];
    out->text = vlmi_malloc(len - removed + 2 * (size_t)n + 1);
    if (out->text == NULL) return VLM_ERR_OUT_OF_MEMORY;
    size_t from = 0, to = 0;
    for (int i = 0; i < n; i++) {
        memcpy(out->text + to, json + from, start[i] - from);
        to += start[i] - from;
        out->cut_at[i] = to;
        out->cut_len[i] = end[i] - start[i] - 2;
        memcpy(out->text + to, with[i], 2);
        to += 2;
        from = end[i];
    }
    memcpy(out->text + to, json + from, len - from);
    to += len - from;
    out->text[to] = '\0';
    out->len = to;
    out->n_cuts = n;
    return VLM_OK;
}

/* A byte offset of the cut document in the original one. */
static size_t original_offset(const cut_doc *doc, size_t at) {
    size_t shift = 0;
    for (int i = 0; i < doc->n_cuts; i++)
        if (at >= doc->cut_at[i] + 2) shift += doc->cut_len[i];
        else if (at > doc->cut_at[i]) at = doc->cut_at[i];
    return at + shift;
}

/* When the walk gave up and cJSON read the whole document, the tables are
 * printed back from cJSON's tree and read from that text. */
static vlm_status read_table(cJSON *model, bool vocab, vlmi_bpe_tables *tables, char **printed) {
    cJSON *item = cJSON_GetObjectItemCaseSensitive(model, vocab ? "vocab" : "merges");
    if (item == NULL) return VLM_OK;
    if ((*printed = cJSON_PrintUnformatted(item)) == NULL) return VLM_ERR_OUT_OF_MEMORY;
    size_t len = strlen(*printed);
    vlmi_bpe_tables_read(tables, vocab, *printed, *printed + len, 0);
    return VLM_OK;
}

vlm_status vlmi_tokenizer_load_memory(const char *json, size_t len, const char *source,
                                      vlm_tokenizer **out) {
    *out = NULL;
    vlmi_bpe_tables tables = { 0 };
    cut_doc doc = { 0 };
    vlm_status st = VLM_OK;
    bool walked = vlmi_tokjson_read(json, len, &tables);
    if (walked && (st = make_cut_doc(json, len, tables.cut, &doc)) != VLM_OK) {
        vlmi_bpe_tables_free(&tables);
        return st;
    }
    const char *text = walked ? doc.text : json, *end = NULL;
    size_t text_len = walked ? doc.len : len;
    cJSON *root = cJSON_ParseWithLengthOpts(text, text_len, &end, 0);
    if (root == NULL) {
        size_t at = end && end >= text ? (size_t)(end - text) : 0;
        free(doc.text);
        vlmi_bpe_tables_free(&tables);
        return vlmi_fail(VLM_ERR_FORMAT, "%s: malformed JSON near byte %zu", source,
                         walked ? original_offset(&doc, at) : at);
    }
    free(doc.text);
    char *printed_vocab = NULL, *printed_merges = NULL;
    if ((st = keep_last_duplicates(root)) == VLM_OK && !walked) {
        cJSON *model = cJSON_GetObjectItemCaseSensitive(root, "model");
        if (cJSON_IsObject(model) && (st = keep_last_duplicates(model)) == VLM_OK &&
            (st = read_table(model, true, &tables, &printed_vocab)) == VLM_OK)
            st = read_table(model, false, &tables, &printed_merges);
    }
    vlm_tokenizer *tok = NULL;
    if (st == VLM_OK) {
        tok = vlmi_calloc(1, sizeof *tok);
        st = tok ? load_json(root, &tables, tok) : VLM_ERR_OUT_OF_MEMORY;
    }
    cJSON_Delete(root);
    vlmi_bpe_tables_free(&tables);
    cJSON_free(printed_vocab);
    cJSON_free(printed_merges);
    if (st != VLM_OK) {
        vlm_tokenizer_free(tok);
        return st;
    }
    *out = tok;
    return VLM_OK;
}

vlm_status vlm_tokenizer_load(const char *path, vlm_tokenizer **out) {
    vlmi_clear_error();
    if (out == NULL) return vlmi_fail(VLM_ERR_INVALID_ARGUMENT, "vlm_tokenizer_load: out is NULL");
    *out = NULL;
    if (path == NULL) return vlmi_fail(VLM_ERR_INVALID_ARGUMENT, "vlm_tokenizer_load: path is NULL");
    char *file = vlmi_is_directory(path) ? vlmi_path_join(path, "tokenizer.json") : vlmi_strdup(path);
    if (file == NULL) return VLM_ERR_OUT_OF_MEMORY;
    char *data;
    size_t size;
    vlm_status st = vlmi_file_read(file, MAX_TOKENIZER_JSON_BYTES, &data, &size);
    if (st == VLM_OK) {
        st = vlmi_tokenizer_load_memory(data, size, file, out);
        free(data);
    }
    free(file);
    return st;
}

size_t vlm_tokenizer_n_vocab(const vlm_tokenizer *tok) {
    return tok ? tok->n_vocab : 0;
}

/* ---- encoding ---- */

vlm_status vlmi_tokenizer_encode(const vlm_tokenizer *tok, const char *text, size_t len,
                                 uint32_t flags, vlmi_ids *ids) {
    ids->n = 0;
    size_t bad = vlmi_utf8_invalid_offset(text, len);
    if (bad != SIZE_MAX)
        return vlmi_fail(VLM_ERR_INVALID_UTF8, "text is not valid UTF-8 at byte %zu", bad);
    vlmi_pieces pieces = { 0 };
    vlm_status st = vlmi_added_vocab_extract(tok->added, tok->normalizer, text, len,
                                             (flags & VLM_TOKENIZE_PARSE_SPECIAL) != 0, &pieces);
    if (st == VLM_OK) st = vlmi_pre_tokenizer_apply(tok->pre_tokenizer, &pieces);
    for (size_t i = 0; i < pieces.n && st == VLM_OK; i++) {
        const vlmi_piece *p = &pieces.items[i];
        st = p->token >= 0 ? vlmi_ids_push(ids, p->token)
                           : vlmi_bpe_tokenize(tok->model, pieces.text.data + p->offset, p->len, ids);
    }
    if (st == VLM_OK && (flags & VLM_TOKENIZE_ADD_SPECIAL))
        st = vlmi_post_processor_apply(tok->post_processor, ids);
    vlmi_pieces_free(&pieces);
    return st;
}

vlm_status vlm_tokenize(const vlm_tokenizer *tok, const char *text, size_t text_len, uint32_t flags,
                        int32_t *ids, size_t ids_capacity, size_t *n_ids) {
    vlmi_clear_error();
    if (n_ids) *n_ids = 0;
    if (tok == NULL || n_ids == NULL || (text == NULL && text_len > 0) ||
        (ids == NULL && ids_capacity > 0))
        return vlmi_fail(VLM_ERR_INVALID_ARGUMENT, "vlm_tokenize: NULL argument");
    vlmi_ids out = { 0 };
    vlm_status st = vlmi_tokenizer_encode(tok, text ? text : "", text_len, flags, &out);
    if (st == VLM_OK) {
        *n_ids = out.n;
        if (out.n > ids_capacity)
            st = vlmi_fail(VLM_ERR_BUFFER_TOO_SMALL, "vlm_tokenize: %zu ids, room for %zu", out.n,
                           ids_capacity);
        else if (out.n > 0)
            memcpy(ids, out.items, out.n * sizeof *ids);
    }
    vlmi_ids_free(&out);
    return st;
}

/* ---- decoding ---- */

/* The string of an id: an added token first, then the model's. */
static const char *id_to_token(const vlm_tokenizer *tok, int32_t id, size_t *len, bool *special) {
    *special = false;
    const char *s = vlmi_added_vocab_id_to_token(tok->added, id, len, special);
    return s ? s : vlmi_bpe_id_to_token(tok->model, id, len);
}

vlm_status vlmi_tokenizer_decode_scratch(const vlm_tokenizer *tok, const int32_t *ids, size_t n,
                                         uint32_t flags, vlmi_decode_scratch *scratch,
                                         vlmi_buf *out) {
    vlmi_strlist *tokens = &scratch->tokens;
    vlmi_strlist_clear(tokens);
    vlm_status st = VLM_OK;
    for (size_t i = 0; i < n && st == VLM_OK; i++) {
        size_t len;
        bool special;
        const char *s = id_to_token(tok, ids[i], &len, &special);
        if (s == NULL) continue;  /* unknown ids are skipped, as tokenizers does */
        if (flags & VLM_DETOKENIZE_SKIP_SPECIAL) {
            /* tokenizers skips any token whose string is a special token's. */
            int32_t added_id = vlmi_added_vocab_token_to_id(tok->added, s, len);
            size_t unused_len;
            bool is_special = false;
            if (added_id >= 0) vlmi_added_vocab_id_to_token(tok->added, added_id, &unused_len, &is_special);
            if (is_special) continue;
        }
        st = vlmi_strlist_push(tokens, s, len);
    }
    if (st == VLM_OK) st = vlmi_token_decoder_decode_scratch(tok->decoder, tokens, scratch, out);
    return st;
}

vlm_status vlmi_tokenizer_decode(const vlm_tokenizer *tok, const int32_t *ids, size_t n,
                                 uint32_t flags, vlmi_buf *out) {
    vlmi_decode_scratch scratch = { 0 };
    vlm_status st = vlmi_tokenizer_decode_scratch(tok, ids, n, flags, &scratch, out);
    vlmi_decode_scratch_free(&scratch);
    return st;
}

/* Copies text into the caller's buffer under the buffer convention. */
static vlm_status copy_out(const char *what, const char *text, size_t len, char *buf, size_t buf_size,
                           size_t *out_len) {
    *out_len = len;
    if (buf_size <= len)
        return vlmi_fail(VLM_ERR_BUFFER_TOO_SMALL, "%s: %zu bytes needed, buffer holds %zu", what,
                         len + 1, buf_size);
    if (len) memcpy(buf, text, len);
    buf[len] = '\0';
    return VLM_OK;
}

vlm_status vlm_detokenize(const vlm_tokenizer *tok, const int32_t *ids, size_t n_ids, uint32_t flags,
                          char *buf, size_t buf_size, size_t *out_len) {
    vlmi_clear_error();
    if (out_len) *out_len = 0;
    if (tok == NULL || out_len == NULL || (ids == NULL && n_ids > 0) || (buf == NULL && buf_size > 0))
        return vlmi_fail(VLM_ERR_INVALID_ARGUMENT, "vlm_detokenize: NULL argument");
    vlmi_buf text = { 0 };
    vlm_status st = vlmi_tokenizer_decode(tok, ids, n_ids, flags, &text);
    if (st == VLM_OK) st = copy_out("vlm_detokenize", text.data ? text.data : "", text.len, buf,
                                    buf_size, out_len);
    vlmi_buf_free(&text);
    return st;
}

vlm_status vlm_token_to_piece(const vlm_tokenizer *tok, int32_t id, char *buf, size_t buf_size,
                              size_t *out_len) {
    vlmi_clear_error();
    if (out_len) *out_len = 0;
    if (tok == NULL || out_len == NULL || (buf == NULL && buf_size > 0))
        return vlmi_fail(VLM_ERR_INVALID_ARGUMENT, "vlm_token_to_piece: NULL argument");
    size_t len;
    bool special;
    const char *s = id_to_token(tok, id, &len, &special);
    if (s == NULL)
        return vlmi_fail(VLM_ERR_INVALID_ARGUMENT, "vlm_token_to_piece: no token has id %d", (int)id);
    return copy_out("vlm_token_to_piece", s, len, buf, buf_size, out_len);
}

int32_t vlm_token_lookup(const vlm_tokenizer *tok, const char *text) {
    vlmi_clear_error();
    if (tok == NULL || text == NULL) return -1;
    size_t len = strlen(text);
    int32_t id = vlmi_added_vocab_token_to_id(tok->added, text, len);
    return id >= 0 ? id : vlmi_bpe_token_to_id(tok->model, text, len);
}
