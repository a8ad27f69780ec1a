/* Idefics3 / SmolVLM / SmolVLM2 as a session sees it (see family.h). */
#include "arch/family.h"
#include "arch/idefics3.h"
#include "arch/idefics3_chat.h"
#include "model.h"

#include <stdlib.h>
#include <string.h>

static vlm_status check_session(const vlm_model *m) {
    const vlmi_hub_config *hub = &m->config;
    const vlmi_idefics3 *net = &m->idefics3;
    const vlmi_vit_hparams *vp = &net->vision.hp;
    if (!hub->has_processor)
        return vlmi_fail(VLM_ERR_IO, "%s: no preprocessor_config.json (a session needs the "
                         "model's image processor settings)", m->path);
    if ((size_t)hub->processor.max_image_size.longest_edge != vp->image_size)
        return vlmi_fail(VLM_ERR_FORMAT, "%s: preprocessor max_image_size.longest_edge %d differs "
                         "from the vision encoder's image_size %zu", m->path,
                         (int)hub->processor.max_image_size.longest_edge, vp->image_size);
    if (hub->processor.image_seq_len > 0 && (size_t)hub->processor.image_seq_len != net->image_seq_len)
        return vlmi_fail(VLM_ERR_FORMAT, "%s: processor image_seq_len %d, but the vision encoder "
                         "gives %zu rows per frame", m->path, (int)hub->processor.image_seq_len,
                         net->image_seq_len);
    if (!vlmi_idefics3_chat_template_known(hub->tokenizer.chat_template))
        vlmi_log(VLM_LOG_WARN, "%s: the chat template is not SmolVLM's; prompts are formatted "
                 "as SmolVLM's template would", m->path);
    return VLM_OK;
}

static const vlmi_decoder *decoder(const vlm_model *m) { return &m->idefics3.text; }
static int32_t image_token(const vlm_model *m) { return m->idefics3.image_token_id; }
static size_t image_block_rows(const vlm_model *m) { (void)m; return 0; }

static size_t expand_image(char *buf, size_t cap, const vlm_model *m, const vlmi_image_plan *plan) {
    return vlmi_idefics3_expand_image(buf, cap, &plan->u.idefics3, m->idefics3.image_seq_len);
}

static size_t expand_video(char *buf, size_t cap, const vlm_model *m,
                           const vlmi_image_plan *frame_plan, const double *timestamps,
                           size_t n_frames, double duration_s) {
    (void)frame_plan;
    return vlmi_idefics3_expand_video(buf, cap, timestamps, n_frames, duration_s,
                                      m->idefics3.image_seq_len);
}

static void video_config(vlmi_processor_config *out, const vlm_model *m) {
    const vlmi_hub_config *hub = &m->config;
    vlmi_idefics3_video_config(out, hub->has_video_processor ? &hub->video_processor
                                                             : &hub->processor);
}

static vlm_status plan_image(vlmi_image_plan *out, const vlm_model *m,
                             const vlmi_processor_config *config, const vlmi_image_request *req,
                             uint32_t width, uint32_t height) {
    vlmi_idefics3_plan plan;
    vlm_status st = vlmi_idefics3_plan_image(&plan, config, width, height, req->max_tiles);
    if (st != VLM_OK) return st;
    uint64_t tile = plan.tile;
    uint64_t resized = (uint64_t)plan.resized_width * plan.resized_height * 3;
    uint64_t grid = (uint64_t)plan.grid_width * plan.grid_height * 3;
    uint64_t global = plan.rows > 0 ? tile * tile * 3 : 0;
    uint64_t frame = 3 * tile * tile * sizeof(float);
    memset(out, 0, sizeof *out);
    out->n_frames = plan.n_frames;
    out->n_rows = plan.n_frames * m->idefics3.image_seq_len;
    out->rows = plan.rows;
    out->cols = plan.cols;
    out->frame_width = out->frame_height = plan.tile;
    out->n_values = (size_t)plan.n_frames * 3 * tile * tile;
    /* step 1 and 2 images exist together, then the grid, global and one frame */
    out->work_bytes = resized + grid > grid + global + frame ? resized + grid : grid + global + frame;
    out->request = *req;
    out->u.idefics3 = plan;
    return VLM_OK;
}

