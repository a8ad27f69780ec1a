/* Idefics3 / SmolVLM image processor and image prompt text (see
 * idefics3_processor.h). Sizes are computed with the same double-precision
 * operations as the Python reference, so they agree to the pixel. */
#include "arch/idefics3_processor.h"
#include "image/image.h"
#include "image/resize_torch.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// ----------------------------------------------------------------------------
// sizes

/* Step 1: longest edge to max_len, the other side truncated and made even. */
static void rescale_to_max_len(uint32_t *width, uint32_t *height, uint32_t max_len) {
    double aspect = (double)*width / (double)*height;
    uint32_t w, h;
    if (*width >= *height) {
        w = max_len;
        h = (uint32_t)((double)w / aspect);
        if (h % 2 != 0) h++;
    } else {
        h = max_len;
        w = (uint32_t)((double)h * aspect);
        if (w % 2 != 0) w++;
    }
    *width = w > 0 ? w : 1;
    *height = h > 0 ? h : 1;
}

/* Step 1, second half: the reference's absolute cap on the longest edge. */
static void scale_below_upper_bound(uint32_t *width, uint32_t *height, uint32_t max_len) {
    double aspect = (double)*width / (double)*height;
    if (*width >= *height && *width > max_len) {
        *width = max_len;
        *height = (uint32_t)((double)*width / aspect);
    } else if (*height > *width && *height > max_len) {
        *height = max_len;
        *width = (uint32_t)((double)*height * aspect);
    }
    if (*width == 0) *width = 1;
    if (*height == 0) *height = 1;
}

static uint32_t round_up(uint32_t x, uint32_t multiple) {
    return (x + multiple - 1) / multiple * multiple;
}

/* Step 2's target: both sides up to multiples of tile (resize_for_vision_encoder). */
static void vision_encoder_size(uint32_t *width, uint32_t *height, uint32_t tile) {
    double aspect = (double)*width / (double)*height;
    uint32_t w, h;
    if (*width >= *height) {
        w = round_up(*width, tile);
        h = round_up((uint32_t)((double)w / aspect), tile);
    } else {
        h = round_up(*height, tile);
        w = round_up((uint32_t)((double)h * aspect), tile);
    }
    *width = w > 0 ? w : tile;
    *height = h > 0 ? h : tile;
}

static void plan_with_edge(vlmi_idefics3_plan *plan, const vlmi_processor_config *config,
                           uint32_t width, uint32_t height, uint32_t longest_edge, bool resize) {
    uint32_t tile = plan->tile;
    plan->longest_edge = longest_edge;
    uint32_t w = width, h = height;
    if (resize) {
        rescale_to_max_len(&w, &h, longest_edge);
        scale_below_upper_bound(&w, &h, VLMI_IDEFICS3_MAX_EDGE);
    }
    plan->resized_width = w;
    plan->resized_height = h;
    plan->rows = plan->cols = 0;
    plan->n_frames = 1;
    if (config->do_image_splitting) {
        vision_encoder_size(&w, &h, tile);
        plan->grid_width = w;
        plan->grid_height = h;
        if (w > tile || h > tile) {
            plan->rows = h / tile;
            plan->cols = w / tile;
            plan->n_frames = plan->rows * plan->cols + 1;
        }
    } else {
        plan->grid_width = plan->grid_height = tile;
    }
}

