/* Shared by the Gemma 3 vision-side tests: the tiny random-weight
 * Gemma3ForConditionalGeneration hub directory in tests/data/gemma3-vlm and
 * transformers' outputs beside it (made by
 * tests/gen/make_gemma3_vlm_reference.py). */
#ifndef VLM_TESTS_GEMMA3_VLM_FIXTURE_H
#define VLM_TESTS_GEMMA3_VLM_FIXTURE_H

#include "arch/gemma3.h"
#include "arch/gemma3_chat.h"
#include "arch/gemma3_processor.h"
#include "test.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdint.h>

#define VLM_N_IMAGES 3
#define VLM_FRAME_SIDE 224
#define VLM_N_FRAMES_ON 8  /* frames of the three images with pan & scan on */

/* The test images as the generator makes them (its image_rgb). */
static const uint32_t vlm_image_sizes[VLM_N_IMAGES][2] = {{301, 257}, {1000, 300}, {300, 700}};

/* "$VLM_TEST_DATA/gemma3-vlm/rel" in buf; false if the variable is unset. */
static inline bool vlm_data_path(char *buf, size_t size, const char *rel) {
    const char *dir = getenv("VLM_TEST_DATA");
    if (dir == NULL) return false;
    snprintf(buf, size, "%s/gemma3-vlm/%s", dir, rel);
    return true;
}

/* A whole reference file, checked to hold exactly n elements of elem_size;
 * n == 0 accepts any size (returned in *n_out if not NULL). */
static inline void *vlm_read(const char *rel, size_t n, size_t elem_size, size_t *n_out) {
    char path[1024];
    size_t size = 0;
    if (!vlm_data_path(path, sizeof path, rel)) return NULL;
    unsigned char *data = test_read_file(path, &size);
    CHECK_MSG(data != NULL, "cannot read %s", path);
    if (data != NULL && ((n > 0 && size != n * elem_size) || size % elem_size != 0)) {
        CHECK_MSG(0, "%s: %zu bytes, expected %zu", path, size, n * elem_size);
        free(data);
        return NULL;
    }
    if (n_out != NULL) *n_out = size / elem_size;
    return data;
}

/* A JSON file of the fixture; caller deletes. */
static inline cJSON *vlm_read_json(const char *rel) {
    size_t size = 0;
    char *text = vlm_read(rel, 0, 1, &size);
    if (text == NULL) return NULL;
    cJSON *json = cJSON_ParseWithLength(text, size);
    CHECK_MSG(json != NULL, "cannot parse %s", rel);
    free(text);
    return json;
}

/* The generator's image_rgb: an integer formula, so no image file is needed.
 * -> rgb (height, width, 3), caller frees */
static inline uint8_t *vlm_image_rgb(uint32_t width, uint32_t height) {
    uint8_t *rgb = malloc((size_t)width * height * 3);
    if (rgb == NULL) return NULL;
    for (uint32_t y = 0; y < height; y++)
        for (uint32_t x = 0; x < width; x++)
            for (uint32_t c = 0; c < 3; c++) {
                uint64_t v = (uint64_t)x * (3 + c) + (uint64_t)y * (5 + 2 * c) +
                             (uint64_t)((x ^ y) & 63) * 2 + (((uint64_t)x * y) >> 5);
                rgb[((size_t)y * width + x) * 3 + c] = (uint8_t)(v % 256);
            }
    return rgb;
}

/* preprocessor_config.json then processor_config.json of the fixture. */
static inline vlm_status vlm_processor_config(vlmi_processor_config *config) {
    size_t size = 0;
    char *json = vlm_read("preprocessor_config.json", 0, 1, &size);
    if (json == NULL) return VLM_ERR_IO;
    vlm_status st = vlmi_processor_config_parse(json, size, "preprocessor_config.json", config);
    free(json);
    if (st != VLM_OK) return st;
    json = vlm_read("processor_config.json", 0, 1, &size);
    if (json == NULL) return VLM_ERR_IO;
    st = vlmi_processor_config_apply_processor_json(json, size, "processor_config.json", config);
    free(json);
    return st;
}

/* The reference's pixel_values of frame k (pan & scan on, all images):
 * frames.u8 holds, per value, its index into pixel_table.f32 (the
 * generator checked the pair gives transformers' floats bit for bit).
 * -> out (3, 224, 224) */
static inline void vlm_reference_frame(float *out, const uint8_t *frames, const float *table,
                                       size_t k) {
    size_t plane = (size_t)VLM_FRAME_SIDE * VLM_FRAME_SIDE;
    const uint8_t *f = frames + k * 3 * plane;
    for (size_t c = 0; c < 3; c++)
        for (size_t i = 0; i < plane; i++) out[c * plane + i] = table[c * 256 + f[c * plane + i]];
}

static inline float vlm_max_abs_diff(const float *a, const float *b, size_t n) {
    float max = 0.0f;
    for (size_t i = 0; i < n; i++) {
        float d = fabsf(a[i] - b[i]);
        if (!(d <= max)) max = d; /* NaN propagates */
    }
    return max;
}

static inline int32_t vlm_argmax(const float *x, size_t n) {
    size_t best = 0;
    for (size_t i = 1; i < n; i++) if (x[i] > x[best]) best = i;
    return (int32_t)best;
}

#endif
