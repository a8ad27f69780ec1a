/* The streaming detokenizer allocates nothing in steady state: after one
 * pass over a corpus line's ids (warm-up), a second pass of 200 pushes
 * makes no allocator call. Runs on the SmolVLM vocabulary (ByteLevel
 * decoder) and, when the shared assets are there, on Gemma 3's (a Sequence
 * of Replace, ByteFallback and Fuse). */
#include "vlm.h"
#include "test.h"
#include "alloc_count.h"

#include <cjson/cJSON.h>

#define N_PUSH 200

/* The ids of the first line of expected-VOCAB.jsonl with at least N_PUSH ids
 * of which at least 100 differ (so not a run of one token). */
static size_t corpus_ids(const char *data, const char *vocab, int32_t *ids) {
    char path[4096];
    snprintf(path, sizeof path, "%s/text/expected-%s.jsonl", data, vocab);
    size_t size = 0;
    char *text = (char *)test_read_file(path, &size);
    CHECK_MSG(text != NULL, "cannot read %s", path);
    if (text == NULL) return 0;
    size_t found = 0;
    for (char *line = text; line < text + size && found == 0;) {
        char *end = memchr(line, '\n', (size_t)(text + size - line));
        if (end == NULL) end = text + size;
        *end = '\0';
        cJSON *rec = cJSON_Parse(line);
        const cJSON *list = cJSON_GetObjectItemCaseSensitive(rec, "ids");
        if (cJSON_GetArraySize(list) >= N_PUSH) {
            size_t n = 0, distinct = 0;
            for (const cJSON *v = list->child; v != NULL && n < N_PUSH; v = v->next) {
                ids[n] = (int32_t)v->valuedouble;
                size_t k = 0;
                while (k < n && ids[k] != ids[n]) k++;
                distinct += k == n;
                n++;
            }
            if (distinct >= 100) found = n;
        }
        cJSON_Delete(rec);
        line = end + 1;
    }
    free(text);
    CHECK_MSG(found == N_PUSH, "%s: no corpus line of %d varied ids", vocab, N_PUSH);
    return found;
}

/* Streams ids into out; returns the bytes written. */
static size_t stream(vlm_detokenizer *d, const int32_t *ids, size_t n, char *out, size_t cap,
                     vlm_status *status) {
    size_t used = 0, len = 0;
    *status = VLM_OK;
    for (size_t i = 0; i < n && *status == VLM_OK; i++) {
        *status = vlm_detokenizer_push(d, ids[i], out + used, cap - used, &len);
        if (*status == VLM_OK) used += len;
    }
    if (*status == VLM_OK) *status = vlm_detokenizer_flush(d, out + used, cap - used, &len);
    if (*status == VLM_OK) used += len;
    return used;
}

static void check_vocab(const char *tokenizer_path, const char *data, const char *vocab,
                        uint32_t flags) {
    int32_t ids[N_PUSH];
    size_t n = corpus_ids(data, vocab, ids);
    if (n != N_PUSH) return;
    vlm_tokenizer *tok = NULL;
    CHECK_OK(vlm_tokenizer_load(tokenizer_path, &tok));
    vlm_detokenizer *d = NULL;
    if (tok != NULL) CHECK_OK(vlm_detokenizer_create(tok, flags, &d));
    if (d == NULL) { vlm_tokenizer_free(tok); return; }

    static char warm[1 << 16], counted[1 << 16], whole[1 << 16];
    size_t whole_len = 0;
    /* the counting sees the library's calls: the one-shot decode allocates */
    alloc_count_start();
    CHECK_OK(vlm_detokenize(tok, ids, n, flags, whole, sizeof whole, &whole_len));
    alloc_count_stop();
    CHECK_MSG(alloc_count_get().allocs > 0, "%s: vlm_detokenize made no counted allocation: "
              "the wrappers do not see libvlm's calls", vocab);
    vlm_status st_warm, st_counted;
    size_t warm_len = stream(d, ids, n, warm, sizeof warm, &st_warm);

    alloc_count_start();
    size_t counted_len = stream(d, ids, n, counted, sizeof counted, &st_counted);
    alloc_count_stop();
    alloc_counts c = alloc_count_get();

    CHECK_MSG(st_warm == VLM_OK && st_counted == VLM_OK, "%s: streaming failed: %s", vocab,
              vlm_last_error());
    /* the counted pass did the real work: the same text as a one-shot decode */
    CHECK_MSG(warm_len == whole_len && counted_len == whole_len &&
              memcmp(counted, whole, whole_len) == 0 && memcmp(warm, whole, whole_len) == 0,
              "%s: streamed text differs from vlm_detokenize", vocab);
    CHECK_MSG(c.allocs == 0 && c.frees == 0,
              "%s (flags %u): %zu allocations and %zu frees in %d vlm_detokenizer_push calls "
              "after warm-up", vocab, (unsigned)flags, c.allocs, c.frees, N_PUSH);
    if (c.allocs || c.frees) alloc_count_report(vocab);
    printf("%s (flags %u): %d pushes, %zu bytes of text, %zu allocations\n", vocab,
           (unsigned)flags, N_PUSH, counted_len, c.allocs);

    /* a fresh detokenizer is ready for ordinary text without growing */
    vlm_detokenizer *fresh = NULL;
    CHECK_OK(vlm_detokenizer_create(tok, flags, &fresh));
    if (fresh != NULL) {
        alloc_count_start();
        stream(fresh, ids, n, counted, sizeof counted, &st_counted);
        alloc_count_stop();
        c = alloc_count_get();
        CHECK_MSG(st_counted == VLM_OK && c.allocs == 0,
                  "%s: a new detokenizer allocated %zu times on a corpus line", vocab, c.allocs);
        if (c.allocs) alloc_count_report(vocab);
        vlm_detokenizer_free(fresh);
    }
    vlm_detokenizer_free(d);
    vlm_tokenizer_free(tok);
}

int main(void) {
    const char *data = getenv("VLM_TEST_DATA");
    if (data == NULL) return 1;
    CHECK_MSG(alloc_count_init(), "the allocator wrappers are not linked in (-Wl,--wrap)");
    char path[4096];
    snprintf(path, sizeof path, "%s/tiny-smolvlm/tokenizer.json", data);
    check_vocab(path, data, "smolvlm", 0);
    check_vocab(path, data, "smolvlm", VLM_DETOKENIZE_SKIP_SPECIAL);
    const char *assets = getenv("VLM_SHARED_ASSETS");
    snprintf(path, sizeof path, "%s/tokenizers/gemma3/tokenizer.json", assets ? assets : "");
    FILE *f = assets ? fopen(path, "rb") : NULL;
    if (f != NULL) {
        fclose(f);
        check_vocab(path, data, "gemma3", 0);
    } else {
        printf("gemma3: tokenizer not found (VLM_SHARED_ASSETS), not checked\n");
    }
    return test_finish("alloc-detokenizer");
}
