/* Qwen2.5-VL video questions and sliding-window attention through the public
 * session API, against transformers (tests/data/qwen2_5_vl-video and
 * tests/data/qwen2_5_vl-swa, made by tests/gen/make_qwen2_5_vl_video_reference.py):
 *
 *   - a 4-frame and a 3-frame video of 100x70 frames (resized to 112x56 by
 *     the video processor: torchvision's resize): the video processor's
 *     pixel values, the M-RoPE positions with the frame rate taken from the
 *     timestamps / duration, and through vlm_session_add_video_turn the
 *     prompt ids, the last prompt logits and 16 greedy tokens;
 *   - the features cache keyed by the whole video (the same frames hit, the
 *     frames in another order do not);
 *   - a conversation with a video, an answer and an image;
 *   - the frames vlm_session_video_frames picks (sample_frames with fps);
 *   - cap_pixels_per_frame (each frame within a share of max_video_tokens);
 *   - the video processor settings of video_preprocessor_config.json texts,
 *     and such a file in a model directory (its budget used for videos, a
 *     patch size the encoder does not have refused);
 *   - the tiny model with use_sliding_window (window 8, layers 1 and 2) on
 *     the 48-token image question: last logits and 16 greedy tokens, which
 *     the generator checked differ from full attention. */
#include "arch/family.h"
#include "arch/qwen2_5_vl_processor.h"
#include "model.h"
#include "model/processor_config.h"
#include "reference.h"
#include "vlm.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <string.h>
#include <unistd.h>

#define VOCAB 400
#define N_GREEDY 16
#define WIDTH 100
#define HEIGHT 70

static void *read_data(const char *dir, const char *name, size_t n, size_t elem) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s/%s", getenv("VLM_TEST_DATA"), dir, name);
    size_t size = 0;
    void *data = test_read_file(path, &size);
    CHECK_MSG(data != NULL && size == n * elem, "%s: %zu bytes, expected %zu", path, size, n * elem);
    if (data != NULL && size != n * elem) { free(data); return NULL; }
    return data;
}

static cJSON *read_json(const char *dir) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s/reference.json", getenv("VLM_TEST_DATA"), dir);
    size_t size = 0;
    char *text = (char *)test_read_file(path, &size);
    CHECK_MSG(text != NULL, "%s", path);
    cJSON *root = text != NULL ? cJSON_ParseWithLength(text, size) : NULL;
    free(text);
    CHECK_MSG(root != NULL, "%s: not JSON", path);
    return root;
}

static double number(const cJSON *o, const char *key) {
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(o, key);
    CHECK_MSG(cJSON_IsNumber(item), "reference.json: %s", key);
    return cJSON_IsNumber(item) ? item->valuedouble : 0.0;
}

/* Appends each piece to the NUL-terminated text in user_data (256 bytes). */
static bool append_text(int32_t token, const char *piece, size_t len, void *user_data) {
    (void)token;
    char *text = user_data;
    size_t at = strlen(text);
    if (at + len < 256) {
        memcpy(text + at, piece, len);
        text[at + len] = '\0';
    }
    return true;
}

/* One greedy answer; checks its prompt ids, last prompt logits and tokens
 * against the reference files of prefix in dir. */
