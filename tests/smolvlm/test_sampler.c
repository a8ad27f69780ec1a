/* The sampler against transformers' logits processors on fixed logits
 * (smolvlm-e2e/sampler.json): which tokens survive temperature, top-k, top-p
 * and min-p, the repetition penalty's scores, greedy choice, determinism for
 * a seed; and the stop-string matcher. */
#include "generate/sampler.h"
#include "generate/stop.h"
#include "smolvlm_fixture.h"

static float param(const cJSON *params, const char *key, float fallback) {
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(params, key);
    return cJSON_IsNumber(item) ? (float)item->valuedouble : fallback;
}

static int by_id(const void *a, const void *b) {
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

static void test_filters(const cJSON *json, vlmi_sampler *s, const float *logits) {
    const cJSON *c;
    int n = 0;
    cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(json, "cases")) {
        const cJSON *p = cJSON_GetObjectItemCaseSensitive(c, "params");
        vlmi_sampler_params sp = {param(p, "temperature", 1.0f), (int32_t)param(p, "top_k", 0.0f),
                                  param(p, "top_p", 1.0f), param(p, "min_p", 0.0f), 1.0f, 42};
        CHECK_OK(vlmi_sampler_reset(s, &sp));
        size_t n_keep = vlmi_sampler_filter(s, logits), n_want;
        int32_t *want = sv_ids(cJSON_GetObjectItemCaseSensitive(c, "survivors"), &n_want);
        int32_t got[64];
        for (size_t i = 0; i < n_keep && i < 64; i++) got[i] = s->candidates[i].id;
        qsort(got, n_keep, sizeof *got, by_id);
        CHECK_MSG(n_keep == n_want && memcmp(got, want, n_want * sizeof *got) == 0,
                  "case %d: %zu survivors, expected %zu", n, n_keep, n_want);
        /* samples only ever come from the survivors */
        for (int k = 0; k < 200; k++) {
            int32_t id = vlmi_sampler_sample(s, logits);
            CHECK(bsearch(&id, want, n_want, sizeof *want, by_id) != NULL);
        }
        free(want);
        n++;
    }
    CHECK(n >= 6);
}

static void test_repetition(const cJSON *json, vlmi_sampler *s, const float *logits, size_t n_vocab) {
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(json, "repetition");
    size_t n_context, n_scores;
    int32_t *context = sv_ids(cJSON_GetObjectItemCaseSensitive(r, "context"), &n_context);
    const cJSON *scores = cJSON_GetObjectItemCaseSensitive(r, "scores");
    n_scores = (size_t)cJSON_GetArraySize(scores);
    vlmi_sampler_params sp = {0.0f, 0, 1.0f, 0.0f, (float)param(r, "penalty", 1.0f), 0};
    CHECK_OK(vlmi_sampler_reset(s, &sp));
    for (size_t i = 0; i < n_context; i++) vlmi_sampler_observe(s, context[i]);
    vlmi_sampler_observe(s, -5);             /* ignored */
    vlmi_sampler_observe(s, (int32_t)n_vocab); /* ignored */
    size_t n_keep = vlmi_sampler_filter(s, logits);
    float diff = 0.0f;
    size_t best = 0;
    for (size_t i = 0; i < n_scores && i < n_vocab; i++) {
        float want = (float)cJSON_GetArrayItem(scores, (int)i)->valuedouble;
        float d = fabsf(s->scores[i] - want);
        if (d > diff) diff = d;
        if (want > (float)cJSON_GetArrayItem(scores, (int)best)->valuedouble) best = i;
    }
    CHECK(n_scores == n_vocab);
    CHECK_MSG(diff <= 1e-6f, "repetition penalty scores max |diff| %g", diff);
    /* greedy picks the first maximum after the penalty */
    CHECK(n_keep == 1 && s->candidates[0].id == (int32_t)best);
    /* reset forgets the context */
    CHECK_OK(vlmi_sampler_reset(s, &sp));
    vlmi_sampler_filter(s, logits);
    CHECK(memcmp(s->scores, logits, n_vocab * sizeof *logits) == 0);
    free(context);
}

