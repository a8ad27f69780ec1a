/* A SmolVLM question about an image, answered through the public API, against
 * transformers' generate on the same tiny model (smolvlm-e2e/expected.json):
 * the same prompt ids, prefill logits within 1e-3, the same 32 greedy tokens,
 * for one image and for a two-turn conversation (whose second turn reuses
 * the KV cache), with the KV cache in f32 and in f16 (the same tokens, logits
 * within 2e-3). Then the statuses of bad requests. */
#include "smolvlm_fixture.h"

#define LOGITS_TOLERANCE 1e-3f
/* With the KV cache in f16: keys and values rounded to 11 significant bits. */
#define LOGITS_TOLERANCE_F16 2e-3f

static float logits_tolerance = LOGITS_TOLERANCE;
static const char *kv_label = "f32 KV";

typedef struct collected {
    int32_t ids[64];
    size_t n;
    char text[4096];
    size_t text_len;
    size_t stop_after;   /* return false after this many tokens; 0: never */
} collected;

static bool collect(int32_t token, const char *piece, size_t len, void *user_data) {
    collected *c = user_data;
    if (token >= 0 && c->n < 64) c->ids[c->n++] = token; /* -1: trailing text */
    if (c->text_len + len < sizeof c->text) {
        memcpy(c->text + c->text_len, piece, len);
        c->text_len += len;
        c->text[c->text_len] = '\0';
    }
    return c->stop_after == 0 || c->n < c->stop_after;
}

static float worst_logits_diff;

/* Generates and compares with the reference case `name`. */
static void generate_and_compare(vlm_session *s, const cJSON *expected, const char *name,
                                 size_t n_vocab) {
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(expected, name);
    vlm_generate_params gp;
    vlm_generate_params_init(&gp, sizeof gp);
    gp.max_tokens = sv_int(expected, "max_new_tokens");
    collected got = {0};
    gp.on_token = collect;
    gp.user_data = &got;
    CHECK_OK(vlm_session_generate(s, &gp));

    size_t n_want_prompt, n_want_gen, n_prompt = 0;
    int32_t *want_prompt = sv_ids(cJSON_GetObjectItemCaseSensitive(e, "prompt_ids"), &n_want_prompt);
    int32_t *want_gen = sv_ids(cJSON_GetObjectItemCaseSensitive(e, "generated_ids"), &n_want_gen);
    CHECK_STATUS(VLM_ERR_BUFFER_TOO_SMALL, vlm_session_prompt_tokens(s, NULL, 0, &n_prompt));
    int32_t *prompt = malloc((n_prompt + 1) * sizeof *prompt);
    CHECK_OK(vlm_session_prompt_tokens(s, prompt, n_prompt, &n_prompt));
    CHECK_MSG(n_prompt == n_want_prompt && memcmp(prompt, want_prompt, n_prompt * 4) == 0,
              "%s: prompt ids differ (%zu vs %zu)", name, n_prompt, n_want_prompt);

    /* on_token saw every generated id (the stop token, if any, is not streamed) */
    CHECK_MSG(got.n == n_want_gen && memcmp(got.ids, want_gen, n_want_gen * 4) == 0,
              "%s: generated ids differ (%zu vs %zu)", name, got.n, n_want_gen);

    char rel[256];
    snprintf(rel, sizeof rel, "smolvlm-e2e/%s", sv_string(e, "logits"));
    float *want_logits = ref_read(rel, n_vocab, sizeof(float), NULL);
    float *logits = malloc(n_vocab * sizeof *logits);
    size_t n_logits = 0;
    CHECK_OK(vlm_session_prompt_logits(s, logits, n_vocab, &n_logits));
    if (want_logits != NULL && n_logits == n_vocab) {
        float diff = ref_max_abs_diff(logits, want_logits, n_vocab);
        printf("%s, %s: prefill logits max |diff| %.3g (top-2 margin %.3g)\n", name, kv_label,
               diff, cJSON_GetObjectItemCaseSensitive(e, "prefill_top2_margin")->valuedouble);
        CHECK_MSG(diff <= logits_tolerance, "%s, %s: prefill logits max |diff| %g", name,
                  kv_label, diff);
        if (diff > worst_logits_diff) worst_logits_diff = diff;
    }
    /* the streamed text is the answer the reference decoded */
    const char *answer = sv_string(e, "answer"), *text = got.text;
    while (*text == ' ') text++;
    CHECK_MSG(strcmp(text, answer) == 0, "%s: streamed '%s', expected '%s'", name, text, answer);

    vlm_timings t = {.struct_size = sizeof t};
    CHECK_OK(vlm_session_timings(s, &t));
    CHECK(t.n_prompt_tokens == (int32_t)n_want_prompt && t.n_generated_tokens == (int32_t)n_want_gen);
    CHECK(t.n_image_tokens == 5 * 64 && t.load_ms > 0 && t.prefill_ms > 0 && t.decode_ms > 0);
    if (strcmp(name, "two_turns") == 0) {
        /* only what follows the cached first turn is computed */
        CHECK_MSG(t.n_prefill_tokens > 0 && t.n_prefill_tokens < 100,
                  "second turn prefilled %d of %d tokens", t.n_prefill_tokens, t.n_prompt_tokens);
        CHECK(t.encode_ms == 0.0);
    } else {
        /* the second session's image comes from the model's image cache */
        CHECK(t.n_prefill_tokens == t.n_prompt_tokens &&
              (t.encode_ms > 0 || t.n_cached_images == 1));
    }
    free(logits);
    free(want_logits);
    free(prompt);
    free(want_prompt);
    free(want_gen);
}

