/* Gemma 3's vision tower and projector from llama.cpp's multimodal projector
 * GGUF (the "mmproj" file beside the text GGUF), bound onto the same SigLIP
 * ViT and projector as a hub checkpoint (see gemma3.h).
 *
 * What llama.cpp writes, checked against its sources (ggml-org/llama.cpp):
 * - convert_hf_to_gguf.py, MmprojModel.set_gguf_parameters and
 *   Gemma3VisionModel: general.architecture "clip", clip.projector_type
 *   "gemma3", clip.has_vision_encoder, clip.vision.{image_size, patch_size,
 *   embedding_length, feed_forward_length, block_count, projection_dim (the
 *   text model's width), attention.head_count, attention.layer_norm_epsilon,
 *   image_mean, image_std}, clip.use_gelu; clip.vision.projector.scale_factor
 *   only when the pooling kernel is not the default 4 (tiny test models).
 *   Gemma3VisionModel.modify_tensors adds 1 to mm_soft_emb_norm.weight
 *   (Gemma3RMSNorm's 1 + w) and to nothing else: the SigLIP LayerNorms are
 *   stored as transformers has them. tensor_force_quant keeps the input
 *   projection F16 and the embeddings (patch, position) F32.
 * - gguf-py/gguf/constants.py and tensor_mapping.py: v.patch_embd,
 *   v.position_embd, v.blk.N.{attn_q, attn_k, attn_v, attn_out, ln1, ln2,
 *   ffn_up (mlp.fc1), ffn_down (mlp.fc2)}, v.post_ln, mm.input_projection
 *   (multi_modal_projector.mm_input_projection_weight renamed, not
 *   transposed), mm.soft_emb_norm.
 * - tools/mtmd/clip-impl.h (KEY_*, TN_* names) and clip.cpp: the gemma3
 *   graph average-pools by the scale factor, rms_norm then multiplies by
 *   mm.soft_emb_norm.weight as stored, and multiplies by the transpose of
 *   mm.input_projection.weight (ggml ne [text, vision], i.e. transformers'
 *   (vision, text)); load_tensors swaps ffn_up / ffn_down of files written by
 *   the old gemma3 converter (mlp.fc1 as ffn_down), recognised by
 *   ffn_down's inner size being the tower's width (is_ffn_swapped), as done
 *   here.
 * The image token ids are not in the mmproj file: they are looked up by text
 * ("<image_soft_token>", "<start_of_image>", "<end_of_image>") in the text
 * GGUF's tokenizer.ggml.tokens.
 *
 * Shapes here are outermost first (the GGUF reader reverses ne[]). */
#include "arch/gemma3.h"

#include "arch/clip_gguf.h"
#include "arch/gguf_metadata.h"
#include "kernels.h"
#include "model/hub_config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Bounds on the metadata's sizes: far above SigLIP-so400m's (width 1152,
 * 27 blocks, ffn 4304, 16 heads, 896 pixels) */
#define MAX_WIDTH (1 << 16)
#define MAX_FFN (1 << 20)
#define MAX_BLOCKS 1024
#define MAX_HEADS 1024
#define MAX_IMAGE_SIZE 8192
/* llama.cpp's default pooling kernel for gemma3 (clip.cpp: proj_scale_factor
 * / n_merge 4 when clip.vision.projector.scale_factor is absent) */
#define DEFAULT_POOL_KERNEL 4

// ----------------------------------------------------------------------------
// metadata

static vlm_status get_size(const vlmi_gguf *g, const char *key, int64_t max, int32_t *out) {
    return vlmi_gguf_meta_int32(g, key, true, 1, max, 0, out);
}

static vlm_status get_string_is(const vlmi_gguf *g, const char *key, const char *want) {
    const char *s;
    size_t len;
    vlm_status st = vlmi_gguf_get_string(g, key, &s, &len);
    if (st != VLM_OK) return st;
    if (len != strlen(want) || memcmp(s, want, len) != 0)
        return vlmi_fail(VLM_ERR_UNSUPPORTED, "%s: %s is '%.*s' (libvlm reads only '%s' "
                         "multimodal projectors with a Gemma 3 text model)", vlmi_gguf_path(g),
                         key, (int)(len > 64 ? 64 : len), s, want);
    return VLM_OK;
}

