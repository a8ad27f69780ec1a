/* Fuzz target: vlm_parse_grounding on arbitrary bytes, and the Qwen2-VL
 * smart_resize / plan on sizes taken from them. Invariants checked: the
 * size query and the fill agree, accepted items lie inside the image with
 * ordered corners, labels are NUL-terminated, counts add up. */
#include "arch/qwen2_5_vl_processor.h"
#include "vlm.h"

#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define CAPACITY 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    uint32_t dims[4] = {640, 480, 644, 476};
    bool sized = size >= 8;
    if (sized) { /* the first 8 bytes pick the sizes (0 included), the rest is the answer */
        for (int k = 0; k < 4; k++) dims[k] = (uint32_t)(data[2 * k] << 8 | data[2 * k + 1]);
        data += 8;
        size -= 8;
    }
    const char *answer = (const char *)data;
    size_t n = 0, rejected = 0, n_again = 0, rejected_again = 0;
    vlm_status st = vlm_parse_grounding(answer, size, dims[0], dims[1], dims[2], dims[3], NULL,
                                        sizeof(vlm_grounding_item), 0, &n, &rejected);
    if (st == VLM_OK && n != 0) __builtin_trap();
    static vlm_grounding_item items[CAPACITY];
    vlm_status fill = vlm_parse_grounding(answer, size, dims[0], dims[1], dims[2], dims[3], items,
                                          sizeof items[0], CAPACITY, &n_again, &rejected_again);
    if ((st == VLM_OK || st == VLM_ERR_BUFFER_TOO_SMALL) &&
        (n_again != n || rejected_again != rejected || rejected > n))
        __builtin_trap();
    if (fill == VLM_OK) {
        size_t counted = 0;
        for (size_t i = 0; i < n; i++) {
            const vlm_grounding_item *it = &items[i];
            if (memchr(it->label, '\0', sizeof it->label) == NULL) __builtin_trap();
            if (it->kind == VLM_GROUNDING_REJECTED) { counted++; continue; }
            if (!(it->x1 >= 0.0f && it->x1 <= it->x2 && it->x2 <= (float)dims[0] &&
                  it->y1 >= 0.0f && it->y1 <= it->y2 && it->y2 <= (float)dims[1]))
                __builtin_trap();
        }
        if (counted != rejected) __builtin_trap();
    }

    if (sized) {
        uint32_t rh, rw;
        int64_t min_pixels = (int64_t)dims[2] * dims[3], max_pixels = (int64_t)dims[3] * 4096 + 1;
        if (vlmi_qwen2vl_smart_resize(&rh, &rw, dims[0] + 1u, dims[1] + 1u, 28, min_pixels,
                                      max_pixels) == VLM_OK &&
            (rh % 28 != 0 || rw % 28 != 0 || rh == 0 || rw == 0))
            __builtin_trap();
    }
    return 0;
}
