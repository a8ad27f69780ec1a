/* The Gemma 3 image processor, as transformers 5.24's Gemma3ImageProcessorPil
 * computes it (the PIL backend: what AutoProcessor loads when torchvision is
 * absent, and the slow reference the torchvision one approximates), and the
 * prompt text that stands for an image (Gemma3Processor).
 *
 * An image becomes frames of S x S pixels (S = size.height == size.width,
 * the vision tower's image_size):
 *   frame 0: the whole image resized to S x S (PIL filter config->resample);
 *   frames 1..n_crops, with pan & scan only: crops of the ORIGINAL image,
 *     row-major, each resized to S x S. Pan & scan cuts a landscape image
 *     (width >= height) into 2..max_num_crops columns, a portrait one into
 *     rows, only when the long/short ratio reaches min_ratio_to_activate and
 *     every crop is at least min_crop_size pixels on its short side; the
 *     crops are ceil(side / n) long, the last one what is left;
 *   then rescale (f64 product rounded to f32) and normalize (f32), channels
 *   first. */
#ifndef VLM_ARCH_GEMMA3_PROCESSOR_H
#define VLM_ARCH_GEMMA3_PROCESSOR_H

#include "model/processor_config.h"
#include "vlm-impl.h"

#include <stdbool.h>

/* What an image will become, known from its size alone. */
typedef struct vlmi_gemma3_plan {
    uint32_t n_crops;          /* pan & scan crops; 0: the whole image only */
    uint32_t crop_rows;        /* crop grid (rows x cols == n_crops); 0, 0 */
    uint32_t crop_cols;        /*   without crops */
    uint32_t crop_width;       /* crop size in source pixels (ceil); the last */
    uint32_t crop_height;      /*   column / row keeps what is left */
    uint32_t n_frames;         /* 1 + n_crops */
    uint32_t image_size;       /* S: frame side in pixels */
    size_t tokens_per_image;   /* image_seq_len: <image_soft_token> per frame */
    size_t n_rows;             /* n_frames * tokens_per_image */
    uint64_t work_bytes;       /* scratch vlmi_gemma3_frame_pixels allocates
                                  (the S x S x 3 resized frame) */
} vlmi_gemma3_plan;

/* Plans an image of width x height (both > 0, else VLM_ERR_INVALID_ARGUMENT).
 * pan_and_scan asks for crops (the reference's do_pan_and_scan; callers pass
 * config->do_pan_and_scan for the model's default); the crop rules take their
 * settings from config. The config must resize to a square (size.height ==
 * size.width > 0) and give image_seq_len > 0 (VLM_ERR_FORMAT otherwise,
 * VLM_ERR_UNSUPPORTED without do_resize). A crop grid the reference would cut
 * an empty crop from (tiny min_crop_size with many crops) is
 * VLM_ERR_INVALID_ARGUMENT. */
vlm_status vlmi_gemma3_plan_image(vlmi_gemma3_plan *plan, const vlmi_processor_config *config,
                                  bool pan_and_scan, uint32_t width, uint32_t height);

/* Frame `frame` (< plan->n_frames) of rgb (height, width, 3), in the order of
 * the reference's pixel_values: the whole image, then the crops row-major.
 * The image must be the one planned. Allocates plan->work_bytes of scratch.
 * -> out (3, S, S) */
vlm_status vlmi_gemma3_frame_pixels(float *out, const vlmi_gemma3_plan *plan,
                                    const vlmi_processor_config *config, const uint8_t *rgb,
                                    uint32_t width, uint32_t height, uint32_t frame);

/* The text that replaces one "<start_of_image>" of the chat prompt
 * (Gemma3Processor.replace_image_token), with F =
 * "\n\n<start_of_image>" + "<image_soft_token>" x tokens_per_image +
 * "<end_of_image>\n\n": F alone without crops, else
 * "Here is the original image " F " and here are some crops to help you see
 * better " then F n_crops times joined by " ".
 * Writes up to cap bytes plus a NUL when cap > 0; returns the full length
 * (so (NULL, 0) is a size query). */
size_t vlmi_gemma3_expand_image(char *buf, size_t cap, const vlmi_gemma3_plan *plan);

#endif