// ----------------------------------------------------------------------------
// tensors

/* The SigLIP tower: v.* onto vit (initialised from hp). */
static vlm_status bind_tower(vlmi_vit *vit, const vlmi_vit_hparams *hp, const vlmi_gguf *g) {
    vlm_status st = vlmi_vit_init(vit, hp);
    if (st != VLM_OK) return st;
    size_t dim = hp->dim, ffn = hp->ffn_dim, ps = hp->patch_size;
    const size_t conv[4] = {dim, hp->n_channels, ps, ps};
    const size_t pos[2] = {vlmi_vit_n_patches(hp), dim};
    const size_t up[2] = {ffn, dim}, down[2] = {dim, ffn};
    st = vlmi_weights_gguf_matrix(&vit->patch_embedding, g, 4, conv, "v.patch_embd.weight");
    if (st == VLM_OK) st = vlmi_weights_gguf_load_f32(vit->patch_bias, g, dim, "v.patch_embd.bias");
    if (st == VLM_OK) st = vlmi_weights_gguf_matrix(&vit->position_embedding, g, 2, pos, "v.position_embd.weight");
    for (size_t l = 0; st == VLM_OK && l < hp->n_layers; l++) {
        vlmi_vit_layer *w = &vit->layers[l];
        /* clip.cpp is_ffn_swapped: the old converter named mlp.fc1 ffn_down */
        bool swapped = vlmi_clip_ffn_swapped(g, l, dim, ffn);
        const char *fc1 = swapped ? "ffn_down" : "ffn_up", *fc2 = swapped ? "ffn_up" : "ffn_down";
        char fc_name[64];
#define FC(which, s) (snprintf(fc_name, sizeof fc_name, "v.blk.%zu.%s." s, l, which), fc_name)
        if (st == VLM_OK) st = vlmi_clip_bind_block_attention(w, g, l, hp);
        if (st == VLM_OK) st = vlmi_weights_gguf_matrix(&w->fc1, g, 2, up, FC(fc1, "weight"));
        if (st == VLM_OK) st = vlmi_weights_gguf_load_f32(w->fc1_bias, g, ffn, FC(fc1, "bias"));
        if (st == VLM_OK) st = vlmi_weights_gguf_matrix(&w->fc2, g, 2, down, FC(fc2, "weight"));
        if (st == VLM_OK) st = vlmi_weights_gguf_load_f32(w->fc2_bias, g, dim, FC(fc2, "bias"));
#undef FC
    }
    if (st == VLM_OK) st = vlmi_weights_gguf_load_f32(vit->post_norm_weight, g, dim, "v.post_ln.weight");
    if (st == VLM_OK) st = vlmi_weights_gguf_load_f32(vit->post_norm_bias, g, dim, "v.post_ln.bias");
    return st;
}

/* mm.soft_emb_norm (already 1 + w) and mm.input_projection, (vision, text)
 * as stored, transposed into the (text, vision) f32 the matmul reads. */
static vlm_status bind_projector(vlmi_gemma3 *model, const vlmi_gguf *g) {
    size_t vdim = model->vision.hp.dim, tdim = model->text.hp.dim;
    model->mm_norm = vlmi_calloc(vdim, sizeof(float));
    model->mm_projection_storage = vlmi_calloc(vdim * tdim, sizeof(float));
    float *stored = vlmi_calloc(vdim * tdim, sizeof(float));
    if (model->mm_norm == NULL || model->mm_projection_storage == NULL || stored == NULL) {
        free(stored);
        return VLM_ERR_OUT_OF_MEMORY;
    }
    vlm_status st = vlmi_weights_gguf_load_f32(model->mm_norm, g, vdim, "mm.soft_emb_norm.weight");
    const size_t shape[2] = {vdim, tdim};
    const vlmi_tensor_info *t = NULL;
    if (st == VLM_OK) st = vlmi_weights_gguf_find(&t, g, "mm.input_projection.weight", 2, shape);
    if (st == VLM_OK) {
        const vlmi_dtype_layout *layout = vlmi_dtype_layout_of(t->dtype);
        if (layout == NULL || tdim % layout->block_size != 0)
            st = vlmi_fail(VLM_ERR_SHAPE, "%s: tensor mm.input_projection.weight: rows of %zu "
                           "do not fill %s blocks", vlmi_gguf_path(g), tdim,
                           vlmi_dtype_name(t->dtype));
        else
            vlmi_dequant_fn_for(t->dtype)(stored, t->data, vdim * tdim);
    }
    if (st == VLM_OK)
        for (size_t v = 0; v < vdim; v++)
            for (size_t k = 0; k < tdim; k++)
                model->mm_projection_storage[k * vdim + v] = stored[v * tdim + k];
    free(stored);
    model->projection = (vlmi_matrix){model->mm_projection_storage, VLM_DTYPE_F32, tdim, vdim};
    return st;
}

