/* The public vlm_image_* entry points: argument checks, parameter defaults,
 * format sniffing, and the image object's lifetime. */
#include "image/image.h"
#include "io/file.h"

#include <stdlib.h>
#include <string.h>

void vlm_image_params_init(vlm_image_params *params, size_t struct_size) {
    vlm_image_params defaults = {
        .struct_size = sizeof defaults,
        .max_pixels = VLMI_IMAGE_DEFAULT_MAX_PIXELS,
        .apply_exif_orientation = true,
    };
    vlmi_params_defaults(params, struct_size, &defaults, sizeof defaults);
}

vlm_status vlmi_image_check_size(uint64_t width, uint64_t height, uint64_t max_pixels,
                                 const char *what) {
    if (width == 0 || height == 0)
        return vlmi_fail(VLM_ERR_FORMAT, "%s: image has zero width or height", what);
    /* width, height < 2^32, so the product cannot overflow 64 bits. */
    if (width * height > max_pixels)
        return vlmi_fail(VLM_ERR_LIMIT,
                         "%s: %llux%llu image has more than the %llu pixels allowed", what,
                         (unsigned long long)width, (unsigned long long)height,
                         (unsigned long long)max_pixels);
    return VLM_OK;
}

vlm_status vlmi_image_new(uint32_t width, uint32_t height, vlm_image_format format,
                          uint64_t max_pixels, const char *what, vlm_image **out) {
    *out = NULL;
    vlm_status st = vlmi_image_check_size(width, height, max_pixels, what);
    if (st != VLM_OK) return st;
    size_t n_pixels, n_bytes;
    if (vlmi_mul_overflow(width, height, &n_pixels) || vlmi_mul_overflow(n_pixels, 3, &n_bytes))
        return vlmi_fail(VLM_ERR_LIMIT, "%s: %ux%u image is too large for this machine", what,
                         width, height);
    vlm_image *image = vlmi_malloc(sizeof *image);
    if (image == NULL) return VLM_ERR_OUT_OF_MEMORY;
    image->pixels = vlmi_malloc(n_bytes);
    if (image->pixels == NULL) {
        free(image);
        return VLM_ERR_OUT_OF_MEMORY;
    }
    image->width = width;
    image->height = height;
    image->format = format;
    *out = image;
    return VLM_OK;
}

/* params -> decoder options; max_pixels 0 means the default. */
static vlmi_decode_options read_options(const vlm_image_params *params) {
    vlm_image_params p;
    VLMI_READ_PARAMS(p, params, vlm_image_params_init);
    vlmi_decode_options opts = {p.max_pixels ? p.max_pixels : VLMI_IMAGE_DEFAULT_MAX_PIXELS,
                                p.apply_exif_orientation};
    return opts;
}

static vlm_status decode_bytes(const uint8_t *data, size_t size, const vlm_image_params *params,
                               const char *what, vlm_image **out) {
    vlmi_decode_options opts = read_options(params);
    if (vlmi_is_jpeg(data, size)) return vlmi_decode_jpeg(data, size, &opts, what, out);
    if (vlmi_is_png(data, size)) return vlmi_decode_png(data, size, &opts, what, out);
    if (size == 0) return vlmi_fail(VLM_ERR_FORMAT, "%s: empty, not a JPEG or PNG image", what);
    return vlmi_fail(VLM_ERR_FORMAT, "%s: not a JPEG or PNG image", what);
}

vlm_status vlm_image_load_file(const char *path, const vlm_image_params *params,
                               vlm_image **out) {
    vlmi_clear_error();
    if (out == NULL) return vlmi_fail(VLM_ERR_INVALID_ARGUMENT, "vlm_image_load_file: out is NULL");
    *out = NULL;
    if (path == NULL)
        return vlmi_fail(VLM_ERR_INVALID_ARGUMENT, "vlm_image_load_file: path is NULL");
    vlmi_mapped_file file;
    vlm_status st = vlmi_file_map(path, &file);
    if (st != VLM_OK) return st;
    st = decode_bytes(file.data, file.size, params, path, out);
    vlmi_file_unmap(&file);
    return st;
}

vlm_status vlm_image_load_memory(const void *data, size_t size, const vlm_image_params *params,
                                 vlm_image **out) {
    vlmi_clear_error();
    if (out == NULL)
        return vlmi_fail(VLM_ERR_INVALID_ARGUMENT, "vlm_image_load_memory: out is NULL");
    *out = NULL;
    if (data == NULL && size != 0)
        return vlmi_fail(VLM_ERR_INVALID_ARGUMENT, "vlm_image_load_memory: data is NULL");
    static const uint8_t nothing[1];
    return decode_bytes(data ? data : nothing, size, params, "image", out);
}

static int bytes_per_pixel(vlm_pixel_format format) {
    switch (format) {
    case VLM_PIXEL_RGB8: case VLM_PIXEL_BGR8: return 3;
    case VLM_PIXEL_RGBA8: case VLM_PIXEL_BGRA8: return 4;
    case VLM_PIXEL_GRAY8: return 1;
    }
    return 0;
}