static vlm_status pixel_values(float *out, const vlm_model *m, const vlmi_processor_config *config,
                               const vlmi_image_plan *plan, const uint8_t *rgb, uint32_t width,
                               uint32_t height) {
    (void)m;
    vlmi_idefics3_frames frames;
    const vlmi_idefics3_plan *p = &plan->u.idefics3;
    vlm_status st = vlmi_idefics3_frames_make(&frames, config, rgb, width, height,
                                              plan->request.max_tiles);
    if (st != VLM_OK) return st;
    size_t frame = 3 * (size_t)p->tile * p->tile;
    for (uint32_t k = 0; k < frames.plan.n_frames; k++)
        vlmi_idefics3_frame_pixels(out + k * frame, &frames, config, k);
    vlmi_idefics3_frames_free(&frames);
    return VLM_OK;
}

typedef struct vision_state {
    vlmi_idefics3_image_state *image;
    float *frame_pixels;   /* (3, tile, tile) one frame */
} vision_state;

static void vision_state_free(void *state) {
    vision_state *vs = state;
    if (vs == NULL) return;
    vlmi_idefics3_image_state_free(vs->image);
    free(vs->frame_pixels);
    free(vs);
}

static vlm_status vision_state_create(const vlm_model *m, void **out) {
    const vlmi_vit_hparams *vp = &m->idefics3.vision.hp;
    vision_state *vs = vlmi_calloc(1, sizeof *vs);
    if (vs == NULL) return VLM_ERR_OUT_OF_MEMORY;
    vlm_status st = vlmi_idefics3_image_state_create(&m->idefics3, &vs->image);
    if (st == VLM_OK) {
        vs->frame_pixels = vlmi_calloc(vp->n_channels * vp->image_size * vp->image_size,
                                       sizeof(float));
        if (vs->frame_pixels == NULL) st = VLM_ERR_OUT_OF_MEMORY;
    }
    if (st != VLM_OK) { vision_state_free(vs); return st; }
    *out = vs;
    return VLM_OK;
}

static vlm_status encode_image(float *rows, void *state, const vlm_model *m,
                               const vlmi_processor_config *config, const vlmi_image_plan *plan,
                               const uint8_t *rgb, uint32_t width, uint32_t height,
                               vlmi_threadpool *pool, vlmi_frame_done_fn frame_done,
                               void *user_data, double *preprocess_ms, double *encode_ms) {
    vision_state *vs = state;
    const vlmi_idefics3 *net = &m->idefics3;
    const vlmi_vit_hparams *vp = &net->vision.hp;
    size_t dim = net->text.hp.dim;
    const vlmi_idefics3_plan *p = &plan->u.idefics3;
    double start = vlmi_now_ms();
    vlmi_idefics3_frames frames;
    vlm_status st = vlmi_idefics3_frames_make(&frames, config, rgb, width, height,
                                              plan->request.max_tiles);
    if (st != VLM_OK) return st;
    if (frames.plan.n_frames != p->n_frames)
        st = vlmi_fail(VLM_ERR_INTERNAL, "image plan and frames disagree");
    *preprocess_ms += vlmi_now_ms() - start;
    for (uint32_t k = 0; st == VLM_OK && k < p->n_frames; k++) {
        double t0 = vlmi_now_ms();
        vlmi_idefics3_frame_pixels(vs->frame_pixels, &frames, config, k);
        double t1 = vlmi_now_ms();
        st = vlmi_idefics3_encode_image_pool(rows + k * net->image_seq_len * dim, vs->image, net,
                                             vs->frame_pixels, vp->image_size, vp->image_size,
                                             pool);
        *preprocess_ms += t1 - t0;
        *encode_ms += vlmi_now_ms() - t1;
        if (st == VLM_OK) st = frame_done(user_data);
    }
    vlmi_idefics3_frames_free(&frames);
    return st;
}

static vlm_status embed(float *out, uint8_t *bidirectional, const vlm_model *m, const int32_t *ids,
                        size_t n, const float *image_rows, size_t n_image_rows) {
    memset(bidirectional, 0, n);
    return vlmi_idefics3_embed(out, &m->idefics3, ids, n, image_rows, n_image_rows);
}

const vlmi_family_ops vlmi_idefics3_ops = {
    .check_session = check_session,
    .decoder = decoder,
    .image_token = image_token,
    .image_block_rows = image_block_rows,
    .chat_render = vlmi_idefics3_chat_render,
    .image_placeholder = "<image>",
    .video_placeholder = "<video>",
    .expand_image = expand_image,
    .expand_video = expand_video,
    .video_config = video_config,
    .plan_image = plan_image,
    .pixel_values = pixel_values,
    .vision_state_create = vision_state_create,
    .vision_state_free = vision_state_free,
    .encode_image = encode_image,
    .embed = embed,
};
