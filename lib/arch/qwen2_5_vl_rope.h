/* Qwen2.5-VL's multimodal rotary positions (transformers'
 * Qwen2_5_VLModel.get_rope_index): every prompt token gets a (temporal,
 * height, width) position for the decoder's M-RoPE.
 *
 * Text tokens count up by one on all three axes. A run of image (video)
 * placeholder tokens, one per merged patch group, takes the next grid: the
 * group at (t, y, x) of the merged grid gets (start + t * interval, start + y,
 * start + x), where start is the position after the preceding text and
 * interval is 1 for an image and (int)(t * tokens_per_second *
 * second_per_grid_t) per temporal step for a video; the text after it
 * continues from start + max(grid_h, grid_w) / merge. Generation continues at
 * cache row p with position p + rope_delta on every axis. */
#ifndef VLM_ARCH_QWEN2_5_VL_ROPE_H
#define VLM_ARCH_QWEN2_5_VL_ROPE_H

#include "vlm-impl.h"

/* One image's or video's patch grid: image_grid_thw / video_grid_thw. */
typedef struct vlmi_qwen2vl_grid {
    uint32_t t, h, w;  /* temporal patches, patch rows, patch columns */
} vlmi_qwen2vl_grid;

/* What get_rope_index reads from the config. */
typedef struct vlmi_qwen2vl_rope_params {
    int32_t image_token_id;     /* <|image_pad|> */
    int32_t video_token_id;     /* <|video_pad|> */
    uint32_t spatial_merge_size; /* vision_config.spatial_merge_size */
    uint32_t tokens_per_second;  /* vision_config.tokens_per_second */
} vlmi_qwen2vl_rope_params;

/* The position ids of a prompt and its rope delta (largest position + 1 - n).
 * Each maximal run of image (video) tokens takes the next image (video) grid
 * in order and must hold exactly t * h * w / merge^2 tokens; h and w must be
 * multiples of the merge size; every grid must be used. Any mismatch is
 * VLM_ERR_INVALID_ARGUMENT, positions beyond int32 VLM_ERR_LIMIT.
 * second_per_grid_ts (n_videos) may be NULL (1 second per temporal patch).
 * ids (n), grids -> positions (3, n): axis a of token i at positions[a * n + i] */
vlm_status vlmi_qwen2vl_rope_index(int32_t *positions, int64_t *rope_delta,
                                   const vlmi_qwen2vl_rope_params *params,
                                   const int32_t *ids, size_t n,
                                   const vlmi_qwen2vl_grid *image_grids, size_t n_images,
                                   const vlmi_qwen2vl_grid *video_grids, size_t n_videos,
                                   const float *second_per_grid_ts);

#endif
