/* Qwen2.5-VL's vision tower and patch merger from llama.cpp's multimodal
 * projector GGUF (the mmproj file beside a "qwen2vl" text GGUF), bound onto
 * the same windowed ViT and merger as a hub checkpoint (see qwen2_5_vl.h).
 *
 * What llama.cpp writes and reads, checked against its sources:
 * - convert_hf_to_gguf.py (conversion/qwenvl.py, Qwen2VLVisionModel):
 *   general.architecture "clip", clip.projector_type "qwen2.5vl_merger",
 *   clip.use_silu, clip.vision.{patch_size, embedding_length,
 *   feed_forward_length, block_count, attention.head_count, projection_dim
 *   (the text width), attention.layer_norm_epsilon, image_mean, image_std,
 *   n_wa_pattern} with n_wa_pattern = fullatt_block_indexes[0] + 1 (the
 *   converter refuses unevenly spaced full-attention blocks). The fused qkv
 *   is split into attn_q / attn_k / attn_v; the Conv3D patch kernel
 *   (dim, 3, 2, P, P) into two Conv2D kernels, v.patch_embd.weight (frame 0)
 *   and v.patch_embd.weight.1 (frame 1), which are put back together here
 *   in the processor's (channel, frame, y, x) row order. Merger: v.post_ln
 *   (ln_q), mm.0 and mm.2 (mlp.0, mlp.2).
 * - tools/mtmd/clip.cpp (PROJECTOR_TYPE_QWEN25VL) and models/qwen2vl.cpp:
 *   RMSNorm blocks, layer l attends fully when (l + 1) % n_wa_pattern == 0,
 *   2-D rotary base 10000, the spatial merge clip.vision.spatial_merge_size
 *   (default 2), the attention window clip.vision.window_size pixels
 *   (default 112, what every released Qwen2.5-VL has; the converter does
 *   not write it), swapped ffn_up / ffn_down of old files (is_ffn_swapped:
 *   ffn_down's inner size is the tower's width), and the image budget
 *   set_limit_image_tokens(8, 4096): min_pixels 8 and max_pixels 4096
 *   merged patches' worth of pixels.
 * What a hub directory states and the file does not is taken from what
 * llama.cpp fixes or from the released models: the processor's min/max
 * pixels above (preprocessor_config.json of Qwen2.5-VL says 3136 and
 * 12845056), temporal_patch_size 2 (the converter only writes 2),
 * tokens_per_second 2 (vision_config of Qwen2.5-VL 3B/7B/72B; video only),
 * the rest of Qwen2VLImageProcessor's defaults (bicubic, 1/255 rescale).
 * The placeholder ids come from the text GGUF's vocabulary
 * (vlmi_qwen2_5_vl_gguf_config).
 *
 * Shapes here are outermost first (the GGUF reader reverses ne[]). */
#include "arch/qwen2_5_vl.h"

#include "arch/clip_gguf.h"
#include "arch/gguf_metadata.h"
#include "kernels.h"
#include "model/hub_config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PROJECTOR_TYPE "qwen2.5vl_merger"
/* Bounds on the metadata's sizes, far above Qwen2.5-VL's tower (width 1280,
 * 32 blocks, ffn 3420, 16 heads, patch 14). */
#define MAX_WIDTH (1 << 16)
#define MAX_FFN (1 << 20)
#define MAX_BLOCKS VLMI_CONFIG_MAX_FULLATT
#define MAX_HEADS 1024
#define MAX_PATCH 1024
#define MAX_WINDOW 4096            /* clip.cpp's bound on attn_window_size */
/* clip.cpp's choices for qwen2.5vl when the file is silent */
#define CLIP_DEFAULT_MERGE 2
#define CLIP_DEFAULT_WINDOW 112
#define CLIP_MIN_IMAGE_TOKENS 8
#define CLIP_MAX_IMAGE_TOKENS 4096
/* Qwen2.5-VL's (the converter asserts it) */
#define TEMPORAL_PATCH 2
#define TOKENS_PER_SECOND 2
#define N_CHANNELS 3