static void check_answer(vlm_session *s, const char *dir, const char *prefix, size_t n_ids,
                         const char *what) {
    char name[64];
    snprintf(name, sizeof name, "%s_ids.i32", prefix);
    int32_t *want_ids = read_data(dir, name, n_ids, 4);
    snprintf(name, sizeof name, "%s_logits.f32", prefix);
    float *want_logits = read_data(dir, name, VOCAB, 4);
    snprintf(name, sizeof name, "%s_greedy.i32", prefix);
    int32_t *want_greedy = read_data(dir, name, N_GREEDY, 4);
    ref_answer got = {0};
    CHECK_OK(ref_session_answer(s, N_GREEDY, &got));
    CHECK_MSG(want_ids != NULL && got.n_ids == n_ids &&
              memcmp(got.ids, want_ids, n_ids * sizeof *want_ids) == 0,
              "%s: prompt ids differ (%zu, reference %zu)", what, got.n_ids, n_ids);
    float worst = want_logits != NULL && got.n_logits == VOCAB
                      ? ref_max_abs_diff(got.logits, want_logits, VOCAB) : INFINITY;
    CHECK_MSG(worst <= 1e-3f, "%s: last logits differ by %g (%zu of them)", what, worst,
              got.n_logits);
    /* an end token stops the answer early: the reference runs all 16 */
    size_t same = 0;
    while (want_greedy != NULL && same < got.n_greedy && got.greedy[same] == want_greedy[same])
        same++;
    CHECK_MSG(want_greedy != NULL && same == got.n_greedy && got.n_greedy > 0,
              "%s: greedy tokens agree for %zu of %zu", what, same, got.n_greedy);
    printf("%s: ids identical, last logits within %g, %zu greedy tokens identical\n", what, worst,
           got.n_greedy);
    ref_answer_free(&got);
    free(want_ids);
    free(want_logits);
    free(want_greedy);
}

/* The video processor's pixel values and the rotary positions of the
 * reference prompt, from the family table the session uses. */
static void check_processor(vlm_model *model, const cJSON *c, const char *prefix,
                            vlm_image *const *frames, const double *timestamps, size_t n_frames,
                            double duration_s) {
    const vlmi_family_ops *ops = &vlmi_qwen2_5_vl_ops;
    vlmi_processor_config config;
    ops->video_config(&config, model);
    vlmi_image_request req = {.video_frame = true};
    vlmi_image_plan plan;
    CHECK_OK(ops->plan_video(&plan, model, &config, &req, WIDTH, HEIGHT, n_frames));
    const cJSON *grid = cJSON_GetObjectItemCaseSensitive(c, "video_grid_thw");
    CHECK_MSG(cJSON_GetArraySize(grid) == 3 &&
              plan.u.qwen2vl.grid_t == (uint32_t)cJSON_GetArrayItem(grid, 0)->valueint &&
              plan.u.qwen2vl.grid_h == (uint32_t)cJSON_GetArrayItem(grid, 1)->valueint &&
              plan.u.qwen2vl.grid_w == (uint32_t)cJSON_GetArrayItem(grid, 2)->valueint,
              "%s: grid %ux%ux%u", prefix, plan.u.qwen2vl.grid_t, plan.u.qwen2vl.grid_h,
              plan.u.qwen2vl.grid_w);

    char name[64];
    snprintf(name, sizeof name, "%s_pixels.f32", prefix);
    float *want = read_data("qwen2_5_vl-video", name, plan.n_values, 4);
    float *got = malloc(plan.n_values * sizeof *got);
    const uint8_t *rgb[8];
    for (size_t i = 0; i < n_frames; i++) rgb[i] = vlm_image_pixels(frames[i]);
    CHECK_OK(vlmi_qwen2vl_pixel_values(got, &plan.u.qwen2vl, &config, rgb));
    float worst = want != NULL ? ref_max_abs_diff(got, want, plan.n_values) : INFINITY;
    CHECK_MSG(worst <= 1e-5f, "%s: pixel values differ by %g", prefix, worst);
    printf("%s: video pixel values within %g\n", prefix, worst);
    free(want);
    free(got);

    size_t n = (size_t)number(c, "n_tokens");
    snprintf(name, sizeof name, "%s_ids.i32", prefix);
    int32_t *ids = read_data("qwen2_5_vl-video", name, n, 4);
    snprintf(name, sizeof name, "%s_positions.i32", prefix);
    int32_t *want_positions = read_data("qwen2_5_vl-video", name, 3 * n, 4);
    int32_t *positions = calloc(3 * n, sizeof *positions);
    vlmi_prompt_media media = {&plan, timestamps, n_frames, duration_s};
    int64_t delta = 0;
    if (ids != NULL) CHECK_OK(ops->rope_positions(positions, &delta, model, ids, n, &media, 1));
    CHECK_MSG(want_positions != NULL &&
              memcmp(positions, want_positions, 3 * n * sizeof *positions) == 0 &&
              delta == (int64_t)number(c, "rope_delta"),
              "%s: positions differ (delta %lld)", prefix, (long long)delta);
    free(ids);
    free(want_positions);
    free(positions);
}

