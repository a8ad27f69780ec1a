/* Each normalizer, pre-tokenizer, post-processor and decoder option on a
 * small tokenizer built by tests/gen/make_tokenizer_fixtures.py, against
 * the ids and decodes of Hugging Face tokenizers (tests/data/text/units.json). */
#include "test.h"
#include "text/tokenizer-impl.h"
#include "tokenizer_check.h"
#include "vlm.h"

#include <cjson/cJSON.h>

/* The unit's tokenizer.json: its base with the unit's parts swapped in. */
static char *unit_document(const cJSON *bases, const cJSON *unit) {
    const cJSON *base_name = cJSON_GetObjectItemCaseSensitive(unit, "base");
    cJSON *doc = cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(bases, base_name->valuestring), 1);
    const cJSON *parts = cJSON_GetObjectItemCaseSensitive(unit, "parts");
    for (const cJSON *p = parts->child; p; p = p->next)
        cJSON_ReplaceItemInObjectCaseSensitive(doc, p->string, cJSON_Duplicate(p, 1));
    cJSON *model = cJSON_GetObjectItemCaseSensitive(doc, "model");
    const cJSON *opts = cJSON_GetObjectItemCaseSensitive(unit, "model");
    for (const cJSON *p = opts ? opts->child : NULL; p; p = p->next)
        cJSON_ReplaceItemInObjectCaseSensitive(model, p->string, cJSON_Duplicate(p, 1));
    char *text = cJSON_PrintUnformatted(doc);
    cJSON_Delete(doc);
    return text;
}

int main(void) {
    const char *data_dir = getenv("VLM_TEST_DATA");
    if (!data_dir) { fprintf(stderr, "VLM_TEST_DATA is not set\n"); return 1; }
    char path[4096];
    snprintf(path, sizeof path, "%s/text/units.json", data_dir);
    size_t size = 0;
    char *data = (char *)test_read_file(path, &size);
    CHECK_MSG(data != NULL, "cannot read %s", path);
    if (!data) return test_finish("tokenizer-units");
    cJSON *root = cJSON_ParseWithLength(data, size);
    free(data);
    const cJSON *bases = cJSON_GetObjectItemCaseSensitive(root, "bases");
    const cJSON *units = cJSON_GetObjectItemCaseSensitive(root, "units");
    int n_units = 0, n_cases = 0, n_ok = 0;
    for (const cJSON *unit = units ? units->child : NULL; unit; unit = unit->next) {
        const char *name = cJSON_GetObjectItemCaseSensitive(unit, "name")->valuestring;
        char *doc = unit_document(bases, unit);
        vlm_tokenizer *tok = NULL;
        vlm_status st = vlmi_tokenizer_load_memory(doc, strlen(doc), name, &tok);
        CHECK_MSG(st == VLM_OK, "%s: load failed: %s", name, vlm_last_error());
        free(doc);
        if (!tok) continue;
        n_units++;
        const cJSON *cases = cJSON_GetObjectItemCaseSensitive(unit, "cases");
        int index = 0;
        for (const cJSON *c = cases->child; c; c = c->next, index++) {
            const char *text = cJSON_GetObjectItemCaseSensitive(c, "text")->valuestring;
            const char *dec = cJSON_GetObjectItemCaseSensitive(c, "dec")->valuestring;
            const char *skip = cJSON_GetObjectItemCaseSensitive(c, "skip")->valuestring;
            char label[128];
            snprintf(label, sizeof label, "%s case %d", name, index);
            int32_t *ids, *plain;
            size_t n = json_ids(cJSON_GetObjectItemCaseSensitive(c, "ids"), &ids);
            size_t n_plain = json_ids(cJSON_GetObjectItemCaseSensitive(c, "plain_nospecial"), &plain);
            int ok = check_encode(tok, label, text, VLM_TOKENIZE_ADD_SPECIAL | VLM_TOKENIZE_PARSE_SPECIAL, ids, n);
            ok &= check_encode(tok, label, text, 0, plain, n_plain);
            ok &= check_decode(tok, label, ids, n, 0, dec);
            ok &= check_decode(tok, label, ids, n, VLM_DETOKENIZE_SKIP_SPECIAL, skip);
            ok &= check_stream(tok, label, ids, n, 0, dec);
            ok &= check_stream(tok, label, ids, n, VLM_DETOKENIZE_SKIP_SPECIAL, skip);
            CHECK(ok);
            n_cases++;
            n_ok += ok;
            free(ids);
            free(plain);
        }
        vlm_tokenizer_free(tok);
    }
    printf("tokenizer-units: %d tokenizers, %d/%d cases identical\n", n_units, n_ok, n_cases);
    CHECK(n_units > 0);
    cJSON_Delete(root);
    return test_finish("tokenizer-units");
}
