/* The Gemma 3 processor against transformers (tests/data/gemma3-vlm):
 * pixel_values of three images with pan & scan off and on, the text that
 * stands for each image, the chat template's renderings, the expanded prompt
 * and its token ids, and bad input. */
#include "gemma3_vlm_fixture.h"

#define PIXEL_TOLERANCE 1e-5f

static float worst_pixel_diff;

/* Frames of every image against the reference's pixel_values. With pan & scan
 * off each image is one frame, the first of its pan & scan group (the
 * generator checked that transformers gives the same frame both ways). */
static void test_pixels(const vlmi_processor_config *config, const cJSON *reference,
                        bool pan_and_scan) {
    size_t plane = (size_t)VLM_FRAME_SIDE * VLM_FRAME_SIDE;
    uint8_t *frames = ref_read("gemma3-vlm/frames.u8", VLM_N_FRAMES_ON * 3 * plane, 1, NULL);
    float *table = ref_read("gemma3-vlm/pixel_table.f32", 3 * 256, 4, NULL);
    float *ours = malloc(3 * plane * sizeof(float));
    float *want = malloc(3 * plane * sizeof(float));
    const cJSON *crops = cJSON_GetObjectItem(reference, "num_crops_on");
    if (!frames || !table || !ours || !want || cJSON_GetArraySize(crops) != VLM_N_IMAGES)
        goto done;
    size_t group = 0; /* the image's first frame in frames.u8 */
    for (int i = 0; i < VLM_N_IMAGES; i++) {
        uint32_t w = vlm_image_sizes[i][0], h = vlm_image_sizes[i][1];
        int want_crops = cJSON_GetArrayItem(crops, i)->valueint;
        uint8_t *rgb = vlm_image_rgb(w, h);
        vlmi_gemma3_plan plan;
        CHECK_OK(vlmi_gemma3_plan_image(&plan, config, pan_and_scan, w, h));
        CHECK_MSG(plan.n_crops == (uint32_t)(pan_and_scan ? want_crops : 0),
                  "image %d: %u crops, transformers %d", i, plan.n_crops,
                  pan_and_scan ? want_crops : 0);
        CHECK(plan.n_frames == plan.n_crops + 1 && plan.image_size == VLM_FRAME_SIDE);
        CHECK(plan.tokens_per_image == 16 && plan.n_rows == plan.n_frames * 16);
        for (uint32_t k = 0; rgb && k < plan.n_frames && k <= (uint32_t)want_crops; k++) {
            CHECK_OK(vlmi_gemma3_frame_pixels(ours, &plan, config, rgb, w, h, k));
            vlm_reference_frame(want, frames, table, group + k);
            float diff = ref_max_abs_diff(ours, want, 3 * plane);
            if (!(diff <= worst_pixel_diff)) worst_pixel_diff = diff;
            CHECK_MSG(diff <= PIXEL_TOLERANCE, "image %d frame %u (pan & scan %s): max diff %g",
                      i, k, pan_and_scan ? "on" : "off", diff);
        }
        group += 1 + (size_t)want_crops;
        free(rgb);
    }
    CHECK(group == VLM_N_FRAMES_ON);
done:
    free(want);
    free(ours);
    free(table);
    free(frames);
}

/* Gemma3Processor.replace_image_token for each image, both ways. */
static void test_expansion(const vlmi_processor_config *config, const cJSON *texts) {
    for (int on = 0; on <= 1; on++) {
        const cJSON *list = cJSON_GetObjectItem(texts, on ? "expand_on" : "expand_off");
        CHECK(cJSON_GetArraySize(list) == VLM_N_IMAGES);
        for (int i = 0; i < VLM_N_IMAGES && i < cJSON_GetArraySize(list); i++) {
            const char *want = cJSON_GetArrayItem(list, i)->valuestring;
            vlmi_gemma3_plan plan;
            CHECK_OK(vlmi_gemma3_plan_image(&plan, config, on, vlm_image_sizes[i][0],
                                            vlm_image_sizes[i][1]));
            size_t n = vlmi_gemma3_expand_image(NULL, 0, &plan);
            CHECK(n == strlen(want));
            char *buf = malloc(n + 1);
            CHECK(buf && vlmi_gemma3_expand_image(buf, n + 1, &plan) == n);
            CHECK_MSG(buf && strcmp(buf, want) == 0, "image %d pan & scan %d: got\n%s", i, on,
                      buf);
            /* too small a buffer: still the full length, a NUL-terminated prefix */
            char small[8];
            CHECK(vlmi_gemma3_expand_image(small, sizeof small, &plan) == n);
            CHECK(strlen(small) < sizeof small);
            free(buf);
        }
    }
}

