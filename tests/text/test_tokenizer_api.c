/* The tokenizer's API contract: load errors (missing file, malformed JSON,
 * wrong types, unsupported components), invalid UTF-8, NULL arguments,
 * size queries and buffer-too-small returns, lookups, and a tokenizer
 * shared by threads. */
#include "test.h"
#include "text/tokenizer-impl.h"
#include "vlm.h"

#include <pthread.h>

/* A minimal byte-level tokenizer.json with the given parts spliced in. */
static vlm_status load_doc(const char *normalizer, const char *pre, const char *decoder,
                           const char *post, const char *model_extra, vlm_tokenizer **out) {
    char doc[4096];
    snprintf(doc, sizeof doc,
             "{\"version\":\"1.0\",\"truncation\":null,\"padding\":null,"
             "\"added_tokens\":[{\"id\":5,\"content\":\"<s>\",\"single_word\":false,\"lstrip\":false,"
             "\"rstrip\":false,\"normalized\":false,\"special\":true}],"
             "\"normalizer\":%s,\"pre_tokenizer\":%s,\"post_processor\":%s,\"decoder\":%s,"
             "\"model\":{\"type\":\"BPE\",\"unk_token\":null%s,"
             "\"vocab\":{\"a\":0,\"b\":1,\"ab\":2,\"c\":3,\"\\u0120\":4},\"merges\":[\"a b\"]}}",
             normalizer, pre, post, decoder, model_extra);
    return vlmi_tokenizer_load_memory(doc, strlen(doc), "test", out);
}

static void expect_load_error(vlm_status expected, const char *needle, const char *normalizer,
                              const char *pre, const char *decoder, const char *post,
                              const char *model_extra) {
    vlm_tokenizer *tok = (vlm_tokenizer *)1;
    vlm_status st = load_doc(normalizer, pre, decoder, post, model_extra, &tok);
    CHECK_MSG(st == expected, "got %s (%s), expected %s", vlm_status_string(st), vlm_last_error(),
              vlm_status_string(expected));
    CHECK(tok == NULL);
    if (st == VLM_OK) vlm_tokenizer_free(tok);
    CHECK_MSG(strstr(vlm_last_error(), needle) != NULL, "message \"%s\" lacks \"%s\"", vlm_last_error(), needle);
}

static void *encode_in_thread(void *arg) {
    const vlm_tokenizer *tok = arg;
    for (int i = 0; i < 200; i++) {
        int32_t ids[16];
        size_t n;
        if (vlm_tokenize(tok, "abcab<s>c", 9, VLM_TOKENIZE_PARSE_SPECIAL, ids, 16, &n) != VLM_OK || n != 5)
            return (void *)1;
    }
    return NULL;
}

