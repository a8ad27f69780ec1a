/* Per-row pixel conversions into RGB8, each matching the Pillow conversion a
 * Hugging Face processor applies (convert("RGBA"), alpha_composite over
 * white, convert("RGB")). */
#include "image/image.h"

void vlmi_row_adobe_cmyk_to_rgb(uint8_t *rgb, const uint8_t *cmyk, uint32_t width) {
    /* Pillow reads JPEG CMYK as "CMYK;I" (Adobe's inverted polarity), then
     * Convert.c's cmyk2rgb: channel = nk - nk * c / 255 with k and c inverted
     * back, rounded as (t + 128 + ((t + 128) >> 8)) >> 8. */
    for (uint32_t x = 0; x < width; x++, cmyk += 4, rgb += 3) {
        int nk = cmyk[3];  /* 255 - (255 - stored k) */
        for (int i = 0; i < 3; i++) {
            int c = 255 - cmyk[i];
            int t = c * nk + 128;
            int v = nk - (((t >> 8) + t) >> 8);
            rgb[i] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
        }
    }
}

void vlmi_row_pixels_to_rgb(uint8_t *rgb, const uint8_t *src, uint32_t width,
                            vlm_pixel_format format) {
    switch (format) {
    case VLM_PIXEL_RGB8:
        for (uint32_t x = 0; x < width; x++, src += 3, rgb += 3) {
            rgb[0] = src[0]; rgb[1] = src[1]; rgb[2] = src[2];
        }
        break;
    case VLM_PIXEL_BGR8:
        for (uint32_t x = 0; x < width; x++, src += 3, rgb += 3) {
            rgb[0] = src[2]; rgb[1] = src[1]; rgb[2] = src[0];
        }
        break;
    case VLM_PIXEL_RGBA8:
        for (uint32_t x = 0; x < width; x++, src += 4, rgb += 3) {
            rgb[0] = vlmi_over_white(src[0], src[3]);
            rgb[1] = vlmi_over_white(src[1], src[3]);
            rgb[2] = vlmi_over_white(src[2], src[3]);
        }
        break;
    case VLM_PIXEL_BGRA8:
        for (uint32_t x = 0; x < width; x++, src += 4, rgb += 3) {
            rgb[0] = vlmi_over_white(src[2], src[3]);
            rgb[1] = vlmi_over_white(src[1], src[3]);
            rgb[2] = vlmi_over_white(src[0], src[3]);
        }
        break;
    case VLM_PIXEL_GRAY8:
        for (uint32_t x = 0; x < width; x++, src += 1, rgb += 3)
            rgb[0] = rgb[1] = rgb[2] = src[0];
        break;
    }
}
