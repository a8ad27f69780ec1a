/* Qwen2.5-VL get_rope_index (see qwen2_5_vl_rope.h). */
#include "arch/qwen2_5_vl_rope.h"

#include <string.h>

/* Positions of one grid's tokens from start, merged grid in (t, y, x) order.
 * -> positions[a * n + first ...] for the three axes */
static vlm_status grid_positions(int32_t *positions, size_t n, size_t first, int64_t start,
                                 const vlmi_qwen2vl_grid *grid, uint32_t merge,
                                 float time_interval, bool video) {
    size_t gh = grid->h / merge, gw = grid->w / merge, i = first;
    for (size_t t = 0; t < grid->t; t++) {
        /* (arange(t) * interval).long() in f32, truncating; images step by 1 */
        int64_t temporal = video ? (int64_t)((float)t * time_interval) : (int64_t)t;
        for (size_t y = 0; y < gh; y++)
            for (size_t x = 0; x < gw; x++, i++) {
                int64_t at[3] = {start + temporal, start + (int64_t)y, start + (int64_t)x};
                for (size_t a = 0; a < 3; a++) {
                    if (at[a] > INT32_MAX)
                        return vlmi_fail(VLM_ERR_LIMIT, "rope index: position %lld exceeds "
                                         "int32", (long long)at[a]);
                    positions[a * n + i] = (int32_t)at[a];
                }
            }
    }
    return VLM_OK;
}

vlm_status vlmi_qwen2vl_rope_index(int32_t *positions, int64_t *rope_delta,
                                   const vlmi_qwen2vl_rope_params *params,
                                   const int32_t *ids, size_t n,
                                   const vlmi_qwen2vl_grid *image_grids, size_t n_images,
                                   const vlmi_qwen2vl_grid *video_grids, size_t n_videos,
                                   const float *second_per_grid_ts) {
    uint32_t merge = params->spatial_merge_size;
    if (merge == 0 && n_images + n_videos > 0)   /* 0 in a text GGUF without its mmproj */
        return vlmi_fail(VLM_ERR_INVALID_ARGUMENT, "rope index: spatial_merge_size is 0");
    size_t next_image = 0, next_video = 0;
    int64_t current = 0, largest = -1;
    for (size_t i = 0; i < n;) {
        bool image = ids[i] == params->image_token_id;
        bool video = !image && ids[i] == params->video_token_id;
        if (!image && !video) { // text: one step on every axis
            if (current > INT32_MAX)
                return vlmi_fail(VLM_ERR_LIMIT, "rope index: position %lld exceeds int32",
                                 (long long)current);
            for (size_t a = 0; a < 3; a++) positions[a * n + i] = (int32_t)current;
            if (current > largest) largest = current;
            current++;
            i++;
            continue;
        }
        size_t run_end = i + 1;
        while (run_end < n && ids[run_end] == ids[i]) run_end++;
        const char *kind = image ? "image" : "video";
        size_t index = image ? next_image++ : next_video++;
        if (index >= (image ? n_images : n_videos))
            return vlmi_fail(VLM_ERR_INVALID_ARGUMENT, "rope index: the prompt has more %s "
                             "runs than the %zu %s grids", kind,
                             image ? n_images : n_videos, kind);
        const vlmi_qwen2vl_grid *grid = image ? &image_grids[index] : &video_grids[index];
        if (grid->t == 0 || grid->h == 0 || grid->w == 0 || grid->h % merge || grid->w % merge)
            return vlmi_fail(VLM_ERR_INVALID_ARGUMENT, "rope index: %s grid %zu (%u, %u, %u) "
                             "is not a whole number of %ux%u groups", kind, index, grid->t,
                             grid->h, grid->w, merge, merge);
        size_t n_grid = (size_t)grid->t * (grid->h / merge) * (grid->w / merge);
        if (run_end - i != n_grid)
            return vlmi_fail(VLM_ERR_INVALID_ARGUMENT, "rope index: %s %zu has %zu placeholder "
                             "tokens, its grid (%u, %u, %u) needs %zu", kind, index,
                             run_end - i, grid->t, grid->h, grid->w, n_grid);
        /* tokens_per_second * second_per_grid_t: a float32 product as torch makes it */
        float interval = 1.0f;
        if (video)
            interval = (float)params->tokens_per_second *
                       (second_per_grid_ts ? second_per_grid_ts[index] : 1.0f);
        vlm_status st = grid_positions(positions, n, i, current, grid, merge, interval, video);
        if (st != VLM_OK) return st;
        for (size_t j = i; j < run_end; j++)
            for (size_t a = 0; a < 3; a++)
                if (positions[a * n + j] > largest) largest = positions[a * n + j];
        current += (grid->h > grid->w ? grid->h : grid->w) / merge;
        i = run_end;
    }
    if (next_image != n_images || next_video != n_videos)
        return vlmi_fail(VLM_ERR_INVALID_ARGUMENT, "rope index: %zu image and %zu video grids "
                         "for %zu image and %zu video runs in the prompt", n_images, n_videos,
                         next_image, next_video);
    *rope_delta = largest + 1 - (int64_t)n;
    return VLM_OK;
}