typedef struct conversation {
    const char *name;
    vlmi_chat_message messages[4];
    size_t n;
} conversation;

static const conversation conversations[] = {
    {"user_image", {{VLM_ROLE_USER, "Describe this image.", 1, false}}, 1},
    {"system_multi_turn",
     {{VLM_ROLE_SYSTEM, "You are a helpful assistant.  ", 0, false},
      {VLM_ROLE_USER, "  Compare them.\n", 2, false},
      {VLM_ROLE_ASSISTANT, " A cat. ", 0, false},
      {VLM_ROLE_USER, "\xe3\x80\x80" "And now?\t", 0, false}},
     4},
    {"text_only", {{VLM_ROLE_USER, "Hi", 0, false}}, 1},
};

/* The chat template (apply_chat_template(tokenize=False)) on the same
 * conversations, with and without the generation prompt. */
static void test_chat(const cJSON *texts) {
    char key[64], buf[1024];
    for (size_t c = 0; c < sizeof conversations / sizeof conversations[0]; c++) {
        const conversation *conv = &conversations[c];
        CHECK_OK(vlmi_gemma3_chat_check(conv->messages, conv->n));
        for (int gen = 0; gen <= 1; gen++) {
            snprintf(key, sizeof key, "chat_%s%s", conv->name, gen ? "_gen" : "");
            const cJSON *want = cJSON_GetObjectItem(texts, key);
            CHECK_MSG(cJSON_IsString(want), "%s missing", key);
            if (!cJSON_IsString(want)) continue;
            size_t n = vlmi_gemma3_chat_render(buf, sizeof buf, conv->messages, conv->n, gen);
            CHECK(n == strlen(want->valuestring) && n < sizeof buf);
            CHECK_MSG(strcmp(buf, want->valuestring) == 0, "%s: got\n%s", key, buf);
            CHECK(vlmi_gemma3_chat_render(NULL, 0, conv->messages, conv->n, gen) == n);
        }
    }
    /* the template raises unless roles alternate after the system message */
    vlmi_chat_message bad[3] = {{VLM_ROLE_USER, "a", 0, false},
                                {VLM_ROLE_USER, "b", 0, false},
                                {VLM_ROLE_ASSISTANT, "c", 0, false}};
    CHECK_STATUS(VLM_ERR_INVALID_ARGUMENT, vlmi_gemma3_chat_check(bad, 3));
    CHECK(strstr(vlm_last_error(), "message 1") != NULL);
    bad[0].role = VLM_ROLE_ASSISTANT;
    CHECK_STATUS(VLM_ERR_INVALID_ARGUMENT, vlmi_gemma3_chat_check(bad, 1));
    bad[0].role = VLM_ROLE_SYSTEM;
    bad[1].role = VLM_ROLE_SYSTEM;
    CHECK_STATUS(VLM_ERR_INVALID_ARGUMENT, vlmi_gemma3_chat_check(bad, 2));
    CHECK_OK(vlmi_gemma3_chat_check(bad, 1));
}

/* The rendered chat with each "<start_of_image>" replaced by the image's
 * text (what Gemma3Processor tokenizes), and its ids from our tokenizer. */
