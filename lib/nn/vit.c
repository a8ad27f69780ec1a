/* Vision encoder forward passes: SigLIP frames and the patch-rows variant (see vit.h). */
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
    bool rows = hp->rope_theta > 0.0f;
    const struct { const char *name; size_t value; } sizes[] = {
        {"hidden_size", hp->dim}, {"intermediate_size", hp->ffn_dim},
        {"num_hidden_layers", hp->n_layers}, {"num_attention_heads", hp->n_heads},
        {"num_channels", hp->n_channels}, {"patch_size", hp->patch_size},
        {rows ? "temporal_patch_size" : "image_size",
         rows ? hp->temporal_patch_size : hp->image_size},
        {"spatial_merge_size", rows ? hp->merge_size : 1},
    };
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        if (sizes[i].value == 0)
            return vlmi_fail(VLM_ERR_FORMAT, "vision encoder: %s must be positive",
                             sizes[i].name);
    if (hp->dim % hp->n_heads != 0)
        return vlmi_fail(VLM_ERR_FORMAT, "vision encoder: hidden_size %zu is not a multiple "
                         "of num_attention_heads %zu", hp->dim, hp->n_heads);
    if (!rows && hp->image_size % hp->patch_size != 0)
        return vlmi_fail(VLM_ERR_FORMAT, "vision encoder: image_size %zu is not a multiple "
                         "of patch_size %zu", hp->image_size, hp->patch_size);
    if (rows && (hp->dim / hp->n_heads) % 4 != 0)
        return vlmi_fail(VLM_ERR_FORMAT, "vision encoder: head_dim %zu is not a multiple of 4 "
                         "(the 2-D rotary needs pairs on each axis)", hp->dim / hp->n_heads);
    if (!(hp->norm_eps > 0.0f))
        return vlmi_fail(VLM_ERR_FORMAT, "vision encoder: layer_norm_eps must be positive");
    if (hp->activation != VLMI_VIT_GELU_TANH && hp->activation != VLMI_VIT_GELU_ERF &&
        hp->activation != VLMI_VIT_SILU)
        return vlmi_fail(VLM_ERR_UNSUPPORTED, "vision encoder: unknown activation %d",
                         (int)hp->activation);
    if (hp->norm != VLMI_VIT_LAYERNORM && hp->norm != VLMI_VIT_RMSNORM)
        return vlmi_fail(VLM_ERR_UNSUPPORTED, "vision encoder: unknown norm %d", (int)hp->norm);

    /* the SigLIP layout first (as it always was), then the gated MLP's up biases */
    size_t per_layer, n_floats, n_up;
    if (vlmi_mul_overflow(hp->dim, LAYER_VECTORS_OF_DIM, &per_layer) ||
        vlmi_add_overflow(per_layer, hp->ffn_dim, &per_layer) ||
        vlmi_mul_overflow(per_layer, hp->n_layers, &n_floats) ||
        vlmi_add_overflow(n_floats, 3 * hp->dim, &n_floats) ||
        vlmi_mul_overflow(hp->gated_mlp ? hp->ffn_dim : 0, hp->n_layers, &n_up) ||
        vlmi_add_overflow(n_floats, n_up, &n_floats))
        return vlmi_fail(VLM_ERR_LIMIT, "vision encoder: too large");
    vit->layers = vlmi_calloc(hp->n_layers, sizeof *vit->layers);
    vit->vector_storage = vlmi_calloc(n_floats, sizeof(float));
    if (vit->layers == NULL || vit->vector_storage == NULL) {
        vlmi_vit_free(vit);
        return VLM_ERR_OUT_OF_MEMORY;
    }
    vit->hp = *hp;
    vit->hp.layer_full_attention = NULL; /* borrowed by init only: copied below */
    size_t dim = hp->dim;
    bool rms = hp->norm == VLMI_VIT_RMSNORM;
    float *next = vit->vector_storage;
    for (size_t l = 0; l < hp->n_layers; l++) {
        vlmi_vit_layer *w = &vit->layers[l];
        float **of_dim[LAYER_VECTORS_OF_DIM] = {&w->ln1_weight, &w->ln1_bias, &w->bq, &w->bk,
                                                &w->bv, &w->bo, &w->ln2_weight, &w->ln2_bias,
                                                &w->fc2_bias};
        for (size_t i = 0; i < LAYER_VECTORS_OF_DIM; i++, next += dim) *of_dim[i] = next;
        w->fc1_bias = next;
        next += hp->ffn_dim;
        if (rms) w->ln1_bias = w->ln2_bias = NULL;
        w->full_attention = hp->layer_full_attention != NULL && hp->layer_full_attention[l];
    }
    vit->patch_bias = next;
    vit->post_norm_weight = next + dim;
    vit->post_norm_bias = rms ? NULL : next + 2 * dim;
    next += 3 * dim;
    if (rows) vit->patch_bias = vit->post_norm_weight = vit->post_norm_bias = NULL;
    for (size_t l = 0; hp->gated_mlp && l < hp->n_layers; l++, next += hp->ffn_dim)
        vit->layers[l].up_bias = next;
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

