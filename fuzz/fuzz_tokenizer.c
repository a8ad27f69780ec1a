/* Fuzz target for the tokenizer. The first input byte picks the mode:
 *   even: the rest is a tokenizer.json; if it loads, a few strings are
 *         encoded, decoded and streamed with it;
 *   odd:  the rest is text, encoded (all flag combinations) with the
 *         SmolVLM tokenizer from tests/data/text (found through
 *         $VLM_TEST_DATA or the source tree), then decoded and streamed. */
#include "text/tokenizer-impl.h"
#include "vlm.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef VLM_FUZZ_SOURCE_DIR
#define VLM_FUZZ_SOURCE_DIR "."
#endif

static const char *const probe_texts[] = {
    "Hello world! 123", "  leading spaces\tand\ttabs\n\nnew lines", "caf\xc3\xa9 \xe4\xb8\xad\xe6\x96\x87",
    "<s>special</s> <mask> <|im_start|>", "\xf0\x9f\x91\x8d\xf0\x9f\x8f\xbd", "",
};

static void exercise(const vlm_tokenizer *tok, const char *text, size_t len) {
    static const uint32_t flag_sets[] = { 0, VLM_TOKENIZE_ADD_SPECIAL | VLM_TOKENIZE_PARSE_SPECIAL };
    for (size_t f = 0; f < 2; f++) {
        vlmi_ids ids = { 0 };
        if (vlmi_tokenizer_encode(tok, text, len, flag_sets[f], &ids) == VLM_OK) {
            vlmi_buf out = { 0 };
            vlmi_tokenizer_decode(tok, ids.items, ids.n, f ? VLM_DETOKENIZE_SKIP_SPECIAL : 0, &out);
            vlmi_buf_free(&out);
            vlm_detokenizer *d = NULL;
            if (vlm_detokenizer_create(tok, 0, &d) == VLM_OK) {
                char piece[256];
                size_t n;
                for (size_t i = 0; i < ids.n && i < 512; i++)
                    vlm_detokenizer_push(d, ids.items[i], piece, sizeof piece, &n);
                vlm_detokenizer_free(d);
            }
        }
        vlmi_ids_free(&ids);
    }
    /* Arbitrary ids, in and out of range. */
    int32_t some[] = { 0, 1, 2, 3, 255, 256, -1, 1000000, 49190 };
    vlmi_buf out = { 0 };
    vlmi_tokenizer_decode(tok, some, sizeof some / sizeof some[0], 0, &out);
    vlmi_buf_free(&out);
}

static vlm_tokenizer *smolvlm(void) {
    static vlm_tokenizer *tok;
    static int tried;
    if (!tried) {
        tried = 1;
        const char *dir = getenv("VLM_TEST_DATA");
        char path[4096];
        snprintf(path, sizeof path, "%s/tiny-smolvlm/tokenizer.json",
                 dir ? dir : VLM_FUZZ_SOURCE_DIR "/tests/data");
        if (vlm_tokenizer_load(path, &tok) != VLM_OK) tok = NULL;
    }
    return tok;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0) return 0;
    const char *rest = (const char *)data + 1;
    size_t len = size - 1;
    if (data[0] & 1) {
        const vlm_tokenizer *tok = smolvlm();
        if (tok) exercise(tok, rest, len);
        return 0;
    }
    vlm_tokenizer *tok = NULL;
    if (vlmi_tokenizer_load_memory(rest, len, "fuzz", &tok) != VLM_OK) return 0;
    for (size_t i = 0; i < sizeof probe_texts / sizeof probe_texts[0]; i++)
        exercise(tok, probe_texts[i], strlen(probe_texts[i]));
    vlm_tokenizer_free(tok);
    return 0;
}
