/* Qwen2.5-VL as a session sees it (see family.h): dynamic resolution within
 * the session's pixel budget, one encoder pass over the whole image, and
 * multimodal rotary positions. */
#include "arch/family.h"
#include "arch/qwen2_5_vl.h"
#include "arch/qwen2_5_vl_chat.h"
#include "arch/qwen2_5_vl_processor.h"
#include "model.h"

#include <stdlib.h>
#include <string.h>

static vlm_status check_session(const vlm_model *m) {
    const vlmi_processor_config *pc = &m->config.processor;
    const vlmi_vit_hparams *vp = &m->qwen2_5_vl.vision.hp;
    if (!m->config.has_processor)
        return vlmi_fail(VLM_ERR_IO, "%s: no preprocessor_config.json (a session needs the "
                         "model's image processor settings)", m->path);
    if ((size_t)pc->patch_size != vp->patch_size)
        return vlmi_fail(VLM_ERR_FORMAT, "%s: preprocessor patch_size %d differs from the "
                         "vision encoder's %zu", m->path, (int)pc->patch_size, vp->patch_size);
    if ((uint32_t)pc->merge_size != m->qwen2_5_vl.rope.spatial_merge_size)
        return vlmi_fail(VLM_ERR_FORMAT, "%s: preprocessor merge_size %d differs from the "
                         "vision config's spatial_merge_size %u", m->path, (int)pc->merge_size,
                         m->qwen2_5_vl.rope.spatial_merge_size);
    return VLM_OK;
}

static const vlmi_decoder *decoder(const vlm_model *m) { return &m->qwen2_5_vl.text; }
static int32_t image_token(const vlm_model *m) { return m->qwen2_5_vl.rope.image_token_id; }
static size_t image_block_rows(const vlm_model *m) { (void)m; return 0; }

static size_t expand_image(char *buf, size_t cap, const vlm_model *m, const vlmi_image_plan *plan) {
    (void)m;
    return vlmi_qwen2vl_expand(buf, cap, plan->u.qwen2vl.n_tokens, false);
}

static vlm_status plan_image(vlmi_image_plan *out, const vlm_model *m,
                             const vlmi_processor_config *config, const vlmi_image_request *req,
                             uint32_t width, uint32_t height) {
    (void)m;
    vlmi_qwen2vl_plan plan;
    vlm_status st = vlmi_qwen2vl_plan_frames(&plan, config, width, height, 1, req->min_pixels,
                                             req->max_pixels);
    if (st != VLM_OK) return st;
    memset(out, 0, sizeof *out);
    out->n_frames = 1;
    out->n_rows = plan.n_tokens;
    out->rows = plan.grid_h;
    out->cols = plan.grid_w;
    out->frame_width = plan.resized_width;
    out->frame_height = plan.resized_height;
    out->n_values = plan.n_values;
    out->work_bytes = plan.work_bytes + plan.n_values * sizeof(float);
    out->request = *req;
    out->u.qwen2vl = plan;
    return VLM_OK;
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

static vlm_status encode_image(float *rows, void *state, const vlm_model *m,
                               const vlmi_processor_config *config, const vlmi_image_plan *plan,
                               const uint8_t *rgb, uint32_t width, uint32_t height,
                               vlmi_threadpool *pool, vlmi_frame_done_fn frame_done,
                               void *user_data, double *preprocess_ms, double *encode_ms) {
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
    if ((st = pixel_values(vs->pixel_values, m, config, plan, rgb, width, height)) != VLM_OK)
        return st;
    double t1 = vlmi_now_ms();
    st = vlmi_qwen2_5_vl_encode_image_pool(rows, vs->image, &m->qwen2_5_vl, vs->pixel_values,
                                           p->n_patches, p->grid_t, p->grid_h, p->grid_w, pool);
    *preprocess_ms += t1 - t0;
    *encode_ms += vlmi_now_ms() - t1;
    return st == VLM_OK ? frame_done(user_data) : st;
}

static vlm_status embed(float *out, uint8_t *bidirectional, const vlm_model *m, const int32_t *ids,
                        size_t n, const float *image_rows, size_t n_image_rows) {
    memset(bidirectional, 0, n);
    return vlmi_qwen2_5_vl_embed(out, &m->qwen2_5_vl, ids, n, image_rows, n_image_rows);
}

static vlm_status rope_positions(int32_t *positions, int64_t *delta, const vlm_model *m,
                                 const int32_t *ids, size_t n,
                                 const vlmi_image_plan *const *plans, size_t n_images) {
    vlmi_qwen2vl_grid *grids = vlmi_calloc(n_images > 0 ? n_images : 1, sizeof *grids);
    if (grids == NULL) return VLM_ERR_OUT_OF_MEMORY;
    for (size_t i = 0; i < n_images; i++)
        grids[i] = (vlmi_qwen2vl_grid){plans[i]->u.qwen2vl.grid_t, plans[i]->u.qwen2vl.grid_h,
                                       plans[i]->u.qwen2vl.grid_w};
    vlm_status st = vlmi_qwen2vl_rope_index(positions, delta, &m->qwen2_5_vl.rope, ids, n, grids,
                                            n_images, NULL, 0, NULL);
    free(grids);
    return st;
}

const vlmi_family_ops vlmi_qwen2_5_vl_ops = {
    .check_session = check_session,
    .decoder = decoder,
    .image_token = image_token,
    .image_block_rows = image_block_rows,
    .chat_render = vlmi_qwen2vl_chat_render,
    .image_placeholder = VLMI_QWEN2VL_IMAGE_PLACEHOLDER,
    .video_placeholder = "",
    .expand_image = expand_image,
    .plan_image = plan_image,
    .pixel_values = pixel_values,
    .vision_state_create = vision_state_create,
    .vision_state_free = vision_state_free,
    .encode_image = encode_image,
    .embed = embed,
    .rope_positions = rope_positions,
};
