/* Shared by the Gemma 3 vision-side tests: the tiny random-weight
 * Gemma3ForConditionalGeneration hub directory in tests/data/gemma3-vlm and
 * transformers' outputs beside it (made by
 * tests/gen/make_gemma3_vlm_reference.py). */
#ifndef VLM_TESTS_GEMMA3_VLM_FIXTURE_H
#define VLM_TESTS_GEMMA3_VLM_FIXTURE_H

#include "arch/gemma3.h"
#include "arch/gemma3_chat.h"
#include "arch/gemma3_processor.h"
#include "reference.h"

#include <stdint.h>

#define VLM_N_IMAGES 3
#define VLM_FRAME_SIDE 224
#define VLM_N_FRAMES_ON 8  /* frames of the three images with pan & scan on */

/* The test images as the generator makes them (its image_rgb). */
static const uint32_t vlm_image_sizes[VLM_N_IMAGES][2] = {{301, 257}, {1000, 300}, {300, 700}};

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
    char *json = ref_read("gemma3-vlm/preprocessor_config.json", 0, 1, &size);
    if (json == NULL) return VLM_ERR_IO;
    vlm_status st = vlmi_processor_config_parse(json, size, "preprocessor_config.json", config);
    free(json);
    if (st != VLM_OK) return st;
    json = ref_read("gemma3-vlm/processor_config.json", 0, 1, &size);
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

#endif
