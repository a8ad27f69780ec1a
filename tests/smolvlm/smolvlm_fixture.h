/* Shared by the SmolVLM end-to-end tests: paths into tests/data, JSON
 * fixtures from tests/gen/make_smolvlm_e2e.py, and the generator's pattern
 * images. */
#ifndef VLM_TESTS_SMOLVLM_FIXTURE_H
#define VLM_TESTS_SMOLVLM_FIXTURE_H

#include "vlm.h"
#include "test.h"

#include <cjson/cJSON.h>
#include <stdint.h>

/* "$VLM_TEST_DATA/rel" in buf; false if the variable is unset. */
static inline bool sv_path(char *buf, size_t size, const char *rel) {
    const char *dir = getenv("VLM_TEST_DATA");
    if (dir == NULL) return false;
    snprintf(buf, size, "%s/%s", dir, rel);
    return true;
}

/* Parses tests/data/<rel> as JSON; NULL (and a failed check) if it cannot. */
static inline cJSON *sv_read_json(const char *rel) {
    char path[2048];
    size_t size = 0;
    if (!sv_path(path, sizeof path, rel)) return NULL;
    char *text = (char *)test_read_file(path, &size);
    CHECK_MSG(text != NULL, "cannot read %s", path);
    if (text == NULL) return NULL;
    cJSON *json = cJSON_ParseWithLength(text, size);
    free(text);
    CHECK_MSG(json != NULL, "%s is not JSON", path);
    return json;
}

/* A whole tests/data file, checked to hold n elements of elem_size. */
static inline void *sv_read_array(const char *rel, size_t n, size_t elem_size) {
    char path[2048];
    size_t size = 0;
    if (!sv_path(path, sizeof path, rel)) return NULL;
    unsigned char *data = test_read_file(path, &size);
    CHECK_MSG(data != NULL && size == n * elem_size, "%s: %zu bytes, expected %zu", path, size,
              n * elem_size);
    if (data != NULL && size != n * elem_size) { free(data); data = NULL; }
    return data;
}

static inline int sv_int(const cJSON *object, const char *key) {
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(object, key);
    return cJSON_IsNumber(item) ? item->valueint : -1;
}

static inline const char *sv_string(const cJSON *object, const char *key) {
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(object, key);
    return cJSON_IsString(item) ? item->valuestring : "";
}

/* A JSON array of integers as a malloc'd int32 array; *n receives its length. */
static inline int32_t *sv_ids(const cJSON *array, size_t *n) {
    *n = (size_t)cJSON_GetArraySize(array);
    int32_t *ids = malloc((*n ? *n : 1) * sizeof *ids);
    size_t i = 0;
    const cJSON *item;
    cJSON_ArrayForEach(item, array) ids[i++] = (int32_t)item->valuedouble;
    return ids;
}

/* The generator's synthetic image: (x*x + 3y*y + 7xy + 50c + (x^y)) mod 256. */
static inline vlm_image *sv_pattern_image(uint32_t width, uint32_t height) {
    uint8_t *rgb = malloc((size_t)width * height * 3);
    if (rgb == NULL) return NULL;
    for (uint64_t y = 0; y < height; y++)
        for (uint64_t x = 0; x < width; x++)
            for (uint64_t c = 0; c < 3; c++)
                rgb[(y * width + x) * 3 + c] =
                    (uint8_t)((x * x + 3 * y * y + 7 * x * y + 50 * c + (x ^ y)) % 256);
    vlm_image *image = NULL;
    CHECK_OK(vlm_image_from_pixels(rgb, (size_t)width * height * 3, width, height, 0, VLM_PIXEL_RGB8, &image));
    free(rgb);
    return image;
}

static inline float sv_max_abs_diff(const float *a, const float *b, size_t n) {
    float max = 0.0f;
    for (size_t i = 0; i < n; i++) {
        float d = fabsf(a[i] - b[i]);
        if (!(d <= max)) max = d; /* NaN propagates */
    }
    return max;
}

#endif
