/* vlm_detokenizer_flush: a stream that ends inside a character gives, once
 * flushed, exactly vlm_detokenize of all its ids; the stream then restarts. */
#include "vlm.h"
#include "test.h"

static void stream_all(vlm_detokenizer *d, const int32_t *ids, size_t n, char *out, size_t cap) {
    size_t used = 0, len = 0;
    for (size_t i = 0; i < n; i++) {
        CHECK_OK(vlm_detokenizer_push(d, ids[i], out + used, cap - used, &len));
        used += len;
    }
    CHECK_OK(vlm_detokenizer_flush(d, out + used, cap - used, &len));
    used += len;
    out[used] = '\0';
}

int main(void) {
    const char *data = getenv("VLM_TEST_DATA");
    if (data == NULL) return 1;
    char path[4096];
    snprintf(path, sizeof path, "%s/tiny-smolvlm/tokenizer.json", data);
    vlm_tokenizer *tok = NULL;
    CHECK_OK(vlm_tokenizer_load(path, &tok));
    if (tok == NULL) return test_finish("detokenizer_flush");

    /* "caf" + the first byte of "é" (ByteLevel token "Ã", id 142) */
    const int32_t cut[] = { 83, 1939, 142 };
    char reference[64], streamed[64];
    size_t len = 0;
    CHECK_OK(vlm_detokenize(tok, cut, 3, 0, reference, sizeof reference, &len));
    CHECK(strcmp(reference, "caf\xEF\xBF\xBD") == 0);
    vlm_detokenizer *d = NULL;
    CHECK_OK(vlm_detokenizer_create(tok, 0, &d));
    stream_all(d, cut, 3, streamed, sizeof streamed);
    CHECK(strcmp(streamed, reference) == 0);

    /* after a flush the stream starts afresh; a complete text flushes empty */
    const int32_t whole[] = { 83, 1939, 2756, 10907 };
    CHECK_OK(vlm_detokenize(tok, whole, 4, 0, reference, sizeof reference, &len));
    stream_all(d, whole, 4, streamed, sizeof streamed);
    CHECK(strcmp(streamed, reference) == 0 && strcmp(reference, "caf\xC3\xA9 ok") == 0);
    CHECK_OK(vlm_detokenizer_flush(d, streamed, sizeof streamed, &len));
    CHECK(len == 0);

    /* size query and bad arguments */
    CHECK_OK(vlm_detokenizer_push(d, 142, streamed, sizeof streamed, &len));
    CHECK_STATUS(VLM_ERR_BUFFER_TOO_SMALL, vlm_detokenizer_flush(d, NULL, 0, &len));
    CHECK(len == 3);
    CHECK_STATUS(VLM_ERR_INVALID_ARGUMENT, vlm_detokenizer_flush(NULL, streamed, 8, &len));
    CHECK_STATUS(VLM_ERR_INVALID_ARGUMENT, vlm_detokenizer_flush(d, NULL, 8, &len));
    vlm_detokenizer_free(d);
    vlm_tokenizer_free(tok);
    return test_finish("detokenizer_flush");
}