/* A state of n patch rows; the rows encoder's buffers too when rows. */
static vlm_status state_alloc(const vlmi_vit *vit, size_t n, bool rows, vlmi_vit_state **out) {
    *out = NULL;
    const vlmi_vit_hparams *hp = &vit->hp;
    size_t patch_len = hp->n_channels * hp->patch_size * hp->patch_size *
                       (rows ? hp->temporal_patch_size : 1);
    size_t half = hp->dim / hp->n_heads / 2;
    size_t n_patch_floats, n_dim_floats, n_ffn_floats, n_rope_floats;
    if (vlmi_mul_overflow(n, patch_len, &n_patch_floats) ||
        vlmi_mul_overflow(n, hp->dim, &n_dim_floats) ||
        vlmi_mul_overflow(n, hp->ffn_dim, &n_ffn_floats) ||
        vlmi_mul_overflow(n, half, &n_rope_floats) || n == SIZE_MAX)
        return vlmi_fail(VLM_ERR_LIMIT, "vision encoder: %zu patches are too many", n);

    vlmi_vit_state *s = vlmi_calloc(1, sizeof *s);
    if (s == NULL) return VLM_ERR_OUT_OF_MEMORY;
    s->n_patches = n;
    /* the rows encoder reads its input rows in place */
    s->patches = rows ? NULL : vlmi_calloc(n_patch_floats, sizeof(float));
    s->x = vlmi_calloc(n_dim_floats, sizeof(float));
    s->xb = vlmi_calloc(n_dim_floats, sizeof(float));
    s->q = vlmi_calloc(n_dim_floats, sizeof(float));
    s->k = vlmi_calloc(n_dim_floats, sizeof(float));
    s->v = vlmi_calloc(n_dim_floats, sizeof(float));
    s->att = vlmi_calloc(n_dim_floats, sizeof(float));
    s->hidden = vlmi_calloc(n_ffn_floats, sizeof(float));
    s->scores = vlmi_calloc(n, sizeof(float));
    bool ok = (rows || s->patches) && s->x && s->xb && s->q && s->k && s->v && s->att &&
              s->hidden && s->scores;
    if (ok && hp->gated_mlp) ok = (s->up = vlmi_calloc(n_ffn_floats, sizeof(float))) != NULL;
    if (ok && rows) {
        size_t groups = n / (hp->merge_size * hp->merge_size) + 1;
        s->rope_cos = vlmi_calloc(n_rope_floats, sizeof(float));
        s->rope_sin = vlmi_calloc(n_rope_floats, sizeof(float));
        s->window_group = vlmi_calloc(groups, sizeof(size_t));
        s->window_start = vlmi_calloc(groups + 1, sizeof(size_t));
        s->frame_start = vlmi_calloc(n + 1, sizeof(size_t));
        ok = s->rope_cos && s->rope_sin && s->window_group && s->window_start && s->frame_start;
    }
    if (!ok) {
        vlmi_vit_state_free(s);
        return vlmi_fail(VLM_ERR_OUT_OF_MEMORY, "vision encoder: out of memory");
    }
    *out = s;
    return VLM_OK;
}

