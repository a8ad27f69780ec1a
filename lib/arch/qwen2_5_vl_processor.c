/* Qwen2-VL / Qwen2.5-VL image processor and image prompt text (see
 * qwen2_5_vl_processor.h). Sizes use the same double-precision operations as
 * the Python reference, so they agree to the pixel. */
#include "arch/qwen2_5_vl_processor.h"
#include "image/image.h"
#include "image/resize_torch.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

// ---- sizes ----

vlm_status vlmi_qwen2vl_smart_resize(uint32_t *resized_height, uint32_t *resized_width,
                                     uint32_t height, uint32_t width, uint32_t factor,
                                     int64_t min_pixels, int64_t max_pixels) {
    if (height == 0 || width == 0)
        return vlmi_fail(VLM_ERR_INVALID_ARGUMENT, "smart_resize: empty image (%ux%u)", width,
                         height);
    if (factor == 0 || min_pixels < 0 || max_pixels <= 0)
        return vlmi_fail(VLM_ERR_INVALID_ARGUMENT,
                         "smart_resize: factor %u, min_pixels %lld, max_pixels %lld", factor,
                         (long long)min_pixels, (long long)max_pixels);
    double h = height, w = width, f = factor;
    double ratio = (h > w ? h : w) / (h < w ? h : w);
    if (ratio > VLMI_QWEN2VL_MAX_ASPECT_RATIO)
        return vlmi_fail(VLM_ERR_LIMIT,
                         "smart_resize: aspect ratio %.17g of %ux%u exceeds %g", ratio, width,
                         height, VLMI_QWEN2VL_MAX_ASPECT_RATIO);
    /* Python's round() is half-to-even: rint in the default rounding mode */
    double h_bar = rint(h / f) * f, w_bar = rint(w / f) * f;
    /* areas stay exact in doubles: sides < 2^33, products < 2^66 would not,
     * but a side above 2^32 / 28 is refused below anyway */
    double area = (double)height * (double)width;
    if (h_bar * w_bar > (double)max_pixels) {
        double beta = sqrt(area / (double)max_pixels);
        h_bar = floor(h / beta / f) * f;
        w_bar = floor(w / beta / f) * f;
    } else if (h_bar * w_bar < (double)min_pixels) {
        double beta = sqrt((double)min_pixels / area);
        h_bar = ceil(h * beta / f) * f;
        w_bar = ceil(w * beta / f) * f;
    }
    if (h_bar < f) h_bar = f;
    if (w_bar < f) w_bar = f;
    if (h_bar > (double)UINT32_MAX || w_bar > (double)UINT32_MAX)
        return vlmi_fail(VLM_ERR_LIMIT, "smart_resize: %ux%u with min_pixels %lld gives %.0fx%.0f",
                         width, height, (long long)min_pixels, w_bar, h_bar);
    *resized_height = (uint32_t)h_bar;
    *resized_width = (uint32_t)w_bar;
    return VLM_OK;
}

static vlm_status check_config(const vlmi_processor_config *config) {
    if (config->patch_size <= 0 || config->temporal_patch_size <= 0 || config->merge_size <= 0)
        return vlmi_fail(VLM_ERR_FORMAT,
                         "Qwen2-VL processor: patch_size %d, temporal_patch_size %d, merge_size %d "
                         "must be positive",
                         config->patch_size, config->temporal_patch_size, config->merge_size);
    if ((int64_t)config->patch_size * config->merge_size > 65536 || config->temporal_patch_size > 64)
        return vlmi_fail(VLM_ERR_FORMAT, "Qwen2-VL processor: patch sizes out of range");
    if (config->do_normalize) {
        if (config->n_channels != 3)
            return vlmi_fail(VLM_ERR_FORMAT,
                             "Qwen2-VL processor: image_mean/image_std have %d channels, not 3",
                             config->n_channels);
        for (int c = 0; c < 3; c++)
            if (!(config->image_std[c] > 0.0))
                return vlmi_fail(VLM_ERR_FORMAT, "Qwen2-VL processor: image_std[%d] is not positive",
                                 c);
    }
    return VLM_OK;
}

