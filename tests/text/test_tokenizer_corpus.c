/* Encodes the fixture corpus (tests/data/text/corpus.jsonl) with one
 * vocabulary and compares ids, decodes and the streaming detokenizer with
 * what Hugging Face tokenizers produced (expected-<vocab>.jsonl).
 * Usage: test_tokenizer_corpus <smolvlm|qwen3|gemma3|llama3>. The large
 * vocabularies are read from $VLM_SHARED_ASSETS; without it they skip. */
#include "test.h"
#include "tokenizer_check.h"
#include "vlm.h"

#include <cjson/cJSON.h>
#include <time.h>

static char *path_of(const char *dir, const char *a, const char *b) {
    size_t n = strlen(dir) + strlen(a) + (b ? strlen(b) : 0) + 3;
    char *p = malloc(n);
    snprintf(p, n, "%s/%s%s%s", dir, a, b ? "/" : "", b ? b : "");
    return p;
}

/* Splits a file into lines (in place). */
static size_t split_lines(char *data, size_t size, char ***lines) {
    size_t n = 0, cap = 4096;
    *lines = malloc(cap * sizeof **lines);
    char *p = data, *end = data + size;
    while (p < end) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl) nl = end;
        *nl = '\0';
        if (n == cap) *lines = realloc(*lines, (cap *= 2) * sizeof **lines);
        (*lines)[n++] = p;
        p = nl + 1;
    }
    return n;
}

/* Expected decode: "key" verbatim, "keyp" prefix + text, else the text. */
static char *expected_text(const cJSON *rec, const char *key, const char *text) {
    char pkey[16];
    snprintf(pkey, sizeof pkey, "%sp", key);
    const cJSON *full = cJSON_GetObjectItemCaseSensitive(rec, key);
    const cJSON *prefix = cJSON_GetObjectItemCaseSensitive(rec, pkey);
    if (full) return strdup(full->valuestring);
    const char *pre = prefix ? prefix->valuestring : "";
    char *s = malloc(strlen(pre) + strlen(text) + 1);
    strcpy(s, pre);
    strcat(s, text);
    return s;
}

int main(int argc, char **argv) {
    if (argc != 2) { fprintf(stderr, "usage: %s vocab\n", argv[0]); return 2; }
    const char *vocab = argv[1];
    const char *data_dir = getenv("VLM_TEST_DATA");
    if (!data_dir) { fprintf(stderr, "VLM_TEST_DATA is not set\n"); return 1; }
    char *tok_path;
    if (strcmp(vocab, "smolvlm") == 0) {
        tok_path = path_of(data_dir, "tiny-smolvlm/tokenizer.json", NULL);
    } else {
        const char *assets = getenv("VLM_SHARED_ASSETS");
        char *tmp = assets ? path_of(assets, "tokenizers", vocab) : NULL;
        tok_path = tmp ? path_of(tmp, "tokenizer.json", NULL) : NULL;
        free(tmp);
        FILE *f = tok_path ? fopen(tok_path, "rb") : NULL;
        if (!f) {
            printf("SKIP: %s tokenizer.json not found (set VLM_SHARED_ASSETS to the shared assets "
                   "folder holding tokenizers/%s/tokenizer.json)\n", vocab, vocab);
            free(tok_path);
            return TEST_SKIP_CODE;
        }
        fclose(f);
    }

    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    vlm_tokenizer *tok = NULL;
    CHECK_OK(vlm_tokenizer_load(tok_path, &tok));
    clock_gettime(CLOCK_MONOTONIC, &t1);
    free(tok_path);
    if (!tok) return test_finish(vocab);
    printf("%s: loaded in %.3f s, %zu ids\n", vocab,
           (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9,
           vlm_tokenizer_n_vocab(tok));

    char *corpus_path = path_of(data_dir, "text/corpus.jsonl", NULL);
    char expected_name[64];
    snprintf(expected_name, sizeof expected_name, "text/expected-%s.jsonl", vocab);
    char *expected_path = path_of(data_dir, expected_name, NULL);
    size_t corpus_size = 0, expected_size = 0;
    char *corpus = (char *)test_read_file(corpus_path, &corpus_size);
    char *expected = (char *)test_read_file(expected_path, &expected_size);
    CHECK_MSG(corpus && expected, "cannot read %s or %s", corpus_path, expected_path);
    if (!corpus || !expected) return test_finish(vocab);
    char **texts, **records;
    size_t n_texts = split_lines(corpus, corpus_size, &texts);
    size_t n_records = split_lines(expected, expected_size, &records);
    CHECK_MSG(n_texts == n_records, "%zu corpus lines, %zu expected lines", n_texts, n_records);

    match_counts c = { 0 };
    for (size_t i = 0; i < n_texts && i < n_records; i++) {
        cJSON *text_json = cJSON_Parse(texts[i]);
        cJSON *rec = cJSON_Parse(records[i]);
        const char *text = text_json ? text_json->valuestring : "";
        char name[64];
        snprintf(name, sizeof name, "%s line %zu", vocab, i + 1);
        int32_t *ids, *plain;
        size_t n = json_ids(cJSON_GetObjectItemCaseSensitive(rec, "ids"), &ids);
        const cJSON *plain_json = cJSON_GetObjectItemCaseSensitive(rec, "plain");
        size_t n_plain = json_ids(plain_json ? plain_json : cJSON_GetObjectItemCaseSensitive(rec, "ids"), &plain);
        int ok = check_encode(tok, name, text, VLM_TOKENIZE_ADD_SPECIAL | VLM_TOKENIZE_PARSE_SPECIAL, ids, n);
        ok &= check_encode(tok, name, text, VLM_TOKENIZE_ADD_SPECIAL, plain, n_plain);
        c.ids_total++;
        c.ids_ok += ok;
        char *dec = expected_text(rec, "dec", text);
        char *skip = expected_text(rec, "skip", text);
        int dok = check_decode(tok, name, ids, n, 0, dec) &
                  check_decode(tok, name, ids, n, VLM_DETOKENIZE_SKIP_SPECIAL, skip);
        c.dec_total++;
        c.dec_ok += dok;
        int sok = check_stream(tok, name, ids, n, 0, dec) &
                  check_stream(tok, name, ids, n, VLM_DETOKENIZE_SKIP_SPECIAL, skip);
        c.stream_total++;
        c.stream_ok += sok;
        CHECK(ok && dok && sok);
        free(dec);
        free(skip);
        free(ids);
        free(plain);
        cJSON_Delete(text_json);
        cJSON_Delete(rec);
    }
    printf("%s: ids %d/%d identical, decode %d/%d, stream %d/%d\n", vocab, c.ids_ok, c.ids_total,
           c.dec_ok, c.dec_total, c.stream_ok, c.stream_total);
    free(texts);
    free(records);
    free(corpus);
    free(expected);
    free(corpus_path);
    free(expected_path);
    vlm_tokenizer_free(tok);
    return test_finish(vocab);
}