vlm_status vlmi_vit_state_create(const vlmi_vit *vit, vlmi_vit_state **out) {
    *out = NULL;
    if (vit->hp.rope_theta > 0.0f)
        return vlmi_fail(VLM_ERR_INVALID_ARGUMENT, "vision encoder: a patch-rows encoder "
                         "needs vlmi_vit_state_create_rows");
    return state_alloc(vit, vlmi_vit_n_patches(&vit->hp), false, out);
}

vlm_status vlmi_vit_state_create_rows(const vlmi_vit *vit, size_t max_patches,
                                      vlmi_vit_state **out) {
    *out = NULL;
    if (!(vit->hp.rope_theta > 0.0f))
        return vlmi_fail(VLM_ERR_INVALID_ARGUMENT, "vision encoder: not a rows encoder");
    if (max_patches == 0)
        return vlmi_fail(VLM_ERR_INVALID_ARGUMENT, "vision encoder: no patches");
    return state_alloc(vit, max_patches, true, out);
}

void vlmi_vit_state_free(vlmi_vit_state *s) {
    if (s == NULL) return;
    free(s->frame_start);
    free(s->window_start);
    free(s->window_group);
    free(s->rope_sin);
    free(s->rope_cos);
    free(s->up);
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

/* The MLP activation in place. x (n) -> x */
static void activate(const vlmi_kernel_table *k, const vlmi_vit_hparams *hp, float *x, size_t n) {
    if (hp->activation == VLMI_VIT_GELU_TANH)
        k->gelu_tanh(x, x, n);
    else if (hp->activation == VLMI_VIT_GELU_ERF)
        k->gelu_erf(x, x, n);
    else
        k->silu(x, x, n);
}

/* LayerNorm or RMSNorm (bias NULL) of n rows, as hp says.
 * x (n, dim) -> out (n, dim) */
static void norm(const vlmi_kernel_table *k, const vlmi_vit_hparams *hp, float *out,
                 const float *x, const float *weight, const float *bias, size_t n) {
    if (hp->norm == VLMI_VIT_RMSNORM)
        k->rmsnorm(out, x, weight, n, hp->dim, hp->norm_eps);
    else
        k->layernorm(out, x, weight, bias, n, hp->dim, hp->norm_eps);
}

/* The 2-D rotary embedding from the per-row tables (rotate_half layout over
 * the whole head). x (n, n_heads * head_dim), tables (n, head_dim / 2) -> x */
static void rope_rows(float *x, const float *cos_table, const float *sin_table, size_t n,
                      size_t n_heads, size_t head_dim) {
    size_t half = head_dim / 2;
    for (size_t r = 0; r < n; r++)
        for (size_t h = 0; h < n_heads; h++) {
            float *head = x + (r * n_heads + h) * head_dim;
            const float *c = cos_table + r * half, *sn = sin_table + r * half;
            for (size_t i = 0; i < half; i++) {
                float x1 = head[i], x2 = head[i + half];
                head[i] = x1 * c[i] - x2 * sn[i];
                head[i + half] = x2 * c[i] + x1 * sn[i];
            }
        }
}

/* One pre-norm block on s->x (n rows) in place: attention within each of
 * the n_segments row ranges [start[i], start[i + 1]) (bidirectional), with
 * the rotary tables of the state when rotary, then the MLP. */
static void encoder_block(vlmi_vit_state *s, const vlmi_vit *vit, const vlmi_vit_layer *w,
                          size_t n, const size_t *start, size_t n_segments, bool rotary,
                          vlmi_threadpool *pool) {
    const vlmi_kernel_table *k = vlmi_kernels();
    const vlmi_vit_hparams *hp = &vit->hp;
    size_t dim = hp->dim, head_dim = dim / hp->n_heads;
    float scale = 1.0f / sqrtf((float)head_dim);

    // norm1
    norm(k, hp, s->xb, s->x, w->ln1_weight, w->ln1_bias, n);

    // q, k, v projections (with biases), 2-D rotary
    linear(pool, s->q, s->xb, &w->wq, w->bq, n);
    linear(pool, s->k, s->xb, &w->wk, w->bk, n);
    linear(pool, s->v, s->xb, &w->wv, w->bv, n);
    if (rotary) {
        rope_rows(s->q, s->rope_cos, s->rope_sin, n, hp->n_heads, head_dim);
        rope_rows(s->k, s->rope_cos, s->rope_sin, n, hp->n_heads, head_dim);
    }

    // bidirectional multi-head attention within each segment
    for (size_t i = 0; i < n_segments; i++) {
        size_t at = start[i] * dim, len = start[i + 1] - start[i];
        vlmi_attention(pool, s->att + at, s->scores, s->q + at, s->k + at, s->v + at, len,
                       len, hp->n_heads, hp->n_heads, head_dim, 0, false, scale);
    }

    // output projection and residual connection
    linear(pool, s->xb, s->att, &w->wo, w->bo, n);
    k->add(s->x, s->xb, n * dim);

    // norm2, MLP (plain or gated), residual connection
    norm(k, hp, s->xb, s->x, w->ln2_weight, w->ln2_bias, n);
    linear(pool, s->hidden, s->xb, &w->fc1, w->fc1_bias, n);
    size_t n_hidden = n * hp->ffn_dim;
    if (hp->gated_mlp) {
        linear(pool, s->up, s->xb, &w->w_up, w->up_bias, n);
        if (hp->activation == VLMI_VIT_SILU) {
            k->silu_mul(s->hidden, s->hidden, s->up, n_hidden);
        } else {
            activate(k, hp, s->hidden, n_hidden);
            for (size_t i = 0; i < n_hidden; i++) s->hidden[i] *= s->up[i];
        }
    } else {
        activate(k, hp, s->hidden, n_hidden);
    }
    linear(pool, s->xb, s->hidden, &w->fc2, w->fc2_bias, n);
    k->add(s->x, s->xb, n * dim);
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
    if (hp->rope_theta > 0.0f)
        return vlmi_fail(VLM_ERR_INVALID_ARGUMENT, "vision encoder: a patch-rows encoder "
                         "takes rows (vlmi_vit_encode_rows_pool), not frames");
    if (height != hp->image_size || width != hp->image_size)
        return vlmi_fail(VLM_ERR_UNSUPPORTED, "vision encoder: a %zux%zu frame (only full "
                         "%zux%zu frames are supported)", width, height, hp->image_size,
                         hp->image_size);
    size_t n = vlmi_vit_n_patches(hp), dim = hp->dim;

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

    const size_t whole[2] = {0, n};
    for (size_t l = 0; l < hp->n_layers; l++)
        encoder_block(s, vit, &vit->layers[l], n, whole, 1, false, pool);

    // post_layernorm
    norm(k, hp, out, s->x, vit->post_norm_weight, vit->post_norm_bias, n);
    return VLM_OK;
}

// ----------------------------------------------------------------------------
// the patch-rows encoder (Qwen2.5-VL)

/* The window order of the merged groups and the windows' row ranges, as
 * transformers' get_vision_window_index: per frame, the merged grid (gh, gw)
 * padded up to whole windows of side `side` (a full extra window when it
 * divides evenly: those stay empty and are dropped), windows row-major, the
 * groups of each window row-major; the frames' groups in turn.
 * -> s->window_group (groups), s->window_start (*n_windows + 1, in rows) */
static void window_order(vlmi_vit_state *s, size_t grid_t, size_t gh, size_t gw, size_t side,
                         size_t group_rows, size_t *n_windows) {
    size_t place = 0, windows = 0;
    s->window_start[0] = 0;
    for (size_t t = 0; t < grid_t; t++) {
        size_t nwh = (gh + side - gh % side) / side, nww = (gw + side - gw % side) / side;
        for (size_t wy = 0; wy < nwh; wy++)
            for (size_t wx = 0; wx < nww; wx++) {
                size_t begin = place;
                for (size_t y = wy * side; y < (wy + 1) * side && y < gh; y++)
                    for (size_t x = wx * side; x < (wx + 1) * side && x < gw; x++)
                        s->window_group[place++] = (t * gh + y) * gw + x;
                if (place > begin) s->window_start[++windows] = place * group_rows;
            }
    }
    *n_windows = windows;
}

/* cos and sin of each row's 2-D rotary angles, the rows in window order, as
 * Qwen2_5_VLVisionRotaryEmbedding: head_dim / 4 inverse frequencies
 * theta^(-2j / (head_dim / 2)) in f32, the first half of the pairs turned by
 * the patch's row, the second by its column. -> s->rope_cos, s->rope_sin */
static void rotary_tables(vlmi_vit_state *s, const vlmi_vit_hparams *hp, size_t n_groups,
                          size_t gh, size_t gw) {
    size_t merge = hp->merge_size, group_rows = merge * merge;
    size_t half = hp->dim / hp->n_heads / 2, quarter = half / 2;
    for (size_t j = 0; j < quarter; j++) {
        float inv_freq = 1.0f / powf(hp->rope_theta, (float)(2 * j) / (float)half);
        for (size_t place = 0; place < n_groups; place++) {
            /* every frame repeats the same rows and columns */
            size_t g = s->window_group[place] % (gh * gw), gy = g / gw, gx = g % gw;
            for (size_t m = 0; m < group_rows; m++) {
                size_t row = place * group_rows + m;
                float angle_h = (float)(gy * merge + m / merge) * inv_freq;
                float angle_w = (float)(gx * merge + m % merge) * inv_freq;
                s->rope_cos[row * half + j] = cosf(angle_h);
                s->rope_sin[row * half + j] = sinf(angle_h);
                s->rope_cos[row * half + quarter + j] = cosf(angle_w);
                s->rope_sin[row * half + quarter + j] = sinf(angle_w);
            }
        }
    }
}

vlm_status vlmi_vit_encode_rows_pool(float *out, vlmi_vit_state *s, const vlmi_vit *vit,
                                     const float *rows, size_t grid_t, size_t grid_h,
                                     size_t grid_w, vlmi_threadpool *pool) {
    const vlmi_vit_hparams *hp = &vit->hp;
    if (!(hp->rope_theta > 0.0f) || s->window_group == NULL)
        return vlmi_fail(VLM_ERR_INVALID_ARGUMENT, "vision encoder: rows need a patch-rows "
                         "encoder and a state from vlmi_vit_state_create_rows");
    size_t merge = hp->merge_size, group_rows = merge * merge, dim = hp->dim;
    if (grid_t == 0 || grid_h == 0 || grid_w == 0 || grid_h % merge || grid_w % merge)
        return vlmi_fail(VLM_ERR_INVALID_ARGUMENT, "vision encoder: grid (%zu, %zu, %zu) is "
                         "not whole %zux%zu groups", grid_t, grid_h, grid_w, merge, merge);
    size_t n;
    if (vlmi_mul_overflow(grid_h, grid_w, &n) || vlmi_mul_overflow(n, grid_t, &n) ||
        n > s->n_patches)
        return vlmi_fail(VLM_ERR_LIMIT, "vision encoder: grid (%zu, %zu, %zu) exceeds the "
                         "state's %zu patches", grid_t, grid_h, grid_w, s->n_patches);
    size_t gh = grid_h / merge, gw = grid_w / merge, n_groups = n / group_rows;

    // window order of the merged groups (all layers full without windows)
    size_t n_windows = 0;
    if (hp->window_groups > 0) {
        window_order(s, grid_t, gh, gw, hp->window_groups, group_rows, &n_windows);
    } else {
        for (size_t g = 0; g < n_groups; g++) s->window_group[g] = g;
    }
    for (size_t t = 0; t <= grid_t; t++) s->frame_start[t] = t * grid_h * grid_w;
    rotary_tables(s, hp, n_groups, gh, gw);

    // patch embedding (the Conv3d as one matmul), then the groups into window order
    linear(pool, s->xb, rows, &vit->patch_embedding, NULL, n);
    for (size_t place = 0; place < n_groups; place++)
        memcpy(s->x + place * group_rows * dim, s->xb + s->window_group[place] * group_rows * dim,
               group_rows * dim * sizeof(float));

    // blocks: full attention over each frame, or within each window
    for (size_t l = 0; l < hp->n_layers; l++) {
        const vlmi_vit_layer *w = &vit->layers[l];
        bool full = w->full_attention || hp->window_groups == 0;
        encoder_block(s, vit, w, n, full ? s->frame_start : s->window_start,
                      full ? grid_t : n_windows, true, pool);
    }

    // back to the input's order
    for (size_t place = 0; place < n_groups; place++)
        memcpy(out + s->window_group[place] * group_rows * dim, s->x + place * group_rows * dim,
               group_rows * dim * sizeof(float));
    return VLM_OK;
}