static void test_prompts(const vlmi_processor_config *config, const cJSON *texts) {
    static const char *const names[] = {"prompt_odd_off", "prompt_odd_on", "prompt_pano_off",
                                        "prompt_pano_on"};
    char path[1024];
    vlm_tokenizer *tokenizer = NULL;
    if (ref_data_path(path, sizeof path, "gemma3-vlm/tokenizer.json"))
        CHECK_OK(vlm_tokenizer_load(path, &tokenizer));
    for (int p = 0; p < 4; p++) {
        const cJSON *want = cJSON_GetObjectItem(texts, names[p]);
        const char *want_text = cJSON_GetStringValue(cJSON_GetObjectItem(want, "text"));
        const cJSON *want_ids = cJSON_GetObjectItem(want, "ids");
        CHECK_MSG(want_text != NULL, "%s missing", names[p]);
        if (want_text == NULL) continue;
        int image = p < 2 ? 0 : 1;
        vlmi_gemma3_plan plan;
        CHECK_OK(vlmi_gemma3_plan_image(&plan, config, p % 2 == 1, vlm_image_sizes[image][0],
                                        vlm_image_sizes[image][1]));
        char chat[256], expansion[4096], prompt[8192];
        vlmi_gemma3_chat_render(chat, sizeof chat, conversations[0].messages, 1, true);
        CHECK(vlmi_gemma3_expand_image(expansion, sizeof expansion, &plan) < sizeof expansion);
        const char *marker = strstr(chat, "<start_of_image>");
        CHECK(marker != NULL);
        if (marker == NULL) continue;
        snprintf(prompt, sizeof prompt, "%.*s%s%s", (int)(marker - chat), chat, expansion,
                 marker + strlen("<start_of_image>"));
        CHECK_MSG(strcmp(prompt, want_text) == 0, "%s: got\n%s", names[p], prompt);

        // ids: the tokenizer without the post-processor's BOS (the text has it)
        size_t n_ids = 0, n_want = (size_t)cJSON_GetArraySize(want_ids);
        int32_t ids[2048];
        if (tokenizer == NULL) continue;
        CHECK_OK(vlm_tokenize(tokenizer, prompt, strlen(prompt), VLM_TOKENIZE_PARSE_SPECIAL, ids,
                              2048, &n_ids));
        CHECK_MSG(n_ids == n_want, "%s: %zu ids, transformers %zu", names[p], n_ids, n_want);
        size_t n_image = 0;
        for (size_t i = 0; i < n_ids && i < n_want; i++) {
            CHECK_MSG(ids[i] == cJSON_GetArrayItem(want_ids, (int)i)->valueint,
                      "%s: id %zu is %d, transformers %d", names[p], i, (int)ids[i],
                      cJSON_GetArrayItem(want_ids, (int)i)->valueint);
            n_image += ids[i] == vlm_token_lookup(tokenizer, "<image_soft_token>");
        }
        CHECK(n_image == plan.n_rows);
    }
    vlm_tokenizer_free(tokenizer);
}

static void test_bad_input(const vlmi_processor_config *config) {
    vlmi_gemma3_plan plan;
    CHECK_STATUS(VLM_ERR_INVALID_ARGUMENT, vlmi_gemma3_plan_image(&plan, config, false, 0, 10));
    CHECK(strstr(vlm_last_error(), "0x10") != NULL);
    CHECK_STATUS(VLM_ERR_INVALID_ARGUMENT, vlmi_gemma3_plan_image(&plan, config, true, 10, 0));
    CHECK(plan.n_frames == 0);

    vlmi_processor_config c = *config;
    c.size.width = 200;
    CHECK_STATUS(VLM_ERR_FORMAT, vlmi_gemma3_plan_image(&plan, &c, false, 10, 10));
    CHECK(strstr(vlm_last_error(), "200x224") != NULL);
    c = *config;
    c.image_seq_len = 0;
    CHECK_STATUS(VLM_ERR_FORMAT, vlmi_gemma3_plan_image(&plan, &c, false, 10, 10));
    c = *config;
    c.do_resize = false;
    CHECK_STATUS(VLM_ERR_UNSUPPORTED, vlmi_gemma3_plan_image(&plan, &c, false, 10, 10));
    c = *config;
    c.pan_and_scan_min_crop_size = 0;
    CHECK_STATUS(VLM_ERR_FORMAT, vlmi_gemma3_plan_image(&plan, &c, true, 1000, 300));
    CHECK_OK(vlmi_gemma3_plan_image(&plan, &c, false, 1000, 300)); /* not read when off */

    /* 5x1 into 4 crops of 2: Python's slice [6:8] would be empty */
    c = *config;
    c.pan_and_scan_min_crop_size = 1;
    c.pan_and_scan_max_num_crops = 4;
    CHECK_STATUS(VLM_ERR_INVALID_ARGUMENT, vlmi_gemma3_plan_image(&plan, &c, true, 5, 1));
    CHECK(strstr(vlm_last_error(), "empty crop") != NULL);

    /* the rules' edges: a ratio just under the threshold is not cut; crops
     * shorter than min_crop_size leave the image whole */
    CHECK_OK(vlmi_gemma3_plan_image(&plan, config, true, 1199, 1000));
    CHECK(plan.n_crops == 0);
    CHECK_OK(vlmi_gemma3_plan_image(&plan, config, true, 1200, 1000));
    CHECK(plan.n_crops == 2 && plan.crop_cols == 2 && plan.crop_width == 600);
    CHECK_OK(vlmi_gemma3_plan_image(&plan, config, true, 500, 200));
    CHECK(plan.n_crops == 0);

    float one;
    CHECK_OK(vlmi_gemma3_plan_image(&plan, config, false, 4, 4));
    uint8_t rgb[4 * 4 * 3] = {0};
    CHECK_STATUS(VLM_ERR_INVALID_ARGUMENT,
                 vlmi_gemma3_frame_pixels(&one, &plan, config, rgb, 4, 4, 1));
}

