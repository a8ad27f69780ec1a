/* Qwen2.5-VL as a session sees it (see family.h): dynamic resolution within
 * the session's pixel budget, one encoder pass over the whole image or the
 * whole video (its frames patched together in time), and multimodal rotary
 * positions.
 *
 * A video's frame rate, which sets how far apart its temporal patches are
 * in rotary time (second_per_grid_t = temporal_patch_size / fps), is what
 * transformers' Qwen2_5_VLProcessor takes from the video's metadata
 * (VideoMetadata.sampled_fps: sampled frames / total frames * fps, that is
 * frames per second of video): n_frames / duration_s when the caller gives
 * the duration, else the rate the timestamps show ((n - 1) / (last - first),
 * the same for evenly sampled frames), else (one frame, no duration) the
 * 24 fps transformers assumes without metadata. */
#include "arch/family.h"
#include "arch/qwen2_5_vl.h"
#include "arch/qwen2_5_vl_chat.h"
#include "arch/qwen2_5_vl_processor.h"
#include "model.h"

#include <stdlib.h>
#include <string.h>

/* A processor config (the image or the video one) agrees with the encoder. */
static vlm_status check_processor(const vlm_model *m, const vlmi_processor_config *pc,
                                  const char *file) {
    const vlmi_vit_hparams *vp = &m->qwen2_5_vl.vision.hp;
    if ((size_t)pc->patch_size != vp->patch_size)
        return vlmi_fail(VLM_ERR_FORMAT, "%s: %s patch_size %d differs from the vision "
                         "encoder's %zu", m->path, file, (int)pc->patch_size, vp->patch_size);
    if ((size_t)pc->temporal_patch_size != vp->temporal_patch_size)
        return vlmi_fail(VLM_ERR_FORMAT, "%s: %s temporal_patch_size %d differs from the vision "
                         "encoder's %zu", m->path, file, (int)pc->temporal_patch_size,
                         vp->temporal_patch_size);
    if ((uint32_t)pc->merge_size != m->qwen2_5_vl.rope.spatial_merge_size)
        return vlmi_fail(VLM_ERR_FORMAT, "%s: %s merge_size %d differs from the vision "
                         "config's spatial_merge_size %u", m->path, file, (int)pc->merge_size,
                         m->qwen2_5_vl.rope.spatial_merge_size);
    return VLM_OK;
}

/* A llama.cpp text GGUF loaded without its mmproj has no vision tower:
 * its sessions are text-only. */
static bool takes_images(const vlm_model *m) { return m->qwen2_5_vl.vision.hp.n_layers > 0; }

static vlm_status refuse_images(const vlm_model *m) {
    return vlmi_fail(VLM_ERR_UNSUPPORTED, "%s: no vision tower (a llama.cpp text GGUF takes "
                     "images with its mmproj file: vlm_model_params.mmproj_path)", m->path);
}

static vlm_status check_session(const vlm_model *m) {
    if (!takes_images(m)) return VLM_OK;
    if (!m->config.has_processor)
        return vlmi_fail(VLM_ERR_IO, "%s: no preprocessor_config.json (a session needs the "
                         "model's image processor settings)", m->path);
    vlm_status st = check_processor(m, &m->config.processor, "preprocessor_config.json");
    if (st == VLM_OK && m->config.has_video_processor)
        st = check_processor(m, &m->config.video_processor, "video_preprocessor_config.json");
    return st;
}

static const vlmi_decoder *decoder(const vlm_model *m) { return &m->qwen2_5_vl.text; }
static int32_t image_token(const vlm_model *m) { return m->qwen2_5_vl.rope.image_token_id; }
static int32_t video_token(const vlm_model *m) { return m->qwen2_5_vl.rope.video_token_id; }
static size_t image_block_rows(const vlm_model *m) { (void)m; return 0; }

static size_t expand_image(char *buf, size_t cap, const vlm_model *m, const vlmi_image_plan *plan) {
    (void)m;
    return vlmi_qwen2vl_expand(buf, cap, plan->u.qwen2vl.n_tokens, false);
}

static size_t expand_video(char *buf, size_t cap, const vlm_model *m, const vlmi_image_plan *plan,
                           const double *timestamps, size_t n_frames, double duration_s) {
    (void)m, (void)timestamps, (void)n_frames, (void)duration_s;
    return vlmi_qwen2vl_expand(buf, cap, plan->u.qwen2vl.n_tokens, true);
}

/* Qwen2VLVideoProcessor's settings: video_preprocessor_config.json, else
 * preprocessor_config.json (transformers loads the video processor from it
 * when the model has no video config). */
static void video_config(vlmi_processor_config *out, const vlm_model *m) {
    const vlmi_hub_config *hub = &m->config;
    *out = hub->has_video_processor ? hub->video_processor : hub->processor;
}

/* Frame sampling defaults: qwen-vl-utils' 2 frames per second (transformers
 * has none: it samples only when asked), Qwen2VLVideoProcessor's min_frames
 * 4 and max_frames 768. */
#define DEFAULT_SAMPLE_FPS 2.0
#define MIN_SAMPLED_FRAMES 4
#define MAX_SAMPLED_FRAMES 768