vlm_status vlmi_qwen2vl_plan_frames(vlmi_qwen2vl_plan *plan, const vlmi_processor_config *config,
                                    uint32_t width, uint32_t height, uint32_t n_frames,
                                    int64_t min_pixels, int64_t max_pixels) {
    memset(plan, 0, sizeof *plan);
    vlm_status st = check_config(config);
    if (st != VLM_OK) return st;
    if (n_frames == 0) return vlmi_fail(VLM_ERR_INVALID_ARGUMENT, "Qwen2-VL processor: no frames");
    if (min_pixels <= 0) min_pixels = config->min_pixels > 0 ? config->min_pixels
                                                             : VLMI_QWEN2VL_DEFAULT_MIN_PIXELS;
    if (max_pixels <= 0) max_pixels = config->max_pixels > 0 ? config->max_pixels
                                                             : VLMI_QWEN2VL_DEFAULT_MAX_PIXELS;
    uint32_t patch = (uint32_t)config->patch_size, merge = (uint32_t)config->merge_size;
    uint32_t temporal = (uint32_t)config->temporal_patch_size;
    st = vlmi_qwen2vl_smart_resize(&plan->resized_height, &plan->resized_width, height, width,
                                   patch * merge, min_pixels, max_pixels);
    if (st != VLM_OK) return st;
    plan->width = width;
    plan->height = height;
    plan->n_frames = n_frames;
    plan->patch_size = patch;
    plan->temporal_patch_size = temporal;
    plan->merge_size = merge;
    plan->grid_t = (uint32_t)(((uint64_t)n_frames + temporal - 1) / temporal);
    plan->grid_h = plan->resized_height / patch;
    plan->grid_w = plan->resized_width / patch;
    /* every product checked: a huge min_pixels must fail here, not in malloc */
    size_t rows, values, frame_bytes, work;
    if (vlmi_mul_overflow(plan->grid_h, plan->grid_w, &rows) ||
        vlmi_mul_overflow(rows, plan->grid_t, &rows) ||
        vlmi_mul_overflow((size_t)3 * temporal * patch, patch, &plan->patch_dim) ||
        vlmi_mul_overflow(rows, plan->patch_dim, &values) ||
        vlmi_mul_overflow(values, sizeof(float), &(size_t){0}) ||
        vlmi_mul_overflow((size_t)plan->resized_width * 3, plan->resized_height, &frame_bytes) ||
        vlmi_mul_overflow(frame_bytes, temporal, &work))
        return vlmi_fail(VLM_ERR_LIMIT, "Qwen2-VL processor: %ux%u x %u frames resized to %ux%u "
                         "is too large", width, height, n_frames, plan->resized_width,
                         plan->resized_height);
    plan->n_patches = rows;
    plan->n_values = values;
    plan->n_tokens = rows / ((size_t)merge * merge);
    plan->work_bytes = work;
    return VLM_OK;
}

vlm_status vlmi_qwen2vl_plan_video(vlmi_qwen2vl_plan *plan, const vlmi_processor_config *config,
                                   uint32_t width, uint32_t height, uint32_t n_frames,
                                   int64_t min_pixels, int64_t max_pixels) {
    if (!vlmi_resize_torch_supported(config->resample))
        return vlmi_fail(VLM_ERR_UNSUPPORTED, "Qwen2-VL video processor: resample %d (bilinear, "
                         "bicubic or lanczos)", (int)config->resample);
    if (config->cap_pixels_per_frame && config->patch_size > 0 && config->merge_size > 0 &&
        config->temporal_patch_size > 0 && n_frames > 0) {
        /* Qwen2VLVideoProcessor.resize: max_pixels = max(min(max_pixels,
         * int(max_video_tokens * factor^2 * 0.9) * temporal // frames),
         * int(min_pixels * 1.05)) */
        if (min_pixels <= 0) min_pixels = config->min_pixels > 0 ? config->min_pixels
                                                                 : VLMI_QWEN2VL_DEFAULT_MIN_PIXELS;
        if (max_pixels <= 0) max_pixels = config->max_pixels > 0 ? config->max_pixels
                                                                 : VLMI_QWEN2VL_DEFAULT_MAX_PIXELS;
        double factor = (double)config->patch_size * config->merge_size;
        double total = (double)config->max_video_tokens * factor * factor * 0.9;
        int64_t floor_pixels = (int64_t)((double)min_pixels * 1.05);
        if (total < 1e15) { /* larger budgets bound nothing */
            int64_t share = (int64_t)total * config->temporal_patch_size / n_frames;
            if (share < max_pixels) max_pixels = share;
        }
        if (max_pixels < floor_pixels) max_pixels = floor_pixels;
    }
    vlm_status st = vlmi_qwen2vl_plan_frames(plan, config, width, height, n_frames, min_pixels,
                                             max_pixels);
    plan->video = st == VLM_OK;
    return st;
}