// ----------------------------------------------------------------------------
// metadata

static vlm_status expect_string(const vlmi_gguf *g, const char *key, const char *want) {
    const char *s;
    size_t len;
    vlm_status st = vlmi_gguf_get_string(g, key, &s, &len);
    if (st == VLM_OK && (len != strlen(want) || memcmp(s, want, len) != 0))
        st = vlmi_fail(VLM_ERR_UNSUPPORTED, "%s: %s is '%.*s' (libvlm reads '%s' multimodal "
                       "projectors with a Qwen2.5-VL text model)", vlmi_gguf_path(g), key,
                       (int)(len > 64 ? 64 : len), s, want);
    return st;
}

static vlm_status expect_flag(const vlmi_gguf *g, const char *key) {
    bool on = false;
    vlm_status st = vlmi_gguf_find_kv(g, key) ? vlmi_gguf_get_bool(g, key, &on) : VLM_OK;
    if (st == VLM_OK && !on)
        st = vlmi_fail(VLM_ERR_UNSUPPORTED, "%s: %s is %s (a Qwen2.5-VL tower)",
                       vlmi_gguf_path(g), key, vlmi_gguf_find_kv(g, key) ? "false" : "missing");
    return st;
}

/* vision_config as a hub directory states it, from clip.vision.*. */
static vlm_status vision_config(vlmi_vision_config *v, const vlmi_gguf *g, int32_t text_width) {
    const char *file = vlmi_gguf_path(g);
    int32_t projection_dim = 0, wa_pattern = 0;
    double eps = 1e-6; /* the converter's default */
    vlm_status st;
    memset(v, 0, sizeof *v);
    if ((st = vlmi_gguf_meta_int32(g, "clip.vision.embedding_length", true, 1, MAX_WIDTH, 0, &v->hidden_size)) != VLM_OK ||
        (st = vlmi_gguf_meta_int32(g, "clip.vision.feed_forward_length", true, 1, MAX_FFN, 0, &v->intermediate_size)) != VLM_OK ||
        (st = vlmi_gguf_meta_int32(g, "clip.vision.block_count", true, 1, MAX_BLOCKS, 0, &v->num_hidden_layers)) != VLM_OK ||
        (st = vlmi_gguf_meta_int32(g, "clip.vision.attention.head_count", true, 1, MAX_HEADS, 0, &v->num_attention_heads)) != VLM_OK ||
        (st = vlmi_gguf_meta_int32(g, "clip.vision.patch_size", true, 1, MAX_PATCH, 0, &v->patch_size)) != VLM_OK ||
        (st = vlmi_gguf_meta_int32(g, "clip.vision.projection_dim", true, 1, MAX_WIDTH, 0, &projection_dim)) != VLM_OK ||
        (st = vlmi_gguf_meta_int32(g, "clip.vision.spatial_merge_size", false, 1, MAX_PATCH,
                         CLIP_DEFAULT_MERGE, &v->spatial_merge_size)) != VLM_OK ||
        (st = vlmi_gguf_meta_int32(g, "clip.vision.window_size", false, 1, MAX_WINDOW, CLIP_DEFAULT_WINDOW,
                         &v->window_size)) != VLM_OK ||
        (st = vlmi_gguf_meta_int32(g, "clip.vision.n_wa_pattern", true, 1, v->num_hidden_layers, 0,
                         &wa_pattern)) != VLM_OK)
        return st;
    if ((st = vlmi_gguf_meta_positive(g, "clip.vision.attention.layer_norm_epsilon", false, 1.0,
                                      eps, &eps)) != VLM_OK)
        return st;
    if (projection_dim != text_width)
        return vlmi_fail(VLM_ERR_FORMAT, "%s: clip.vision.projection_dim is %d but the text "
                         "model's embedding_length is %d", file, (int)projection_dim,
                         (int)text_width);
    int32_t group = v->patch_size * v->spatial_merge_size;
    if (v->hidden_size % v->num_attention_heads != 0 || (v->hidden_size / v->num_attention_heads) % 4 != 0 ||
        v->window_size < group)
        return vlmi_fail(VLM_ERR_FORMAT, "%s: clip.vision: %d heads of width %d (a multiple of 4 "
                         "each), window %d pixels (at least patch %d x merge %d) do not fit",
                         file, (int)v->num_attention_heads, (int)v->hidden_size,
                         (int)v->window_size, (int)v->patch_size, (int)v->spatial_merge_size);
    v->present = true;
    snprintf(v->model_type, sizeof v->model_type, "qwen2_5_vl");
    snprintf(v->hidden_act, sizeof v->hidden_act, "silu");
    v->num_channels = N_CHANNELS;
    v->layer_norm_eps = eps;
    v->temporal_patch_size = TEMPORAL_PATCH;
    v->out_hidden_size = projection_dim;
    v->tokens_per_second = TOKENS_PER_SECOND;
    v->rope_theta = VLMI_QWEN2_5_VL_VISION_ROPE_THETA;
    for (int32_t l = 0; l < v->num_hidden_layers; l++)
        if ((l + 1) % wa_pattern == 0) v->fullatt_block_indexes[v->n_fullatt_block_indexes++] = l;
    return VLM_OK;
}