static void test_reference(vlm_model *model, const cJSON *expected, vlm_image *image,
                           vlm_dtype kv_type) {
    vlm_session_params sp;
    vlm_session_params_init(&sp, sizeof sp);
    CHECK(sp.kv_cache_type == VLM_DTYPE_F32);
    sp.max_image_tiles = sv_int(expected, "max_image_tiles");
    sp.kv_cache_type = kv_type;
    logits_tolerance = kv_type == VLM_DTYPE_F16 ? LOGITS_TOLERANCE_F16 : LOGITS_TOLERANCE;
    kv_label = kv_type == VLM_DTYPE_F16 ? "f16 KV" : "f32 KV";
    vlm_session *s = NULL;
    CHECK_OK(vlm_session_create(model, &sp, &s));
    if (s == NULL) return;
    size_t n_vocab = vlm_tokenizer_n_vocab(vlm_model_tokenizer(model));

    vlm_image_plan plan = {.struct_size = sizeof plan};
    CHECK_OK(vlm_session_plan_image(s, vlm_image_width(image), vlm_image_height(image), &plan));
    CHECK(plan.n_frames == 5 && plan.rows == 2 && plan.cols == 2 && plan.n_image_tokens == 320);
    CHECK(plan.frame_width == 512 && plan.feature_bytes == 320u * 16 * 4 && plan.work_bytes > 0);

    size_t n_values = 0;
    CHECK_STATUS(VLM_ERR_BUFFER_TOO_SMALL, vlm_session_image_pixel_values(s, image, NULL, 0, &n_values));
    CHECK(n_values == 5u * 3 * 512 * 512);
    float *pixel_values = malloc(n_values * sizeof *pixel_values);
    CHECK_OK(vlm_session_image_pixel_values(s, image, pixel_values, n_values, &n_values));
    CHECK(pixel_values[0] >= -1.0f && pixel_values[0] <= 1.0f);
    free(pixel_values);
    CHECK_STATUS(VLM_ERR_INVALID_ARGUMENT, vlm_session_image_pixel_values(s, NULL, NULL, 0, &n_values));

    CHECK_OK(vlm_session_add_turn(s, VLM_ROLE_USER, sv_string(expected, "question"), &image, 1));
    generate_and_compare(s, expected, "one_image", n_vocab);
    CHECK_OK(vlm_session_add_turn(s, VLM_ROLE_USER, sv_string(expected, "follow_up"), NULL, 0));
    generate_and_compare(s, expected, "two_turns", n_vocab);
    vlm_session_free(s);
}

