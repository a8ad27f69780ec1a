/* SigLIP-style vision encoder (the ViT of Idefics3/SmolVLM): patch embedding
 * (a stride-patch conv, computed as a matmul over flattened patches),
 * learned position embeddings, pre-norm blocks (LayerNorm, bidirectional
 * multi-head attention with biases, GELU MLP), post-LayerNorm.
 *
 * Variants, each off when its hparams field is zero (a zeroed field keeps
 * SigLIP): RMSNorm, a gated MLP with biases (SwiGLU), and the patch-rows
 * encoder of Qwen2.5-VL (rope_theta > 0, vlmi_vit_encode_rows_pool): input
 * rows of flattened (C, T, P, P) patches from the processor (the Conv3d patch
 * embedding is one matmul, no bias), no position table but a 2-D rotary
 * embedding of each patch's (row, column), attention within windows of
 * merged patch groups except on the full-attention layers, and no
 * post-norm (the family's merger normalises).
 *
 * Weights (vlmi_vit) are immutable and shared; vlmi_vit_state holds the
 * activations of one image, allocated once for the largest frame. */
#ifndef VLM_NN_VIT_H
#define VLM_NN_VIT_H

#include "nn/weights.h"
#include "threadpool.h"

typedef enum vlmi_vit_activation {
    VLMI_VIT_GELU_TANH = 0, /* "gelu_pytorch_tanh" (SigLIP) */
    VLMI_VIT_GELU_ERF = 1,  /* "gelu" */
    VLMI_VIT_SILU = 2       /* "silu" (Qwen2.5-VL, with gated_mlp) */
} vlmi_vit_activation;

typedef enum vlmi_vit_norm {
    VLMI_VIT_LAYERNORM = 0, /* LayerNorm with bias (SigLIP) */
    VLMI_VIT_RMSNORM = 1    /* RMSNorm, no bias (Qwen2.5-VL) */
} vlmi_vit_norm;

typedef struct vlmi_vit_hparams {
    size_t dim;          /* hidden_size */
    size_t ffn_dim;      /* intermediate_size */
    size_t n_layers;
    size_t n_heads;      /* divides dim; head_dim = dim / n_heads */
    size_t n_channels;   /* input channels, 3 */
    size_t image_size;   /* square frame side in pixels the positions cover */
    size_t patch_size;   /* divides image_size */
    float norm_eps;      /* LayerNorm (RMSNorm) epsilon */
    vlmi_vit_activation activation;

    /* ---- variants (appended; zero keeps SigLIP) ---- */
    vlmi_vit_norm norm;  /* of both block norms (and of the post-norm, if any) */
    bool gated_mlp;      /* fc2(act(fc1 x + b) * (up x + b)) + b: SwiGLU with
                            biases, fc1 = gate_proj, w_up = up_proj, fc2 = down_proj */
    float rope_theta;    /* > 0: the patch-rows encoder (see above) with this
                            base for its 2-D rotary embedding (Qwen2.5-VL: 10000);
                            image_size is then unused and may be 0 */
    size_t temporal_patch_size; /* rows: frames per patch (Qwen: 2) */
    size_t merge_size;   /* rows: patches come in merge x merge groups, the
                            processor's and the merger's (Qwen: 2) */
    size_t window_groups; /* rows: window side in merged groups,
                            window_size / merge_size / patch_size (Qwen:
                            112 / 2 / 14 = 4); 0: every layer attends fully */
    const uint8_t *layer_full_attention; /* (n_layers) rows: 1 for the layers
                            attending over the whole frame (fullatt_block_indexes);
                            read by init only; NULL: none */
} vlmi_vit_hparams;

typedef struct vlmi_vit_layer {
    float *ln1_weight, *ln1_bias; /* (dim) layer_norm1, f32, owned */
    vlmi_matrix wq, wk, wv;       /* (dim, dim) */
    float *bq, *bk, *bv;          /* (dim) */
    vlmi_matrix wo;               /* (dim, dim) out_proj */
    float *bo;                    /* (dim) */
    float *ln2_weight, *ln2_bias; /* (dim) layer_norm2 */
    vlmi_matrix fc1;              /* (ffn_dim, dim) */
    float *fc1_bias;              /* (ffn_dim) */
    vlmi_matrix fc2;              /* (dim, ffn_dim) */
    float *fc2_bias;              /* (dim) */
    /* variants */
    vlmi_matrix w_up;             /* (ffn_dim, dim) gated_mlp: up_proj */
    float *up_bias;               /* (ffn_dim) gated_mlp, else NULL */
    bool full_attention;          /* rows: attends over the whole frame, not windows */
} vlmi_vit_layer;

