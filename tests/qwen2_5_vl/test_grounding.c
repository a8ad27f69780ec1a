/* vlm_parse_grounding on a table of real-looking Qwen2.5-VL answers,
 * malformed ones included (tests/data/qwen2_5_vl/grounding.json: answers
 * written by hand, expected coordinates computed by the generator with the
 * documented rule), and the API contract: NULLs, invalid UTF-8, size
 * queries, short item structs, huge and hostile inputs. */
#include "vlm.h"
#include "test.h"

#include <cjson/cJSON.h>

static const char *const KINDS[] = {"box", "point", "rejected"};
static const char *const REASONS[] = {"ok", "no_coordinates", "wrong_arity", "not_a_number",
                                      "truncated", "not_an_object", "too_deep"};

static void run_case(int index, const cJSON *c) {
    const char *answer = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(c, "answer"));
    uint32_t w = (uint32_t)cJSON_GetObjectItemCaseSensitive(c, "width")->valuedouble;
    uint32_t h = (uint32_t)cJSON_GetObjectItemCaseSensitive(c, "height")->valuedouble;
    uint32_t rw = (uint32_t)cJSON_GetObjectItemCaseSensitive(c, "resized_width")->valuedouble;
    uint32_t rh = (uint32_t)cJSON_GetObjectItemCaseSensitive(c, "resized_height")->valuedouble;
    const cJSON *want = cJSON_GetObjectItemCaseSensitive(c, "items");
    size_t n_want = (size_t)cJSON_GetArraySize(want), n = 0, rejected = 0, want_rejected = 0;
    vlm_grounding_item items[8];
    /* size query first */
    vlm_status st = vlm_parse_grounding(answer, strlen(answer), w, h, rw, rh, NULL, sizeof items[0],
                                        0, &n, &rejected);
    CHECK_MSG(st == (n_want > 0 ? VLM_ERR_BUFFER_TOO_SMALL : VLM_OK) && n == n_want,
              "case %d: size query %s, %zu items, expected %zu", index, vlm_status_string(st), n, n_want);
    st = vlm_parse_grounding(answer, strlen(answer), w, h, rw, rh, items, sizeof items[0], 8, &n,
                             &rejected);
    CHECK_MSG(st == VLM_OK && n == n_want, "case %d: %s, %zu items, expected %zu (%s)", index,
              vlm_status_string(st), n, n_want, answer);
    for (size_t i = 0; i < n && i < n_want; i++) {
        const cJSON *e = cJSON_GetArrayItem(want, (int)i);
        const char *kind = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "kind"));
        const char *reason = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "reason"));
        const char *label = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "label"));
        const cJSON *xy = cJSON_GetObjectItemCaseSensitive(e, "coords");
        if (strcmp(kind, "rejected") == 0) want_rejected++;
        const vlm_grounding_item *it = &items[i];
        bool same_kind = it->kind >= 0 && it->kind <= 2 && strcmp(KINDS[it->kind], kind) == 0;
        bool same_reason = it->reason >= 0 && it->reason <= 6 && strcmp(REASONS[it->reason], reason) == 0;
        CHECK_MSG(same_kind && same_reason, "case %d item %zu: kind %d reason %d, expected %s %s",
                  index, i, it->kind, it->reason, kind, reason);
        CHECK_MSG(strcmp(it->label, label) == 0, "case %d item %zu: label '%s', expected '%s'", index,
                  i, it->label, label);
        float got[4] = {it->x1, it->y1, it->x2, it->y2};
        for (int k = 0; k < 4; k++) {
            double expect = cJSON_GetArrayItem(xy, k)->valuedouble;
            CHECK_MSG(fabs(got[k] - expect) <= 1e-3 + 1e-6 * fabs(expect),
                      "case %d item %zu coordinate %d: %g, expected %g", index, i, k, got[k], expect);
        }
        CHECK(it->offset < strlen(answer));
    }
    CHECK_MSG(rejected == want_rejected, "case %d: %zu rejected, expected %zu", index, rejected,
              want_rejected);
}

