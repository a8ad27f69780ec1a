/* Gemma 3 image processor and image prompt text (see gemma3_processor.h).
 * Crop counts and sizes use the same double-precision operations as the
 * Python reference, so they agree to the pixel. */
#include "arch/gemma3_processor.h"
#include "image/image.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

// ----------------------------------------------------------------------------
// pan & scan

/* Gemma3ImageProcessorPil.pan_and_scan's crop count along the long side, or 0
 * when the image is not cut. long_side / short_side as the reference names
 * width / height for a landscape image. */
static int64_t crop_count(uint32_t long_side, uint32_t short_side,
                          const vlmi_processor_config *config) {
    double ratio = (double)long_side / (double)short_side;
    if (ratio < config->pan_and_scan_min_ratio_to_activate) return 0;
    /* the ideal count close to the aspect ratio ("half round up"), no more
     * than crops of min_crop_size fit, then clamped to [2, max_num_crops] */
    int64_t n = (int64_t)floor(ratio + 0.5);
    int64_t fit = (int64_t)floor((double)long_side / config->pan_and_scan_min_crop_size);
    if (fit < n) n = fit;
    if (n < 2) n = 2;
    if (n > config->pan_and_scan_max_num_crops) n = config->pan_and_scan_max_num_crops;
    return n;
}

static vlm_status plan_crops(vlmi_gemma3_plan *plan, const vlmi_processor_config *config,
                             uint32_t width, uint32_t height) {
    if (config->pan_and_scan_min_crop_size <= 0 || config->pan_and_scan_max_num_crops <= 0)
        return vlmi_fail(VLM_ERR_FORMAT, "preprocessor_config.json: pan_and_scan_min_crop_size "
                         "%d and pan_and_scan_max_num_crops %d must be positive",
                         (int)config->pan_and_scan_min_crop_size,
                         (int)config->pan_and_scan_max_num_crops);
    int64_t cols = 1, rows = 1;
    if (width >= height) {
        cols = crop_count(width, height, config);
        if (cols == 0) return VLM_OK;
    } else {
        rows = crop_count(height, width, config);
        if (rows == 0) return VLM_OK;
    }
    uint32_t crop_w = (uint32_t)ceil((double)width / (double)cols);
    uint32_t crop_h = (uint32_t)ceil((double)height / (double)rows);
    /* crops too small for the encoder to see anything: the image alone */
    if ((crop_w < crop_h ? crop_w : crop_h) < (uint32_t)config->pan_and_scan_min_crop_size)
        return VLM_OK;
    /* Python slicing past the edge would give the reference an empty crop,
     * which it cannot resize */
    if ((uint64_t)(cols - 1) * crop_w >= width || (uint64_t)(rows - 1) * crop_h >= height)
        return vlmi_fail(VLM_ERR_INVALID_ARGUMENT, "pan and scan of a %ux%u image into "
                         "%lldx%lld crops of %ux%u leaves an empty crop", width, height,
                         (long long)rows, (long long)cols, crop_w, crop_h);
    plan->crop_rows = (uint32_t)rows;
    plan->crop_cols = (uint32_t)cols;
    plan->crop_width = crop_w;
    plan->crop_height = crop_h;
    plan->n_crops = (uint32_t)(rows * cols);
    return VLM_OK;
}

vlm_status vlmi_gemma3_plan_image(vlmi_gemma3_plan *plan, const vlmi_processor_config *config,
                                  bool pan_and_scan, uint32_t width, uint32_t height) {
    memset(plan, 0, sizeof *plan);
    if (width == 0 || height == 0)
        return vlmi_fail(VLM_ERR_INVALID_ARGUMENT, "image is %ux%u", width, height);
    if (!config->do_resize)
        return vlmi_fail(VLM_ERR_UNSUPPORTED, "preprocessor_config.json: do_resize false "
                         "(frames must be resized to the vision tower's size)");
    int32_t side = config->size.height;
    if (side <= 0 || side != config->size.width || side > 16384)
        return vlmi_fail(VLM_ERR_FORMAT, "preprocessor_config.json: size %dx%d is not a square "
                         "frame", (int)config->size.width, (int)config->size.height);
    if (config->image_seq_len <= 0)
        return vlmi_fail(VLM_ERR_FORMAT, "processor_config.json: image_seq_length is %d",
                         (int)config->image_seq_len);
    plan->image_size = (uint32_t)side;
    plan->tokens_per_image = (size_t)config->image_seq_len;
    if (pan_and_scan) {
        vlm_status st = plan_crops(plan, config, width, height);
        if (st != VLM_OK) {
            memset(plan, 0, sizeof *plan);
            return st;
        }
    }
    plan->n_frames = 1 + plan->n_crops;
    plan->n_rows = plan->n_frames * plan->tokens_per_image;
    plan->work_bytes = (uint64_t)side * (uint64_t)side * 3;
    return VLM_OK;
}