typedef struct video_case {
    const char *name;
    vlm_image *frames[8];
    double timestamps[8];
    size_t n_frames;
    double duration_s;
    size_t n_tokens;
} video_case;

/* The generator's video, with its timestamps (index / fps) and duration
 * (total / fps); without_duration: -1, the rate left to the timestamps. */
static bool load_case(video_case *v, const cJSON *ref, const char *name, bool without_duration) {
    memset(v, 0, sizeof *v);
    v->name = name;
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(ref, name);
    const cJSON *indices = cJSON_GetObjectItemCaseSensitive(c, "frames_indices");
    CHECK_MSG(cJSON_GetArraySize(indices) >= 1 && cJSON_GetArraySize(indices) <= 8, "%s", name);
    if (c == NULL || cJSON_GetArraySize(indices) < 1 || cJSON_GetArraySize(indices) > 8) return false;
    double fps = number(c, "fps");
    v->n_frames = (size_t)cJSON_GetArraySize(indices);
    for (size_t k = 0; k < v->n_frames; k++) {
        v->frames[k] = ref_pattern_image(WIDTH, HEIGHT, (uint32_t)k);
        v->timestamps[k] = cJSON_GetArrayItem(indices, (int)k)->valuedouble / fps;
    }
    v->duration_s = without_duration ? -1.0 : number(c, "total_num_frames") / fps;
    v->n_tokens = (size_t)number(c, "n_tokens");
    return true;
}

static void free_case(video_case *v) {
    for (size_t k = 0; k < v->n_frames; k++) vlm_image_free(v->frames[k]);
}

static void test_video(vlm_model *model, const cJSON *ref, const char *name, bool without_duration,
                       int32_t n_threads) {
    video_case v;
    if (!load_case(&v, ref, name, without_duration)) return;
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(ref, name);
    check_processor(model, c, name, v.frames, v.timestamps, v.n_frames, v.duration_s);

    vlm_session_params sp;
    vlm_session_params_init(&sp, sizeof sp);
    sp.n_threads = n_threads;
    vlm_session *s = NULL;
    CHECK_OK(vlm_session_create(model, &sp, &s));
    CHECK_OK(vlm_session_add_video_turn(s, VLM_ROLE_USER, "Describe the video.", v.frames,
                                        v.timestamps, v.n_frames, v.duration_s));
    char what[96];
    snprintf(what, sizeof what, "%s (%s, %d threads)", name,
             without_duration ? "rate from timestamps" : "with duration", (int)n_threads);
    check_answer(s, "qwen2_5_vl-video", name, v.n_tokens, what);
    vlm_session_free(s);
    free_case(&v);
}

/* The encoded video is cached whole: the same frames in a new session are
 * served from the cache, the same frames reversed are not. */
static void test_video_cache(vlm_model *model, const cJSON *ref) {
    video_case v;
    if (!load_case(&v, ref, "video4", false)) return;
    vlm_timings t = {.struct_size = sizeof t};
    vlm_generate_params gp;
    vlm_generate_params_init(&gp, sizeof gp);
    gp.max_tokens = 1;
    for (int pass = 0; pass < 3; pass++) {
        vlm_image *frames[8];
        for (size_t k = 0; k < v.n_frames; k++)
            frames[k] = v.frames[pass == 2 ? v.n_frames - 1 - k : k];
        vlm_session *s = NULL;
        CHECK_OK(vlm_session_create(model, NULL, &s));
        CHECK_OK(vlm_session_add_video_turn(s, VLM_ROLE_USER, "Describe the video.", frames,
                                            v.timestamps, v.n_frames, v.duration_s));
        CHECK_OK(vlm_session_generate(s, &gp));
        CHECK_OK(vlm_session_timings(s, &t));
        if (pass > 0)
            CHECK_MSG(t.n_cached_images == (pass == 1),
                      "pass %d: %d videos from the cache", pass, t.n_cached_images);
        CHECK_MSG(t.n_image_tokens == 16, "pass %d: %d video tokens", pass, t.n_image_tokens);
        vlm_session_free(s);
    }
    free_case(&v);
}

