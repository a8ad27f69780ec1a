/* The Idefics3 image processor and image prompt text against transformers'
 * Idefics3ImageProcessorPil + Idefics3Processor (tests/data/smolvlm-e2e,
 * processor.json): tile plans, pixel_values (whole arrays for the small
 * config, per-frame sums and 1000 sampled values for the real 2048/512 one),
 * and the expanded prompt's ids. */
#include "arch/idefics3_processor.h"
#include "image/image.h"
#include "smolvlm_fixture.h"

#define PIXEL_TOLERANCE 1e-5f

static float worst_pixel_diff;

static bool load_config(const char *rel, vlmi_processor_config *config) {
    char path[2048];
    size_t size = 0;
    if (!ref_data_path(path, sizeof path, rel)) return false;
    char *json = (char *)test_read_file(path, &size);
    CHECK_MSG(json != NULL, "cannot read %s", path);
    if (json == NULL) return false;
    vlm_status st = vlmi_processor_config_parse(json, size, rel, config);
    free(json);
    CHECK_OK(st);
    return st == VLM_OK;
}

static vlm_image *case_image(const cJSON *c) {
    const cJSON *pattern = cJSON_GetObjectItemCaseSensitive(c, "pattern");
    if (pattern != NULL)
        return sv_pattern_image((uint32_t)cJSON_GetArrayItem(pattern, 0)->valueint,
                                (uint32_t)cJSON_GetArrayItem(pattern, 1)->valueint);
    char path[2048];
    ref_data_path(path, sizeof path, sv_string(c, "file"));
    vlm_image *image = NULL;
    CHECK_OK(vlm_image_load_file(path, NULL, &image));
    return image;
}

/* Frame-by-frame pixel values against the whole reference array. */
static void compare_whole(const char *name, const vlmi_idefics3_frames *frames,
                          const vlmi_processor_config *config, const char *file) {
    size_t frame_floats = 3 * (size_t)frames->plan.tile * frames->plan.tile;
    char rel[256];
    snprintf(rel, sizeof rel, "smolvlm-e2e/%s", file);
    float *want = ref_read(rel, frames->plan.n_frames * frame_floats, sizeof(float), NULL);
    float *got = malloc(frame_floats * sizeof(float));
    if (want == NULL || got == NULL) { free(want); free(got); return; }
    float diff = 0.0f;
    for (uint32_t k = 0; k < frames->plan.n_frames; k++) {
        vlmi_idefics3_frame_pixels(got, frames, config, k);
        float d = ref_max_abs_diff(got, want + k * frame_floats, frame_floats);
        if (!(d <= diff)) diff = d;
    }
    CHECK_MSG(diff <= PIXEL_TOLERANCE, "%s: pixel_values max |diff| %g", name, diff);
    if (!(diff <= worst_pixel_diff)) worst_pixel_diff = diff;
    free(want);
    free(got);
}

/* Per-frame sums and sampled values (flat (frame, c, y, x) indices). */
static void compare_sampled(const char *name, const vlmi_idefics3_frames *frames,
                            const vlmi_processor_config *config, const cJSON *c) {
    size_t frame_floats = 3 * (size_t)frames->plan.tile * frames->plan.tile;
    float *got = malloc(frame_floats * sizeof(float));
    const cJSON *sums = cJSON_GetObjectItemCaseSensitive(c, "frame_sums");
    const cJSON *abs_sums = cJSON_GetObjectItemCaseSensitive(c, "frame_abs_sums");
    const cJSON *index = cJSON_GetObjectItemCaseSensitive(c, "sample_index");
    const cJSON *value = cJSON_GetObjectItemCaseSensitive(c, "sample_value");
    int n_samples = cJSON_GetArraySize(index), next = 0, checked = 0;
    float diff = 0.0f;
    for (uint32_t k = 0; got != NULL && k < frames->plan.n_frames; k++) {
        vlmi_idefics3_frame_pixels(got, frames, config, k);
        double sum = 0.0, abs_sum = 0.0;
        for (size_t i = 0; i < frame_floats; i++) { sum += got[i]; abs_sum += fabs(got[i]); }
        double want_sum = cJSON_GetArrayItem(sums, (int)k)->valuedouble;
        double want_abs = cJSON_GetArrayItem(abs_sums, (int)k)->valuedouble;
        CHECK_MSG(fabs(sum - want_sum) <= 1e-6 * frame_floats && fabs(abs_sum - want_abs) <= 1e-6 * frame_floats,
                  "%s frame %u: sum %.9g / %.9g, expected %.9g / %.9g", name, k, sum, abs_sum,
                  want_sum, want_abs);
        for (; next < n_samples; next++) {
            size_t flat = (size_t)cJSON_GetArrayItem(index, next)->valuedouble;
            if (flat / frame_floats != k) break;
            float d = fabsf(got[flat % frame_floats] - (float)cJSON_GetArrayItem(value, next)->valuedouble);
            if (!(d <= diff)) diff = d;
            checked++;
        }
    }
    CHECK_MSG(checked == n_samples, "%s: %d of %d samples checked", name, checked, n_samples);
    CHECK_MSG(diff <= PIXEL_TOLERANCE, "%s: sampled pixel_values max |diff| %g", name, diff);
    if (!(diff <= worst_pixel_diff)) worst_pixel_diff = diff;
    free(got);
}