static size_t sample_frames(uint32_t *indices, const vlm_model *m,
                            const vlmi_processor_config *config, uint32_t total_frames,
                            double video_fps, double fps, uint32_t max_frames) {
    (void)m;
    if (max_frames == 0) max_frames = MAX_SAMPLED_FRAMES;
    if (indices == NULL) return max_frames < total_frames ? max_frames + 1 : total_frames + 1;
    return vlmi_qwen2vl_sample_frames(indices, total_frames, video_fps,
                                      fps > 0.0 ? fps : DEFAULT_SAMPLE_FPS, MIN_SAMPLED_FRAMES,
                                      max_frames, (uint32_t)config->temporal_patch_size);
}

/* The session's plan of a Qwen plan: one encoder pass. */
static void wrap_plan(vlmi_image_plan *out, const vlmi_qwen2vl_plan *plan,
                      const vlmi_image_request *req) {
    memset(out, 0, sizeof *out);
    out->n_frames = 1;
    out->n_rows = plan->n_tokens;
    out->rows = plan->grid_h;
    out->cols = plan->grid_w;
    out->frame_width = plan->resized_width;
    out->frame_height = plan->resized_height;
    out->n_values = plan->n_values;
    out->work_bytes = plan->work_bytes + plan->n_values * sizeof(float);
    out->request = *req;
    out->u.qwen2vl = *plan;
}

static vlm_status plan_image(vlmi_image_plan *out, const vlm_model *m,
                             const vlmi_processor_config *config, const vlmi_image_request *req,
                             uint32_t width, uint32_t height) {
    if (!takes_images(m)) return refuse_images(m);
    vlmi_qwen2vl_plan plan;
    vlm_status st = vlmi_qwen2vl_plan_frames(&plan, config, width, height, 1, req->min_pixels,
                                             req->max_pixels);
    if (st == VLM_OK) wrap_plan(out, &plan, req);
    return st;
}

static vlm_status plan_video(vlmi_image_plan *out, const vlm_model *m,
                             const vlmi_processor_config *config, const vlmi_image_request *req,
                             uint32_t width, uint32_t height, size_t n_frames) {
    if (!takes_images(m)) return refuse_images(m);
    if (n_frames == 0 || n_frames > UINT32_MAX)
        return vlmi_fail(VLM_ERR_INVALID_ARGUMENT, "a video of %zu frames", n_frames);
    vlmi_qwen2vl_plan plan;
    vlm_status st = vlmi_qwen2vl_plan_video(&plan, config, width, height, (uint32_t)n_frames,
                                            req->min_pixels, req->max_pixels);
    if (st == VLM_OK) wrap_plan(out, &plan, req);
    return st;
}

static vlm_status pixel_values(float *out, const vlm_model *m, const vlmi_processor_config *config,
                               const vlmi_image_plan *plan, const uint8_t *rgb, uint32_t width,
                               uint32_t height) {
    (void)m, (void)width, (void)height;
    const uint8_t *frames[1] = {rgb};
    return vlmi_qwen2vl_pixel_values(out, &plan->u.qwen2vl, config, frames);
}

/* The encoder's buffers grow to the largest image seen. */
typedef struct vision_state {
    vlmi_qwen2_5_vl_image_state *image;
    float *pixel_values;
    size_t capacity;       /* floats of pixel_values */
} vision_state;

static void vision_state_free(void *state) {
    vision_state *vs = state;
    if (vs == NULL) return;
    vlmi_qwen2_5_vl_image_state_free(vs->image);
    free(vs->pixel_values);
    free(vs);
}

static vlm_status vision_state_create(const vlm_model *m, void **out) {
    (void)m;
    vision_state *vs = vlmi_calloc(1, sizeof *vs);
    if (vs == NULL) return VLM_ERR_OUT_OF_MEMORY;
    *out = vs;
    return VLM_OK;
}

/* Pixel values of the planned frames (one image, or a video's), then the
 * encoder over them in one pass. */
static vlm_status encode_frames(float *rows, void *state, const vlm_model *m,
                                const vlmi_processor_config *config, const vlmi_image_plan *plan,
                                const uint8_t *const *frames, vlmi_threadpool *pool,
                                vlmi_frame_done_fn frame_done, void *user_data,
                                double *preprocess_ms, double *encode_ms) {
    vision_state *vs = state;
    const vlmi_qwen2vl_plan *p = &plan->u.qwen2vl;
    vlm_status st = VLM_OK;
    if (vs->image == NULL || vs->image->max_patches < p->n_patches) {
        vlmi_qwen2_5_vl_image_state_free(vs->image);
        vs->image = NULL;
        if ((st = vlmi_qwen2_5_vl_image_state_create(&m->qwen2_5_vl, p->n_patches, &vs->image)) != VLM_OK)
            return st;
    }
    if (vs->capacity < p->n_values) {
        float *grown = vlmi_realloc(vs->pixel_values, p->n_values * sizeof(float));
        if (grown == NULL) return VLM_ERR_OUT_OF_MEMORY;
        vs->pixel_values = grown;
        vs->capacity = p->n_values;
    }
    double t0 = vlmi_now_ms();
    if ((st = vlmi_qwen2vl_pixel_values(vs->pixel_values, p, config, frames)) != VLM_OK)
        return st;
    double t1 = vlmi_now_ms();
    st = vlmi_qwen2_5_vl_encode_image_pool(rows, vs->image, &m->qwen2_5_vl, vs->pixel_values,
                                           p->n_patches, p->grid_t, p->grid_h, p->grid_w, pool);
    *preprocess_ms += t1 - t0;
    *encode_ms += vlmi_now_ms() - t1;
    return st == VLM_OK ? frame_done(user_data) : st;
}