/* A video, an answer, then an image: both kinds of placeholders in one
 * prompt, their rotary positions in prompt order. */
static void test_mixed(vlm_model *model, const cJSON *ref) {
    video_case v;
    if (!load_case(&v, ref, "video3", false)) return;
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(ref, "mixed");
    vlm_image *image = ref_pattern_image(150, 100, 0);
    vlm_session *s = NULL;
    CHECK_OK(vlm_session_create(model, NULL, &s));
    CHECK_OK(vlm_session_add_video_turn(s, VLM_ROLE_USER, "Describe the video.", v.frames,
                                        v.timestamps, v.n_frames, v.duration_s));
    CHECK_OK(vlm_session_add_turn(s, VLM_ROLE_ASSISTANT, "A red square.", NULL, 0));
    CHECK_OK(vlm_session_add_turn(s, VLM_ROLE_USER, "Describe this image.", &image, 1));
    check_answer(s, "qwen2_5_vl-video", "mixed", (size_t)number(c, "n_tokens"),
                 "video then image");
    vlm_session_free(s);
    vlm_image_free(image);
    free_case(&v);
}

/* What the video processor's settings become from video_preprocessor_config.json
 * texts: Qwen2VLVideoProcessor's class defaults and overrides. */
static void test_video_processor_configs(const cJSON *ref) {
    const cJSON *configs = cJSON_GetObjectItemCaseSensitive(ref, "video_processor_configs");
    CHECK(cJSON_GetArraySize(configs) > 0);
    const cJSON *c;
    cJSON_ArrayForEach(c, configs) {
        char *json = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(c, "json"));
        vlmi_processor_config config;
        CHECK_OK(vlmi_processor_config_parse(json, strlen(json), "video_preprocessor_config.json",
                                             &config));
        CHECK_MSG(config.min_pixels == (int64_t)number(c, "min_pixels") &&
                  config.max_pixels == (int64_t)number(c, "max_pixels") &&
                  config.resample == (int32_t)number(c, "resample") &&
                  config.temporal_patch_size == 2 && config.patch_size == 14 &&
                  config.merge_size == 2 &&
                  config.cap_pixels_per_frame ==
                      cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(c, "cap_pixels_per_frame")) &&
                  config.max_video_tokens == (int32_t)number(c, "max_video_tokens"),
                  "%s: min_pixels %lld, max_pixels %lld, resample %d", json,
                  (long long)config.min_pixels, (long long)config.max_pixels,
                  (int)config.resample);
        free(json);
    }
}

