/* The Idefics3 / SmolVLM image processor, as transformers'
 * Idefics3ImageProcessorPil (the PIL-based reference) computes it, and the
 * prompt text that stands for an image (Idefics3Processor).
 *
 * An image becomes frames of tile x tile pixels (tile = max_image_size
 * longest_edge, the vision encoder's input side):
 *   1. resize so the longest edge is size.longest_edge (even short edge,
 *      capped at 4096), PIL filter config->resample;
 *   2. with do_image_splitting: resize both sides up to multiples of tile and
 *      cut rows x cols tiles, row-major, then the whole image resized to
 *      tile x tile as the global image, last; an image that is one tile is
 *      one frame. Without splitting: one frame, resized to tile x tile;
 *   3. rescale and normalize to f32, channels first.
 * A tile cap (the caller's token budget) lowers the step-1 longest edge to
 * the largest multiple of tile whose grid has at most max_tiles tiles: the
 * frames are then exactly those the reference makes with that size. */
#ifndef VLM_ARCH_IDEFICS3_PROCESSOR_H
#define VLM_ARCH_IDEFICS3_PROCESSOR_H

#include "model/processor_config.h"
#include "vlm-impl.h"

/* The reference processor's absolute cap on the resized longest edge. */
#define VLMI_IDEFICS3_MAX_EDGE 4096u

/* What an image will become, known from its size alone. */
typedef struct vlmi_idefics3_plan {
    uint32_t longest_edge;   /* step-1 target after the tile cap */
    uint32_t resized_width;  /* after step 1 */
    uint32_t resized_height;
    uint32_t grid_width;     /* after step 2: multiples of tile (tile x tile unsplit) */
    uint32_t grid_height;
    uint32_t rows, cols;     /* tile grid; 0, 0 when the image is one frame */
    uint32_t n_frames;       /* rows * cols + 1 global, or 1 */
    uint32_t tile;           /* frame side in pixels */
} vlmi_idefics3_plan;

/* Plans an image of width x height (both > 0). max_tiles > 0 caps
 * rows * cols (0: no cap). The config must have max_image_size.longest_edge
 * and, with do_resize, size.longest_edge (VLM_ERR_FORMAT otherwise). */
vlm_status vlmi_idefics3_plan_image(vlmi_idefics3_plan *plan, const vlmi_processor_config *config,
                                    uint32_t width, uint32_t height, int32_t max_tiles);

/* An image resized for its frames; frames are cut from it on demand, so only
 * one f32 frame needs to exist at a time. */
typedef struct vlmi_idefics3_frames {
    vlmi_idefics3_plan plan;
    uint8_t *grid;    /* (grid_height, grid_width, 3) the image the tiles are cut from */
    uint8_t *global;  /* (tile, tile, 3) the global image; NULL when unsplit */
} vlmi_idefics3_frames;

/* Runs steps 1 and 2 on rgb (height, width, 3). On failure *frames is empty.
 * Free with vlmi_idefics3_frames_free. */
vlm_status vlmi_idefics3_frames_make(vlmi_idefics3_frames *frames,
                                     const vlmi_processor_config *config, const uint8_t *rgb,
                                     uint32_t width, uint32_t height, int32_t max_tiles);
void vlmi_idefics3_frames_free(vlmi_idefics3_frames *frames); /* NULL or empty is fine */

/* The 8-bit pixels of frame k (< n_frames): tiles row-major, then the global
 * image. -> out (tile, tile, 3) */
void vlmi_idefics3_frame_u8(uint8_t *out, const vlmi_idefics3_frames *frames, uint32_t k);

/* Frame k rescaled and normalized as the reference does it (f64 rescale
 * rounded to f32, then f32 (x - mean) / std).
 * -> out (3, tile, tile) */
void vlmi_idefics3_frame_pixels(float *out, const vlmi_idefics3_frames *frames,
                                const vlmi_processor_config *config, uint32_t k);

/* The prompt text that replaces one "<image>": per tile
 * "<fake_token_around_image><row_R_col_C>" + "<image>" x image_seq_len, "\n"
 * after each row, then "\n" and the global image
 * "<fake_token_around_image><global-img>" + "<image>" x image_seq_len +
 * "<fake_token_around_image>"; an unsplit image is the global part alone.
 * Writes up to cap bytes plus a NUL when cap > 0; returns the full length. */
size_t vlmi_idefics3_expand_image(char *buf, size_t cap, const vlmi_idefics3_plan *plan,
                                  size_t image_seq_len);

/* ---- SmolVLM2 video ----
 * A video is frames the caller decoded, each with its timestamp. Each frame
 * is one unsplit frame (longest edge to the video size, then tile x tile),
 * and the "<video>" placeholder becomes (SmolVLMProcessor.replace_video_token):
 *   "You are provided the following series of {count in words} frames from a
 *   {H:MM:SS} [H:MM:SS] video.\n"
 *   then per frame "\nFrame from MM:SS:" + the unsplit image text,
 *   then "\n\n". */

/* n in English words as num2words writes them ("twenty-one", "one hundred
 * and five", "two thousand, three hundred and forty-five"); decimal digits
 * from a million up. Buffer as vlmi_idefics3_expand_image. */
size_t vlmi_number_to_words(char *buf, size_t cap, uint64_t n);

/* The text that replaces one "<video>" of n_frames frames at timestamps
 * (seconds, >= 0) of a video lasting duration_s seconds (< 0: the last
 * timestamp, as the reference does without a duration). */
size_t vlmi_idefics3_expand_video(char *buf, size_t cap, const double *timestamps,
                                  size_t n_frames, double duration_s, size_t image_seq_len);

/* SmolVLMVideoProcessor.sample_frames: which of total_frames frames (at
 * video_fps, lasting duration_s) to use for fps frames per second, at most
 * max_frames, skipping a second at each end of long videos. Writes the
 * increasing indices (up to max_frames of them) to indices; returns their
 * count (0 if total_frames is 0 or an argument is not positive). */
size_t vlmi_smolvlm_sample_frames(uint32_t *indices, uint32_t total_frames, double video_fps,
                                  double duration_s, double fps, uint32_t max_frames);

/* Added to config->resample by vlmi_idefics3_video_config: frames made with
 * this config are resized as torchvision resizes uint8 tensors
 * (vlmi_resize_torch_u8, filter resample & 0xff) and normalized as the
 * reference's fused float32 normalize, not as the PIL image processor does. */
#define VLMI_IDEFICS3_RESAMPLE_TORCH 0x100

/* The processor settings for video frames, as transformers'
 * SmolVLMVideoProcessor (torchvision 0.29 on CPU) prepares them:
 * video_config (the video preprocessor's, or the image one) with splitting
 * off, the video size as the longest edge (capped at 4096 first, as
 * get_resize_output_image_size does), and, for BILINEAR, BICUBIC and LANCZOS,
 * VLMI_IDEFICS3_RESAMPLE_TORCH: torchvision's antialiased uint8 resize with
 * the same filter (LANCZOS stays LANCZOS: transformers falls back to BICUBIC
 * only with torchvision < 0.27 or GPU tensors), then rescale and normalize
 * fused into one float32 normalize. Other filters keep the PIL path. */
void vlmi_idefics3_video_config(vlmi_processor_config *out, const vlmi_processor_config *video_config);

#endif