/* The image processor a Qwen2.5-VL hub directory has, with llama.cpp's
 * image budget. */
static void processor_config(vlmi_processor_config *pc, const vlmi_vision_config *v,
                             const double *mean, const double *std) {
    vlmi_processor_config_init(pc, "Qwen2VLImageProcessor");
    snprintf(pc->processor_class, sizeof pc->processor_class, "Qwen2_5_VLProcessor");
    int64_t group = (int64_t)v->patch_size * v->spatial_merge_size;
    pc->min_pixels = CLIP_MIN_IMAGE_TOKENS * group * group;
    pc->max_pixels = CLIP_MAX_IMAGE_TOKENS * group * group;
    pc->size.shortest_edge = pc->min_pixels <= INT32_MAX ? (int32_t)pc->min_pixels : 0;
    pc->size.longest_edge = pc->max_pixels <= INT32_MAX ? (int32_t)pc->max_pixels : 0;
    pc->patch_size = v->patch_size;
    pc->temporal_patch_size = v->temporal_patch_size;
    pc->merge_size = v->spatial_merge_size;
    for (int c = 0; c < N_CHANNELS; c++) {
        pc->image_mean[c] = mean[c];
        pc->image_std[c] = std[c];
    }
}

// ----------------------------------------------------------------------------
// tensors

/* The two per-frame Conv2D kernels (dim, 3, P, P) as one f32 (dim, 3, 2, P, P)
 * kernel: the processor's pixel rows are (channel, frame, y, x). */
static vlm_status bind_patch_kernel(vlmi_qwen2_5_vl *model, const vlmi_gguf *g) {
    const vlmi_vit_hparams *hp = &model->vision.hp;
    size_t dim = hp->dim, pp = hp->patch_size * hp->patch_size, frame = N_CHANNELS * pp;
    const size_t shape[4] = {dim, N_CHANNELS, hp->patch_size, hp->patch_size};
    static const char *const names[TEMPORAL_PATCH] = {"v.patch_embd.weight",
                                                      "v.patch_embd.weight.1"};
    float *half = vlmi_calloc(dim * frame, sizeof(float));
    model->patch_storage = vlmi_calloc(dim * frame * TEMPORAL_PATCH, sizeof(float));
    if (half == NULL || model->patch_storage == NULL) {
        free(half);
        return VLM_ERR_OUT_OF_MEMORY;
    }
    vlm_status st = VLM_OK;
    for (size_t t = 0; st == VLM_OK && t < TEMPORAL_PATCH; t++) {
        const vlmi_tensor_info *info = NULL;
        st = vlmi_weights_gguf_find(&info, g, names[t], 4, shape);
        if (st != VLM_OK) break;
        const vlmi_dtype_layout *layout = vlmi_dtype_layout_of(info->dtype);
        if (layout == NULL || (dim * frame) % layout->block_size != 0) {
            st = vlmi_fail(VLM_ERR_UNSUPPORTED, "%s: tensor %s: %s does not hold %zu x %zu "
                           "values in whole blocks", vlmi_gguf_path(g), names[t],
                           vlmi_dtype_name(info->dtype), dim, frame);
            break;
        }
        vlmi_dequant_fn_for(info->dtype)(half, info->data, dim * frame);
        for (size_t d = 0; d < dim; d++)
            for (size_t c = 0; c < N_CHANNELS; c++)
                memcpy(model->patch_storage + ((d * N_CHANNELS + c) * TEMPORAL_PATCH + t) * pp,
                       half + (d * N_CHANNELS + c) * pp, pp * sizeof(float));
    }
    free(half);
    model->vision.patch_embedding = (vlmi_matrix){model->patch_storage, VLM_DTYPE_F32, dim,
                                                  frame * TEMPORAL_PATCH};
    return st;
}