/* cap_pixels_per_frame: video4's frames within their share of 10 tokens. */
static void test_capped(vlm_model *model, const cJSON *ref) {
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(ref, "capped");
    const cJSON *grid = cJSON_GetObjectItemCaseSensitive(c, "video_grid_thw");
    const vlmi_family_ops *ops = &vlmi_qwen2_5_vl_ops;
    vlmi_processor_config config;
    ops->video_config(&config, model);
    config.cap_pixels_per_frame = true;
    config.max_video_tokens = (int32_t)number(c, "max_video_tokens");
    vlmi_image_request req = {.video_frame = true};
    vlmi_image_plan plan;
    CHECK_OK(ops->plan_video(&plan, model, &config, &req, WIDTH, HEIGHT, 4));
    const vlmi_qwen2vl_plan *p = &plan.u.qwen2vl;
    CHECK_MSG(cJSON_GetArraySize(grid) == 3 &&
              p->grid_t == (uint32_t)cJSON_GetArrayItem(grid, 0)->valueint &&
              p->grid_h == (uint32_t)cJSON_GetArrayItem(grid, 1)->valueint &&
              p->grid_w == (uint32_t)cJSON_GetArrayItem(grid, 2)->valueint,
              "capped: grid %ux%ux%u", p->grid_t, p->grid_h, p->grid_w);
    float *want = read_data("qwen2_5_vl-video", "capped_pixels.f32", plan.n_values, 4);
    float *got = malloc(plan.n_values * sizeof *got);
    vlm_image *frames[4];
    const uint8_t *rgb[4];
    for (uint32_t k = 0; k < 4; k++) {
        frames[k] = ref_pattern_image(WIDTH, HEIGHT, k);
        rgb[k] = vlm_image_pixels(frames[k]);
    }
    CHECK_OK(vlmi_qwen2vl_pixel_values(got, p, &config, rgb));
    float worst = want != NULL ? ref_max_abs_diff(got, want, plan.n_values) : INFINITY;
    CHECK_MSG(worst <= 1e-5f, "capped: pixel values differ by %g", worst);
    printf("capped: %ux%u frames, pixel values within %g\n", p->resized_width, p->resized_height,
           worst);
    for (uint32_t k = 0; k < 4; k++) vlm_image_free(frames[k]);
    free(want);
    free(got);
}

/* vlm_session_video_frames picks the frames Qwen2VLVideoProcessor.sample_frames
 * picks (fps 0: qwen-vl-utils' 2 per second). */
static void test_sample_frames(vlm_model *model, const cJSON *ref) {
    const cJSON *cases = cJSON_GetObjectItemCaseSensitive(ref, "sample_frames");
    CHECK(cJSON_GetArraySize(cases) > 0);
    vlm_session *s = NULL;
    CHECK_OK(vlm_session_create(model, NULL, &s));
    const cJSON *c;
    cJSON_ArrayForEach(c, cases) {
        const cJSON *want = cJSON_GetObjectItemCaseSensitive(c, "indices");
        uint32_t total = (uint32_t)number(c, "total_frames");
        uint32_t got[1024];
        size_t n = 0;
        CHECK_OK(vlm_session_video_frames(s, total, number(c, "video_fps"), number(c, "fps"),
                                          (uint32_t)number(c, "max_frames"), got, 1024, &n));
        bool same = n == (size_t)cJSON_GetArraySize(want);
        for (size_t i = 0; same && i < n; i++)
            same = got[i] == (uint32_t)cJSON_GetArrayItem(want, (int)i)->valueint;
        CHECK_MSG(same, "%u frames at %g fps, sampled at %g (max %g): %zu indices, want %d",
                  total, number(c, "video_fps"), number(c, "fps"), number(c, "max_frames"), n,
                  cJSON_GetArraySize(want));
    }
    /* a video shorter than a temporal patch (the reference divides by zero) */
    uint32_t one[2];
    size_t n = 0;
    CHECK_OK(vlm_session_video_frames(s, 1, 30.0, 0.0, 0, one, 2, &n));
    CHECK(n == 1 && one[0] == 0);
    vlm_session_free(s);
}

/* The model directory of qwen2_5_vl-model linked into scratch, plus a
 * video_preprocessor_config.json of json; loaded (NULL on failure). */
static const char *const MODEL_FILES[] = {"config.json", "model.safetensors",
    "preprocessor_config.json", "generation_config.json", "tokenizer.json",
    "tokenizer_config.json"};
#define N_MODEL_FILES (sizeof MODEL_FILES / sizeof MODEL_FILES[0])

static vlm_model *load_with_video_config(const char *scratch, const char *json) {
    char from[2048], to[2048];
    for (size_t i = 0; i < N_MODEL_FILES; i++) {
        snprintf(from, sizeof from, "%s/qwen2_5_vl-model/%s", getenv("VLM_TEST_DATA"),
                 MODEL_FILES[i]);
        snprintf(to, sizeof to, "%s/%s", scratch, MODEL_FILES[i]);
        unlink(to);
        CHECK(symlink(from, to) == 0);
    }
    snprintf(to, sizeof to, "%s/video_preprocessor_config.json", scratch);
    FILE *f = fopen(to, "w");
    CHECK(f != NULL);
    if (f != NULL) { fputs(json, f); fclose(f); }
    vlm_model *model = NULL;
    CHECK_OK(vlm_model_load(scratch, NULL, &model));
    return model;
}

