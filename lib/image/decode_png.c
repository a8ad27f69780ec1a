/* PNG decoding with libpng. libpng only unpacks the samples (no gamma, no
 * expansion, no 16-to-8 stripping); the conversion to RGB is ours, written to
 * give what Pillow gives for Image.open(f) followed by the Hugging Face
 * convert_to_rgb (RGB as is; anything else -> RGBA -> over white -> RGB):
 *
 *   gray 1-bit          0 / 255; tRNS: pixel is white if (v ? 255 : 0) == (key ? 255 : 0)
 *   gray 2/4-bit        v * 85 / v * 17; tRNS key compared with that scaled value
 *   gray 8-bit          v; tRNS: v == key -> white
 *   gray 16-bit         Pillow mode I;16: min(v, 255) (clipped, NOT the high
 *                       byte); tRNS: 16-bit v == key -> white
 *   gray+alpha 8/16     high bytes, over white
 *   RGB 8/16            high bytes; tRNS ignored (convert_to_rgb returns RGB
 *                       images untouched)
 *   RGBA 8/16           high bytes, over white
 *   palette 1..8-bit    PLTE color (black past its end), tRNS alpha (255 past
 *                       its end), over white
 *
 * libpng's errors longjmp back here through png_error; its warnings are
 * dropped, so nothing is ever printed. */
#include "image/image.h"

#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

#include <png.h>

typedef struct png_job {
    const uint8_t *data;
    size_t size;
    size_t pos;
    bool data_ended;
    char message[256];
    png_structp png;
    png_infop info;
    uint8_t *native;       /* decoded samples: one row, or all rows if interlaced */
    png_bytep *rows;       /* row pointers into native (interlaced) */
    vlm_image *image;
} png_job;

/* What a row converter needs besides the samples. */
typedef struct png_format {
    int color_type;
    int bit_depth;
    bool has_key;            /* gray tRNS */
    uint32_t key;
    uint8_t palette[256][4]; /* RGBA; unused entries opaque black */
} png_format;

static void on_error(png_structp png, png_const_charp message) {
    png_job *job = png_get_error_ptr(png);
    strncpy(job->message, message, sizeof job->message - 1);
    job->message[sizeof job->message - 1] = '\0';
    png_longjmp(png, 1);
}

static void on_warning(png_structp png, png_const_charp message) {
    (void)png;
    (void)message;
}

static void on_read(png_structp png, png_bytep out, size_t length) {
    png_job *job = png_get_io_ptr(png);
    if (job->size - job->pos < length) {
        job->data_ended = true;
        png_error(png, "truncated PNG data");
    }
    memcpy(out, job->data + job->pos, length);
    job->pos += length;
}

bool vlmi_is_png(const uint8_t *data, size_t size) {
    return size >= 8 && png_sig_cmp(data, 0, 8) == 0;
}

static inline uint32_t sample16(const uint8_t *p) { return (uint32_t)p[0] << 8 | p[1]; }

/* One row of samples (packing expanded to a byte per sample; 16-bit samples
 * big-endian) to RGB8. */
static void convert_row(uint8_t *rgb, const uint8_t *s, uint32_t width, const png_format *f) {
    const bool wide = f->bit_depth == 16;
    const int step = wide ? 2 : 1;  /* bytes per sample */
    switch (f->color_type) {
    case PNG_COLOR_TYPE_GRAY:
        for (uint32_t x = 0; x < width; x++, s += step, rgb += 3) {
            uint32_t raw = wide ? sample16(s) : s[0];
            uint32_t gray;
            bool transparent;
            switch (f->bit_depth) {
            case 1:
                gray = raw ? 255 : 0;
                transparent = f->has_key && gray == (f->key ? 255u : 0u);
                break;
            case 2:
            case 4:
                gray = raw * (f->bit_depth == 2 ? 85 : 17);
                transparent = f->has_key && gray == f->key;
                break;
            case 16:
                gray = raw > 255 ? 255 : raw;
                transparent = f->has_key && raw == f->key;
                break;
            default:
                gray = raw;
                transparent = f->has_key && raw == f->key;
                break;
            }
            rgb[0] = rgb[1] = rgb[2] = transparent ? 255 : (uint8_t)gray;
        }
        break;
    case PNG_COLOR_TYPE_GRAY_ALPHA:
        for (uint32_t x = 0; x < width; x++, s += 2 * step, rgb += 3)
            rgb[0] = rgb[1] = rgb[2] = vlmi_over_white(s[0], s[step]);
        break;
    case PNG_COLOR_TYPE_RGB:
        for (uint32_t x = 0; x < width; x++, s += 3 * step, rgb += 3) {
            rgb[0] = s[0];
            rgb[1] = s[step];
            rgb[2] = s[2 * step];
        }
        break;
    case PNG_COLOR_TYPE_RGB_ALPHA:
        for (uint32_t x = 0; x < width; x++, s += 4 * step, rgb += 3) {
            uint8_t alpha = s[3 * step];
            rgb[0] = vlmi_over_white(s[0], alpha);
            rgb[1] = vlmi_over_white(s[step], alpha);
            rgb[2] = vlmi_over_white(s[2 * step], alpha);
        }
        break;
    default: /* palette */
        for (uint32_t x = 0; x < width; x++, s++, rgb += 3) {
            const uint8_t *entry = f->palette[s[0]];
            rgb[0] = vlmi_over_white(entry[0], entry[3]);
            rgb[1] = vlmi_over_white(entry[1], entry[3]);
            rgb[2] = vlmi_over_white(entry[2], entry[3]);
        }
        break;
    }
}

