/* SigLIP vision encoder forward pass (see vit.h). */
#include "nn/vit.h"

#include "dispatch.h"

#include <math.h>
#include <stdlib.h>

// ----------------------------------------------------------------------------
// weights

/* f32 vectors per layer: ln1 w+b, q k v o biases, ln2 w+b, fc2 bias = 9 dim,
 * plus fc1 bias = ffn_dim. */
#define LAYER_VECTORS_OF_DIM 9

vlm_status vlmi_vit_init(vlmi_vit *vit, const vlmi_vit_hparams *hp) {
    memset(vit, 0, sizeof *vit);
    const struct { const char *name; size_t value; } sizes[] = {
        {"hidden_size", hp->dim}, {"intermediate_size", hp->ffn_dim},
        {"num_hidden_layers", hp->n_layers}, {"num_attention_heads", hp->n_heads},
        {"num_channels", hp->n_channels}, {"image_size", hp->image_size},
        {"patch_size", hp->patch_size},
    };
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        if (sizes[i].value == 0)
            return vlmi_fail(VLM_ERR_FORMAT, "vision encoder: %s must be positive",
                             sizes[i].name);
    if (hp->dim % hp->n_heads != 0)
        return vlmi_fail(VLM_ERR_FORMAT, "vision encoder: hidden_size %zu is not a multiple "
                         "of num_attention_heads %zu", hp->dim, hp->n_heads);
    if (hp->image_size % hp->patch_size != 0)
        return vlmi_fail(VLM_ERR_FORMAT, "vision encoder: image_size %zu is not a multiple "
                         "of patch_size %zu", hp->image_size, hp->patch_size);
    if (!(hp->norm_eps > 0.0f))
        return vlmi_fail(VLM_ERR_FORMAT, "vision encoder: layer_norm_eps must be positive");

    size_t per_layer, n_floats;
    if (vlmi_mul_overflow(hp->dim, LAYER_VECTORS_OF_DIM, &per_layer) ||
        vlmi_add_overflow(per_layer, hp->ffn_dim, &per_layer) ||
        vlmi_mul_overflow(per_layer, hp->n_layers, &n_floats) ||
        vlmi_add_overflow(n_floats, 3 * hp->dim, &n_floats))
        return vlmi_fail(VLM_ERR_LIMIT, "vision encoder: too large");
    vit->layers = vlmi_calloc(hp->n_layers, sizeof *vit->layers);
    vit->vector_storage = vlmi_calloc(n_floats, sizeof(float));
    if (vit->layers == NULL || vit->vector_storage == NULL) {
        vlmi_vit_free(vit);
        return VLM_ERR_OUT_OF_MEMORY;
    }
    vit->hp = *hp;
    size_t dim = hp->dim;
    float *next = vit->vector_storage;
    for (size_t l = 0; l < hp->n_layers; l++) {
        vlmi_vit_layer *w = &vit->layers[l];
        float **of_dim[LAYER_VECTORS_OF_DIM] = {&w->ln1_weight, &w->ln1_bias, &w->bq, &w->bk,
                                                &w->bv, &w->bo, &w->ln2_weight, &w->ln2_bias,
                                                &w->fc2_bias};
        for (size_t i = 0; i < LAYER_VECTORS_OF_DIM; i++, next += dim) *of_dim[i] = next;
        w->fc1_bias = next;
        next += hp->ffn_dim;
    }
    vit->patch_bias = next;
    vit->post_norm_weight = next + dim;
    vit->post_norm_bias = next + 2 * dim;
    return VLM_OK;
}

void vlmi_vit_free(vlmi_vit *vit) {
    if (vit == NULL) return;
    free(vit->vector_storage);
    free(vit->layers);
    memset(vit, 0, sizeof *vit);
}

size_t vlmi_vit_n_patches(const vlmi_vit_hparams *hp) {
    size_t side = hp->image_size / hp->patch_size;
    return side * side;
}

// ----------------------------------------------------------------------------
// state

vlm_status vlmi_vit_state_create(const vlmi_vit *vit, vlmi_vit_state **out) {
    *out = NULL;
    const vlmi_vit_hparams *hp = &vit->hp;
    size_t n = vlmi_vit_n_patches(hp);
    size_t patch_len = hp->n_channels * hp->patch_size * hp->patch_size;
    size_t n_patch_floats, n_dim_floats, n_ffn_floats;
    if (vlmi_mul_overflow(n, patch_len, &n_patch_floats) ||
        vlmi_mul_overflow(n, hp->dim, &n_dim_floats) ||
        vlmi_mul_overflow(n, hp->ffn_dim, &n_ffn_floats))
        return vlmi_fail(VLM_ERR_LIMIT, "vision encoder: %zu patches are too many", n);

    vlmi_vit_state *s = vlmi_calloc(1, sizeof *s);
    if (s == NULL) return VLM_ERR_OUT_OF_MEMORY;
    s->n_patches = n;
    s->patches = vlmi_calloc(n_patch_floats, sizeof(float));
    s->x = vlmi_calloc(n_dim_floats, sizeof(float));
    s->xb = vlmi_calloc(n_dim_floats, sizeof(float));
    s->q = vlmi_calloc(n_dim_floats, sizeof(float));
    s->k = vlmi_calloc(n_dim_floats, sizeof(float));
    s->v = vlmi_calloc(n_dim_floats, sizeof(float));
    s->att = vlmi_calloc(n_dim_floats, sizeof(float));
    s->hidden = vlmi_calloc(n_ffn_floats, sizeof(float));
    s->scores = vlmi_calloc(n, sizeof(float));
    if (!s->patches || !s->x || !s->xb || !s->q || !s->k || !s->v || !s->att ||
        !s->hidden || !s->scores) {
        vlmi_vit_state_free(s);
        return vlmi_fail(VLM_ERR_OUT_OF_MEMORY, "vision encoder: out of memory");
    }
    *out = s;
    return VLM_OK;
}

