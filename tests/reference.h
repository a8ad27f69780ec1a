/* Reading what the generators in tests/gen wrote under $VLM_TEST_DATA and
 * comparing with it: shared by the reference tests of every family. */
#ifndef VLM_TESTS_REFERENCE_H
#define VLM_TESTS_REFERENCE_H

#include "model/config.h"
#include "io/safetensors.h"
#include "test.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

/* "$VLM_TEST_DATA/rel" in buf; false if the variable is unset. */
static inline bool ref_data_path(char *buf, size_t size, const char *rel) {
    const char *dir = getenv("VLM_TEST_DATA");
    if (dir == NULL) return false;
    snprintf(buf, size, "%s/%s", dir, rel);
    return true;
}

/* A whole reference file, checked to hold exactly n elements of elem_size;
 * n == 0 accepts any whole number of them (returned in *n_out if not NULL). */
static inline void *ref_read(const char *rel, size_t n, size_t elem_size, size_t *n_out) {
    char path[1024];
    size_t size = 0;
    if (!ref_data_path(path, sizeof path, rel)) return NULL;
    unsigned char *data = test_read_file(path, &size);
    CHECK_MSG(data != NULL, "cannot read %s", path);
    if (data != NULL && ((n > 0 && size != n * elem_size) || size % elem_size != 0)) {
        CHECK_MSG(0, "%s: %zu bytes, expected %zu", path, size, n * elem_size);
        free(data);
        return NULL;
    }
    if (data != NULL && n_out != NULL) *n_out = size / elem_size;
    return data;
}

/* A JSON file of the fixtures; caller deletes. */
static inline cJSON *ref_read_json(const char *rel) {
    size_t size = 0;
    char *text = ref_read(rel, 0, 1, &size);
    if (text == NULL) return NULL;
    cJSON *json = cJSON_ParseWithLength(text, size);
    CHECK_MSG(json != NULL, "cannot parse %s", rel);
    free(text);
    return json;
}

/* Parses the config.json of the hub directory rel and opens its weights;
 * the caller binds, then frees both. */
static inline vlm_status ref_open_model(const char *rel, vlmi_model_config *config,
                                        vlmi_safetensors_set **weights) {
    char path[1024];
    size_t size = 0;
    memset(config, 0, sizeof *config);
    *weights = NULL;
    if (!ref_data_path(path, sizeof path, rel)) return VLM_ERR_IO;
    size_t len = strlen(path);
    snprintf(path + len, sizeof path - len, "/config.json");
    unsigned char *json = test_read_file(path, &size);
    if (json == NULL) return VLM_ERR_IO;
    vlm_status st = vlmi_model_config_parse((const char *)json, size, "config.json", config);
    free(json);
    if (st != VLM_OK) return st;
    path[len] = '\0';
    return vlmi_safetensors_set_open(path, weights);
}

/* The generators' test pattern (make_qwen2_5_vl_*reference.py,
 * make_shieldgemma2_reference.py): channel c of pixel (x, y) in frame k is
 * (x*x + 3*y*y + 7*x*y + 50*c + (x ^ y) + 37*k) mod 256. */
static inline vlm_image *ref_pattern_image(uint32_t w, uint32_t h, uint32_t k) {
    uint8_t *rgb = malloc((size_t)w * h * 3);
    if (rgb == NULL) return NULL;
    for (uint32_t y = 0; y < h; y++)
        for (uint32_t x = 0; x < w; x++)
            for (uint32_t c = 0; c < 3; c++)
                rgb[((size_t)y * w + x) * 3 + c] = (uint8_t)(((uint64_t)x * x + 3ull * y * y +
                    7ull * x * y + 50 * c + (x ^ y) + 37ull * k) % 256);
    vlm_image *image = NULL;
    CHECK_OK(vlm_image_from_pixels(rgb, (size_t)w * h * 3, w, h, (size_t)w * 3, VLM_PIXEL_RGB8,
                                   &image));
    free(rgb);
    return image;
}

static inline float ref_max_abs_diff(const float *a, const float *b, size_t n) {
    float max = 0.0f;
    for (size_t i = 0; i < n; i++) {
        float d = fabsf(a[i] - b[i]);
        if (!(d <= max)) max = d; /* NaN propagates */
    }
    return max;
}

static inline int32_t ref_argmax(const float *x, size_t n) {
    size_t best = 0;
    for (size_t i = 1; i < n; i++) if (x[i] > x[best]) best = i;
    return (int32_t)best;
}

#endif