/* A model's video_preprocessor_config.json: its pixel budget sets the video's
 * tokens (not the images'), and one that disagrees with the encoder is
 * refused when a session starts. */
static void test_video_preprocessor_file(const cJSON *ref) {
    char scratch[1024];
    const char *tmp = getenv("TMPDIR");
    snprintf(scratch, sizeof scratch, "%s/vlm-qwen-video-test-XXXXXX", tmp != NULL ? tmp : ".");
    CHECK(mkdtemp(scratch) != NULL);
    vlm_model *model = load_with_video_config(scratch, "{\"video_processor_type\": "
        "\"Qwen2VLVideoProcessor\", \"min_pixels\": 3136, \"max_pixels\": 3136}");
    video_case v;
    if (model != NULL && load_case(&v, ref, "video4", false)) {
        uint32_t h = 0, w = 0;
        CHECK_OK(vlmi_qwen2vl_smart_resize(&h, &w, HEIGHT, WIDTH, 28, 3136, 3136));
        int32_t want_tokens = (int32_t)(2 * (h / 28) * (w / 28)); /* 2 temporal patches */
        vlm_session *s = NULL;
        CHECK_OK(vlm_session_create(model, NULL, &s));
        vlm_image_plan plan = {.struct_size = sizeof plan};
        CHECK_OK(vlm_session_plan_image(s, 150, 100, &plan));
        CHECK_MSG(plan.n_image_tokens == 20, "the image budget changed: %u tokens",
                  plan.n_image_tokens);
        CHECK_OK(vlm_session_add_video_turn(s, VLM_ROLE_USER, "Describe the video.", v.frames,
                                            v.timestamps, v.n_frames, v.duration_s));
        vlm_generate_params gp;
        vlm_generate_params_init(&gp, sizeof gp);
        gp.max_tokens = 1;
        CHECK_OK(vlm_session_generate(s, &gp));
        vlm_timings t = {.struct_size = sizeof t};
        CHECK_OK(vlm_session_timings(s, &t));
        CHECK_MSG(t.n_image_tokens == want_tokens, "video of %ux%u frames: %d tokens, want %d",
                  w, h, t.n_image_tokens, want_tokens);
        vlm_session_free(s);
        free_case(&v);
    }
    vlm_model_free(model);

    model = load_with_video_config(scratch, "{\"video_processor_type\": "
                                            "\"Qwen2VLVideoProcessor\", \"patch_size\": 16}");
    vlm_session *s = NULL;
    if (model != NULL) CHECK_STATUS(VLM_ERR_FORMAT, vlm_session_create(model, NULL, &s));
    CHECK_MSG(s == NULL && strstr(vlm_last_error(), "video_preprocessor_config.json") != NULL,
              "%s", vlm_last_error());
    vlm_model_free(model);

    char path[2048];
    for (size_t i = 0; i <= N_MODEL_FILES; i++) {
        snprintf(path, sizeof path, "%s/%s", scratch,
                 i < N_MODEL_FILES ? MODEL_FILES[i] : "video_preprocessor_config.json");
        unlink(path);
    }
    rmdir(scratch);
}

