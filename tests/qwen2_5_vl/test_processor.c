/* The Qwen2.5-VL processor against transformers' Qwen2VLImageProcessorPil
 * (tests/data/qwen2_5_vl, made by tests/gen/make_qwen2_5_vl_processor_fixtures.py):
 * smart_resize over a table of sizes and budgets, grid_thw and token counts,
 * pixel_values (whole arrays for small cases; per-row sums and sampled values
 * otherwise), video frames in temporal pairs, and the prompt expansion. */
#include "arch/qwen2_5_vl_processor.h"
#include "test.h"

#include <cjson/cJSON.h>

#define PIXEL_TOLERANCE 1e-5f

static float worst_pixel_diff;

static char *data_path(char *buf, size_t cap, const char *rel) {
    const char *dir = getenv("VLM_TEST_DATA");
    snprintf(buf, cap, "%s/qwen2_5_vl/%s", dir ? dir : "tests/data", rel);
    return buf;
}

static cJSON *load_json(const char *rel) {
    char path[2048];
    size_t size = 0;
    char *text = (char *)test_read_file(data_path(path, sizeof path, rel), &size);
    CHECK_MSG(text != NULL, "cannot read %s", path);
    if (text == NULL) return NULL;
    cJSON *json = cJSON_ParseWithLength(text, size);
    free(text);
    CHECK_MSG(json != NULL, "%s: not JSON", rel);
    return json;
}

static double num(const cJSON *obj, const char *key) {
    return cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(obj, key));
}

/* The generator's pattern, frame f. -> (height, width, 3) */
static uint8_t *pattern(uint32_t width, uint32_t height, uint32_t frame) {
    uint8_t *rgb = malloc((size_t)width * height * 3);
    for (uint64_t y = 0; rgb != NULL && y < height; y++)
        for (uint64_t x = 0; x < width; x++)
            for (uint64_t c = 0; c < 3; c++)
                rgb[(y * width + x) * 3 + c] =
                    (uint8_t)((x * x + 3 * y * y + 7 * x * y + 50 * c + (x ^ y) + 31 * frame) % 256);
    return rgb;
}

static void test_smart_resize_table(void) {
    cJSON *json = load_json("smart_resize.json");
    if (json == NULL) return;
    const cJSON *row;
    int n = 0;
    cJSON_ArrayForEach(row, cJSON_GetObjectItemCaseSensitive(json, "rows")) {
        uint32_t h = (uint32_t)cJSON_GetArrayItem(row, 0)->valuedouble;
        uint32_t w = (uint32_t)cJSON_GetArrayItem(row, 1)->valuedouble;
        int64_t mn = (int64_t)cJSON_GetArrayItem(row, 2)->valuedouble;
        int64_t mx = (int64_t)cJSON_GetArrayItem(row, 3)->valuedouble;
        const cJSON *expect = cJSON_GetArrayItem(row, 4);
        uint32_t rh = 0, rw = 0;
        vlm_status st = vlmi_qwen2vl_smart_resize(&rh, &rw, h, w, 28, mn, mx);
        if (cJSON_IsString(expect)) {
            CHECK_MSG(st == VLM_ERR_LIMIT, "%ux%u: expected the aspect-ratio error, got %s", w, h,
                      vlm_status_string(st));
        } else {
            uint32_t want_h = (uint32_t)expect->valuedouble;
            uint32_t want_w = (uint32_t)cJSON_GetArrayItem(row, 5)->valuedouble;
            CHECK_MSG(st == VLM_OK && rh == want_h && rw == want_w,
                      "%ux%u [%lld, %lld]: %ux%u, expected %ux%u (%s)", w, h, (long long)mn,
                      (long long)mx, rw, rh, want_w, want_h, vlm_last_error());
        }
        n++;
    }
    CHECK(n > 100);
    uint32_t rh, rw;
    CHECK_STATUS(VLM_ERR_INVALID_ARGUMENT, vlmi_qwen2vl_smart_resize(&rh, &rw, 0, 10, 28, 1, 100));
    CHECK_STATUS(VLM_ERR_INVALID_ARGUMENT, vlmi_qwen2vl_smart_resize(&rh, &rw, 10, 10, 28, 1, 0));
    /* a huge min_pixels is a status, not an overflow: a side beyond 32 bits
     * here, a pixel_values size beyond size_t in the plan */
    CHECK_STATUS(VLM_ERR_LIMIT, vlmi_qwen2vl_smart_resize(&rh, &rw, 1, 100, 28, INT64_MAX / 2, INT64_MAX));
    cJSON_Delete(json);
}

