/* Shared by the SmolVLM end-to-end tests: paths into tests/data, JSON
 * fixtures from tests/gen/make_smolvlm_e2e.py, and the generator's pattern
 * images. */
#ifndef VLM_TESTS_SMOLVLM_FIXTURE_H
#define VLM_TESTS_SMOLVLM_FIXTURE_H

#include "vlm.h"
#include "reference.h"

#include <stdint.h>

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

#endif
