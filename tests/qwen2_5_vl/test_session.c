/* Qwen2.5-VL through the public API (vlm_model_load, a session, greedy
 * generation) against transformers on the tiny model in
 * tests/data/qwen2_5_vl-model (made by tests/gen/make_qwen2_5_vl_reference.py):
 * the chat prompt's ids, the last prefill logits and 16 greedy tokens with a
 * 150x100 image; the pixel budget as a session parameter. */
#include "reference.h"
#include "vlm.h"

#include <math.h>
#include <string.h>

#define VOCAB 400

static void test_generate(vlm_model *model, vlm_image *image, int32_t n_threads) {
    int32_t *want_ids = ref_read("qwen2_5_vl-model/ref_image_ids.i32", 48, 4, NULL);
    float *want_logits = ref_read("qwen2_5_vl-model/ref_image_logits.f32", 48 * VOCAB, 4, NULL);
    int32_t *want_greedy = ref_read("qwen2_5_vl-model/ref_image_greedy.i32", 16, 4, NULL);
    float *want_pixels = ref_read("qwen2_5_vl-model/ref_image_pixels.f32", 80 * 1176, 4, NULL);
    if (!want_ids || !want_logits || !want_greedy || !want_pixels) return;
    vlm_session_params sp;
    vlm_session_params_init(&sp, sizeof sp);
    sp.n_threads = n_threads;
    vlm_session *s = NULL;
    CHECK_OK(vlm_session_create(model, &sp, &s));

    /* plan and pixel values before anything is encoded */
    vlm_image_plan plan = {.struct_size = sizeof plan};
    CHECK_OK(vlm_session_plan_image(s, 150, 100, &plan));
    CHECK_MSG(plan.n_image_tokens == 20 && plan.rows == 8 && plan.cols == 10,
              "plan: %u tokens, grid %ux%u", plan.n_image_tokens, plan.rows, plan.cols);
    float *pixels = malloc(80 * 1176 * sizeof *pixels);
    size_t n_values = 0;
    CHECK_OK(vlm_session_image_pixel_values(s, image, pixels, 80 * 1176, &n_values));
    float worst = 0.0f;
    for (size_t i = 0; i < n_values && n_values == 80 * 1176; i++)
        if (fabsf(pixels[i] - want_pixels[i]) > worst) worst = fabsf(pixels[i] - want_pixels[i]);
    CHECK_MSG(n_values == 80 * 1176 && worst <= 1e-5f, "pixel values differ by %g", worst);
    free(pixels);

    CHECK_OK(vlm_session_add_turn(s, VLM_ROLE_USER, "Describe this image.", &image, 1));
    ref_answer got = {0};
    CHECK_OK(ref_session_answer(s, 16, &got));
    CHECK_MSG(got.n_ids == 48 && memcmp(got.ids, want_ids, 48 * 4) == 0, "prompt: %zu ids",
              got.n_ids);
    float d = got.n_logits == VOCAB ? ref_max_abs_diff(got.logits, want_logits + 47 * VOCAB, VOCAB)
                                    : INFINITY;
    CHECK_MSG(d <= 1e-3f, "last prompt logits differ by %g (%zu of them)", d, got.n_logits);
    /* greedy through M-RoPE decode positions (cache row + rope delta); an
     * end token may stop it early, which transformers' loop did not */
    size_t same = 0;
    while (same < got.n_greedy && got.greedy[same] == want_greedy[same]) same++;
    CHECK_MSG(got.n_greedy > 0 && same == got.n_greedy, "greedy: %zu of %zu tokens as transformers",
              same, got.n_greedy);
    printf("threads %d: pixels exact (%g), last logits within %g, %zu greedy tokens identical\n",
           n_threads, worst, d, got.n_greedy);
    ref_answer_free(&got);

    /* a second turn reuses the cache (no sliding window) */
    CHECK_OK(vlm_session_add_turn(s, VLM_ROLE_USER, "More?", NULL, 0));
    CHECK_OK(ref_session_answer(s, 2, &got));
    ref_answer_free(&got);
    vlm_timings t = {.struct_size = sizeof t};
    CHECK_OK(vlm_session_timings(s, &t));
    CHECK_MSG(t.n_prefill_tokens < t.n_prompt_tokens / 2, "second turn prefilled %d of %d",
              t.n_prefill_tokens, t.n_prompt_tokens);
    vlm_session_free(s);
    free(want_ids);
    free(want_logits);
    free(want_greedy);
    free(want_pixels);
}

/* The pixel budget: max_image_pixels shrinks the image (and its tokens);
 * smart_resize keeps sides multiples of 28. */
static void test_budget(vlm_model *model) {
    vlm_session_params sp;
    vlm_session_params_init(&sp, sizeof sp);
    sp.max_image_pixels = 28 * 28 * 4;
    vlm_session *s = NULL;
    CHECK_OK(vlm_session_create(model, &sp, &s));
    vlm_image_plan plan = {.struct_size = sizeof plan};
    CHECK_OK(vlm_session_plan_image(s, 1000, 700, &plan));
    CHECK_MSG(plan.n_image_tokens <= 4 && plan.frame_width % 28 == 0 && plan.frame_height % 28 == 0,
              "budget of 4 tokens: %u tokens, %ux%u", plan.n_image_tokens, plan.frame_width,
              plan.frame_height);
    /* placeholder text is refused in a turn; a video's frames share one size
     * (they are patched together in time) */
    CHECK_STATUS(VLM_ERR_INVALID_ARGUMENT,
                 vlm_session_add_turn(s, VLM_ROLE_USER, "<|vision_start|><|image_pad|><|vision_end|>",
                                      NULL, 0));
    vlm_image *frames[2] = {ref_pattern_image(56, 56, 0), ref_pattern_image(84, 56, 0)};
    double ts[2] = {0.0, 0.5};
    CHECK_STATUS(VLM_ERR_INVALID_ARGUMENT,
                 vlm_session_add_video_turn(s, VLM_ROLE_USER, "<|vision_start|><|video_pad|>"
                                            "<|vision_end|>", frames, ts, 1, -1.0));
    CHECK_STATUS(VLM_ERR_INVALID_ARGUMENT,
                 vlm_session_add_video_turn(s, VLM_ROLE_USER, "x", frames, ts, 2, -1.0));
    CHECK_MSG(strstr(vlm_last_error(), "frame 1 is 84x56") != NULL, "%s", vlm_last_error());
    vlm_image_free(frames[0]);
    vlm_image_free(frames[1]);
    vlm_session_free(s);
}

int main(void) {
    if (getenv("VLM_TEST_DATA") == NULL) return TEST_SKIP_CODE;
    char path[1024];
    snprintf(path, sizeof path, "%s/qwen2_5_vl-model", getenv("VLM_TEST_DATA"));
    vlm_model *model = NULL;
    CHECK_OK(vlm_model_load(path, NULL, &model));
    if (model == NULL) return test_finish("qwen2_5_vl_session");
    CHECK(strcmp(vlm_model_architecture(model), "Qwen2_5_VLForConditionalGeneration") == 0);
    vlm_image *image = ref_pattern_image(150, 100, 0);
    test_generate(model, image, 1);
    test_generate(model, image, 2);
    test_budget(model);
    vlm_image_free(image);
    vlm_model_free(model);
    return test_finish("qwen2_5_vl_session");
}