static void compare_case(const cJSON *c, const vlmi_processor_config *config) {
    const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(c, "name"));
    uint32_t width = (uint32_t)num(c, "width"), height = (uint32_t)num(c, "height");
    uint32_t n_frames = (uint32_t)num(c, "frames");
    vlmi_qwen2vl_plan plan;
    vlm_status st = vlmi_qwen2vl_plan_frames(&plan, config, width, height, n_frames,
                                             (int64_t)num(c, "min_pixels"), (int64_t)num(c, "max_pixels"));
    CHECK_MSG(st == VLM_OK, "%s: plan: %s", name, vlm_last_error());
    if (st != VLM_OK) return;
    const cJSON *thw = cJSON_GetObjectItemCaseSensitive(c, "grid_thw");
    CHECK_MSG(plan.grid_t == (uint32_t)cJSON_GetArrayItem(thw, 0)->valuedouble &&
              plan.grid_h == (uint32_t)cJSON_GetArrayItem(thw, 1)->valuedouble &&
              plan.grid_w == (uint32_t)cJSON_GetArrayItem(thw, 2)->valuedouble,
              "%s: grid_thw %u %u %u", name, plan.grid_t, plan.grid_h, plan.grid_w);
    CHECK_MSG(plan.n_patches == (size_t)num(c, "rows") && plan.patch_dim == (size_t)num(c, "cols") &&
              plan.n_tokens == (size_t)num(c, "n_tokens"),
              "%s: %zu x %zu, %zu tokens", name, plan.n_patches, plan.patch_dim, plan.n_tokens);
    if (plan.n_patches != (size_t)num(c, "rows") || plan.patch_dim != 1176) return;

    uint8_t *frames[8] = {0};
    for (uint32_t f = 0; f < n_frames && f < 8; f++) frames[f] = pattern(width, height, f);
    float *got = malloc(plan.n_values * sizeof(float));
    CHECK_OK(vlmi_qwen2vl_pixel_values(got, &plan, config, (const uint8_t *const *)frames));
    float diff = 0.0f;
    const cJSON *file = cJSON_GetObjectItemCaseSensitive(c, "file");
    if (cJSON_IsString(file)) {
        char path[2048];
        size_t size = 0;
        float *want = (float *)test_read_file(data_path(path, sizeof path, file->valuestring), &size);
        CHECK_MSG(want != NULL && size == plan.n_values * sizeof(float), "%s: %s", name, path);
        for (size_t i = 0; want != NULL && size == plan.n_values * sizeof(float) && i < plan.n_values; i++) {
            float d = fabsf(got[i] - want[i]);
            if (!(d <= diff)) diff = d;
        }
        free(want);
    }
    const cJSON *sums = cJSON_GetObjectItemCaseSensitive(c, "row_sums");
    const cJSON *abs_sums = cJSON_GetObjectItemCaseSensitive(c, "row_abs_sums");
    for (size_t r = 0; r < plan.n_patches; r++) {
        double sum = 0.0, abs_sum = 0.0;
        for (size_t k = 0; k < plan.patch_dim; k++) {
            sum += got[r * plan.patch_dim + k];
            abs_sum += fabs(got[r * plan.patch_dim + k]);
        }
        double want_sum = cJSON_GetArrayItem(sums, (int)r)->valuedouble;
        double want_abs = cJSON_GetArrayItem(abs_sums, (int)r)->valuedouble;
        if (!(fabs(sum - want_sum) <= 1e-3 && fabs(abs_sum - want_abs) <= 1e-3)) {
            CHECK_MSG(0, "%s row %zu: sum %.9g / %.9g, expected %.9g / %.9g", name, r, sum, abs_sum,
                      want_sum, want_abs);
            break;
        }
    }
    const cJSON *index = cJSON_GetObjectItemCaseSensitive(c, "sample_index");
    const cJSON *value = cJSON_GetObjectItemCaseSensitive(c, "sample_value");
    for (int i = 0; i < cJSON_GetArraySize(index); i++) {
        size_t at = (size_t)cJSON_GetArrayItem(index, i)->valuedouble;
        float d = fabsf(got[at] - (float)cJSON_GetArrayItem(value, i)->valuedouble);
        if (!(d <= diff)) diff = d;
    }
    CHECK_MSG(diff <= PIXEL_TOLERANCE, "%s: pixel_values max |diff| %g", name, diff);
    if (!(diff <= worst_pixel_diff)) worst_pixel_diff = diff;
    printf("  %-18s %4ux%-4u x%u -> %ux%u grid %u,%u,%u  %zu tokens  max|diff| %g%s\n", name, width,
           height, n_frames, plan.resized_width, plan.resized_height, plan.grid_t, plan.grid_h,
           plan.grid_w, plan.n_tokens, diff, cJSON_IsString(file) ? " (whole array)" : "");
    free(got);
    for (uint32_t f = 0; f < 8; f++) free(frames[f]);
}