// ---- frame sampling ----

size_t vlmi_qwen2vl_sample_frames(uint32_t *indices, uint32_t total_frames, double video_fps,
                                  double fps, uint32_t min_frames, uint32_t max_frames,
                                  uint32_t temporal_patch_size) {
    if (total_frames == 0 || !(video_fps > 0.0) || !(fps > 0.0) || temporal_patch_size == 0)
        return 0;
    double t = temporal_patch_size;
    uint32_t cap = max_frames < total_frames ? max_frames : total_frames;
    double most = floor((double)cap / t) * t;
    double n = (double)total_frames / video_fps * fps;
    if (n < (double)min_frames) n = min_frames;
    if (n > most) n = most;
    if (n > (double)total_frames) n = total_frames;
    n = floor(n / t) * t;
    if (n < 1.0) {
        indices[0] = 0;
        return 1;
    }
    /* torch.arange(0, total, step): ceil(total / step) values i * step,
     * computed in double and stored as float32, then .int() */
    double step = (double)total_frames / n;
    size_t count = (size_t)ceil((double)total_frames / step), written = 0;
    for (size_t i = 0; i < count; i++) {
        float value = (float)((double)i * step);
        uint32_t index = (uint32_t)value;
        if (index >= total_frames) break;
        if (written == 0 || index > indices[written - 1]) indices[written++] = index;
    }
    return written;
}

// ---- pixels ----

/* One 8-bit sample of channel ch -> its pixel value, per lut[ch][v]. */
static void value_table(float lut[3][256], const vlmi_processor_config *config, bool video) {
    for (int ch = 0; ch < 3; ch++) {
        float mean = (float)(config->do_normalize ? config->image_mean[ch] : 0.0);
        float std = (float)(config->do_normalize ? config->image_std[ch] : 1.0);
        /* the video processor (torch, all float32): rescale and normalize
         * fused into one normalize by mean / factor and std / factor */
        bool fused = video && config->do_rescale && config->do_normalize;
        if (fused) {
            float inv = (float)(1.0 / config->rescale_factor);
            mean *= inv;
            std *= inv;
        }
        for (int v = 0; v < 256; v++) {
            float x = (float)v;
            /* the image processor rescales in f64 and rounds to f32; the
             * video processor's unfused rescale is an f32 product */
            if (config->do_rescale && !fused)
                x = video ? x * (float)config->rescale_factor
                          : (float)((double)v * config->rescale_factor);
            lut[ch][v] = config->do_normalize ? (x - mean) / std : x;
        }
    }
}

static vlm_status resize_frame(const vlmi_qwen2vl_plan *plan, const vlmi_processor_config *config,
                               const uint8_t *src, uint8_t *dst) {
    uint32_t w = plan->width, h = plan->height, rw = plan->resized_width, rh = plan->resized_height;
    if (plan->video)
        return vlmi_resize_torch_u8(src, w, h, (size_t)w * 3, dst, rw, rh, (size_t)rw * 3, 3,
                                    config->resample);
    return vlmi_resize_u8(src, w, h, (size_t)w * 3, dst, rw, rh, (size_t)rw * 3, 3,
                          config->resample);
}

