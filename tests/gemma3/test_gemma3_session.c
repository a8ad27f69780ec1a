/* Gemma 3 and ShieldGemma 2 through the public API (vlm_model_load, sessions,
 * vlm_session_safety_score) against transformers on the tiny fixtures
 * (tests/data/gemma3-vlm, tests/data/shieldgemma2), Gemma 3 with the KV cache
 * in f32 and in f16 (image block, sliding windows; the same greedy tokens). */
#include "gemma3_vlm_fixture.h"
#include "vlm.h"

#include <string.h>

static vlm_image *pattern_image(uint32_t w, uint32_t h) {
    uint8_t *rgb = vlm_image_rgb(w, h);
    vlm_image *image = NULL;
    CHECK_OK(vlm_image_from_pixels(rgb, (size_t)w * h * 3, w, h, (size_t)w * 3, VLM_PIXEL_RGB8,
                                   &image));
    free(rgb);
    return image;
}

/* With the KV cache in f16, the logits' tolerance relative to the largest
 * reference logit (tests/gemma3/test_gemma3_text.c). */
#define LOGITS_REL_TOLERANCE_F16 3e-3f

/* One user turn with image 0, greedy: prompt ids, last prefill logits and
 * the 16 greedy tokens as transformers gives them; a KV cache of kv_type. */
static void test_generate(vlm_model *model, vlm_image *image, int32_t n_threads,
                          vlm_dtype kv_type) {
    size_t n_prompt = 0, n_vocab = 384;
    int32_t *want_ids = ref_read("gemma3-vlm/prompt_ids.i32", 0, 4, &n_prompt);
    float *want_logits = ref_read("gemma3-vlm/prompt_logits.f32", n_prompt * n_vocab, 4, NULL);
    /* a q8_0 cache: transformers with its keys and values rounded the same
     * way (tests/gen/make_kv_q8_reference.py) */
    bool q8 = kv_type == VLM_DTYPE_Q8_0;
    int32_t *want_greedy = ref_read(q8 ? "gemma3-vlm/kv_q8_greedy.i32" : "gemma3-vlm/greedy.i32",
                                    16, 4, NULL);
    float *want_q8_last = q8 ? ref_read("gemma3-vlm/kv_q8_last_logits.f32", n_vocab, 4, NULL)
                             : NULL;
    if (!want_ids || !want_logits || !want_greedy || (q8 && !want_q8_last)) return;

    vlm_session_params sp;
    vlm_session_params_init(&sp, sizeof sp);
    sp.n_threads = n_threads;
    sp.kv_cache_type = kv_type;
    vlm_session *s = NULL;
    CHECK_OK(vlm_session_create(model, &sp, &s));
    if (s == NULL) return;
    CHECK_OK(vlm_session_add_turn(s, VLM_ROLE_USER, "Describe this image.", &image, 1));
    ref_answer got = {0};
    CHECK_OK(ref_session_answer(s, 16, &got));
    CHECK_MSG(got.n_ids == n_prompt && memcmp(got.ids, want_ids, n_prompt * 4) == 0,
              "prompt: %zu ids, transformers %zu", got.n_ids, n_prompt);
    const float *want_last = q8 ? want_q8_last : want_logits + (n_prompt - 1) * n_vocab;
    float d = got.n_logits == n_vocab ? ref_max_abs_diff(got.logits, want_last, n_vocab) : INFINITY;
    float tolerance = 1e-3f;
    if (kv_type == VLM_DTYPE_F16) {
        float largest = 0.0f;
        for (size_t i = 0; i < n_vocab; i++)
            if (fabsf(want_last[i]) > largest) largest = fabsf(want_last[i]);
        tolerance = LOGITS_REL_TOLERANCE_F16 * largest;
    }
    CHECK_MSG(d <= tolerance, "last prompt logits differ by %g (%zu of them)", d, got.n_logits);
    CHECK_MSG(got.n_greedy == 16 && memcmp(got.greedy, want_greedy, 16 * 4) == 0,
              "greedy tokens differ (%zu generated)", got.n_greedy);
    vlm_timings t = {.struct_size = sizeof t};
    CHECK_OK(vlm_session_timings(s, &t));
    CHECK(t.n_image_tokens == 16 && t.n_prompt_tokens == (int32_t)n_prompt);
    printf("threads %d, %s KV: last prompt logits within %g, %zu greedy tokens identical\n",
           n_threads, kv_type == VLM_DTYPE_F16 ? "f16" : kv_type == VLM_DTYPE_Q8_0 ? "q8_0" : "f32",
           d, got.n_greedy);

    /* a second turn: the random answer does not survive detokenizing and
     * tokenizing again, and the sliding-window rings cannot rewind to where
     * it differs, so the prompt is prefilled afresh, image block and all */
    CHECK_OK(vlm_session_add_turn(s, VLM_ROLE_USER, "And the colours?", NULL, 0));
    CHECK_OK(ref_session_answer(s, 2, &got));
    CHECK(got.n_greedy == 2);
    ref_answer_free(&got);
    vlm_session_free(s);
    free(want_ids);
    free(want_logits);
    free(want_greedy);
    free(want_q8_last);
}