static void test_prompt(const cJSON *prompt, const vlmi_processor_config *config) {
    vlmi_qwen2vl_plan plan;
    CHECK_OK(vlmi_qwen2vl_plan_frames(&plan, config, (uint32_t)num(prompt, "width"),
                                      (uint32_t)num(prompt, "height"), 1, 0, 0));
    const char *want = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(prompt, "expanded"));
    size_t len = vlmi_qwen2vl_expand(NULL, 0, plan.n_tokens, false);
    char *buf = malloc(len + 1);
    CHECK(vlmi_qwen2vl_expand(buf, len + 1, plan.n_tokens, false) == len);
    CHECK_MSG(want != NULL && strcmp(buf, want) == 0, "expanded prompt %s", buf);
    char small[20];
    CHECK(vlmi_qwen2vl_expand(small, sizeof small, plan.n_tokens, false) == len);
    CHECK(strlen(small) == sizeof small - 1);
    char video[64];
    CHECK(vlmi_qwen2vl_expand(video, sizeof video, 1, true) ==
          strlen("<|vision_start|><|video_pad|><|vision_end|>"));
    CHECK(strcmp(video, "<|vision_start|><|video_pad|><|vision_end|>") == 0);
    free(buf);
}

static void test_errors(const vlmi_processor_config *config) {
    vlmi_qwen2vl_plan plan;
    CHECK_STATUS(VLM_ERR_INVALID_ARGUMENT, vlmi_qwen2vl_plan_frames(&plan, config, 10, 10, 0, 0, 0));
    CHECK_STATUS(VLM_ERR_LIMIT, vlmi_qwen2vl_plan_frames(&plan, config, 201, 1, 1, 0, 0));
    CHECK(strstr(vlm_last_error(), "aspect ratio") != NULL);
    vlmi_processor_config broken = *config;
    broken.patch_size = 0;
    CHECK_STATUS(VLM_ERR_FORMAT, vlmi_qwen2vl_plan_frames(&plan, &broken, 100, 100, 1, 0, 0));
    /* the real budget: a 12 MP photo is planned (shapes, tokens, memory)
     * without touching a pixel, and the max_pixels cap holds */
    CHECK_OK(vlmi_qwen2vl_plan_frames(&plan, config, 4000, 3500, 1, 0, 0));
    CHECK((uint64_t)plan.resized_width * plan.resized_height <= 12845056u);
    CHECK(plan.n_tokens == plan.n_patches / 4 && plan.n_values == plan.n_patches * 1176);
    /* a per-request budget lowers it */
    CHECK_OK(vlmi_qwen2vl_plan_frames(&plan, config, 4000, 3500, 1, 0, 28 * 28 * 256));
    CHECK(plan.n_tokens <= 256);
    CHECK_STATUS(VLM_ERR_INVALID_ARGUMENT, vlmi_qwen2vl_pixel_values(NULL, &plan, config, NULL));
    CHECK_STATUS(VLM_ERR_LIMIT, vlmi_qwen2vl_plan_frames(&plan, config, 100, 100, 1, INT64_MAX / 2, INT64_MAX));
}

int main(void) {
    vlmi_processor_config config;
    char path[2048];
    size_t size = 0;
    char *text = (char *)test_read_file(data_path(path, sizeof path, "preprocessor_config.json"), &size);
    CHECK_MSG(text != NULL, "cannot read %s", path);
    if (text == NULL) return test_finish("qwen2_5_vl_processor");
    CHECK_OK(vlmi_processor_config_parse(text, size, "preprocessor_config.json", &config));
    free(text);
    CHECK(config.min_pixels == 3136 && config.max_pixels == 12845056 && config.resample == 3);

    test_smart_resize_table();
    cJSON *json = load_json("processor.json");
    if (json != NULL) {
        const cJSON *c;
        int n = 0;
        cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(json, "cases")) {
            compare_case(c, &config);
            n++;
        }
        CHECK(n >= 10);
        test_prompt(cJSON_GetObjectItemCaseSensitive(json, "prompt"), &config);
        cJSON_Delete(json);
    }
    test_errors(&config);
    printf("worst pixel_values |diff| %g\n", worst_pixel_diff);
    return test_finish("qwen2_5_vl_processor");
}
