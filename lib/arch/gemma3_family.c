/* Gemma 3 (gemma-3-4b-it, ShieldGemma 2, the text-only 1b / 270m) as a
 * session sees it (see family.h). */
#include "arch/family.h"
#include "arch/gemma3.h"
#include "arch/gemma3_chat.h"
#include "arch/gemma3_processor.h"
#include "model.h"

#include <stdlib.h>
#include <string.h>

static vlm_status check_session(const vlm_model *m) {
    const vlmi_gemma3 *net = &m->gemma3;
    /* a GGUF may hold weight types no kernel reads yet */
    vlm_status st = vlmi_gemma3_check_kernels(net);
    if (st != VLM_OK) return vlmi_fail_prefix(st, m->path);
    if (!net->has_vision) return VLM_OK;
    const vlmi_processor_config *pc = &m->config.processor;
    if (!m->config.has_processor)
        return vlmi_fail(VLM_ERR_IO, "%s: no preprocessor_config.json (a session needs the "
                         "model's image processor settings)", m->path);
    if ((size_t)pc->size.height != net->vision.hp.image_size ||
        (size_t)pc->size.width != net->vision.hp.image_size)
        return vlmi_fail(VLM_ERR_FORMAT, "%s: preprocessor size %dx%d differs from the vision "
                         "encoder's image_size %zu", m->path, (int)pc->size.width,
                         (int)pc->size.height, net->vision.hp.image_size);
    if (pc->image_seq_len > 0 && (size_t)pc->image_seq_len != net->tokens_per_image)
        return vlmi_fail(VLM_ERR_FORMAT, "%s: processor image_seq_len %d, but the projector "
                         "gives %zu rows per image", m->path, (int)pc->image_seq_len,
                         net->tokens_per_image);
    return VLM_OK;
}

static const vlmi_decoder *decoder(const vlm_model *m) { return &m->gemma3.text; }
static int32_t image_token(const vlm_model *m) { return m->gemma3.image_token_id; }
/* each frame's soft tokens attend to each other both ways */
static size_t image_block_rows(const vlm_model *m) {
    return m->gemma3.has_vision ? m->gemma3.tokens_per_image : 0;
}

static size_t expand_image(char *buf, size_t cap, const vlm_model *m, const vlmi_image_plan *plan) {
    (void)m;
    return vlmi_gemma3_expand_image(buf, cap, &plan->u.gemma3);
}

static vlm_status plan_image(vlmi_image_plan *out, const vlm_model *m,
                             const vlmi_processor_config *config, const vlmi_image_request *req,
                             uint32_t width, uint32_t height) {
    if (!m->gemma3.has_vision)
        return vlmi_fail(VLM_ERR_UNSUPPORTED, "%s: a text-only Gemma 3 model takes no images",
                         m->path);
    bool pan_and_scan = req->pan_and_scan == 0 ? config->do_pan_and_scan : req->pan_and_scan > 0;
    vlmi_gemma3_plan plan;
    vlm_status st = vlmi_gemma3_plan_image(&plan, config, pan_and_scan, width, height);
    if (st != VLM_OK) return st;
    memset(out, 0, sizeof *out);
    out->n_frames = plan.n_frames;
    out->n_rows = plan.n_rows;
    out->rows = plan.crop_rows;
    out->cols = plan.crop_cols;
    out->frame_width = out->frame_height = plan.image_size;
    out->n_values = (size_t)plan.n_frames * 3 * plan.image_size * plan.image_size;
    /* the resized frame and its f32 pixels */
    out->work_bytes = plan.work_bytes + (uint64_t)3 * plan.image_size * plan.image_size * sizeof(float);
    out->request = *req;
    out->u.gemma3 = plan;
    return VLM_OK;
}

static vlm_status pixel_values(float *out, const vlm_model *m, const vlmi_processor_config *config,
                               const vlmi_image_plan *plan, const uint8_t *rgb, uint32_t width,
                               uint32_t height) {
    (void)m;
    const vlmi_gemma3_plan *p = &plan->u.gemma3;
    size_t frame = 3 * (size_t)p->image_size * p->image_size;
    vlm_status st = VLM_OK;
    for (uint32_t k = 0; st == VLM_OK && k < p->n_frames; k++)
        st = vlmi_gemma3_frame_pixels(out + k * frame, p, config, rgb, width, height, k);
    return st;
}

typedef struct vision_state {
    vlmi_gemma3_image_state *image;
    float *frame_pixels;   /* (3, S, S) one frame */
} vision_state;

static void vision_state_free(void *state) {
    vision_state *vs = state;
    if (vs == NULL) return;
    vlmi_gemma3_image_state_free(vs->image);
    free(vs->frame_pixels);
    free(vs);
}

static vlm_status vision_state_create(const vlm_model *m, void **out) {
    size_t side = m->gemma3.vision.hp.image_size;
    vision_state *vs = vlmi_calloc(1, sizeof *vs);
    if (vs == NULL) return VLM_ERR_OUT_OF_MEMORY;
    vlm_status st = vlmi_gemma3_image_state_create(&m->gemma3, &vs->image);
    if (st == VLM_OK && (vs->frame_pixels = vlmi_calloc(3 * side * side, sizeof(float))) == NULL)
        st = VLM_ERR_OUT_OF_MEMORY;
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
    const vlmi_gemma3 *net = &m->gemma3;
    const vlmi_gemma3_plan *p = &plan->u.gemma3;
    size_t dim = net->text.hp.dim;
    vlm_status st = VLM_OK;
    for (uint32_t k = 0; st == VLM_OK && k < p->n_frames; k++) {
        double t0 = vlmi_now_ms();
        st = vlmi_gemma3_frame_pixels(vs->frame_pixels, p, config, rgb, width, height, k);
        double t1 = vlmi_now_ms();
        if (st == VLM_OK)
            st = vlmi_gemma3_encode_image_pool(rows + k * net->tokens_per_image * dim, vs->image,
                                               net, vs->frame_pixels, pool);
        *preprocess_ms += t1 - t0;
        *encode_ms += vlmi_now_ms() - t1;
        if (st == VLM_OK) st = frame_done(user_data);
    }
    return st;
}

static vlm_status embed(float *out, uint8_t *bidirectional, const vlm_model *m, const int32_t *ids,
                        size_t n, const float *image_rows, size_t n_image_rows) {
    return vlmi_gemma3_embed(out, &m->gemma3, ids, n, image_rows, n_image_rows, bidirectional);
}

/* ShieldGemma 2 reads its Yes / No ids from its config (or the class
 * defaults); a plain Gemma 3 is no classifier. */
static bool safety_tokens(const vlm_model *m, int32_t *yes, int32_t *no) {
    const vlmi_model_config *c = &m->config.model;
    if (!m->has_config || strcmp(m->architecture, "ShieldGemma2ForImageClassification") != 0 ||
        c->yes_token_id < 0 || c->no_token_id < 0)
        return false;
    *yes = (int32_t)c->yes_token_id;
    *no = (int32_t)c->no_token_id;
    return true;
}

const vlmi_family_ops vlmi_gemma3_ops = {
    .check_session = check_session,
    .decoder = decoder,
    .image_token = image_token,
    .image_block_rows = image_block_rows,
    .chat_render = vlmi_gemma3_chat_render,
    .image_placeholder = "<start_of_image>",
    .video_placeholder = "",
    .expand_image = expand_image,
    .plan_image = plan_image,
    .pixel_values = pixel_values,
    .vision_state_create = vision_state_create,
    .vision_state_free = vision_state_free,
    .encode_image = encode_image,
    .embed = embed,
    .safety_tokens = safety_tokens,
};