static vlm_status bind_blocks(vlmi_vit *vit, const vlmi_gguf *g) {
    const vlmi_vit_hparams *hp = &vit->hp;
    size_t dim = hp->dim, ffn = hp->ffn_dim;
    const size_t in[2] = {ffn, dim}, out[2] = {dim, ffn};
    char name[64];
    vlm_status st = VLM_OK;
    for (size_t l = 0; st == VLM_OK && l < hp->n_layers; l++) {
        vlmi_vit_layer *w = &vit->layers[l];
#define NAME(s) (snprintf(name, sizeof name, "v.blk.%zu." s, l), name)
        /* clip.cpp is_ffn_swapped: old files named up_proj ffn_down */
        bool swapped = vlmi_clip_ffn_swapped(g, l, dim, ffn);
        const char *up = swapped ? "ffn_down" : "ffn_up", *down = swapped ? "ffn_up" : "ffn_down";
#define FFN(which, s) (snprintf(name, sizeof name, "v.blk.%zu.%s." s, l, which), name)
        if (st == VLM_OK) st = vlmi_clip_bind_block_attention(w, g, l, hp);
        if (st == VLM_OK) st = vlmi_weights_gguf_matrix(&w->fc1, g, 2, in, NAME("ffn_gate.weight"));
        if (st == VLM_OK) st = vlmi_weights_gguf_load_f32(w->fc1_bias, g, ffn, NAME("ffn_gate.bias"));
        if (st == VLM_OK) st = vlmi_weights_gguf_matrix(&w->w_up, g, 2, in, FFN(up, "weight"));
        if (st == VLM_OK) st = vlmi_weights_gguf_load_f32(w->up_bias, g, ffn, FFN(up, "bias"));
        if (st == VLM_OK) st = vlmi_weights_gguf_matrix(&w->fc2, g, 2, out, FFN(down, "weight"));
        if (st == VLM_OK) st = vlmi_weights_gguf_load_f32(w->fc2_bias, g, dim, FFN(down, "bias"));
#undef FFN
#undef NAME
    }
    return st;
}

/* v.post_ln (the merger's ln_q), mm.0 and mm.2. */
static vlm_status bind_merger(vlmi_qwen2_5_vl *model, const vlmi_gguf *g) {
    size_t vdim = model->vision.hp.dim, merge = model->vision.hp.merge_size;
    size_t wide = vdim * merge * merge, out = model->text.hp.dim;
    model->merger_storage = vlmi_calloc(vdim + wide + out, sizeof(float));
    if (model->merger_storage == NULL) return VLM_ERR_OUT_OF_MEMORY;
    model->merger_norm = model->merger_storage;
    model->merger_fc1_bias = model->merger_norm + vdim;
    model->merger_fc2_bias = model->merger_fc1_bias + wide;
    const size_t fc1[2] = {wide, wide}, fc2[2] = {out, wide};
    vlm_status st = vlmi_weights_gguf_load_f32(model->merger_norm, g, vdim, "v.post_ln.weight");
    if (st == VLM_OK) st = vlmi_weights_gguf_matrix(&model->merger_fc1, g, 2, fc1, "mm.0.weight");
    if (st == VLM_OK) st = vlmi_weights_gguf_load_f32(model->merger_fc1_bias, g, wide, "mm.0.bias");
    if (st == VLM_OK) st = vlmi_weights_gguf_matrix(&model->merger_fc2, g, 2, fc2, "mm.2.weight");
    if (st == VLM_OK) st = vlmi_weights_gguf_load_f32(model->merger_fc2_bias, g, out, "mm.2.bias");
    return st;
}