static void test_determinism(vlmi_sampler *s, const float *logits) {
    vlmi_sampler_params sp = {1.5f, 0, 0.95f, 0.0f, 1.0f, 1234};
    int32_t first[100], second[100];
    CHECK_OK(vlmi_sampler_reset(s, &sp));
    for (int i = 0; i < 100; i++) first[i] = vlmi_sampler_sample(s, logits);
    CHECK_OK(vlmi_sampler_reset(s, &sp));
    for (int i = 0; i < 100; i++) second[i] = vlmi_sampler_sample(s, logits);
    CHECK(memcmp(first, second, sizeof first) == 0);
    sp.seed = 1235;
    CHECK_OK(vlmi_sampler_reset(s, &sp));
    int same = 0;
    for (int i = 0; i < 100; i++) same += vlmi_sampler_sample(s, logits) == first[i];
    CHECK(same < 100);
    int distinct = 0;
    for (int i = 0; i < 100; i++) {
        bool seen = false;
        for (int j = 0; j < i; j++) seen |= first[j] == first[i];
        distinct += !seen;
    }
    CHECK(distinct > 3); /* it does sample */

    vlmi_sampler_params bad = sp;
    bad.temperature = -1.0f;
    CHECK_STATUS(VLM_ERR_INVALID_ARGUMENT, vlmi_sampler_reset(s, &bad));
    bad = sp;
    bad.top_p = 0.0f;
    CHECK_STATUS(VLM_ERR_INVALID_ARGUMENT, vlmi_sampler_reset(s, &bad));
    bad = sp;
    bad.repeat_penalty = 0.0f;
    CHECK_STATUS(VLM_ERR_INVALID_ARGUMENT, vlmi_sampler_reset(s, &bad));
    bad = sp;
    bad.top_k = -1;
    CHECK_STATUS(VLM_ERR_INVALID_ARGUMENT, vlmi_sampler_reset(s, &bad));
}

/* Feeds pieces; returns the released text and whether a stop string hit. */
static bool feed_all(const char *const *strings, size_t n, const char *const *pieces,
                     size_t n_pieces, char *released) {
    vlmi_stop_matcher m;
    CHECK_OK(vlmi_stop_init(&m, strings, n, 16));
    released[0] = '\0';
    bool stopped = false;
    const char *out;
    size_t len;
    for (size_t i = 0; i < n_pieces && !stopped; i++) {
        stopped = vlmi_stop_feed(&m, pieces[i], strlen(pieces[i]), &out, &len);
        strncat(released, out, len);
    }
    if (!stopped) {
        vlmi_stop_flush(&m, &out, &len);
        strncat(released, out, len);
    }
    vlmi_stop_free(&m);
    return stopped;
}

static void test_stop_strings(void) {
    const char *strings[] = {"STOP", "\n\n"};
    char out[256];
    const char *a[] = {"Hello ", "wor", "ld ST", "OP and more"};
    CHECK(feed_all(strings, 2, a, 4, out) && strcmp(out, "Hello world ") == 0);
    const char *b[] = {"no ", "S", "T", "OPE"}; /* "STOPE" holds STOP */
    CHECK(feed_all(strings, 2, b, 4, out) && strcmp(out, "no ") == 0);
    const char *c[] = {"almost ST", "O", "p"};  /* never completes: all released */
    CHECK(!feed_all(strings, 2, c, 3, out) && strcmp(out, "almost STOp") == 0);
    const char *d[] = {"line\n", "\nnext"};
    CHECK(feed_all(strings, 2, d, 2, out) && strcmp(out, "line") == 0);
    const char *e[] = {"plain", " text"};
    CHECK(!feed_all(NULL, 0, e, 2, out) && strcmp(out, "plain text") == 0);

    /* text that could still become a stop string is held back */
    vlmi_stop_matcher m;
    const char *held_out;
    size_t len;
    CHECK_OK(vlmi_stop_init(&m, strings, 2, 16));
    CHECK(!vlmi_stop_feed(&m, "abcST", 5, &held_out, &len) && len == 3);
    CHECK(!vlmi_stop_feed(&m, "x", 1, &held_out, &len) && len == 3 && memcmp(held_out, "STx", 3) == 0);
    vlmi_stop_free(&m);

    const char *empty[] = {""};
    CHECK_STATUS(VLM_ERR_INVALID_ARGUMENT, vlmi_stop_init(&m, empty, 1, 16));
    vlmi_stop_free(&m);
    CHECK_STATUS(VLM_ERR_INVALID_ARGUMENT, vlmi_stop_init(&m, NULL, 2, 16));
    vlmi_stop_free(&m);
}

int main(void) {
    if (getenv("VLM_TEST_DATA") == NULL) return TEST_SKIP_CODE;
    cJSON *json = ref_read_json("smolvlm-e2e/sampler.json");
    const cJSON *logits_json = cJSON_GetObjectItemCaseSensitive(json, "logits"), *v;
    size_t n_vocab = (size_t)cJSON_GetArraySize(logits_json), i = 0;
    float *logits = malloc((n_vocab ? n_vocab : 1) * sizeof *logits);
    cJSON_ArrayForEach(v, logits_json) logits[i++] = (float)v->valuedouble;
    vlmi_sampler *s = NULL;
    CHECK_OK(vlmi_sampler_create(n_vocab, &s));
    if (s != NULL && n_vocab == 64) {
        test_filters(json, s, logits);
        test_repetition(json, s, logits, n_vocab);
        test_determinism(s, logits);
    }
    test_stop_strings();
    vlmi_sampler *none = NULL;
    CHECK_STATUS(VLM_ERR_INVALID_ARGUMENT, vlmi_sampler_create(0, &none));
    vlmi_sampler_free(s);
    free(logits);
    cJSON_Delete(json);
    return test_finish("smolvlm_sampler");
}