int main(void) {
    /* ---- load errors ---- */
    vlm_tokenizer *tok = NULL;
    CHECK_STATUS(VLM_ERR_INVALID_ARGUMENT, vlm_tokenizer_load(NULL, &tok));
    CHECK_STATUS(VLM_ERR_INVALID_ARGUMENT, vlm_tokenizer_load("x", NULL));
    CHECK_STATUS(VLM_ERR_IO, vlm_tokenizer_load("/nonexistent/tokenizer.json", &tok));
    CHECK(tok == NULL);
    CHECK_STATUS(VLM_ERR_IO, vlm_tokenizer_load("/nonexistent-dir-xyz", &tok));

    const char *bad_json[] = { "", "{", "[1,2]", "{\"model\": 3}", "nul", "{\"model\":{\"type\":\"BPE\",\"vocab\":[]}}",
                               "{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":-1}}}",
                               "{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":[\"a\"]}}",
                               "{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":[\"a a\"]}}",
                               "{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0}},\"added_tokens\":{}}" };
    for (size_t i = 0; i < sizeof bad_json / sizeof bad_json[0]; i++) {
        vlm_status st = vlmi_tokenizer_load_memory(bad_json[i], strlen(bad_json[i]), "t", &tok);
        CHECK_MSG(st == VLM_ERR_FORMAT, "bad json %zu: %s (%s)", i, vlm_status_string(st), vlm_last_error());
        CHECK(tok == NULL);
    }

    /* model.vocab and model.merges are read without cJSON: their errors
     * name the field. */
    const struct { const char *doc, *needle; } table_errors[] = {
        { "{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0,}}}", "model.vocab: malformed JSON near byte 38" },
        { "{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\\q\":0}}}", "model.vocab: malformed JSON" },
        { "{\"model\":{\"type\":\"BPE\",\"vocab\":{\"\\ud800\":0}}}", "model.vocab: malformed JSON" },
        { "{\"model\":{\"type\":\"BPE\",\"vocab\":{\"\\udc00\\ud800\":0}}}", "model.vocab: malformed JSON" },
        { "{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\x01\":0}}}", "model.vocab: malformed JSON" },
        { "{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":1.0}}}", "model.vocab[\"a\"] must be an id" },
        { "{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":2147483648}}}", "model.vocab[\"a\"] must be an id" },
        { "{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":\"0\"}}}", "model.vocab[\"a\"] must be an id" },
        { "{\"model\":{\"type\":\"BPE\",\"vocab\":[]}}", "model.vocab must be an object" },
        { "{\"model\":{\"type\":\"BPE\"}}", "model.vocab must be an object" },
        { "{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":{}}}", "model.merges must be an array" },
        { "{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":[\"a a\",[\"a\"]]}}", "model.merges[1] must be" },
        { "{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":[\"a a\" \"a a\"]}}", "model.merges: malformed JSON" },
        { "{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":[\"a a a\"]}}", "model.merges[0] \"a a a\" is not two tokens" },
        { "{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":[[\"a\",\"b\"]]}}", "merges[0]: \"b\" is not in the vocabulary" },
        { "{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":[\"a a\"]}}", "merges[0]: \"aa\" is not in the vocabulary" },
        /* A table error does not hide an unsupported model type. */
        { "{\"model\":{\"type\":\"Unigram\",\"vocab\":[[\"a\",0.0]]}}", "model type 'Unigram' is not supported" },
        /* cJSON still reads everything else: errors there give the byte in the file. */
        { "{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":[]},\"added_tokens\":[1,]}", "malformed JSON near byte 70" },
    };
    for (size_t i = 0; i < sizeof table_errors / sizeof table_errors[0]; i++) {
        tok = (vlm_tokenizer *)1;
        vlm_status st = vlmi_tokenizer_load_memory(table_errors[i].doc, strlen(table_errors[i].doc), "t", &tok);
        CHECK_MSG(st == VLM_ERR_FORMAT || st == VLM_ERR_UNSUPPORTED, "table error %zu: %s", i, vlm_status_string(st));
        CHECK(tok == NULL);
        CHECK_MSG(strstr(vlm_last_error(), table_errors[i].needle) != NULL, "table error %zu: \"%s\" lacks \"%s\"",
                  i, vlm_last_error(), table_errors[i].needle);
    }
    /* Escapes (a surrogate pair too), "#version" headers, null merges, and
     * duplicate keys: the last wins, as in tokenizers (serde). */
    const char *escaped =
        "{\"model\":{\"type\":\"BPE\",\"vocab\":{\"x\":9}},\"model\":{\"type\":\"BPE\",\"unk_token\":null,"
        "\"vocab\":{\"\\u00e9\":0,\"\\ud83d\\ude42\":1,\"\\u00e9\\ud83d\\ude42\":2,\"a\\\"\":3,\"b\":4,\"b\":5},"
        "\"merges\":[\"#version: 0.2\",\"\\u00e9 \\ud83d\\ude42\"],\"vocab\":{\"\\u00e9\":0,\"\\ud83d\\ude42\":1,"
        "\"\\u00e9\\ud83d\\ude42\":2,\"a\\\"\":3,\"b\":4,\"b\":5}}}";
    CHECK_OK(vlmi_tokenizer_load_memory(escaped, strlen(escaped), "t", &tok));
    if (tok) {
        int32_t got[4];
        size_t n_got = 0;
        CHECK_OK(vlm_tokenize(tok, "\xc3\xa9\xf0\x9f\x99\x82" "a\"b", 9, 0, got, 4, &n_got));
        /* 'a' and '"' are not tokens (only "a\"" is): dropped. */
        CHECK_MSG(n_got == 2 && got[0] == 2 && got[1] == 5, "escaped: %zu ids", n_got);
        CHECK(vlm_token_lookup(tok, "a\"") == 3);
        CHECK(vlm_token_lookup(tok, "x") == -1);
        char piece[16];
        size_t piece_len;
        /* "b" moved to id 5: id 4 has no string any more. */
        CHECK_STATUS(VLM_ERR_INVALID_ARGUMENT, vlm_token_to_piece(tok, 4, piece, sizeof piece, &piece_len));
        CHECK_OK(vlm_token_to_piece(tok, 5, piece, sizeof piece, &piece_len));
        vlm_tokenizer_free(tok);
    }
    /* An added token listed twice keeps its first id, takes the special
     * flag of either listing, and is still found by its content. */
    const char *twice =
        "{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0}},\"added_tokens\":["
        "{\"id\":1,\"content\":\"<x>\",\"special\":false},"
        "{\"id\":2,\"content\":\"<x>\",\"special\":true}]}";
    CHECK_OK(vlmi_tokenizer_load_memory(twice, strlen(twice), "t", &tok));
    if (tok) {
        int32_t got[4];
        size_t n_got = 0;
        CHECK(vlm_token_lookup(tok, "<x>") == 1);
        CHECK_OK(vlm_tokenize(tok, "a<x>", 4, VLM_TOKENIZE_PARSE_SPECIAL, got, 4, &n_got));
        CHECK_MSG(n_got == 2 && got[0] == 0 && got[1] == 1, "twice: %zu ids", n_got);
        vlm_tokenizer_free(tok);
    }
    const char *null_merges = "{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":null}}";
    CHECK_OK(vlmi_tokenizer_load_memory(null_merges, strlen(null_merges), "t", &tok));
    vlm_tokenizer_free(tok);

    expect_load_error(VLM_ERR_UNSUPPORTED, "pre_tokenizer type 'BertPreTokenizer' is not supported",
                      "null", "{\"type\":\"BertPreTokenizer\"}", "null", "null", "");
    expect_load_error(VLM_ERR_UNSUPPORTED, "normalizer type 'BertNormalizer'",
                      "{\"type\":\"BertNormalizer\"}", "null", "null", "null", "");
    expect_load_error(VLM_ERR_UNSUPPORTED, "decoder type 'WordPiece'",
                      "null", "null", "{\"type\":\"WordPiece\",\"prefix\":\"##\"}", "null", "");
    expect_load_error(VLM_ERR_UNSUPPORTED, "post_processor type 'Foo'",
                      "null", "null", "null", "{\"type\":\"Foo\"}", "");
    expect_load_error(VLM_ERR_UNSUPPORTED, "dropout", "null", "null", "null", "null", ",\"dropout\":0.1");
    expect_load_error(VLM_ERR_UNSUPPORTED, "option 'frobnicate'", "null",
                      "{\"type\":\"ByteLevel\",\"frobnicate\":true}", "null", "null", "");
    expect_load_error(VLM_ERR_FORMAT, "add_prefix_space must be true or false", "null",
                      "{\"type\":\"ByteLevel\",\"add_prefix_space\":\"yes\"}", "null", "null", "");
    expect_load_error(VLM_ERR_FORMAT, "invalid regex", "null",
                      "{\"type\":\"Split\",\"pattern\":{\"Regex\":\"(\"},\"behavior\":\"Isolated\",\"invert\":false}",
                      "null", "null", "");
    expect_load_error(VLM_ERR_FORMAT, "behavior 'Sideways'", "null",
                      "{\"type\":\"Split\",\"pattern\":{\"String\":\" \"},\"behavior\":\"Sideways\",\"invert\":false}",
                      "null", "null", "");
    expect_load_error(VLM_ERR_FORMAT, "model.fuse_unk", "null", "null", "null", "null", ",\"fuse_unk\":1");
    const char *truncating = "{\"truncation\":{\"max_length\":4},\"model\":{\"type\":\"BPE\",\"vocab\":{}}}";
    CHECK_STATUS(VLM_ERR_UNSUPPORTED, vlmi_tokenizer_load_memory(truncating, strlen(truncating), "t", &tok));
    const char *wordpiece = "{\"model\":{\"type\":\"WordPiece\",\"vocab\":{}}}";
    CHECK_STATUS(VLM_ERR_UNSUPPORTED, vlmi_tokenizer_load_memory(wordpiece, strlen(wordpiece), "t", &tok));
    CHECK(strstr(vlm_last_error(), "model type 'WordPiece' is not supported") != NULL);

    /* ---- a working tokenizer ---- */
    CHECK_OK(load_doc("null", "null", "null", "null", "", &tok));
    if (!tok) return test_finish("tokenizer-api");
    CHECK(vlm_tokenizer_n_vocab(tok) == 6);
    CHECK(vlm_tokenizer_n_vocab(NULL) == 0);
    CHECK(vlm_token_lookup(tok, "ab") == 2);
    CHECK(vlm_token_lookup(tok, "<s>") == 5);
    CHECK(vlm_token_lookup(tok, "zz") == -1);
    CHECK(vlm_token_lookup(NULL, "ab") == -1);
    CHECK(vlm_token_lookup(tok, NULL) == -1);

    int32_t ids[8];
    size_t n = 99;
    CHECK_OK(vlm_tokenize(tok, "abc", 3, 0, ids, 8, &n));
    CHECK(n == 2 && ids[0] == 2 && ids[1] == 3);
    CHECK_OK(vlm_tokenize(tok, "", 0, VLM_TOKENIZE_ADD_SPECIAL, NULL, 0, &n));
    CHECK(n == 0);
    CHECK_OK(vlm_tokenize(tok, NULL, 0, 0, NULL, 0, &n));
    /* Size query, then too small. */
    CHECK_STATUS(VLM_ERR_BUFFER_TOO_SMALL, vlm_tokenize(tok, "abcab", 5, 0, NULL, 0, &n));
    CHECK(n == 3);
    CHECK_STATUS(VLM_ERR_BUFFER_TOO_SMALL, vlm_tokenize(tok, "abcab", 5, 0, ids, 2, &n));
    /* Special tokens only when parsing them. */
    CHECK_OK(vlm_tokenize(tok, "a<s>", 4, VLM_TOKENIZE_PARSE_SPECIAL, ids, 8, &n));
    CHECK(n == 2 && ids[1] == 5);
    CHECK_OK(vlm_tokenize(tok, "a<s>", 4, 0, ids, 8, &n));
    CHECK(n == 1);  /* '<', 's', '>' are not in the vocabulary: dropped */
    /* NULL arguments. */
    CHECK_STATUS(VLM_ERR_INVALID_ARGUMENT, vlm_tokenize(NULL, "a", 1, 0, ids, 8, &n));
    CHECK_STATUS(VLM_ERR_INVALID_ARGUMENT, vlm_tokenize(tok, "a", 1, 0, ids, 8, NULL));
    CHECK_STATUS(VLM_ERR_INVALID_ARGUMENT, vlm_tokenize(tok, NULL, 1, 0, ids, 8, &n));
    CHECK_STATUS(VLM_ERR_INVALID_ARGUMENT, vlm_tokenize(tok, "a", 1, 0, NULL, 8, &n));

    /* ---- invalid UTF-8: the message gives the byte offset ---- */
    const struct { const char *s; size_t len; size_t at; } bad[] = {
        { "ab\xff", 3, 2 }, { "\xc3", 1, 0 }, { "a\xc0\xaf", 3, 1 }, { "ok\xed\xa0\x80", 5, 2 },
        { "\xf4\x90\x80\x80", 4, 0 }, { "abc\xe4\xb8", 5, 3 }, { "\x80", 1, 0 },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_STATUS(VLM_ERR_INVALID_UTF8, vlm_tokenize(tok, bad[i].s, bad[i].len, 0, ids, 8, &n));
        char needle[32];
        snprintf(needle, sizeof needle, "at byte %zu", bad[i].at);
        CHECK_MSG(strstr(vlm_last_error(), needle) != NULL, "\"%s\" lacks \"%s\"", vlm_last_error(), needle);
    }
    /* An embedded NUL is valid UTF-8. */
    CHECK_OK(vlm_tokenize(tok, "a\0b", 3, 0, ids, 8, &n));

    /* ---- decoding ---- */
    char buf[64];
    size_t len = 99;
    int32_t some[] = { 2, 5, 3, 1000, -1 };
    CHECK_STATUS(VLM_ERR_BUFFER_TOO_SMALL, vlm_detokenize(tok, some, 5, 0, NULL, 0, &len));
    CHECK(len == 8);  /* no decoder: joined by spaces, unknown ids skipped */
    CHECK_STATUS(VLM_ERR_BUFFER_TOO_SMALL, vlm_detokenize(tok, some, 5, 0, buf, 8, &len));
    CHECK_OK(vlm_detokenize(tok, some, 5, 0, buf, 9, &len));
    CHECK(strcmp(buf, "ab <s> c") == 0 || (printf("got '%s'\n", buf), 0));
    CHECK_OK(vlm_detokenize(tok, some, 5, VLM_DETOKENIZE_SKIP_SPECIAL, buf, sizeof buf, &len));
    CHECK(strcmp(buf, "ab c") == 0);
    CHECK_OK(vlm_detokenize(tok, NULL, 0, 0, buf, sizeof buf, &len));
    CHECK(len == 0 && buf[0] == '\0');
    CHECK_STATUS(VLM_ERR_INVALID_ARGUMENT, vlm_detokenize(NULL, some, 1, 0, buf, sizeof buf, &len));
    CHECK_STATUS(VLM_ERR_INVALID_ARGUMENT, vlm_detokenize(tok, NULL, 1, 0, buf, sizeof buf, &len));
    CHECK_STATUS(VLM_ERR_INVALID_ARGUMENT, vlm_detokenize(tok, some, 1, 0, NULL, 5, &len));

    CHECK_OK(vlm_token_to_piece(tok, 2, buf, sizeof buf, &len));
    CHECK(len == 2 && strcmp(buf, "ab") == 0);
    CHECK_OK(vlm_token_to_piece(tok, 5, buf, sizeof buf, &len));
    CHECK(strcmp(buf, "<s>") == 0);
    CHECK_STATUS(VLM_ERR_BUFFER_TOO_SMALL, vlm_token_to_piece(tok, 2, NULL, 0, &len));
    CHECK(len == 2);
    CHECK_STATUS(VLM_ERR_BUFFER_TOO_SMALL, vlm_token_to_piece(tok, 2, buf, 2, &len));
    CHECK_STATUS(VLM_ERR_INVALID_ARGUMENT, vlm_token_to_piece(tok, 77, buf, sizeof buf, &len));
    CHECK_STATUS(VLM_ERR_INVALID_ARGUMENT, vlm_token_to_piece(tok, -3, buf, sizeof buf, &len));

    /* ---- streaming ---- */
    vlm_detokenizer *d = NULL;
    CHECK_STATUS(VLM_ERR_INVALID_ARGUMENT, vlm_detokenizer_create(NULL, 0, &d));
    CHECK(d == NULL);
    CHECK_OK(vlm_detokenizer_create(tok, 0, &d));
    CHECK_OK(vlm_detokenizer_push(d, 2, buf, sizeof buf, &len));
    CHECK(strcmp(buf, "ab") == 0);
    CHECK_STATUS(VLM_ERR_BUFFER_TOO_SMALL, vlm_detokenizer_push(d, 3, NULL, 0, &len));
    CHECK(len == 2);  /* " c", not consumed */
    CHECK_OK(vlm_detokenizer_push(d, 3, buf, sizeof buf, &len));
    CHECK(strcmp(buf, " c") == 0);
    CHECK_STATUS(VLM_ERR_INVALID_ARGUMENT, vlm_detokenizer_push(NULL, 3, buf, sizeof buf, &len));
    vlm_detokenizer_free(d);
    vlm_detokenizer_free(NULL);

    /* ---- one tokenizer, several threads ---- */
    pthread_t threads[4];
    for (int i = 0; i < 4; i++) pthread_create(&threads[i], NULL, encode_in_thread, tok);
    for (int i = 0; i < 4; i++) {
        void *result;
        pthread_join(threads[i], &result);
        CHECK(result == NULL);
    }
    vlm_tokenizer_free(tok);
    vlm_tokenizer_free(NULL);

    /* A model directory: tests/data/text holds no tokenizer.json, the
     * message names the file looked for. */
    const char *data_dir = getenv("VLM_TEST_DATA");
    if (data_dir) {
        char path[4096];
        snprintf(path, sizeof path, "%s/text", data_dir);
        CHECK_STATUS(VLM_ERR_IO, vlm_tokenizer_load(path, &tok));
        CHECK(strstr(vlm_last_error(), "tokenizer.json") != NULL);
        snprintf(path, sizeof path, "%s/tiny-smolvlm/tokenizer.json", data_dir);
        CHECK_OK(vlm_tokenizer_load(path, &tok));
        CHECK(vlm_token_lookup(tok, "<image>") == 49190);
        vlm_tokenizer_free(tok);
    }
    return test_finish("tokenizer-api");
}