vlm_status vlmi_idefics3_plan_image(vlmi_idefics3_plan *plan, const vlmi_processor_config *config,
                                    uint32_t width, uint32_t height, int32_t max_tiles) {
    memset(plan, 0, sizeof *plan);
    if (width == 0 || height == 0)
        return vlmi_fail(VLM_ERR_INVALID_ARGUMENT, "image is %ux%u", width, height);
    int32_t tile = config->max_image_size.longest_edge;
    if (tile <= 0 || (uint32_t)tile > VLMI_IDEFICS3_MAX_EDGE)
        return vlmi_fail(VLM_ERR_FORMAT, "preprocessor_config.json: max_image_size.longest_edge "
                         "is %d", (int)tile);
    int32_t edge = config->size.longest_edge;
    if (config->do_resize && (edge <= 0 || (uint32_t)edge > 4 * VLMI_IDEFICS3_MAX_EDGE))
        return vlmi_fail(VLM_ERR_FORMAT, "preprocessor_config.json: size.longest_edge is %d",
                         (int)edge);
    if (max_tiles < 0)
        return vlmi_fail(VLM_ERR_INVALID_ARGUMENT, "max_image_tiles is %d", (int)max_tiles);
    plan->tile = (uint32_t)tile;

    bool resize = config->do_resize;
    uint32_t longest = resize ? (uint32_t)edge : (width > height ? width : height);
    plan_with_edge(plan, config, width, height, longest, resize);
    if (max_tiles == 0 || !config->do_image_splitting ||
        plan->rows * plan->cols <= (uint32_t)max_tiles)
        return VLM_OK;

    /* over budget: the largest multiple of tile below the current edge whose
     * grid fits; the edge of one tile always does (a single frame) */
    uint32_t candidate = (longest - 1) / plan->tile * plan->tile;
    for (; candidate > plan->tile; candidate -= plan->tile) {
        plan_with_edge(plan, config, width, height, candidate, true);
        if (plan->rows * plan->cols <= (uint32_t)max_tiles) return VLM_OK;
    }
    plan_with_edge(plan, config, width, height, plan->tile, true);
    return VLM_OK;
}

// ----------------------------------------------------------------------------
// frames

/* PIL's resize, which returns a copy when the size does not change. */
static vlm_status resize_rgb(const uint8_t *src, uint32_t sw, uint32_t sh, uint8_t *dst,
                             uint32_t dw, uint32_t dh, int filter) {
    if (sw == dw && sh == dh) {
        memcpy(dst, src, (size_t)sw * sh * 3);
        return VLM_OK;
    }
    return vlmi_resize_u8(src, sw, sh, (size_t)sw * 3, dst, dw, dh, (size_t)dw * 3, 3, filter);
}

/* Video frames (VLMI_IDEFICS3_RESAMPLE_TORCH): torchvision's resize, which
 * returns its input when the size does not change. */
static vlm_status resize_rgb_for(const vlmi_processor_config *config, const uint8_t *src,
                                 uint32_t sw, uint32_t sh, uint8_t *dst, uint32_t dw, uint32_t dh) {
    if ((config->resample & VLMI_IDEFICS3_RESAMPLE_TORCH) == 0)
        return resize_rgb(src, sw, sh, dst, dw, dh, config->resample);
    if (sw == dw && sh == dh) {
        memcpy(dst, src, (size_t)sw * sh * 3);
        return VLM_OK;
    }
    return vlmi_resize_torch_u8(src, sw, sh, (size_t)sw * 3, dst, dw, dh, (size_t)dw * 3, 3,
                                config->resample & 0xff);
}

static uint8_t *alloc_rgb(uint32_t width, uint32_t height) {
    size_t n;
    if (vlmi_mul_overflow((size_t)width * height, 3, &n)) {
        vlmi_fail(VLM_ERR_LIMIT, "image of %ux%u is too large", width, height);
        return NULL;
    }
    return vlmi_malloc(n);
}

