/* The Qwen2-VL / Qwen2.5-VL image processor, as transformers'
 * Qwen2VLImageProcessorPil (the PIL-based reference) computes it, its video
 * counterpart (frames in temporal pairs), and the prompt text that stands for
 * an image or a video (Qwen2_5_VLProcessor).
 *
 * An image (or each frame of a video) of width x height becomes:
 *   1. smart_resize: both sides multiples of factor = patch_size * merge_size
 *      (28), area within [min_pixels, max_pixels] (the token budget), aspect
 *      kept as closely as the rounding allows;
 *   2. a PIL resize to that size with config->resample (BICUBIC);
 *   3. rescale and normalize to f32 (CLIP mean/std for Qwen);
 *   4. frames stacked in time, the last one repeated until their count is a
 *      multiple of temporal_patch_size (a single image: 2 copies of itself);
 *   5. patches of temporal_patch_size x patch_size x patch_size flattened to
 *      rows of C*T*P*P = 1176 values, rows ordered (t, block_y, block_x, y, x)
 *      where each merge_size x merge_size block is 4 consecutive rows (the
 *      patch merger's groups), values ordered (channel, t, py, px).
 * The plan (step 1 and every shape) comes from the size alone, so a caller
 * knows the token count and the memory before any pixel is touched. */
#ifndef VLM_ARCH_QWEN2_5_VL_PROCESSOR_H
#define VLM_ARCH_QWEN2_5_VL_PROCESSOR_H

#include "model/processor_config.h"
#include "vlm-impl.h"

/* The reference class's defaults when the config gives no budget. */
#define VLMI_QWEN2VL_DEFAULT_MIN_PIXELS (56 * 56)
#define VLMI_QWEN2VL_DEFAULT_MAX_PIXELS (28 * 28 * 1280)
/* smart_resize refuses images more elongated than this. */
#define VLMI_QWEN2VL_MAX_ASPECT_RATIO 200.0

/* smart_resize(height, width, factor, min_pixels, max_pixels) with Python's
 * arithmetic (round half to even, IEEE doubles in the same order), plus a
 * clamp of each side to >= factor (qwen-vl-utils does it; without it a very
 * thin image with min_pixels 0 would get a side of 0). Fails with
 * VLM_ERR_INVALID_ARGUMENT for a zero side, factor or budget, and with
 * VLM_ERR_LIMIT for an aspect ratio above 200 or a result that does not fit
 * in 32 bits. */
vlm_status vlmi_qwen2vl_smart_resize(uint32_t *resized_height, uint32_t *resized_width,
                                     uint32_t height, uint32_t width, uint32_t factor,
                                     int64_t min_pixels, int64_t max_pixels);

/* What n_frames frames of width x height become. */
typedef struct vlmi_qwen2vl_plan {
    uint32_t width, height;                 /* the input frames */
    uint32_t n_frames;                      /* 1 for an image */
    uint32_t resized_width, resized_height; /* after smart_resize */
    uint32_t grid_t, grid_h, grid_w;        /* image_grid_thw / video_grid_thw */
    uint32_t patch_size, temporal_patch_size, merge_size;
    size_t n_patches;      /* rows of pixel_values: grid_t * grid_h * grid_w */
    size_t patch_dim;      /* columns: 3 * temporal_patch_size * patch_size^2 */
    size_t n_tokens;       /* placeholder tokens: n_patches / merge_size^2 */
    size_t n_values;       /* n_patches * patch_dim floats of pixel_values */
    size_t work_bytes;     /* scratch while making them: the resized frames */
    bool video;            /* the video processor's arithmetic (plan_video) */
} vlmi_qwen2vl_plan;

/* Plans n_frames (>= 1) frames. min_pixels / max_pixels > 0 override the
 * config's budget (the per-request token budget); 0 takes the config's, and
 * the class defaults above when the config has none. The config must give
 * patch_size, temporal_patch_size and merge_size (> 0) and 3 channels of
 * mean/std when it normalizes (VLM_ERR_FORMAT otherwise). */
vlm_status vlmi_qwen2vl_plan_frames(vlmi_qwen2vl_plan *plan, const vlmi_processor_config *config,
                                    uint32_t width, uint32_t height, uint32_t n_frames,
                                    int64_t min_pixels, int64_t max_pixels);

/* The same for the frames of a video as transformers' Qwen2VLVideoProcessor
 * makes them (config: its settings): step 2 is torchvision's resize of the
 * uint8 frames (antialiased, config->resample mapped to torch's mode,
 * image/resize_torch.h) and step 3 one float32 normalize with mean and std
 * divided by the rescale factor, as its fused rescale_and_normalize. With
 * config->cap_pixels_per_frame (off by default in transformers 5.24) each
 * frame's max_pixels is also bounded by its share of max_video_tokens, as
 * its resize does. */
vlm_status vlmi_qwen2vl_plan_video(vlmi_qwen2vl_plan *plan, const vlmi_processor_config *config,
                                   uint32_t width, uint32_t height, uint32_t n_frames,
                                   int64_t min_pixels, int64_t max_pixels);

/* Qwen2VLVideoProcessor.sample_frames with fps: which of a video's
 * total_frames frames (at video_fps) to take for fps frames per second, at
 * least min_frames, at most max_frames and total_frames, a multiple of
 * temporal_patch_size: num_frames evenly spaced as torch.arange(0, total,
 * total / num_frames) in float32, truncated. Where the reference would
 * divide by zero (a video shorter than one temporal patch), frame 0.
 * Writes increasing indices (at most min(max_frames, total_frames), and 1);
 * returns their count, 0 for invalid arguments. */
size_t vlmi_qwen2vl_sample_frames(uint32_t *indices, uint32_t total_frames, double video_fps,
                                  double fps, uint32_t min_frames, uint32_t max_frames,
                                  uint32_t temporal_patch_size);

/* Steps 2 to 5 on the plan's frames, each RGB8 (height, width, 3) tightly
 * packed. -> out (n_patches, patch_dim), plan->n_values floats. Allocates
 * two resized frames of scratch (VLM_ERR_OUT_OF_MEMORY). Thread-safe. */
vlm_status vlmi_qwen2vl_pixel_values(float *out, const vlmi_qwen2vl_plan *plan,
                                     const vlmi_processor_config *config,
                                     const uint8_t *const *frames);

/* The text that replaces one image (or video) placeholder:
 * "<|vision_start|>" + n_tokens x "<|image_pad|>" (video: "<|video_pad|>")
 * + "<|vision_end|>". Writes up to cap bytes plus a NUL when cap > 0;
 * returns the full length. */
size_t vlmi_qwen2vl_expand(char *buf, size_t cap, size_t n_tokens, bool video);

#endif