/* The reference prompt with its "<image>" expanded, tokenized as the processor does. */
static void compare_prompt(const char *name, const vlmi_idefics3_plan *plan, size_t seq_len,
                           const cJSON *c, const vlm_tokenizer *tok) {
    const char *prompt = sv_string(c, "prompt");
    const char *at = strstr(prompt, "<image>");
    CHECK(at != NULL);
    if (at == NULL) return;
    size_t expansion = vlmi_idefics3_expand_image(NULL, 0, plan, seq_len);
    size_t len = (size_t)(at - prompt) + expansion + strlen(at + 7);
    char *text = malloc(len + 1);
    memcpy(text, prompt, (size_t)(at - prompt));
    CHECK(vlmi_idefics3_expand_image(text + (at - prompt), expansion + 1, plan, seq_len) == expansion);
    strcpy(text + (at - prompt) + expansion, at + 7);
    size_t n_want, n_got = 0;
    int32_t *want = sv_ids(cJSON_GetObjectItemCaseSensitive(c, "prompt_ids"), &n_want);
    int32_t *got = malloc((n_want + 16) * sizeof *got);
    CHECK_OK(vlm_tokenize(tok, text, len, VLM_TOKENIZE_PARSE_SPECIAL | VLM_TOKENIZE_ADD_SPECIAL, got,
                          n_want + 16, &n_got));
    CHECK_MSG(n_got == n_want && memcmp(got, want, n_want * sizeof *got) == 0,
              "%s: expanded prompt ids differ (%zu vs %zu ids)", name, n_got, n_want);
    free(got);
    free(want);
    free(text);
}

static void run_case(const cJSON *c, const vlmi_processor_config *small,
                     const vlmi_processor_config *real, size_t seq_len, const vlm_tokenizer *tok) {
    const char *name = sv_string(c, "name");
    const vlmi_processor_config *config = strcmp(sv_string(c, "config"), "small") == 0 ? small : real;
    vlm_image *image = case_image(c);
    if (image == NULL) return;

    vlmi_idefics3_frames frames;
    CHECK_OK(vlmi_idefics3_frames_make(&frames, config, vlm_image_pixels(image), vlm_image_width(image),
                                       vlm_image_height(image), sv_int(c, "max_tiles")));
    const vlmi_idefics3_plan *plan = &frames.plan;
    CHECK_MSG(plan->rows == (uint32_t)sv_int(c, "rows") && plan->cols == (uint32_t)sv_int(c, "cols") &&
              plan->n_frames == (uint32_t)sv_int(c, "n_frames") &&
              plan->longest_edge == (uint32_t)sv_int(c, "longest_edge") &&
              plan->tile == (uint32_t)sv_int(c, "tile"),
              "%s: plan %ux%u tiles, %u frames, edge %u; expected %dx%d, %d, %d", name, plan->rows,
              plan->cols, plan->n_frames, plan->longest_edge, sv_int(c, "rows"), sv_int(c, "cols"),
              sv_int(c, "n_frames"), sv_int(c, "longest_edge"));
    if (frames.grid != NULL && plan->n_frames == (uint32_t)sv_int(c, "n_frames")) {
        if (cJSON_GetObjectItemCaseSensitive(c, "pixels") != NULL)
            compare_whole(name, &frames, config, sv_string(c, "pixels"));
        else
            compare_sampled(name, &frames, config, c);
        compare_prompt(name, plan, seq_len, c, tok);
    }
    vlmi_idefics3_frames_free(&frames);
    vlm_image_free(image);
}

static void test_errors(const vlmi_processor_config *real) {
    vlmi_idefics3_plan plan;
    CHECK_STATUS(VLM_ERR_INVALID_ARGUMENT, vlmi_idefics3_plan_image(&plan, real, 0, 10, 0));
    CHECK_STATUS(VLM_ERR_INVALID_ARGUMENT, vlmi_idefics3_plan_image(&plan, real, 10, 10, -1));
    vlmi_processor_config broken = *real;
    broken.max_image_size.longest_edge = 0;
    CHECK_STATUS(VLM_ERR_FORMAT, vlmi_idefics3_plan_image(&plan, &broken, 10, 10, 0));
    CHECK(strstr(vlm_last_error(), "max_image_size") != NULL);
    /* the cap never goes below one frame; a huge panorama stays within 4096 */
    CHECK_OK(vlmi_idefics3_plan_image(&plan, real, 100000, 3, 1));
    CHECK(plan.n_frames == 1 && plan.rows == 0);
    CHECK_OK(vlmi_idefics3_plan_image(&plan, real, 100000, 3, 0));
    CHECK(plan.resized_width == 2048 && plan.resized_height == 1 && plan.n_frames == 5);
    /* without splitting: one frame of tile x tile */
    vlmi_processor_config unsplit = *real;
    unsplit.do_image_splitting = false;
    CHECK_OK(vlmi_idefics3_plan_image(&plan, &unsplit, 640, 480, 0));
    CHECK(plan.n_frames == 1 && plan.grid_width == 512 && plan.grid_height == 512);
}