vlm_status vlmi_idefics3_frames_make(vlmi_idefics3_frames *frames,
                                     const vlmi_processor_config *config, const uint8_t *rgb,
                                     uint32_t width, uint32_t height, int32_t max_tiles) {
    memset(frames, 0, sizeof *frames);
    vlmi_idefics3_plan *plan = &frames->plan;
    vlm_status st = vlmi_idefics3_plan_image(plan, config, width, height, max_tiles);
    if (st != VLM_OK) return st;

    // step 1: longest edge
    uint8_t *resized = alloc_rgb(plan->resized_width, plan->resized_height);
    if (resized == NULL) return VLM_ERR_OUT_OF_MEMORY;
    st = resize_rgb_for(config, rgb, width, height, resized, plan->resized_width,
                        plan->resized_height);

    // step 2: the grid the tiles are cut from, and the global image
    if (st == VLM_OK) {
        frames->grid = alloc_rgb(plan->grid_width, plan->grid_height);
        if (frames->grid == NULL) st = VLM_ERR_OUT_OF_MEMORY;
    }
    if (st == VLM_OK)
        st = resize_rgb_for(config, resized, plan->resized_width, plan->resized_height,
                            frames->grid, plan->grid_width, plan->grid_height);
    if (st == VLM_OK && plan->rows > 0) {
        frames->global = alloc_rgb(plan->tile, plan->tile);
        if (frames->global == NULL) st = VLM_ERR_OUT_OF_MEMORY;
        if (st == VLM_OK)
            st = resize_rgb_for(config, frames->grid, plan->grid_width, plan->grid_height,
                                frames->global, plan->tile, plan->tile);
    }
    free(resized);
    if (st != VLM_OK) vlmi_idefics3_frames_free(frames);
    return st;
}

void vlmi_idefics3_frames_free(vlmi_idefics3_frames *frames) {
    if (frames == NULL) return;
    free(frames->grid);
    free(frames->global);
    memset(frames, 0, sizeof *frames);
}

// -> out (tile, tile, 3)
void vlmi_idefics3_frame_u8(uint8_t *out, const vlmi_idefics3_frames *frames, uint32_t k) {
    const vlmi_idefics3_plan *plan = &frames->plan;
    size_t tile = plan->tile, row_bytes = tile * 3;
    if (plan->rows == 0 || k == plan->rows * plan->cols) {
        /* the single frame or the global image: a whole tile x tile image */
        memcpy(out, plan->rows == 0 ? frames->grid : frames->global, tile * row_bytes);
        return;
    }
    size_t r = k / plan->cols, c = k % plan->cols, grid_row_bytes = (size_t)plan->grid_width * 3;
    const uint8_t *src = frames->grid + r * tile * grid_row_bytes + c * row_bytes;
    for (size_t y = 0; y < tile; y++) memcpy(out + y * row_bytes, src + y * grid_row_bytes, row_bytes);
}