/* use_sliding_window: the 48-token image question with a window of 8. */
static void test_sliding_window(void) {
    char path[1024];
    snprintf(path, sizeof path, "%s/qwen2_5_vl-swa", getenv("VLM_TEST_DATA"));
    vlm_model *model = NULL;
    CHECK_OK(vlm_model_load(path, NULL, &model));
    if (model == NULL) return;
    cJSON *ref = read_json("qwen2_5_vl-swa");
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(ref, "image");
    size_t n_ids = (size_t)number(c, "n_tokens");
    vlm_image *image = ref_pattern_image(150, 100, 0);
    vlm_session *s = NULL;
    CHECK_OK(vlm_session_create(model, NULL, &s));
    CHECK_OK(vlm_session_add_turn(s, VLM_ROLE_USER, "Describe this image.", &image, 1));
    check_answer(s, "qwen2_5_vl-swa", "image", n_ids, "sliding window 8");
    vlm_session_free(s);

    /* a follow-up rewinds the cache only as far as the rings allow: its
     * logits are those of the whole conversation prefilled afresh */
    vlm_generate_params gp;
    vlm_generate_params_init(&gp, sizeof gp);
    gp.max_tokens = 4;
    gp.on_token = append_text;
    char answer[256] = "";
    gp.user_data = answer;
    float logits[2][VOCAB];
    int32_t ids[2][128];
    size_t n_ids2[2] = {0, 0};
    for (int fresh = 0; fresh < 2; fresh++) {
        CHECK_OK(vlm_session_create(model, NULL, &s));
        CHECK_OK(vlm_session_add_turn(s, VLM_ROLE_USER, "Describe this image.", &image, 1));
        if (!fresh) {
            CHECK_OK(vlm_session_generate(s, &gp));
        } else {
            /* the answer as the session keeps it: no leading whitespace */
            const char *text = answer;
            while (*text == ' ' || *text == '\n') text++;
            CHECK_OK(vlm_session_add_turn(s, VLM_ROLE_ASSISTANT, text, NULL, 0));
        }
        CHECK_OK(vlm_session_add_turn(s, VLM_ROLE_USER, "More?", NULL, 0));
        gp.on_token = NULL;
        CHECK_OK(vlm_session_generate(s, &gp));
        vlm_timings t = {.struct_size = sizeof t};
        CHECK_OK(vlm_session_timings(s, &t));
        if (!fresh)
            CHECK_MSG(t.n_prefill_tokens < t.n_prompt_tokens, "follow-up prefilled %d of %d",
                      t.n_prefill_tokens, t.n_prompt_tokens);
        size_t n_logits = 0;
        CHECK_OK(vlm_session_prompt_logits(s, logits[fresh], VOCAB, &n_logits));
        CHECK_OK(vlm_session_prompt_tokens(s, ids[fresh], 128, &n_ids2[fresh]));
        vlm_session_free(s);
    }
    CHECK_MSG(n_ids2[0] == n_ids2[1] && memcmp(ids[0], ids[1], n_ids2[0] * sizeof(int32_t)) == 0,
              "the follow-up prompts differ (%zu and %zu ids; answer \"%s\")", n_ids2[0],
              n_ids2[1], answer);
    float worst = ref_max_abs_diff(logits[0], logits[1], VOCAB);
    CHECK_MSG(worst <= 1e-4f, "follow-up logits differ from a fresh prefill by %g", worst);
    printf("sliding window 8, follow-up on the cache: logits within %g of a fresh prefill\n",
           worst);
    vlm_image_free(image);
    cJSON_Delete(ref);
    vlm_model_free(model);
}

int main(void) {
    if (getenv("VLM_TEST_DATA") == NULL) return TEST_SKIP_CODE;
    char path[1024];
    snprintf(path, sizeof path, "%s/qwen2_5_vl-model", getenv("VLM_TEST_DATA"));
    vlm_model *model = NULL;
    CHECK_OK(vlm_model_load(path, NULL, &model));
    cJSON *ref = read_json("qwen2_5_vl-video");
    if (model != NULL && ref != NULL) {
        test_video(model, ref, "video4", false, 1);
        test_video(model, ref, "video4", true, 2);
        test_video(model, ref, "video3", false, 1);
        test_video_cache(model, ref);
        test_mixed(model, ref);
        test_video_processor_configs(ref);
        test_sample_frames(model, ref);
        test_capped(model, ref);
        test_video_preprocessor_file(ref);
    }
    cJSON_Delete(ref);
    vlm_model_free(model);
    test_sliding_window();
    return test_finish("qwen2_5_vl_video");
}