static void test_pan_and_scan(vlm_model *model) {
    vlm_session_params sp;
    vlm_session_params_init(&sp, sizeof sp);
    vlm_session *s = NULL;
    vlm_image_plan plan = {.struct_size = sizeof plan};
    /* off by default (the fixture's processor config), on by the parameter;
     * the crop counts are transformers' */
    CHECK_OK(vlm_session_create(model, &sp, &s));
    CHECK_OK(vlm_session_plan_image(s, 1000, 300, &plan));
    CHECK(plan.n_frames == 1 && plan.n_image_tokens == 16 && plan.frame_width == 224);
    vlm_session_free(s);
    sp.pan_and_scan = 1;
    CHECK_OK(vlm_session_create(model, &sp, &s));
    CHECK_OK(vlm_session_plan_image(s, 1000, 300, &plan));
    CHECK_MSG(plan.n_frames == 4 && plan.n_image_tokens == 64, "1000x300: %u frames",
              plan.n_frames);
    CHECK_OK(vlm_session_plan_image(s, 300, 700, &plan));
    CHECK(plan.n_frames == 3);
    /* the pixel values are the processor's (frames.u8 holds them as indices
     * into pixel_table) */
    vlm_image *pano = pattern_image(1000, 300);
    size_t n_values = 0;
    CHECK_STATUS(VLM_ERR_BUFFER_TOO_SMALL, vlm_session_image_pixel_values(s, pano, NULL, 0, &n_values));
    CHECK(n_values == 4 * 3 * 224 * 224);
    float *values = malloc(n_values * sizeof *values);
    uint8_t *frames = ref_read("gemma3-vlm/frames.u8", 8 * 3 * 224 * 224, 1, NULL);
    float *table = ref_read("gemma3-vlm/pixel_table.f32", 3 * 256, 4, NULL);
    CHECK_OK(vlm_session_image_pixel_values(s, pano, values, n_values, &n_values));
    float worst = 0.0f;
    size_t frame = 3 * 224 * 224, first = 1; /* image 1's frames follow image 0's one */
    for (size_t i = 0; frames && table && i < n_values; i++) {
        size_t c = (i % frame) / (224 * 224);
        float d = fabsf(values[i] - table[c * 256 + frames[first * frame + i]]);
        if (d > worst) worst = d;
    }
    CHECK_MSG(worst <= 1e-5f, "pan & scan pixel values differ by %g", worst);
    free(values);
    free(frames);
    free(table);
    vlm_session_free(s);

    /* the answer with pan & scan as transformers gives it: prompt ids, last
     * prefill logits, 8 greedy tokens (four bidirectional image blocks) */
    size_t n_pan = 0;
    int32_t *want_ids = ref_read("gemma3-vlm/pan_ids.i32", 0, 4, &n_pan);
    float *want_logits = ref_read("gemma3-vlm/pan_last_logits.f32", 384, 4, NULL);
    int32_t *want_greedy = ref_read("gemma3-vlm/pan_greedy.i32", 8, 4, NULL);
    ref_answer got = {0};
    ref_session_ask(model, &sp, "Describe this image.", &pano, 1, 8, &got);
    CHECK_MSG(want_ids && got.n_ids == n_pan && memcmp(got.ids, want_ids, n_pan * 4) == 0,
              "pan & scan prompt: %zu ids, transformers %zu", got.n_ids, n_pan);
    float d = want_logits && got.n_logits == 384 ? ref_max_abs_diff(got.logits, want_logits, 384)
                                                 : INFINITY;
    CHECK_MSG(d <= 1e-3f, "pan & scan: last prompt logits differ by %g (%zu of them)", d,
              got.n_logits);
    CHECK_MSG(want_greedy && got.n_greedy == 8 && memcmp(got.greedy, want_greedy, 8 * 4) == 0,
              "pan & scan: greedy tokens differ (%zu generated)", got.n_greedy);
    printf("pan & scan: %zu prompt ids identical, last logits within %g, 8 greedy identical\n",
           got.n_ids, d);
    ref_answer_free(&got);
    free(want_ids);
    free(want_logits);
    free(want_greedy);
    vlm_image_free(pano);
    /* the placeholder is the chat format's own */
    CHECK_OK(vlm_session_create(model, NULL, &s));
    CHECK_STATUS(VLM_ERR_INVALID_ARGUMENT,
                 vlm_session_add_turn(s, VLM_ROLE_USER, "see <start_of_image>", NULL, 0));
    vlm_session_free(s);
}