void vlmi_vit_state_free(vlmi_vit_state *s) {
    if (s == NULL) return;
    free(s->scores);
    free(s->hidden);
    free(s->att);
    free(s->v);
    free(s->k);
    free(s->q);
    free(s->xb);
    free(s->x);
    free(s->patches);
    free(s);
}

// ----------------------------------------------------------------------------
// forward

/* Unfolds a (C, H, W) frame into one row per patch, row-major over the patch
 * grid, each row in (c, y, x) order: the layout of the conv kernel, so the
 * stride-P conv becomes patches @ kernel^T.
 * pixels (C, H, W) -> patches (H/P * W/P, C*P*P) */
static void unfold_patches(float *patches, const float *pixels, size_t n_channels,
                           size_t height, size_t width, size_t patch) {
    size_t grid_w = width / patch, n_patches = (height / patch) * grid_w;
    for (size_t p = 0; p < n_patches; p++) {
        size_t y0 = (p / grid_w) * patch, x0 = (p % grid_w) * patch;
        float *row = patches + p * n_channels * patch * patch;
        for (size_t c = 0; c < n_channels; c++)
            for (size_t y = 0; y < patch; y++)
                memcpy(row + (c * patch + y) * patch,
                       pixels + (c * height + y0 + y) * width + x0, patch * sizeof(float));
    }
}

/* A linear layer through the dispatch table, on the pool's threads.
 * x (m, w->cols) @ W^T + bias -> out (m, w->rows) */
static void linear(vlmi_threadpool *pool, float *out, const float *x, const vlmi_matrix *w,
                   const float *bias, size_t m) {
    vlmi_matmul(pool, out, x, w->data, w->dtype, bias, m, w->cols, w->rows);
}

vlm_status vlmi_vit_encode(float *out, vlmi_vit_state *s, const vlmi_vit *vit,
                           const float *pixels, size_t height, size_t width) {
    return vlmi_vit_encode_pool(out, s, vit, pixels, height, width, NULL);
}

vlm_status vlmi_vit_encode_pool(float *out, vlmi_vit_state *s, const vlmi_vit *vit,
                                const float *pixels, size_t height, size_t width,
                                vlmi_threadpool *pool) {
    const vlmi_kernel_table *k = vlmi_kernels();
    const vlmi_vit_hparams *hp = &vit->hp;
    if (height != hp->image_size || width != hp->image_size)
        return vlmi_fail(VLM_ERR_UNSUPPORTED, "vision encoder: a %zux%zu frame (only full "
                         "%zux%zu frames are supported)", width, height, hp->image_size,
                         hp->image_size);
    size_t n = vlmi_vit_n_patches(hp), dim = hp->dim;
    size_t head_dim = dim / hp->n_heads;
    float scale = 1.0f / sqrtf((float)head_dim);

    // patch embedding: the conv as a matmul over flattened patches
    unfold_patches(s->patches, pixels, hp->n_channels, height, width, hp->patch_size);
    linear(pool, s->x, s->patches, &vit->patch_embedding, vit->patch_bias, n);

    // position embeddings: a full frame uses positions 0 .. n-1 in grid order
    // (transformers' bucketized fractional coordinates reduce to this)
    for (size_t p = 0; p < n; p++) {
        vlmi_ref_weight_row(s->xb, vit->position_embedding.data, vit->position_embedding.dtype,
                            p, dim);
        k->add(s->x + p * dim, s->xb, dim);
    }

    for (size_t l = 0; l < hp->n_layers; l++) {
        const vlmi_vit_layer *w = &vit->layers[l];

        // layer_norm1
        k->layernorm(s->xb, s->x, w->ln1_weight, w->ln1_bias, n, dim, hp->norm_eps);

        // q, k, v projections (with biases)
        linear(pool, s->q, s->xb, &w->wq, w->bq, n);
        linear(pool, s->k, s->xb, &w->wk, w->bk, n);
        linear(pool, s->v, s->xb, &w->wv, w->bv, n);

        // bidirectional multi-head attention over all patches
        vlmi_attention(pool, s->att, s->scores, s->q, s->k, s->v, n, n, hp->n_heads,
                       hp->n_heads, head_dim, 0, false, scale);

        // output projection and residual connection
        linear(pool, s->xb, s->att, &w->wo, w->bo, n);
        k->add(s->x, s->xb, n * dim);

        // layer_norm2, MLP fc1 -> GELU -> fc2, residual connection
        k->layernorm(s->xb, s->x, w->ln2_weight, w->ln2_bias, n, dim, hp->norm_eps);
        linear(pool, s->hidden, s->xb, &w->fc1, w->fc1_bias, n);
        if (hp->activation == VLMI_VIT_GELU_TANH)
            k->gelu_tanh(s->hidden, s->hidden, n * hp->ffn_dim);
        else
            k->gelu_erf(s->hidden, s->hidden, n * hp->ffn_dim);
        linear(pool, s->xb, s->hidden, &w->fc2, w->fc2_bias, n);
        k->add(s->x, s->xb, n * dim);
    }

    // post_layernorm
    k->layernorm(out, s->x, vit->post_norm_weight, vit->post_norm_bias, n, dim,
                       hp->norm_eps);
    return VLM_OK;
}