vlm_status vlmi_qwen2vl_pixel_values(float *out, const vlmi_qwen2vl_plan *plan,
                                     const vlmi_processor_config *config,
                                     const uint8_t *const *frames) {
    if (out == NULL || plan == NULL || config == NULL || frames == NULL)
        return vlmi_fail(VLM_ERR_INVALID_ARGUMENT, "Qwen2-VL pixel values: NULL argument");
    for (uint32_t i = 0; i < plan->n_frames; i++)
        if (frames[i] == NULL)
            return vlmi_fail(VLM_ERR_INVALID_ARGUMENT, "Qwen2-VL pixel values: frame %u is NULL", i);
    const uint32_t rw = plan->resized_width, rh = plan->resized_height;
    const uint32_t T = plan->temporal_patch_size, P = plan->patch_size, M = plan->merge_size;
    const size_t frame_bytes = (size_t)rw * rh * 3;
    const bool same_size = rw == plan->width && rh == plan->height;
    uint8_t *resized = NULL;
    if (!same_size) {
        resized = vlmi_malloc(plan->work_bytes);
        if (resized == NULL) return VLM_ERR_OUT_OF_MEMORY;
    }
    float lut[3][256];
    value_table(lut, config, plan->video);
    const size_t row_stride = (size_t)rw * 3;
    const uint32_t blocks_h = plan->grid_h / M, blocks_w = plan->grid_w / M;
    float *row = out;
    for (uint32_t gt = 0; gt < plan->grid_t; gt++) {
        /* the T frames of this temporal patch, the last frame repeated */
        const uint8_t *pair[64];
        for (uint32_t t = 0; t < T; t++) {
            uint32_t index = gt * T + t;
            if (index >= plan->n_frames) index = plan->n_frames - 1;
            if (same_size) {
                pair[t] = frames[index]; /* Pillow and torch return a copy: nothing to resample */
                continue;
            }
            if (t > 0 && gt * T + t - 1 >= plan->n_frames - 1) {
                pair[t] = pair[t - 1]; /* padding repeats the frame already resized */
                continue;
            }
            uint8_t *dst = resized + (size_t)t * frame_bytes;
            vlm_status st = resize_frame(plan, config, frames[index], dst);
            if (st != VLM_OK) {
                free(resized);
                return vlmi_fail_prefix(st, "Qwen2-VL pixel values");
            }
            pair[t] = dst;
        }
        for (uint32_t by = 0; by < blocks_h; by++)
            for (uint32_t bx = 0; bx < blocks_w; bx++)
                for (uint32_t my = 0; my < M; my++)
                    for (uint32_t mx = 0; mx < M; mx++) {
                        size_t y0 = ((size_t)by * M + my) * P, x0 = ((size_t)bx * M + mx) * P;
                        /* one row: (channel, t, py, px) */
                        for (int ch = 0; ch < 3; ch++)
                            for (uint32_t t = 0; t < T; t++)
                                for (uint32_t py = 0; py < P; py++) {
                                    const uint8_t *src = pair[t] + (y0 + py) * row_stride + x0 * 3 + ch;
                                    for (uint32_t px = 0; px < P; px++) *row++ = lut[ch][src[px * 3]];
                                }
                    }
    }
    free(resized);
    return VLM_OK;
}

// ---- prompt ----

static size_t append(char *buf, size_t cap, size_t len, const char *s) {
    size_t n = strlen(s);
    if (len < cap) {
        size_t room = cap - 1 - len;
        memcpy(buf + len, s, n < room ? n : room);
    }
    return len + n;
}

size_t vlmi_qwen2vl_expand(char *buf, size_t cap, size_t n_tokens, bool video) {
    const char *pad = video ? "<|video_pad|>" : "<|image_pad|>";
    size_t len = append(buf, cap, 0, "<|vision_start|>");
    for (size_t i = 0; i < n_tokens; i++) len = append(buf, cap, len, pad);
    len = append(buf, cap, len, "<|vision_end|>");
    if (cap > 0) buf[len < cap ? len : cap - 1] = '\0';
    return len;
}