/* A SmolVLM2-style video question: three frames with timestamps. */
static void test_video(vlm_model *model) {
    cJSON *video = ref_read_json("smolvlm-e2e/video.json");
    if (video == NULL) return;
    vlm_image *frames[3] = {0};
    double timestamps[3];
    const cJSON *sizes = cJSON_GetObjectItemCaseSensitive(video, "frame_sizes");
    for (int i = 0; i < 3; i++) {
        const cJSON *wh = cJSON_GetArrayItem(sizes, i);
        frames[i] = sv_pattern_image((uint32_t)cJSON_GetArrayItem(wh, 0)->valueint,
                                     (uint32_t)cJSON_GetArrayItem(wh, 1)->valueint);
        timestamps[i] = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(video, "timestamps"), i)->valuedouble;
    }
    vlm_session *s = NULL;
    CHECK_OK(vlm_session_create(model, NULL, &s));
    double duration = cJSON_GetObjectItemCaseSensitive(video, "duration")->valuedouble;
    CHECK_OK(vlm_session_add_video_turn(s, VLM_ROLE_USER, sv_string(video, "question"), frames,
                                        timestamps, 3, duration));
    vlm_generate_params gp;
    vlm_generate_params_init(&gp, sizeof gp);
    gp.max_tokens = 8;
    collected got = {0};
    gp.on_token = collect;
    gp.user_data = &got;
    CHECK_OK(vlm_session_generate(s, &gp));
    size_t n_want, n_gen_want, n_prompt = 0;
    int32_t *want = sv_ids(cJSON_GetObjectItemCaseSensitive(video, "prompt_ids"), &n_want);
    int32_t *want_gen = sv_ids(cJSON_GetObjectItemCaseSensitive(video, "generated_ids"), &n_gen_want);
    int32_t *prompt = malloc((n_want + 1) * sizeof *prompt);
    vlm_status st = vlm_session_prompt_tokens(s, prompt, n_want, &n_prompt);
    CHECK_MSG(st == VLM_OK && n_prompt == n_want && memcmp(prompt, want, n_want * 4) == 0,
              "video prompt ids differ (%zu vs %zu)", n_prompt, n_want);
    CHECK_MSG(got.n == n_gen_want && memcmp(got.ids, want_gen, n_gen_want * 4) == 0,
              "video generated ids differ");
    size_t n_vocab = vlm_tokenizer_n_vocab(vlm_model_tokenizer(model)), n_logits = 0;
    float *want_logits = ref_read("smolvlm-e2e/logits_video.f32", n_vocab, sizeof(float), NULL);
    float *logits = malloc(n_vocab * sizeof *logits);
    CHECK_OK(vlm_session_prompt_logits(s, logits, n_vocab, &n_logits));
    if (want_logits != NULL) {
        float diff = ref_max_abs_diff(logits, want_logits, n_vocab);
        printf("video: prefill logits max |diff| %.3g\n", diff);
        CHECK_MSG(diff <= LOGITS_TOLERANCE, "video prefill logits max |diff| %g", diff);
        if (diff > worst_logits_diff) worst_logits_diff = diff;
    }

    /* frame choice through the API, and bad videos */
    uint32_t indices[64];
    size_t n = 0;
    CHECK_OK(vlm_session_video_frames(s, 300, 30.0, 1.0, 64, indices, 64, &n));
    CHECK(n == 10 && indices[0] == 0 && indices[1] == 33 && indices[9] == 299);
    CHECK_STATUS(VLM_ERR_BUFFER_TOO_SMALL, vlm_session_video_frames(s, 300, 30.0, 1.0, 64, indices, 2, &n));
    CHECK(n == 10);
    CHECK_OK(vlm_session_video_frames(s, 300, 30.0, 0.0, 0, indices, 64, &n)); /* model defaults */
    CHECK(n == 10);
    CHECK_STATUS(VLM_ERR_INVALID_ARGUMENT, vlm_session_video_frames(s, 0, 30.0, 1.0, 8, indices, 64, &n));
    CHECK_STATUS(VLM_ERR_INVALID_ARGUMENT,
                 vlm_session_add_video_turn(s, VLM_ROLE_USER, "x", frames, timestamps, 0, 1.0));
    CHECK_STATUS(VLM_ERR_INVALID_ARGUMENT,
                 vlm_session_add_video_turn(s, VLM_ROLE_USER, "x", frames, NULL, 3, 1.0));
    double bad_ts[3] = {0.0, -1.0, 2.0};
    CHECK_STATUS(VLM_ERR_INVALID_ARGUMENT,
                 vlm_session_add_video_turn(s, VLM_ROLE_USER, "x", frames, bad_ts, 3, 1.0));
    /* a "<video>" typed by the user has no video: refused, the session goes on */
    CHECK_STATUS(VLM_ERR_INVALID_ARGUMENT, vlm_session_add_turn(s, VLM_ROLE_USER, "and <video>?", NULL, 0));
    CHECK(strstr(vlm_last_error(), "\"<video>\" placeholder") != NULL);

    free(logits);
    free(want_logits);
    free(prompt);
    free(want);
    free(want_gen);
    vlm_session_free(s);
    for (int i = 0; i < 3; i++) vlm_image_free(frames[i]);
    cJSON_Delete(video);
}

