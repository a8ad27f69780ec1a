/* libFuzzer target for the image decoders: any bytes through
 * vlm_image_load_memory (JPEG, PNG, EXIF orientation), and a small resize of
 * whatever decodes. The pixel limit is lowered so the fuzzer explores
 * headers instead of spending its memory on legitimately huge images. */
#include "vlm.h"

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    vlm_image_params params;
    vlm_image_params_init(&params, sizeof params);
    params.max_pixels = 512u * 1024;
    params.apply_exif_orientation = size > 0 && (data[size - 1] & 1);  /* both paths */
    vlm_image *image = NULL;
    if (vlm_image_load_memory(data, size, &params, &image) != VLM_OK) return 0;
    uint32_t width = vlm_image_width(image), height = vlm_image_height(image);
    /* Derive the target and filter from the input so every filter runs. */
    uint32_t target_w = 1 + (width * 3 + size) % 47, target_h = 1 + (height * 5 + size) % 31;
    vlm_resample filter = (vlm_resample)(size % 4);
    vlm_image *resized = NULL;
    if (vlm_image_resize(image, target_w, target_h, filter, &resized) == VLM_OK) {
        const uint8_t *px = vlm_image_pixels(resized);
        volatile uint8_t sink = px[0] ^ px[(size_t)target_w * target_h * 3 - 1];
        (void)sink;
    }
    vlm_image_free(resized);
    vlm_image_free(image);
    return 0;
}