static void test_contract(void) {
    vlm_grounding_item items[4];
    size_t n = 99, rejected = 99;
    const char *ok = "[{\"bbox_2d\": [1, 2, 3, 4], \"label\": \"a\"}]";
    CHECK_STATUS(VLM_ERR_INVALID_ARGUMENT,
                 vlm_parse_grounding(NULL, 5, 10, 10, 10, 10, items, sizeof items[0], 4, &n, NULL));
    CHECK(strstr(vlm_last_error(), "vlm_parse_grounding") != NULL);
    CHECK_STATUS(VLM_ERR_INVALID_ARGUMENT,
                 vlm_parse_grounding(ok, strlen(ok), 10, 10, 10, 10, items, sizeof items[0], 4, NULL, NULL));
    CHECK_STATUS(VLM_ERR_INVALID_ARGUMENT,
                 vlm_parse_grounding(ok, strlen(ok), 0, 10, 10, 10, items, sizeof items[0], 4, &n, NULL));
    CHECK_STATUS(VLM_ERR_INVALID_ARGUMENT,
                 vlm_parse_grounding(ok, strlen(ok), 10, 10, 10, 10, NULL, sizeof items[0], 4, &n, NULL));
    CHECK_STATUS(VLM_ERR_INVALID_ARGUMENT,
                 vlm_parse_grounding(ok, strlen(ok), 10, 10, 10, 10, items, 4, 4, &n, NULL));
    /* NULL with length 0 is an empty answer */
    CHECK_OK(vlm_parse_grounding(NULL, 0, 10, 10, 10, 10, NULL, 0, 0, &n, &rejected));
    CHECK(n == 0 && rejected == 0);
    /* invalid UTF-8: overlong, lone continuation, truncated sequence, surrogate */
    const char *bad[] = {"[{\"label\": \"\xC0\xAF\"}]", "\x80", "abc\xE2\x82", "\xED\xA0\x80"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK_STATUS(VLM_ERR_INVALID_UTF8, vlm_parse_grounding(bad[i], strlen(bad[i]), 10, 10, 10, 10,
                                                               items, sizeof items[0], 4, &n, NULL));
    /* a too-small buffer is left untouched */
    const char *three = "[{\"point_2d\": [1, 1]}, {\"point_2d\": [2, 2]}, {\"point_2d\": [3, 3]}]";
    memset(items, 0xAB, sizeof items);
    CHECK_STATUS(VLM_ERR_BUFFER_TOO_SMALL, vlm_parse_grounding(three, strlen(three), 10, 10, 10, 10,
                                                               items, sizeof items[0], 2, &n, &rejected));
    CHECK(n == 3 && ((unsigned char *)items)[0] == 0xAB);
    /* an older, shorter item struct gets only its own bytes */
    unsigned char raw[3 * 40 + 8];
    memset(raw, 0xCD, sizeof raw);
    CHECK_OK(vlm_parse_grounding(three, strlen(three), 10, 10, 10, 10, (vlm_grounding_item *)(void *)raw,
                                 40, 3, &n, NULL));
    CHECK(n == 3 && raw[3 * 40] == 0xCD);
    /* NUL bytes are ordinary bytes */
    const char nul[] = "[{\"bbox_2d\": [1, 2, 3, 4], \"label\": \"a\"}]\0{\"point_2d\": [1, 2]}";
    CHECK_OK(vlm_parse_grounding(nul, sizeof nul - 1, 10, 10, 10, 10, items, sizeof items[0], 4, &n, NULL));
    CHECK(n == 2);
    /* over the size limit */
    size_t huge = 16u * 1024u * 1024u + 1;
    char *big = malloc(huge);
    memset(big, ' ', huge);
    CHECK_STATUS(VLM_ERR_LIMIT, vlm_parse_grounding(big, huge, 10, 10, 10, 10, NULL, 0, 0, &n, NULL));
    /* a large answer of many objects: every one found, linear time */
    size_t len = 0, count = 20000;
    for (size_t i = 0; i < count; i++)
        len += (size_t)sprintf(big + len, "{\"bbox_2d\": [%zu, 1, %zu, 9], \"label\": \"o%zu\"},\n", i % 50,
                               i % 50 + 5, i);
    CHECK_STATUS(VLM_ERR_BUFFER_TOO_SMALL, vlm_parse_grounding(big, len, 100, 100, 100, 100, NULL, 0, 0, &n, NULL));
    CHECK(n == count);
    /* deep nesting stays bounded */
    len = 0;
    for (size_t i = 0; i < 1000000; i++) big[len++] = '[';
    CHECK_OK(vlm_parse_grounding(big, len, 100, 100, 100, 100, items, sizeof items[0], 4, &n, &rejected));
    CHECK(n <= 1);
    len = 0;
    big[len++] = '{';
    len += (size_t)sprintf(big + len, "\"bbox_2d\": ");
    for (size_t i = 0; i < 100000; i++) big[len++] = '[';
    CHECK_OK(vlm_parse_grounding(big, len, 100, 100, 100, 100, items, sizeof items[0], 4, &n, &rejected));
    CHECK(n == 1 && items[0].kind == VLM_GROUNDING_REJECTED && items[0].reason == VLM_GROUNDING_TOO_DEEP);
    free(big);
}

int main(void) {
    const char *dir = getenv("VLM_TEST_DATA");
    char path[2048];
    snprintf(path, sizeof path, "%s/qwen2_5_vl/grounding.json", dir ? dir : "tests/data");
    size_t size = 0;
    char *text = (char *)test_read_file(path, &size);
    CHECK_MSG(text != NULL, "cannot read %s", path);
    cJSON *json = text ? cJSON_ParseWithLength(text, size) : NULL;
    free(text);
    const cJSON *c;
    int n = 0;
    cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(json, "cases")) run_case(n++, c);
    CHECK(n >= 25);
    printf("%d answers\n", n);
    cJSON_Delete(json);
    test_contract();
    return test_finish("qwen2_5_vl_grounding");
}