static void test_bad_requests(vlm_model *model, vlm_image *image) {
    vlm_session *s = NULL;
    vlm_generate_params gp;
    vlm_generate_params_init(&gp, sizeof gp);
    gp.max_tokens = 4;

    /* nothing to answer yet */
    CHECK_OK(vlm_session_create(model, NULL, &s));
    CHECK_STATUS(VLM_ERR_STATE, vlm_session_generate(s, &gp));
    CHECK(strstr(vlm_last_error(), "no turns") != NULL);
    /* a text that holds "<image>" itself (more placeholders than images) is
     * refused when added (tests/smolvlm/test_session.c) */
    CHECK_STATUS(VLM_ERR_INVALID_ARGUMENT, vlm_session_add_turn(s, VLM_ROLE_USER, "look: <image>", NULL, 0));
    CHECK_STATUS(VLM_ERR_STATE, vlm_session_generate(s, &gp));
    CHECK_STATUS(VLM_ERR_INVALID_UTF8, vlm_session_add_turn(s, VLM_ROLE_USER, "\xC3(", NULL, 0));
    CHECK_STATUS(VLM_ERR_INVALID_ARGUMENT, vlm_session_add_turn(s, VLM_ROLE_USER, "x", NULL, 1));
    CHECK_STATUS(VLM_ERR_INVALID_ARGUMENT, vlm_session_add_turn(s, (vlm_role)7, "x", NULL, 0));
    vlm_generate_params bad = gp;
    bad.temperature = -1.0f;
    CHECK_STATUS(VLM_ERR_INVALID_ARGUMENT, vlm_session_generate(s, &bad));
    /* SmolVLM is no safety classifier */
    float probability = -1.0f;
    CHECK_STATUS(VLM_ERR_UNSUPPORTED,
                 vlm_session_safety_score(s, image, VLM_SAFETY_VIOLENCE, NULL, &probability));
    CHECK(strstr(vlm_last_error(), "not an image-safety classifier") != NULL && probability == 0.0f);
    vlm_session_free(s);

    /* a KV cache type other than f32, f16 and q8_0 */
    vlm_session_params sp;
    vlm_session_params_init(&sp, sizeof sp);
    sp.kv_cache_type = VLM_DTYPE_BF16;
    CHECK_STATUS(VLM_ERR_INVALID_ARGUMENT, vlm_session_create(model, &sp, &s));
    CHECK(s == NULL && strstr(vlm_last_error(), "kv_cache_type") != NULL);
    /* q8_0 blocks of 32 do not fit this model's heads of 8 dims */
    sp.kv_cache_type = VLM_DTYPE_Q8_0;
    CHECK_STATUS(VLM_ERR_INVALID_ARGUMENT, vlm_session_create(model, &sp, &s));
    CHECK(s == NULL && strstr(vlm_last_error(), "q8_0 KV cache needs heads") != NULL);

    /* a prompt longer than the context */
    vlm_session_params_init(&sp, sizeof sp);
    sp.n_ctx = 64;
    sp.max_image_tiles = 1;
    CHECK_OK(vlm_session_create(model, &sp, &s));
    /* its images alone do not fit: refused before encoding */
    CHECK_STATUS(VLM_ERR_LIMIT, vlm_session_add_turn(s, VLM_ROLE_USER, "What is it?", &image, 1));
    CHECK(strstr(vlm_last_error(), "the images take 64 tokens") != NULL &&
          strstr(vlm_last_error(), "context holds 64") != NULL);
    vlm_session_free(s);
    sp.n_ctx = 70; /* they fit, the whole prompt does not */
    CHECK_OK(vlm_session_create(model, &sp, &s));
    CHECK_OK(vlm_session_add_turn(s, VLM_ROLE_USER, "What is it?", &image, 1));
    CHECK_STATUS(VLM_ERR_LIMIT, vlm_session_generate(s, &gp));
    CHECK(strstr(vlm_last_error(), "context holds 70") != NULL &&
          strstr(vlm_last_error(), "the prompt takes ") != NULL);
    vlm_session_free(s);

    /* the callback stops generation (not an error); stop strings end it early */
    sp.n_ctx = 0;
    CHECK_OK(vlm_session_create(model, &sp, &s));
    CHECK_OK(vlm_session_add_turn(s, VLM_ROLE_USER, "Hi", NULL, 0));
    collected got = {.stop_after = 3};
    gp.max_tokens = 20;
    gp.on_token = collect;
    gp.user_data = &got;
    CHECK_OK(vlm_session_generate(s, &gp));
    CHECK(got.n == 3);
    vlm_timings t = {.struct_size = sizeof t};
    CHECK_OK(vlm_session_timings(s, &t));
    CHECK(t.n_generated_tokens == 3 && t.n_image_tokens == 0);

    /* a stop string taken from what greedy decoding will say next */
    CHECK_OK(vlm_session_add_turn(s, VLM_ROLE_USER, "Hi", NULL, 0));
    collected full = {0};
    gp.user_data = &full;
    gp.max_tokens = 12;
    CHECK_OK(vlm_session_generate(s, &gp));
    vlm_session_free(s);
    if (full.text_len > 8) {
        char stop[4] = {0};
        memcpy(stop, full.text + full.text_len / 2, 3);
        const char *stops[] = {stop};
        CHECK_OK(vlm_session_create(model, &sp, &s));
        CHECK_OK(vlm_session_add_turn(s, VLM_ROLE_USER, "Hi", NULL, 0));
        CHECK_OK(vlm_session_add_turn(s, VLM_ROLE_ASSISTANT, "", NULL, 0));
        CHECK_OK(vlm_session_add_turn(s, VLM_ROLE_USER, "Hi", NULL, 0));
        collected cut = {0};
        gp.user_data = &cut;
        gp.stop_strings = stops;
        gp.n_stop_strings = 1;
        CHECK_OK(vlm_session_generate(s, &gp));
        const char *at = strstr(full.text, stop);
        CHECK_MSG(at != NULL && cut.text_len == (size_t)(at - full.text) &&
                  memcmp(cut.text, full.text, cut.text_len) == 0,
                  "stop string '%s': got '%s' of '%s'", stop, cut.text, full.text);
        const char *empty[] = {""};
        gp.stop_strings = empty;
        CHECK_STATUS(VLM_ERR_INVALID_ARGUMENT, vlm_session_generate(s, &gp));
        vlm_session_free(s);
    }

    /* arguments */
    CHECK_STATUS(VLM_ERR_INVALID_ARGUMENT, vlm_session_create(NULL, NULL, &s));
    sp.max_image_tiles = -1;
    CHECK_STATUS(VLM_ERR_INVALID_ARGUMENT, vlm_session_create(model, &sp, &s));
    CHECK(s == NULL);
    sp.max_image_tiles = 0;
    sp.pan_and_scan = 2;
    CHECK_STATUS(VLM_ERR_INVALID_ARGUMENT, vlm_session_create(model, &sp, &s));
    sp.pan_and_scan = 0;
    sp.max_image_pixels = -28 * 28;
    CHECK_STATUS(VLM_ERR_INVALID_ARGUMENT, vlm_session_create(model, &sp, &s));
    CHECK(s == NULL);
    CHECK_STATUS(VLM_ERR_INVALID_ARGUMENT, vlm_session_generate(NULL, NULL));
    float score = -1.0f;
    CHECK_STATUS(VLM_ERR_INVALID_ARGUMENT,
                 vlm_session_safety_score(NULL, NULL, VLM_SAFETY_SEXUAL, NULL, &score));
    vlm_image_plan plan = {.struct_size = 4};
    CHECK_STATUS(VLM_ERR_INVALID_ARGUMENT, vlm_session_plan_image(NULL, 1, 1, &plan));
    vlm_session_free(NULL);
}

int main(void) {
    if (getenv("VLM_TEST_DATA") == NULL) return TEST_SKIP_CODE;
    char path[2048];
    cJSON *expected = ref_read_json("smolvlm-e2e/expected.json");
    vlm_model *model = NULL;
    ref_data_path(path, sizeof path, "tiny-smolvlm");
    CHECK_OK(vlm_model_load(path, NULL, &model));
    vlm_image *image = NULL;
    ref_data_path(path, sizeof path, "sample.jpg");
    CHECK_OK(vlm_image_load_file(path, NULL, &image));
    if (expected != NULL && model != NULL && image != NULL) {
        test_reference(model, expected, image, VLM_DTYPE_F32);
        test_reference(model, expected, image, VLM_DTYPE_F16);
        test_bad_requests(model, image);
        test_video(model);
        printf("worst prefill logits max |diff| %.3g\n", worst_logits_diff);
    }
    vlm_image_free(image);
    vlm_model_free(model);
    cJSON_Delete(expected);
    return test_finish("smolvlm_e2e");
}
