/* SigLIP-style vision encoder (the ViT of Idefics3/SmolVLM): patch embedding
 * (a stride-patch conv, computed as a matmul over flattened patches),
 * learned position embeddings, pre-norm blocks (LayerNorm, bidirectional
 * multi-head attention with biases, GELU MLP), post-LayerNorm.
 *
 * Weights (vlmi_vit) are immutable and shared; vlmi_vit_state holds the
 * activations of one image, allocated once for the largest frame. */
#ifndef VLM_NN_VIT_H
#define VLM_NN_VIT_H

#include "nn/weights.h"
#include "threadpool.h"

typedef enum vlmi_vit_activation {
    VLMI_VIT_GELU_TANH = 0, /* "gelu_pytorch_tanh" (SigLIP) */
    VLMI_VIT_GELU_ERF = 1   /* "gelu" */
} vlmi_vit_activation;

typedef struct vlmi_vit_hparams {
    size_t dim;          /* hidden_size */
    size_t ffn_dim;      /* intermediate_size */
    size_t n_layers;
    size_t n_heads;      /* divides dim; head_dim = dim / n_heads */
    size_t n_channels;   /* input channels, 3 */
    size_t image_size;   /* square frame side in pixels the positions cover */
    size_t patch_size;   /* divides image_size */
    float norm_eps;      /* LayerNorm epsilon */
    vlmi_vit_activation activation;
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
} vlmi_vit_state;

vlm_status vlmi_vit_state_create(const vlmi_vit *vit, vlmi_vit_state **out);
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

#endif