// -> out (3, tile, tile)
void vlmi_idefics3_frame_pixels(float *out, const vlmi_idefics3_frames *frames,
                                const vlmi_processor_config *config, uint32_t k) {
    const vlmi_idefics3_plan *plan = &frames->plan;
    size_t tile = plan->tile, plane = tile * tile;
    float lut[3][256];
    for (int ch = 0; ch < 3; ch++) {
        float mean = (float)(config->n_channels > ch ? config->image_mean[ch] : 0.0);
        float std = (float)(config->n_channels > ch ? config->image_std[ch] : 1.0);
        if (config->resample & VLMI_IDEFICS3_RESAMPLE_TORCH) {
            /* the video processor (torch, all float32): with both rescale
             * and normalize, one normalize with mean and std divided by the
             * rescale factor (_fuse_mean_std_and_rescale_factor); rescale
             * alone is a float32 product */
            bool fused = config->do_rescale && config->do_normalize && config->rescale_factor != 0.0;
            float inv = fused ? (float)(1.0 / config->rescale_factor) : 1.0f;
            float fused_mean = mean * inv, fused_std = std * inv;
            for (int v = 0; v < 256; v++) {
                float x = (float)v;
                if (fused)
                    lut[ch][v] = (x - fused_mean) / fused_std;
                else if (config->do_normalize)
                    lut[ch][v] = (x - mean) / std;
                else
                    lut[ch][v] = config->do_rescale ? x * (float)config->rescale_factor : x;
            }
            continue;
        }
        /* per 8-bit value and channel: the reference's rescale (f64 product
         * rounded to f32), then normalize in f32 */
        for (int v = 0; v < 256; v++) {
            float x = config->do_rescale ? (float)((double)v * config->rescale_factor) : (float)v;
            lut[ch][v] = config->do_normalize ? (x - mean) / std : x;
        }
    }
    const uint8_t *src;
    size_t src_row_bytes;
    if (plan->rows == 0 || k == plan->rows * plan->cols) {
        src = plan->rows == 0 ? frames->grid : frames->global;
        src_row_bytes = tile * 3;
    } else {
        size_t r = k / plan->cols, c = k % plan->cols;
        src_row_bytes = (size_t)plan->grid_width * 3;
        src = frames->grid + r * tile * src_row_bytes + c * tile * 3;
    }
    for (size_t y = 0; y < tile; y++) {
        const uint8_t *row = src + y * src_row_bytes;
        for (size_t x = 0; x < tile; x++)
            for (size_t ch = 0; ch < 3; ch++)
                out[ch * plane + y * tile + x] = lut[ch][row[x * 3 + ch]];
    }
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

static void put_images(text_out *t, size_t n) {
    for (size_t i = 0; i < n; i++) put(t, "<image>");
}

size_t vlmi_idefics3_expand_image(char *buf, size_t cap, const vlmi_idefics3_plan *plan,
                                  size_t image_seq_len) {
    text_out t = {buf, cap, 0};
    for (uint32_t r = 0; r < plan->rows; r++) {
        for (uint32_t c = 0; c < plan->cols; c++) {
            char tag[48];
            snprintf(tag, sizeof tag, "<row_%u_col_%u>", r + 1, c + 1);
            put(&t, "<fake_token_around_image>");
            put(&t, tag);
            put_images(&t, image_seq_len);
        }
        put(&t, "\n");
    }
    if (plan->rows > 0) put(&t, "\n");
    put(&t, "<fake_token_around_image><global-img>");
    put_images(&t, image_seq_len);
    put(&t, "<fake_token_around_image>");
    if (cap > 0) buf[t.len < cap ? t.len : cap - 1] = '\0';
    return t.len;
}

// ----------------------------------------------------------------------------
// SmolVLM2 video

static const char *const small_numbers[20] = {
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
    "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen",
    "nineteen"};
static const char *const tens_words[10] = {"", "", "twenty", "thirty", "forty", "fifty",
                                           "sixty", "seventy", "eighty", "ninety"};

/* 0 < n < 100 */
static void put_below_hundred(text_out *t, unsigned n) {
    if (n < 20) { put(t, small_numbers[n]); return; }
    put(t, tens_words[n / 10]);
    if (n % 10 != 0) { put(t, "-"); put(t, small_numbers[n % 10]); }
}

/* 0 < n < 1000 */
static void put_below_thousand(text_out *t, unsigned n) {
    if (n >= 100) {
        put(t, small_numbers[n / 100]);
        put(t, " hundred");
        if (n % 100 != 0) put(t, " and ");
    }
    if (n % 100 != 0) put_below_hundred(t, n % 100);
}

size_t vlmi_number_to_words(char *buf, size_t cap, uint64_t n) {
    text_out t = {buf, cap, 0};
    if (n >= 1000000) {
        char digits[24];
        snprintf(digits, sizeof digits, "%llu", (unsigned long long)n);
        put(&t, digits);
    } else if (n == 0) {
        put(&t, "zero");
    } else {
        unsigned thousands = (unsigned)(n / 1000), rest = (unsigned)(n % 1000);
        if (thousands > 0) {
            put_below_thousand(&t, thousands);
            put(&t, " thousand");
            if (rest > 0) put(&t, rest < 100 ? " and " : ", ");
        }
        if (rest > 0) put_below_thousand(&t, rest);
    }
    if (cap > 0) buf[t.len < cap ? t.len : cap - 1] = '\0';
    return t.len;
}

size_t vlmi_idefics3_expand_video(char *buf, size_t cap, const double *timestamps,
                                  size_t n_frames, double duration_s, size_t image_seq_len) {
    text_out t = {buf, cap, 0};
    char words[256], line[96];
    vlmi_number_to_words(words, sizeof words, n_frames);
    double duration = duration_s >= 0.0 ? duration_s : n_frames > 0 ? timestamps[n_frames - 1] : 0.0;
    /* str(timedelta(seconds=int(duration))) */
    unsigned long long seconds = duration > 0.0 ? (unsigned long long)duration : 0;
    put(&t, "You are provided the following series of ");
    put(&t, words);
    snprintf(line, sizeof line, " frames from a %llu:%02llu:%02llu [H:MM:SS] video.\n",
             seconds / 3600, seconds / 60 % 60, seconds % 60);
    put(&t, line);
    vlmi_idefics3_plan single = {0};
    for (size_t i = 0; i < n_frames; i++) {
        double ts = timestamps[i] > 0.0 ? timestamps[i] : 0.0;
        /* int(t // 60), int(t % 60) */
        snprintf(line, sizeof line, "\nFrame from %02llu:%02llu:",
                 (unsigned long long)floor(ts / 60.0), (unsigned long long)fmod(ts, 60.0));
        put(&t, line);
        size_t n = vlmi_idefics3_expand_image(t.len < cap ? buf + t.len : NULL,
                                              t.len < cap ? cap - t.len : 0, &single, image_seq_len);
        t.len += n;
    }
    put(&t, "\n\n");
    if (cap > 0) buf[t.len < cap ? t.len : cap - 1] = '\0';
    return t.len;
}

size_t vlmi_smolvlm_sample_frames(uint32_t *indices, uint32_t total_frames, double video_fps,
                                  double duration_s, double fps, uint32_t max_frames) {
    if (total_frames == 0 || !(video_fps > 0.0) || !(fps > 0.0) || max_frames == 0 ||
        !(duration_s >= 0.0))
        return 0;
    /* int(round(fps * duration)): Python rounds half to even, as rint does */
    double estimated = rint(fps * duration_s);
    uint32_t desired = estimated < (double)max_frames ? (uint32_t)estimated : max_frames;
    if (desired < 1) desired = 1;
    int64_t start = 0, end = (int64_t)total_frames - 1;
    const double skip_secs = 1.0;
    if (duration_s - 2 * skip_secs > (double)max_frames * fps) {
        start = (int64_t)(skip_secs * video_fps);
        end = (int64_t)((double)total_frames - skip_secs * video_fps);
    }
    if (start < 0) start = 0;
    if (end > (int64_t)total_frames - 1) end = (int64_t)total_frames - 1;
    if (start >= end) { start = 0; end = (int64_t)total_frames - 1; }
    /* np.linspace(start, end, desired, dtype=int), then np.unique */
    size_t n = 0;
    for (uint32_t i = 0; i < desired; i++) {
        double value = desired == 1 ? (double)start
                       : i == desired - 1 ? (double)end
                       : (double)start + (double)i * ((double)(end - start) / (double)(desired - 1));
        uint32_t index = (uint32_t)value;
        if (n == 0 || index > indices[n - 1]) indices[n++] = index;
    }
    return n;
}

void vlmi_idefics3_video_config(vlmi_processor_config *out, const vlmi_processor_config *video_config) {
    *out = *video_config;
    out->do_image_splitting = false;
    if (video_config->video_sampling.present && video_config->video_sampling.video_size.longest_edge > 0)
        out->size.longest_edge = video_config->video_sampling.video_size.longest_edge;
    /* get_resize_output_image_size caps the edge before the even rounding */
    if (out->size.longest_edge > (int32_t)VLMI_IDEFICS3_MAX_EDGE)
        out->size.longest_edge = (int32_t)VLMI_IDEFICS3_MAX_EDGE;
    if (vlmi_resize_torch_supported(out->resample)) out->resample |= VLMI_IDEFICS3_RESAMPLE_TORCH;
}
