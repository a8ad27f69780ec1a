/* A SentencePiece ("llama") GGUF vocabulary without listed merges against
 * transformers' GGUF tokenizer, whose merges come from the scores
 * (tests/data/text/spm-gguf, made by tests/gen/make_spm_gguf_tokenizer.py):
 * tied scores, repeated strings and equal-score splits decided by length. */
#include "reference.h"
#include "vlm.h"

int main(void) {
    char path[1024];
    if (!ref_data_path(path, sizeof path, "text/spm-gguf/vocab.gguf")) return TEST_SKIP_CODE;
    cJSON *expected = ref_read_json("text/spm-gguf/expected.json");
    vlm_model *model = NULL;
    CHECK_OK(vlm_model_load(path, NULL, &model));
    const vlm_tokenizer *tok = model ? vlm_model_tokenizer(model) : NULL;
    CHECK(tok != NULL);
    size_t n_cases = 0;
    const cJSON *item, *cases = tok != NULL ? expected : NULL;
    cJSON_ArrayForEach(item, cases) {
        const char *text = cJSON_GetObjectItemCaseSensitive(item, "text")->valuestring;
        const cJSON *want = cJSON_GetObjectItemCaseSensitive(item, "ids");
        int32_t ids[256];
        size_t n = 0;
        CHECK_OK(vlm_tokenize(tok, text, strlen(text), VLM_TOKENIZE_ADD_SPECIAL, ids, 256, &n));
        bool same = n == (size_t)cJSON_GetArraySize(want);
        for (size_t i = 0; same && i < n; i++)
            same = ids[i] == cJSON_GetArrayItem(want, (int)i)->valueint;
        CHECK_MSG(same, "\"%s\": %zu ids differ from transformers' %d", text, n,
                  cJSON_GetArraySize(want));
        n_cases++;
    }
    CHECK(n_cases == 24);
    vlm_model_free(model);
    cJSON_Delete(expected);
    return test_finish("tokenizer-spm-gguf");
}
