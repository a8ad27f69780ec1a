/* EXIF orientation as PIL.ImageOps.exif_transpose applies it: orientation
 * N maps to one of Pillow's seven Image.transpose methods. */
#include "image/image.h"

#include <stdlib.h>
#include <string.h>

vlm_status vlmi_image_apply_orientation(vlm_image **image, int orientation) {
    if (orientation < 2 || orientation > 8) return VLM_OK;
    const vlm_image *in = *image;
    uint32_t w = in->width, h = in->height;
    bool swaps = orientation >= 5;  /* transpose, rotations by 90, transverse */
    vlm_image *out;
    vlm_status st = vlmi_image_new(swaps ? h : w, swaps ? w : h, in->format, UINT64_MAX,
                                   "image", &out);
    if (st != VLM_OK) return st;
    uint32_t ow = out->width, oh = out->height;
    for (uint32_t y = 0; y < oh; y++) {
        uint8_t *dst = out->pixels + (size_t)y * ow * 3;
        for (uint32_t x = 0; x < ow; x++, dst += 3) {
            uint32_t sx, sy;  /* source pixel of output (x, y) */
            switch (orientation) {
            case 2: sx = w - 1 - x; sy = y; break;              /* FLIP_LEFT_RIGHT */
            case 3: sx = w - 1 - x; sy = h - 1 - y; break;      /* ROTATE_180 */
            case 4: sx = x; sy = h - 1 - y; break;              /* FLIP_TOP_BOTTOM */
            case 5: sx = y; sy = x; break;                      /* TRANSPOSE */
            case 6: sx = y; sy = h - 1 - x; break;              /* ROTATE_270 (cw 90) */
            case 7: sx = w - 1 - y; sy = h - 1 - x; break;      /* TRANSVERSE */
            default: sx = w - 1 - y; sy = x; break;             /* 8: ROTATE_90 (ccw) */
            }
            memcpy(dst, in->pixels + ((size_t)sy * w + sx) * 3, 3);
        }
    }
    vlm_image_free(*image);
    *image = out;
    return VLM_OK;
}