// ----------------------------------------------------------------------------
// frames

vlm_status vlmi_gemma3_frame_pixels(float *out, const vlmi_gemma3_plan *plan,
                                    const vlmi_processor_config *config, const uint8_t *rgb,
                                    uint32_t width, uint32_t height, uint32_t frame) {
    if (frame >= plan->n_frames)
        return vlmi_fail(VLM_ERR_INVALID_ARGUMENT, "frame %u of an image planned as %u frames",
                         frame, plan->n_frames);
    // the source rectangle: the whole image or crop frame - 1, row-major
    uint32_t x0 = 0, y0 = 0, w = width, h = height;
    if (frame > 0) {
        uint32_t r = (frame - 1) / plan->crop_cols, c = (frame - 1) % plan->crop_cols;
        x0 = c * plan->crop_width;
        y0 = r * plan->crop_height;
        w = width - x0 < plan->crop_width ? width - x0 : plan->crop_width;
        h = height - y0 < plan->crop_height ? height - y0 : plan->crop_height;
    }
    size_t side = plan->image_size, plane = side * side, stride = (size_t)width * 3;
    const uint8_t *src = rgb + (size_t)y0 * stride + (size_t)x0 * 3;

    // resize (PIL returns a copy when the size already matches)
    uint8_t *resized = vlmi_malloc(plane * 3);
    if (resized == NULL) return VLM_ERR_OUT_OF_MEMORY;
    vlm_status st = VLM_OK;
    if (w == side && h == side) {
        for (size_t y = 0; y < side; y++) memcpy(resized + y * side * 3, src + y * stride, side * 3);
    } else {
        st = vlmi_resize_u8(src, w, h, stride, resized, (uint32_t)side, (uint32_t)side,
                            side * 3, 3, config->resample);
    }

    // rescale (f64 product rounded to f32) then normalize in f32, per 8-bit value
    if (st == VLM_OK) {
        float lut[3][256];
        for (int ch = 0; ch < 3; ch++) {
            float mean = (float)(config->n_channels > ch ? config->image_mean[ch] : 0.0);
            float std = (float)(config->n_channels > ch ? config->image_std[ch] : 1.0);
            for (int v = 0; v < 256; v++) {
                float x = config->do_rescale ? (float)((double)v * config->rescale_factor)
                                             : (float)v;
                lut[ch][v] = config->do_normalize ? (x - mean) / std : x;
            }
        }
        for (size_t i = 0; i < plane; i++)
            for (size_t ch = 0; ch < 3; ch++) out[ch * plane + i] = lut[ch][resized[i * 3 + ch]];
    }
    free(resized);
    return st;
}

// ----------------------------------------------------------------------------
// prompt text

typedef struct text_out {
    char *buf;
    size_t cap, len;
} text_out;

static void put(text_out *t, const char *s) {
    size_t n = strlen(s);
    if (t->len + n < t->cap) memcpy(t->buf + t->len, s, n);
    t->len += n;
}

/* "\n\n<start_of_image>" + soft tokens + "<end_of_image>\n\n" */
static void put_full_image(text_out *t, size_t tokens_per_image) {
    put(t, "\n\n<start_of_image>");
    for (size_t i = 0; i < tokens_per_image; i++) put(t, "<image_soft_token>");
    put(t, "<end_of_image>\n\n");
}

size_t vlmi_gemma3_expand_image(char *buf, size_t cap, const vlmi_gemma3_plan *plan) {
    text_out t = {buf, cap, 0};
    if (plan->n_crops == 0) {
        put_full_image(&t, plan->tokens_per_image);
    } else {
        put(&t, "Here is the original image ");
        put_full_image(&t, plan->tokens_per_image);
        put(&t, " and here are some crops to help you see better ");
        for (uint32_t i = 0; i < plan->n_crops; i++) {
            if (i > 0) put(&t, " ");
            put_full_image(&t, plan->tokens_per_image);
        }
    }
    if (cap > 0) buf[t.len < cap ? t.len : cap - 1] = '\0';
    return t.len;
}