/* ShieldGemma 2: P(Yes) per image and policy as transformers computes it. */
static void test_shieldgemma2(void) {
    char path[1024];
    snprintf(path, sizeof path, "%s/shieldgemma2", getenv("VLM_TEST_DATA"));
    vlm_model *model = NULL;
    CHECK_OK(vlm_model_load(path, NULL, &model));
    if (model == NULL) return;
    snprintf(path, sizeof path, "%s/shieldgemma2/reference.json", getenv("VLM_TEST_DATA"));
    size_t size = 0;
    char *text = (char *)test_read_file(path, &size);
    cJSON *ref = text ? cJSON_ParseWithLength(text, size) : NULL;
    free(text);
    CHECK(ref != NULL);
    const cJSON *sizes = cJSON_GetObjectItemCaseSensitive(ref, "sizes");
    const char *custom = cJSON_GetObjectItemCaseSensitive(ref, "custom_policy")->valuestring;
    vlm_image *images[2];
    for (int i = 0; i < 2; i++) {
        const cJSON *wh = cJSON_GetArrayItem(sizes, i);
        images[i] = ref_pattern_image((uint32_t)cJSON_GetArrayItem(wh, 0)->valuedouble,
                                      (uint32_t)cJSON_GetArrayItem(wh, 1)->valuedouble, 0);
    }
    vlm_session *s = NULL;
    vlm_session_params sp;
    vlm_session_params_init(&sp, sizeof sp);
    sp.n_ctx = 1024; /* the prompts are longer than the tiny model's 256 positions */
    CHECK_OK(vlm_session_create(model, &sp, &s));
    const cJSON *c;
    double worst = 0.0;
    int n = 0;
    cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(ref, "cases")) {
        int image = (int)cJSON_GetObjectItemCaseSensitive(c, "image")->valuedouble;
        const char *name = cJSON_GetObjectItemCaseSensitive(c, "policy")->valuestring;
        vlm_safety_policy policy = strcmp(name, "dangerous") == 0 ? VLM_SAFETY_DANGEROUS
                                   : strcmp(name, "sexual") == 0  ? VLM_SAFETY_SEXUAL
                                   : strcmp(name, "violence") == 0 ? VLM_SAFETY_VIOLENCE
                                                                   : VLM_SAFETY_CUSTOM;
        float p = -1.0f;
        CHECK_OK(vlm_session_safety_score(s, images[image], policy,
                                          policy == VLM_SAFETY_CUSTOM ? custom : NULL, &p));
        double want = cJSON_GetObjectItemCaseSensitive(c, "probability")->valuedouble;
        double d = fabs(p - want);
        if (d > worst) worst = d;
        CHECK_MSG(d <= 1e-4, "image %d, %s: %g, transformers %g", image, name, p, want);
        /* the prompt is the processor's, ids and all */
        const cJSON *want_ids = cJSON_GetObjectItemCaseSensitive(c, "prompt_ids");
        int32_t ids[1024];
        size_t n_ids = 0;
        CHECK_OK(vlm_session_prompt_tokens(s, ids, 1024, &n_ids));
        bool same = n_ids == (size_t)cJSON_GetArraySize(want_ids);
        for (size_t i = 0; same && i < n_ids; i++)
            same = ids[i] == (int32_t)cJSON_GetArrayItem(want_ids, (int)i)->valuedouble;
        CHECK_MSG(same, "image %d, %s: prompt ids differ (%zu ids)", image, name, n_ids);
        n++;
    }
    CHECK(n == 8);
    printf("ShieldGemma 2: %d scores within %g of transformers\n", n, worst);
    /* misuse: a conversation in the session, a custom policy without text */
    float p;
    CHECK_STATUS(VLM_ERR_INVALID_ARGUMENT,
                 vlm_session_safety_score(s, images[0], VLM_SAFETY_CUSTOM, NULL, &p));
    CHECK_STATUS(VLM_ERR_INVALID_UTF8,
                 vlm_session_safety_score(s, images[0], VLM_SAFETY_CUSTOM, "\xff", &p));
    CHECK_OK(vlm_session_add_turn(s, VLM_ROLE_USER, "hi", NULL, 0));
    CHECK_STATUS(VLM_ERR_STATE,
                 vlm_session_safety_score(s, images[0], VLM_SAFETY_SEXUAL, NULL, &p));
    vlm_session_free(s);
    for (int i = 0; i < 2; i++) vlm_image_free(images[i]);
    cJSON_Delete(ref);
    vlm_model_free(model);
}