/* SmolVLM2 video: num2words, sample_frames, and the "<video>" text
 * (smolvlm-e2e/video.json; the whole prompt's ids are checked in test_e2e). */
static void test_video(void) {
    cJSON *video = ref_read_json("smolvlm-e2e/video.json");
    if (video == NULL) return;
    const cJSON *item;
    int n_numbers = 0;
    cJSON_ArrayForEach(item, cJSON_GetObjectItemCaseSensitive(video, "numbers")) {
        char words[256];
        uint64_t n = strtoull(item->string, NULL, 10);
        size_t len = vlmi_number_to_words(words, sizeof words, n);
        CHECK_MSG(len == strlen(item->valuestring) && strcmp(words, item->valuestring) == 0,
                  "%llu: '%s', expected '%s'", (unsigned long long)n, words, item->valuestring);
        n_numbers++;
    }
    CHECK(n_numbers >= 20);
    int n_sampling = 0;
    cJSON_ArrayForEach(item, cJSON_GetObjectItemCaseSensitive(video, "sampling")) {
        uint32_t indices[256];
        uint32_t total = (uint32_t)sv_int(item, "total_frames"), max = (uint32_t)sv_int(item, "max_frames");
        double video_fps = cJSON_GetObjectItemCaseSensitive(item, "video_fps")->valuedouble;
        double fps = cJSON_GetObjectItemCaseSensitive(item, "fps")->valuedouble;
        size_t n = vlmi_smolvlm_sample_frames(indices, total, video_fps, total / video_fps, fps, max);
        size_t n_want;
        int32_t *want = sv_ids(cJSON_GetObjectItemCaseSensitive(item, "indices"), &n_want);
        bool same = n == n_want;
        for (size_t i = 0; same && i < n; i++) same = indices[i] == (uint32_t)want[i];
        CHECK_MSG(same, "sample_frames(%u frames at %g fps, %g fps, max %u): %zu indices, expected %zu",
                  total, video_fps, fps, max, n, n_want);
        free(want);
        n_sampling++;
    }
    CHECK(n_sampling >= 6);
    uint32_t none[4];
    CHECK(vlmi_smolvlm_sample_frames(none, 0, 30.0, 0.0, 1.0, 4) == 0);
    CHECK(vlmi_smolvlm_sample_frames(none, 10, 0.0, 1.0, 1.0, 4) == 0);

    /* the "<video>" text is the reference prompt between "User: " and the question */
    const char *prompt = sv_string(video, "prompt_text");
    const char *start = strstr(prompt, "You are provided"), *end = strstr(prompt, "What happens?");
    const cJSON *ts_json = cJSON_GetObjectItemCaseSensitive(video, "timestamps");
    double timestamps[8];
    size_t n_ts = 0;
    cJSON_ArrayForEach(item, ts_json) if (n_ts < 8) timestamps[n_ts++] = item->valuedouble;
    double duration = cJSON_GetObjectItemCaseSensitive(video, "duration")->valuedouble;
    size_t len = vlmi_idefics3_expand_video(NULL, 0, timestamps, n_ts, duration, 64);
    char *text = malloc(len + 1);
    CHECK(vlmi_idefics3_expand_video(text, len + 1, timestamps, n_ts, duration, 64) == len);
    CHECK_MSG(start != NULL && end != NULL && (size_t)(end - start) == len &&
              memcmp(text, start, len) == 0, "video text differs");
    /* without a duration the last timestamp stands for it: 65.7 s is 0:01:05 */
    vlmi_idefics3_expand_video(text, len + 1, timestamps, n_ts, -1.0, 64);
    CHECK(strstr(text, "three frames from a 0:01:05 [H:MM:SS] video.") != NULL);
    free(text);
    cJSON_Delete(video);
}

int main(void) {
    if (getenv("VLM_TEST_DATA") == NULL) return TEST_SKIP_CODE;
    vlmi_processor_config small, real;
    cJSON *cases = ref_read_json("smolvlm-e2e/processor.json");
    char tok_path[2048];
    ref_data_path(tok_path, sizeof tok_path, "tiny-smolvlm");
    vlm_tokenizer *tok = NULL;
    CHECK_OK(vlm_tokenizer_load(tok_path, &tok));
    if (cases != NULL && tok != NULL &&
        load_config("smolvlm-e2e/small/preprocessor_config.json", &small) &&
        load_config("tiny-smolvlm/preprocessor_config.json", &real)) {
        size_t seq_len = (size_t)sv_int(cases, "image_seq_len");
        const cJSON *c;
        int n = 0;
        cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(cases, "cases")) {
            run_case(c, &small, &real, seq_len, tok);
            n++;
        }
        printf("%d image cases, pixel_values max |diff| %.3g\n", n, worst_pixel_diff);
        CHECK(n >= 10);
        test_errors(&real);
        test_video();
    }
    vlm_tokenizer_free(tok);
    cJSON_Delete(cases);
    return test_finish("smolvlm_processor");
}