static void read_format(png_job *job, png_format *f) {
    png_structp png = job->png;
    png_infop info = job->info;
    f->color_type = png_get_color_type(png, info);
    f->bit_depth = png_get_bit_depth(png, info);
    f->has_key = false;
    for (int i = 0; i < 256; i++) {
        f->palette[i][0] = f->palette[i][1] = f->palette[i][2] = 0;
        f->palette[i][3] = 255;
    }
    png_bytep trans_alpha = NULL;
    int num_trans = 0;
    png_color_16p trans_color = NULL;
    bool has_trns = png_get_valid(png, info, PNG_INFO_tRNS) &&
                    png_get_tRNS(png, info, &trans_alpha, &num_trans, &trans_color);
    if (f->color_type == PNG_COLOR_TYPE_PALETTE) {
        png_colorp plte = NULL;
        int num_plte = 0;
        if (png_get_PLTE(png, info, &plte, &num_plte)) {
            for (int i = 0; i < num_plte && i < 256; i++) {
                f->palette[i][0] = plte[i].red;
                f->palette[i][1] = plte[i].green;
                f->palette[i][2] = plte[i].blue;
            }
        }
        if (has_trns && trans_alpha != NULL)
            for (int i = 0; i < num_trans && i < 256; i++) f->palette[i][3] = trans_alpha[i];
    } else if (f->color_type == PNG_COLOR_TYPE_GRAY && has_trns && trans_color != NULL) {
        f->has_key = true;
        f->key = trans_color->gray;
    }
}

/* Orientation from an eXIf chunk before the image data (Pillow's getexif
 * for PNG), or -1. */
static int png_orientation(png_job *job) {
#ifdef PNG_eXIf_SUPPORTED
    png_uint_32 n = 0;
    png_bytep exif = NULL;
    if (png_get_eXIf_1(job->png, job->info, &n, &exif) && exif != NULL)
        return vlmi_exif_orientation(exif, n);
#else
    (void)job;
#endif
    return -1;
}

static vlm_status decode(png_job *job, const vlmi_decode_options *opts, const char *what,
                         int *orientation) {
    if (setjmp(png_jmpbuf(job->png))) {
        if (job->data_ended) return vlmi_fail(VLM_ERR_FORMAT, "%s: truncated PNG data", what);
        return vlmi_fail(VLM_ERR_FORMAT, "%s: corrupt PNG: %s", what, job->message);
    }
    png_structp png = job->png;
    png_infop info = job->info;
    /* Our max_pixels is the limit, not libpng's default 1M per side. */
    png_set_user_limits(png, PNG_UINT_31_MAX, PNG_UINT_31_MAX);
    /* Pillow refuses any chunk with a bad CRC before the image data. */
    png_set_crc_action(png, PNG_CRC_DEFAULT, PNG_CRC_ERROR_QUIT);
    png_set_read_fn(png, job, on_read);
    png_read_info(png, info);

    uint32_t width = png_get_image_width(png, info);
    uint32_t height = png_get_image_height(png, info);
    vlm_status st = vlmi_image_check_size(width, height, opts->max_pixels, what);
    if (st != VLM_OK) return st;
    png_format f;
    read_format(job, &f);
    *orientation = opts->apply_exif_orientation ? png_orientation(job) : 0;

    if (f.bit_depth < 8) png_set_packing(png);
    bool interlaced = png_get_interlace_type(png, info) != PNG_INTERLACE_NONE;
    if (interlaced) png_set_interlace_handling(png);
    png_read_update_info(png, info);
    size_t row_bytes = png_get_rowbytes(png, info);

    st = vlmi_image_new(width, height, VLM_IMAGE_FORMAT_PNG, opts->max_pixels, what,
                        &job->image);
    if (st != VLM_OK) return st;
    job->native = vlmi_calloc(interlaced ? height : 1, row_bytes);
    if (job->native == NULL) return VLM_ERR_OUT_OF_MEMORY;
    if (interlaced) {
        job->rows = vlmi_calloc(height, sizeof *job->rows);
        if (job->rows == NULL) return VLM_ERR_OUT_OF_MEMORY;
    }
    if (interlaced) {
        for (uint32_t y = 0; y < height; y++) job->rows[y] = job->native + (size_t)y * row_bytes;
        png_read_image(png, job->rows);
        for (uint32_t y = 0; y < height; y++)
            convert_row(job->image->pixels + (size_t)y * width * 3, job->rows[y], width, &f);
    } else {
        for (uint32_t y = 0; y < height; y++) {
            png_read_row(png, job->native, NULL);
            convert_row(job->image->pixels + (size_t)y * width * 3, job->native, width, &f);
        }
    }
    return VLM_OK;
}

vlm_status vlmi_decode_png(const uint8_t *data, size_t size, const vlmi_decode_options *opts,
                           const char *what, vlm_image **out) {
    *out = NULL;
    png_job *job = vlmi_calloc(1, sizeof *job);
    if (job == NULL) return VLM_ERR_OUT_OF_MEMORY;
    job->data = data;
    job->size = size;
    job->png = png_create_read_struct(PNG_LIBPNG_VER_STRING, job, on_error, on_warning);
    if (job->png != NULL) job->info = png_create_info_struct(job->png);
    vlm_status st;
    int orientation = 0;
    if (job->png == NULL || job->info == NULL)
        st = vlmi_fail(VLM_ERR_OUT_OF_MEMORY, "%s: cannot create a PNG decoder", what);
    else
        st = decode(job, opts, what, &orientation);
    png_destroy_read_struct(&job->png, &job->info, NULL);
    free(job->native);
    free(job->rows);
    if (st == VLM_OK) st = vlmi_image_apply_orientation(&job->image, orientation);
    if (st == VLM_OK) *out = job->image;
    else vlm_image_free(job->image);
    free(job);
    return st;
}