/* gemma-3-4b-it's own processor files (shared assets; skipped without them):
 * null pan & scan settings take Gemma3Processor's defaults, and the crop
 * rules do not depend on the frame side, so the panorama is cut as
 * transformers cut it for the fixture. */
static void test_real_config(const cJSON *reference) {
    const char *assets = getenv("VLM_SHARED_ASSETS");
    char path[1024];
    size_t size = 0;
    if (assets == NULL) return;
    snprintf(path, sizeof path, "%s/google__gemma-3-4b-it/preprocessor_config.json", assets);
    char *json = (char *)test_read_file(path, &size);
    if (json == NULL) {
        printf("gemma-3-4b-it preprocessor_config.json not found: real-config checks skipped\n");
        return;
    }
    vlmi_processor_config config;
    CHECK_OK(vlmi_processor_config_parse(json, size, "preprocessor_config.json", &config));
    free(json);
    vlmi_gemma3_plan plan;
    CHECK_OK(vlmi_gemma3_plan_image(&plan, &config, config.do_pan_and_scan, 1000, 300));
    CHECK(plan.image_size == 896 && plan.tokens_per_image == 256 && plan.n_crops == 0);
    CHECK_OK(vlmi_gemma3_plan_image(&plan, &config, true, 1000, 300));
    const cJSON *crops = cJSON_GetObjectItem(reference, "num_crops_on");
    CHECK(cJSON_GetArraySize(crops) == VLM_N_IMAGES &&
          plan.n_crops == (uint32_t)cJSON_GetArrayItem(crops, 1)->valueint);
    CHECK(plan.n_rows == 256 * plan.n_frames);
}

int main(void) {
    if (getenv("VLM_TEST_DATA") == NULL) return TEST_SKIP_CODE;
    vlmi_processor_config config;
    CHECK_OK(vlm_processor_config(&config));
    /* the real settings, only the side and the token count shrunk */
    CHECK(!config.do_pan_and_scan && config.resample == 2 && config.size.height == 224);
    CHECK(config.pan_and_scan_min_crop_size == 256 && config.pan_and_scan_max_num_crops == 4);
    CHECK(config.image_seq_len == 16);
    cJSON *reference = ref_read_json("gemma3-vlm/reference.json");
    cJSON *texts = ref_read_json("gemma3-vlm/texts.json");
    if (reference != NULL && texts != NULL) {
        test_pixels(&config, reference, false);
        test_pixels(&config, reference, true);
        printf("pixel_values max |diff| against transformers: %.3g\n", worst_pixel_diff);
        test_expansion(&config, texts);
        test_chat(texts);
        test_prompts(&config, texts);
        test_real_config(reference);
    }
    test_bad_input(&config);
    cJSON_Delete(texts);
    cJSON_Delete(reference);
    return test_finish("gemma3_processor");
}