typedef struct vlmi_vit {
    vlmi_vit_hparams hp;
    vlmi_matrix patch_embedding;  /* (dim, n_channels * patch_size * patch_size):
                                     the conv kernel (dim, C, P, P) flattened */
    float *patch_bias;            /* (dim) */
    vlmi_matrix position_embedding; /* (n_patches, dim), n_patches =
                                     (image_size / patch_size)^2, row-major grid */
    vlmi_vit_layer *layers;       /* (n_layers) */
    float *post_norm_weight;      /* (dim) post_layernorm */
    float *post_norm_bias;        /* (dim) */
    float *vector_storage;        /* every f32 vector above points into it */
    /* RMSNorm leaves the norm biases NULL; the rows encoder leaves
     * patch_bias, position_embedding and the post-norm NULL / unbound */
} vlmi_vit;

/* Validates hp (VLM_ERR_FORMAT naming the field) and allocates the layer
 * table and zeroed f32 vectors; the caller binds the weights. On failure
 * *vit is empty. */
vlm_status vlmi_vit_init(vlmi_vit *vit, const vlmi_vit_hparams *hp);
void vlmi_vit_free(vlmi_vit *vit);  /* NULL or empty is fine */

/* Patches per full frame: (image_size / patch_size)^2. */
size_t vlmi_vit_n_patches(const vlmi_vit_hparams *hp);

typedef struct vlmi_vit_state {
    size_t n_patches;  /* rows every buffer holds */
    float *patches;    /* (n_patches, n_channels * patch_size^2) pixels of each
                          patch in (c, y, x) order, as the conv kernel */
    float *x;          /* (n_patches, dim) residual stream */
    float *xb;         /* (n_patches, dim) normed input, then projection output */
    float *q, *k, *v;  /* (n_patches, dim) */
    float *att;        /* (n_patches, dim) attention output */
    float *hidden;     /* (n_patches, ffn_dim) MLP inner activations */
    float *scores;     /* (n_patches) attention weights of one query and head */
    /* the rows encoder (NULL otherwise) */
    float *up;         /* (n_patches, ffn_dim) gated MLP up projection */
    float *rope_cos;   /* (n_patches, head_dim / 2) rotary cos per row, window order */
    float *rope_sin;   /* (n_patches, head_dim / 2) */
    size_t *window_group; /* (n_patches / merge^2) the merged group at each place
                          of the window order */
    size_t *window_start; /* (n_patches / merge^2 + 1) first row of each window,
                          then the end */
    size_t *frame_start;  /* (n_patches + 1) first row of each frame, then the end */
} vlmi_vit_state;

/* A state for full frames (not for the rows encoder: VLM_ERR_INVALID_ARGUMENT). */
vlm_status vlmi_vit_state_create(const vlmi_vit *vit, vlmi_vit_state **out);
/* A state for the rows encoder, for frames of up to max_patches rows in all. */
vlm_status vlmi_vit_state_create_rows(const vlmi_vit *vit, size_t max_patches,
                                      vlmi_vit_state **out);
void vlmi_vit_state_free(vlmi_vit_state *s);  /* NULL is fine */

/* Encodes one frame of normalized pixels, channels first. Only full frames
 * (height == width == image_size) for now; others are VLM_ERR_UNSUPPORTED.
 * pixels (n_channels, height, width) -> out (n_patches, dim), post-LayerNorm,
 * patches in row-major grid order */
vlm_status vlmi_vit_encode(float *out, vlmi_vit_state *s, const vlmi_vit *vit,
                           const float *pixels, size_t height, size_t width);
/* The same, with the matrix products split over pool's threads (NULL: the
 * calling thread only). */
vlm_status vlmi_vit_encode_pool(float *out, vlmi_vit_state *s, const vlmi_vit *vit,
                                const float *pixels, size_t height, size_t width,
                                vlmi_threadpool *pool);

/* The rows encoder (rope_theta > 0) on one image or video of grid_t x grid_h
 * x grid_w patches, rows as the Qwen2-VL processor makes them: frame by
 * frame, merge x merge groups in row-major order, each group's patches
 * row-major, each row (channel, t, py, px). grid_h and grid_w must be
 * multiples of merge_size and the rows fit the state
 * (VLM_ERR_INVALID_ARGUMENT / VLM_ERR_LIMIT, nothing computed).
 * rows (t*h*w, n_channels*T*P*P) -> out (t*h*w, dim) after the last block,
 * in the input's row order */
vlm_status vlmi_vit_encode_rows_pool(float *out, vlmi_vit_state *s, const vlmi_vit *vit,
                                     const float *rows, size_t grid_t, size_t grid_h,
                                     size_t grid_w, vlmi_threadpool *pool);

#endif