static vlm_status bind_vision(vlmi_qwen2_5_vl *model, const vlmi_vision_config *v,
                              const vlmi_gguf *g) {
    vlmi_vit_hparams hp;
    uint8_t *full_attention = vlmi_calloc((size_t)v->num_hidden_layers, 1);
    if (full_attention == NULL) return VLM_ERR_OUT_OF_MEMORY;
    vlm_status st = vlmi_qwen2_5_vl_vit_hparams(&hp, v, full_attention);
    if (st == VLM_OK) st = vlmi_vit_init(&model->vision, &hp);
    free(full_attention);
    if (st == VLM_OK) st = bind_patch_kernel(model, g);
    if (st == VLM_OK) st = bind_blocks(&model->vision, g);
    if (st == VLM_OK) st = bind_merger(model, g);
    return st;
}

/* Back to the text-only model of vlmi_qwen2_5_vl_bind_gguf. */
static void drop_vision(vlmi_qwen2_5_vl *model, vlmi_hub_config *config) {
    vlmi_vit_free(&model->vision);
    free(model->merger_storage);
    free(model->patch_storage);
    model->merger_storage = model->patch_storage = NULL;
    model->merger_norm = model->merger_fc1_bias = model->merger_fc2_bias = NULL;
    model->merger_fc1 = model->merger_fc2 = (vlmi_matrix){0};
    memset(&model->rope, 0, sizeof model->rope);
    memset(&config->model.vision, 0, sizeof config->model.vision);
    memset(&config->processor, 0, sizeof config->processor);
    config->has_processor = false;
}

vlm_status vlmi_qwen2_5_vl_bind_mmproj(vlmi_qwen2_5_vl *model, vlmi_hub_config *config,
                                       const vlmi_gguf *mmproj, const vlmi_gguf *text) {
    const vlmi_gguf *g = mmproj;
    vlm_status st = expect_string(g, "general.architecture", "clip");
    if (st == VLM_OK) st = expect_string(g, "clip.projector_type", PROJECTOR_TYPE);
    if (st == VLM_OK) st = expect_flag(g, "clip.has_vision_encoder");
    if (st == VLM_OK) st = expect_flag(g, "clip.use_silu");
    double mean[N_CHANNELS], std[N_CHANNELS];
    if (st == VLM_OK) st = vision_config(&config->model.vision, g, config->model.text.hidden_size);
    if (st == VLM_OK) st = vlmi_gguf_meta_triple(g, "clip.vision.image_mean", false, mean);
    if (st == VLM_OK) st = vlmi_gguf_meta_triple(g, "clip.vision.image_std", true, std);
    if (st == VLM_OK && (config->model.vision_start_token_id < 0 ||
                         config->model.vision_end_token_id < 0))
        st = vlmi_fail(VLM_ERR_FORMAT, "%s: tokenizer.ggml.tokens has no <|vision_start|> or "
                       "<|vision_end|> (Qwen2.5-VL's image tokens, for %s)",
                       vlmi_gguf_path(text), vlmi_gguf_path(g));
    if (st == VLM_OK) st = bind_vision(model, &config->model.vision, g);
    if (st == VLM_OK) st = vlmi_qwen2_5_vl_set_rope_params(model, &config->model,
                                                           vlmi_gguf_path(text));
    if (st != VLM_OK) {
        drop_vision(model, config);
        return st;
    }
    processor_config(&config->processor, &config->model.vision, mean, std);
    config->has_processor = true;
    return VLM_OK;
}