// ----------------------------------------------------------------------------
// the whole vision side

vlm_status vlmi_gemma3_bind_mmproj(vlmi_gemma3 *model, struct vlmi_hub_config *config,
                                   const struct vlmi_gguf *mmproj,
                                   const struct vlmi_gguf *text) {
    const vlmi_gguf *g = mmproj;
    const char *file = vlmi_gguf_path(g);
    vlm_status st = get_string_is(g, "general.architecture", "clip");
    if (st == VLM_OK) st = get_string_is(g, "clip.projector_type", "gemma3");
    if (st != VLM_OK) return st;
    if (vlmi_gguf_find_kv(g, "clip.has_vision_encoder") != NULL) {
        bool has = false;
        if ((st = vlmi_gguf_get_bool(g, "clip.has_vision_encoder", &has)) != VLM_OK) return st;
        if (!has)
            return vlmi_fail(VLM_ERR_UNSUPPORTED, "%s: clip.has_vision_encoder is false", file);
    }

    // hyperparameters: vision_config as a hub directory would state it
    vlmi_vision_config *v = &config->model.vision;
    memset(v, 0, sizeof *v);
    int32_t projection_dim = 0, kernel = DEFAULT_POOL_KERNEL;
    double eps = 1e-6; /* the converter writes layer_norm_eps, default 1e-6 */
    if ((st = get_size(g, "clip.vision.embedding_length", MAX_WIDTH, &v->hidden_size)) != VLM_OK ||
        (st = get_size(g, "clip.vision.feed_forward_length", MAX_FFN, &v->intermediate_size)) != VLM_OK ||
        (st = get_size(g, "clip.vision.block_count", MAX_BLOCKS, &v->num_hidden_layers)) != VLM_OK ||
        (st = get_size(g, "clip.vision.attention.head_count", MAX_HEADS, &v->num_attention_heads)) != VLM_OK ||
        (st = get_size(g, "clip.vision.image_size", MAX_IMAGE_SIZE, &v->image_size)) != VLM_OK ||
        (st = get_size(g, "clip.vision.patch_size", MAX_IMAGE_SIZE, &v->patch_size)) != VLM_OK ||
        (st = get_size(g, "clip.vision.projection_dim", MAX_WIDTH, &projection_dim)) != VLM_OK)
        return st;
    if ((st = vlmi_gguf_meta_positive(g, "clip.vision.attention.layer_norm_epsilon", false, 1.0,
                                      eps, &eps)) != VLM_OK)
        return st;
    if (vlmi_gguf_find_kv(g, "clip.vision.projector.scale_factor") != NULL &&
        (st = get_size(g, "clip.vision.projector.scale_factor", MAX_IMAGE_SIZE, &kernel)) != VLM_OK)
        return st;
    double mean[3], std[3];
    if ((st = vlmi_gguf_meta_triple(g, "clip.vision.image_mean", false, mean)) != VLM_OK ||
        (st = vlmi_gguf_meta_triple(g, "clip.vision.image_std", true, std)) != VLM_OK)
        return st;
    if (projection_dim != config->model.text.hidden_size)
        return vlmi_fail(VLM_ERR_FORMAT, "%s: clip.vision.projection_dim is %d but the text "
                         "model's embedding_length is %d", file, (int)projection_dim,
                         (int)config->model.text.hidden_size);
    int32_t side = v->image_size / v->patch_size;
    if (v->image_size % v->patch_size != 0 || side % kernel != 0 ||
        v->hidden_size % v->num_attention_heads != 0)
        return vlmi_fail(VLM_ERR_FORMAT, "%s: clip.vision: image_size %d, patch_size %d, pooling "
                         "kernel %d, %d heads of width %d do not fit together", file,
                         (int)v->image_size, (int)v->patch_size, (int)kernel,
                         (int)v->num_attention_heads, (int)v->hidden_size);
    v->present = true;
    snprintf(v->model_type, sizeof v->model_type, "siglip_vision_model");
    snprintf(v->hidden_act, sizeof v->hidden_act, "gelu_pytorch_tanh"); /* clip.use_gelu: ggml_gelu, tanh */
    v->num_channels = 3;
    v->layer_norm_eps = eps;
    int32_t tokens_side = side / kernel;
    config->model.mm_tokens_per_image = tokens_side * tokens_side;

    // the image tokens of the text model's vocabulary
    int64_t soft = vlmi_gguf_meta_vocab_id(text, "<image_soft_token>");
    int64_t boi = vlmi_gguf_meta_vocab_id(text, "<start_of_image>"), eoi = vlmi_gguf_meta_vocab_id(text, "<end_of_image>");
    if (soft < 0 || boi < 0 || eoi < 0)
        return vlmi_fail(VLM_ERR_FORMAT, "%s: tokenizer.ggml.tokens has no %s (the image tokens "
                         "of Gemma 3 for %s)", vlmi_gguf_path(text),
                         soft < 0 ? "<image_soft_token>" : boi < 0 ? "<start_of_image>"
                                                                  : "<end_of_image>", file);
    if (soft > INT32_MAX) return vlmi_fail(VLM_ERR_FORMAT, "%s: <image_soft_token> id", file);
    config->model.image_token_id = soft;
    config->model.boi_token_id = boi;
    config->model.eoi_token_id = eoi;

    // the processor a Gemma 3 hub directory would have
    vlmi_processor_config *pc = &config->processor;
    vlmi_processor_config_init(pc, "Gemma3ImageProcessor");
    snprintf(pc->processor_class, sizeof pc->processor_class, "Gemma3Processor");
    pc->do_resize = pc->do_rescale = pc->do_normalize = pc->do_convert_rgb = true;
    pc->size.height = pc->size.width = v->image_size;
    pc->resample = VLM_RESAMPLE_BILINEAR;
    pc->rescale_factor = 1.0 / 255.0;
    pc->n_channels = 3;
    for (int c = 0; c < 3; c++) {
        pc->image_mean[c] = mean[c];
        pc->image_std[c] = std[c];
    }
    pc->image_seq_len = config->model.mm_tokens_per_image;
    pc->do_pan_and_scan = false;

    // weights
    vlmi_vit_hparams hp = {
        .dim = (size_t)v->hidden_size,
        .ffn_dim = (size_t)v->intermediate_size,
        .n_layers = (size_t)v->num_hidden_layers,
        .n_heads = (size_t)v->num_attention_heads,
        .n_channels = 3,
        .image_size = (size_t)v->image_size,
        .patch_size = (size_t)v->patch_size,
        .norm_eps = (float)eps,
        .activation = VLMI_VIT_GELU_TANH,
    };
    model->has_vision = true;
    model->patches_per_side = (size_t)side;
    model->pool_kernel = (size_t)kernel;
    model->tokens_per_image = (size_t)config->model.mm_tokens_per_image;
    model->mm_norm_eps = (float)eps;
    model->image_token_id = (int32_t)soft;
    st = bind_tower(&model->vision, &hp, g);
    if (st == VLM_OK) st = bind_projector(model, g);
    if (st == VLM_OK) {
        config->has_processor = true;
        return VLM_OK;
    }
    // back to the text-only model
    vlmi_vit_free(&model->vision);
    free(model->mm_norm);
    free(model->mm_projection_storage);
    model->mm_norm = model->mm_projection_storage = NULL;
    model->projection = (vlmi_matrix){0};
    model->has_vision = false;
    model->image_token_id = -1;
    model->patches_per_side = model->pool_kernel = model->tokens_per_image = 0;
    memset(v, 0, sizeof *v);
    config->model.mm_tokens_per_image = 0;
    config->model.image_token_id = config->model.boi_token_id = config->model.eoi_token_id = -1;
    return st;
}