static vlm_status encode_image(float *rows, void *state, const vlm_model *m,
                               const vlmi_processor_config *config, const vlmi_image_plan *plan,
                               const uint8_t *rgb, uint32_t width, uint32_t height,
                               vlmi_threadpool *pool, vlmi_frame_done_fn frame_done,
                               void *user_data, double *preprocess_ms, double *encode_ms) {
    (void)width, (void)height;
    const uint8_t *frames[1] = {rgb};
    return encode_frames(rows, state, m, config, plan, frames, pool, frame_done, user_data,
                         preprocess_ms, encode_ms);
}

static vlm_status encode_video(float *rows, void *state, const vlm_model *m,
                               const vlmi_processor_config *config, const vlmi_image_plan *plan,
                               const uint8_t *const *frames, uint32_t width, uint32_t height,
                               vlmi_threadpool *pool, vlmi_frame_done_fn frame_done,
                               void *user_data, double *preprocess_ms, double *encode_ms) {
    (void)width, (void)height;
    return encode_frames(rows, state, m, config, plan, frames, pool, frame_done, user_data,
                         preprocess_ms, encode_ms);
}

static vlm_status embed(float *out, uint8_t *bidirectional, const vlm_model *m, const int32_t *ids,
                        size_t n, const float *image_rows, size_t n_image_rows) {
    memset(bidirectional, 0, n);
    return vlmi_qwen2_5_vl_embed(out, &m->qwen2_5_vl, ids, n, image_rows, n_image_rows);
}

/* Frames per second of video (see the top of this file). */
static double video_fps(const vlmi_prompt_media *video) {
    const double *ts = video->timestamps;
    size_t n = video->n_frames;
    if (video->duration_s > 0.0) return (double)n / video->duration_s;
    if (n >= 2 && ts[n - 1] > ts[0]) return (double)(n - 1) / (ts[n - 1] - ts[0]);
    return 24.0;
}

static vlm_status rope_positions(int32_t *positions, int64_t *delta, const vlm_model *m,
                                 const int32_t *ids, size_t n, const vlmi_prompt_media *media,
                                 size_t n_media) {
    size_t count = n_media > 0 ? n_media : 1;
    vlmi_qwen2vl_grid *grids = vlmi_calloc(2 * count, sizeof *grids);
    float *second_per_grid_ts = vlmi_calloc(count, sizeof *second_per_grid_ts);
    if (grids == NULL || second_per_grid_ts == NULL) {
        free(grids);
        free(second_per_grid_ts);
        return VLM_ERR_OUT_OF_MEMORY;
    }
    vlmi_qwen2vl_grid *image_grids = grids, *video_grids = grids + count;
    size_t n_images = 0, n_videos = 0;
    for (size_t i = 0; i < n_media; i++) {
        const vlmi_qwen2vl_plan *p = &media[i].plan->u.qwen2vl;
        vlmi_qwen2vl_grid grid = {p->grid_t, p->grid_h, p->grid_w};
        if (media[i].timestamps == NULL) {
            image_grids[n_images++] = grid;
            continue;
        }
        /* a float32 tensor of temporal_patch_size / fps, as the processor's */
        second_per_grid_ts[n_videos] = (float)((double)p->temporal_patch_size / video_fps(&media[i]));
        video_grids[n_videos++] = grid;
    }
    vlm_status st = vlmi_qwen2vl_rope_index(positions, delta, &m->qwen2_5_vl.rope, ids, n,
                                            image_grids, n_images, video_grids, n_videos,
                                            second_per_grid_ts);
    free(grids);
    free(second_per_grid_ts);
    return st;
}

const vlmi_family_ops vlmi_qwen2_5_vl_ops = {
    .check_session = check_session,
    .decoder = decoder,
    .image_token = image_token,
    .video_token = video_token,
    .image_block_rows = image_block_rows,
    .chat_render = vlmi_qwen2vl_chat_render,
    .image_placeholder = VLMI_QWEN2VL_IMAGE_PLACEHOLDER,
    .video_placeholder = VLMI_QWEN2VL_VIDEO_PLACEHOLDER,
    .expand_image = expand_image,
    .expand_video = expand_video,
    .video_config = video_config,
    .sample_frames = sample_frames,
    .plan_video = plan_video,
    .encode_video = encode_video,
    .plan_image = plan_image,
    .pixel_values = pixel_values,
    .vision_state_create = vision_state_create,
    .vision_state_free = vision_state_free,
    .encode_image = encode_image,
    .embed = embed,
    .rope_positions = rope_positions,
};
