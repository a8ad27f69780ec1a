/* Internal image API: the vlm_image struct, the decoders behind
 * vlm_image_load_*, and the PIL-exact resampler the model processors call on
 * raw buffers. Never installed. */
#ifndef VLM_IMAGE_IMAGE_H
#define VLM_IMAGE_IMAGE_H

#include "vlm-impl.h"

#include <stdbool.h>

/* Immutable once returned to a caller: pixels (height, width, 3) RGB8, rows
 * tightly packed, one allocation. */
struct vlm_image {
    uint32_t width;
    uint32_t height;
    vlm_image_format format;   /* where the pixels came from */
    uint8_t *pixels;           /* (height, width, 3) */
};

#define VLMI_IMAGE_DEFAULT_MAX_PIXELS (64u * 1024u * 1024u)

/* What the decoders need from vlm_image_params, already defaulted. */
typedef struct vlmi_decode_options {
    uint64_t max_pixels;          /* never 0 */
    bool apply_exif_orientation;
} vlmi_decode_options;

/* ---- image objects (image.c) ---- */

/* Allocates an image with uninitialized pixels after checking width*height
 * against max_pixels (VLM_ERR_LIMIT) and the byte size against overflow.
 * what names the image in messages ("photo.jpg", "image"). */
vlm_status vlmi_image_new(uint32_t width, uint32_t height, vlm_image_format format,
                          uint64_t max_pixels, const char *what, vlm_image **out);

/* Fails with VLM_ERR_LIMIT unless 0 < width*height <= max_pixels; called on
 * header dimensions before any pixel memory is allocated. */
vlm_status vlmi_image_check_size(uint64_t width, uint64_t height, uint64_t max_pixels,
                                 const char *what);

/* ---- decoders (decode_jpeg.c, decode_png.c) ----
 * Decode complete files held in memory into a new RGB image. Messages start
 * with what. Data that is not of the decoder's format is VLM_ERR_FORMAT. */
bool vlmi_is_jpeg(const uint8_t *data, size_t size);
bool vlmi_is_png(const uint8_t *data, size_t size);
vlm_status vlmi_decode_jpeg(const uint8_t *data, size_t size, const vlmi_decode_options *opts,
                            const char *what, vlm_image **out);
vlm_status vlmi_decode_png(const uint8_t *data, size_t size, const vlmi_decode_options *opts,
                           const char *what, vlm_image **out);

/* ---- pixel conversions (pixels.c), each as Pillow does them ---- */

/* Pillow's Image.alpha_composite of (c, alpha) over opaque white, one channel. */
static inline uint8_t vlmi_over_white(uint8_t c, uint8_t alpha) {
    if (alpha == 0) return 255;
    /* AlphaComposite.c with dst = (255, 255, 255, 255): 7 extra bits,
     * divisions by 255 done as (t + (t >> 8)) >> 8. */
    uint32_t blend = 255u * (255u - alpha);
    uint32_t out_a255 = alpha * 255u + blend;
    uint32_t coef1 = alpha * 255u * 255u * 128u / out_a255;
    uint32_t coef2 = 255u * 128u - coef1;
    uint32_t t = c * coef1 + 255u * coef2 + (0x80u << 7);
    return (uint8_t)((((t >> 8) + t) >> 8) >> 7);
}

/* Pillow's CMYK -> RGB for the inverted (Adobe) samples libjpeg returns. */
void vlmi_row_adobe_cmyk_to_rgb(uint8_t *rgb, const uint8_t *cmyk, uint32_t width);

/* Copies width pixels of a caller's frame into RGB8 (alpha over white). */
void vlmi_row_pixels_to_rgb(uint8_t *rgb, const uint8_t *src, uint32_t width,
                            vlm_pixel_format format);

/* ---- EXIF orientation (exif.c) ---- */

/* The Orientation (tag 0x0112) of IFD0 in an EXIF blob ("Exif\0\0" + TIFF
 * data, or TIFF data alone) as Pillow's getexif() reads it: -1 if there is no
 * such entry (then Pillow consults XMP), 0 if there is one that is not a
 * single integer. Never reads outside [data, data + size). */
int vlmi_exif_orientation(const uint8_t *data, size_t size);
/* Pillow's XMP fallback: the digit after 'tiff:Orientation="' or
 * 'tiff:Orientation>' in an XMP packet; 0 if none. */
int vlmi_xmp_orientation(const uint8_t *data, size_t size);

/* ---- orientation (orient.c) ---- */

/* Replaces *image by its transposition for EXIF orientation 2..8, exactly as
 * PIL.ImageOps.exif_transpose; other values leave it unchanged. On failure
 * *image is left as it was. */
vlm_status vlmi_image_apply_orientation(vlm_image **image, int orientation);

/* ---- resampling (resize.c) ---- */

/* Pillow's filter numbers beyond the public enum (Image.Resampling). */
#define VLMI_RESAMPLE_BOX     4
#define VLMI_RESAMPLE_HAMMING 5

/* Resizes interleaved 8-bit pixels (channels 1..4, strides in bytes) exactly
 * as Pillow's Image.resize((dst_width, dst_height), filter) on an image of
 * that many 8-bit bands (for 4 channels: a band-independent mode like RGBX or
 * CMYK, not RGBA, which Pillow premultiplies first). filter: vlm_resample
 * value or VLMI_RESAMPLE_BOX/HAMMING. src and dst must not overlap.
 * Allocates scratch memory; fails only with VLM_ERR_INVALID_ARGUMENT or
 * VLM_ERR_OUT_OF_MEMORY. Thread-safe. */
vlm_status vlmi_resize_u8(const uint8_t *src, uint32_t src_width, uint32_t src_height,
                          size_t src_stride, uint8_t *dst, uint32_t dst_width,
                          uint32_t dst_height, size_t dst_stride, int channels, int filter);

#endif