int main(void) {
    if (getenv("VLM_TEST_DATA") == NULL) return TEST_SKIP_CODE;
    char path[1024];
    ref_data_path(path, sizeof path, "gemma3-vlm/");
    vlm_model *model = NULL;
    CHECK_OK(vlm_model_load(path, NULL, &model));
    if (model == NULL) return test_finish("gemma3_session");
    vlm_image *image = pattern_image(301, 257);
    test_generate(model, image, 1, VLM_DTYPE_F32);
    test_generate(model, image, 2, VLM_DTYPE_F32);
    test_generate(model, image, 2, VLM_DTYPE_F16);
    test_generate(model, image, 1, VLM_DTYPE_Q8_0);
    test_generate(model, image, 2, VLM_DTYPE_Q8_0);
    test_pan_and_scan(model);
    /* a plain Gemma 3 is no safety classifier */
    vlm_session *s = NULL;
    float p;
    CHECK_OK(vlm_session_create(model, NULL, &s));
    CHECK_STATUS(VLM_ERR_UNSUPPORTED, vlm_session_safety_score(s, image, VLM_SAFETY_SEXUAL, NULL, &p));
    vlm_session_free(s);
    vlm_image_free(image);
    vlm_model_free(model);
    test_shieldgemma2();
    return test_finish("gemma3_session");
}