vlm_status vlm_image_from_pixels(const void *pixels, size_t pixels_size, uint32_t width,
                                 uint32_t height, size_t stride_bytes, vlm_pixel_format format,
                                 vlm_image **out) {
    vlmi_clear_error();
    static const char fn[] = "vlm_image_from_pixels";
    if (out == NULL) return vlmi_fail(VLM_ERR_INVALID_ARGUMENT, "%s: out is NULL", fn);
    *out = NULL;
    if (pixels == NULL) return vlmi_fail(VLM_ERR_INVALID_ARGUMENT, "%s: pixels is NULL", fn);
    int bpp = bytes_per_pixel(format);
    if (bpp == 0)
        return vlmi_fail(VLM_ERR_INVALID_ARGUMENT, "%s: unknown pixel format %d", fn, (int)format);
    if (width == 0 || height == 0)
        return vlmi_fail(VLM_ERR_INVALID_ARGUMENT, "%s: %ux%u has no pixels", fn, width, height);
    size_t row_bytes;
    if (vlmi_mul_overflow(width, (size_t)bpp, &row_bytes))
        return vlmi_fail(VLM_ERR_INVALID_ARGUMENT, "%s: width %u too large", fn, width);
    if (stride_bytes == 0) stride_bytes = row_bytes;
    if (stride_bytes < row_bytes)
        return vlmi_fail(VLM_ERR_INVALID_ARGUMENT,
                         "%s: stride %zu is smaller than a row of %zu bytes", fn, stride_bytes,
                         row_bytes);
    size_t span;
    if (vlmi_mul_overflow(stride_bytes, (size_t)height - 1, &span) ||
        vlmi_add_overflow(span, row_bytes, &span))
        return vlmi_fail(VLM_ERR_INVALID_ARGUMENT, "%s: frame size overflows", fn);
    if (pixels_size < span)
        return vlmi_fail(VLM_ERR_INVALID_ARGUMENT,
                         "%s: %zu bytes cannot hold %ux%u pixels at stride %zu (%zu needed)", fn,
                         pixels_size, width, height, stride_bytes, span);
    vlm_image *image;
    vlm_status st = vlmi_image_new(width, height, VLM_IMAGE_FORMAT_RAW, UINT64_MAX, fn, &image);
    if (st != VLM_OK) return st;
    const uint8_t *src = pixels;
    for (uint32_t y = 0; y < height; y++)
        vlmi_row_pixels_to_rgb(image->pixels + (size_t)y * width * 3,
                               src + (size_t)y * stride_bytes, width, format);
    *out = image;
    return VLM_OK;
}

uint32_t vlm_image_width(const vlm_image *image) { return image ? image->width : 0; }

uint32_t vlm_image_height(const vlm_image *image) { return image ? image->height : 0; }

const uint8_t *vlm_image_pixels(const vlm_image *image) { return image ? image->pixels : NULL; }

vlm_image_format vlm_image_source_format(const vlm_image *image) {
    return image ? image->format : VLM_IMAGE_FORMAT_RAW;
}

vlm_status vlm_image_resize(const vlm_image *image, uint32_t width, uint32_t height,
                            vlm_resample filter, vlm_image **out) {
    vlmi_clear_error();
    static const char fn[] = "vlm_image_resize";
    if (out == NULL) return vlmi_fail(VLM_ERR_INVALID_ARGUMENT, "%s: out is NULL", fn);
    *out = NULL;
    if (image == NULL) return vlmi_fail(VLM_ERR_INVALID_ARGUMENT, "%s: image is NULL", fn);
    if (width == 0 || height == 0)
        return vlmi_fail(VLM_ERR_INVALID_ARGUMENT, "%s: target %ux%u has no pixels", fn, width,
                         height);
    /* Pillow's BOX (4) and HAMMING (5) are accepted too, so a
     * preprocessor_config.json "resample" value always passes through. */
    int f = (int)filter;
    if (f < VLM_RESAMPLE_NEAREST || f > VLMI_RESAMPLE_HAMMING)
        return vlmi_fail(VLM_ERR_INVALID_ARGUMENT, "%s: unknown filter %d", fn, f);
    vlm_image *resized;
    vlm_status st = vlmi_image_new(width, height, image->format, UINT64_MAX, fn, &resized);
    if (st != VLM_OK) return st;
    st = vlmi_resize_u8(image->pixels, image->width, image->height, (size_t)image->width * 3,
                        resized->pixels, width, height, (size_t)width * 3, 3, f);
    if (st != VLM_OK) {
        vlm_image_free(resized);
        return st;
    }
    *out = resized;
    return VLM_OK;
}

void vlm_image_free(vlm_image *image) {
    if (image == NULL) return;
    free(image->pixels);
    free(image);
}
