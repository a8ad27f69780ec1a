/* Llama-style decoder: the text model of Idefics3/SmolVLM and of every family
 * whose language model is a Llama (pre-norm RMSNorm, RoPE rotate_half, GQA
 * causal attention, SwiGLU MLP, untied or tied LM head).
 *
 * The weights (vlmi_decoder) are immutable once bound and shared by every
 * session; the mutable buffers and the KV cache (vlmi_decoder_state) belong
 * to one session and are allocated once, for n_ctx tokens: a forward pass
 * allocates nothing. A family file (lib/arch/) fills hparams from its config
 * and binds the weights by name. */
#ifndef VLM_NN_DECODER_H
#define VLM_NN_DECODER_H

#include "nn/weights.h"
#include "threadpool.h"

typedef struct vlmi_decoder_hparams {
    size_t n_vocab;     /* rows of the embedding and the LM head */
    size_t dim;         /* hidden_size: width of the residual stream */
    size_t ffn_dim;     /* intermediate_size: MLP inner width */
    size_t n_layers;
    size_t n_heads;     /* query heads */
    size_t n_kv_heads;  /* key/value heads; divides n_heads */
    size_t head_dim;    /* even, for RoPE */
    float norm_eps;     /* RMSNorm epsilon */
    float rope_theta;   /* RoPE base frequency */
} vlmi_decoder_hparams;

typedef struct vlmi_decoder_layer {
    float *attn_norm;   /* (dim) input_layernorm, f32, owned by the decoder */
    vlmi_matrix wq;     /* (n_heads * head_dim, dim) */
    vlmi_matrix wk;     /* (n_kv_heads * head_dim, dim) */
    vlmi_matrix wv;     /* (n_kv_heads * head_dim, dim) */
    vlmi_matrix wo;     /* (dim, n_heads * head_dim) */
    float *ffn_norm;    /* (dim) post_attention_layernorm, f32, owned */
    vlmi_matrix w_gate; /* (ffn_dim, dim) */
    vlmi_matrix w_up;   /* (ffn_dim, dim) */
    vlmi_matrix w_down; /* (dim, ffn_dim) */
} vlmi_decoder_layer;

typedef struct vlmi_decoder {
    vlmi_decoder_hparams hp;
    vlmi_matrix token_embedding; /* (n_vocab, dim) */
    vlmi_decoder_layer *layers;  /* (n_layers) */
    float *final_norm;           /* (dim) f32, owned */
    vlmi_matrix lm_head;         /* (n_vocab, dim); token_embedding when tied */
    float *norm_storage;         /* ((2 * n_layers + 1) * dim): the f32 norm
                                    weights above point into it */
} vlmi_decoder;

/* Validates hp (positive sizes, heads grouping, even head_dim; VLM_ERR_FORMAT
 * naming the field) and allocates the layer table and the f32 norm weights,
 * zeroed; the caller then binds every weight. On failure *dec is empty. */
vlm_status vlmi_decoder_init(vlmi_decoder *dec, const vlmi_decoder_hparams *hp);
/* Releases what init allocated and zeroes dec; NULL or empty is fine. */
void vlmi_decoder_free(vlmi_decoder *dec);

/* Token embeddings: row ids[i] of the embedding table, as f32. An id outside
 * [0, n_vocab) is VLM_ERR_INVALID_ARGUMENT.
 * ids (n) -> out (n, dim) */
vlm_status vlmi_decoder_embed(float *out, const vlmi_decoder *dec,
                              const int32_t *ids, size_t n);

/* One session's activations and KV cache. */
typedef struct vlmi_decoder_state {
    size_t n_ctx;        /* KV cache capacity in tokens */
    size_t n_batch;      /* rows per step; longer inputs go in chunks */
    size_t n_past;       /* tokens already in the cache */
    float *x;            /* (n_batch, dim) residual stream */
    float *xb;           /* (n_batch, dim) normed input, then projection output */
    float *q;            /* (n_batch, n_heads * head_dim) queries */
    float *att;          /* (n_batch, n_heads * head_dim) attention output */
    float *gate;         /* (n_batch, ffn_dim) MLP gate, then silu(gate) * up */
    float *up;           /* (n_batch, ffn_dim) */
    float *scores;       /* (n_ctx) attention weights of one query and head */
    float *logits;       /* (n_vocab) of the last token of the latest forward */
    float *key_cache;    /* (n_layers, n_ctx, n_kv_heads * head_dim), after RoPE */
    float *value_cache;  /* (n_layers, n_ctx, n_kv_heads * head_dim) */
} vlmi_decoder_state;

/* Allocates a state for dec with a KV cache of n_ctx tokens, processing up to
 * n_batch rows per step (0: min(n_ctx, 64)). Caller owns *out. */
vlm_status vlmi_decoder_state_create(const vlmi_decoder *dec, size_t n_ctx,
                                     size_t n_batch, vlmi_decoder_state **out);
void vlmi_decoder_state_free(vlmi_decoder_state *s); /* NULL is fine */
/* Forgets the cached tokens (the next forward starts at position 0). */
void vlmi_decoder_state_reset(vlmi_decoder_state *s);

/* Runs n_tokens input embeddings through the decoder at positions
 * n_past .. n_past + n_tokens - 1, appends their keys and values to the
 * cache, and advances n_past. s->logits then holds the last token's logits.
 * all_logits, if not NULL, receives every row's logits. More tokens than the
 * cache has room for is VLM_ERR_LIMIT (nothing is computed).
 * embeddings (n_tokens, dim) -> s->logits (n_vocab), all_logits (n_tokens, n_vocab) */
vlm_status vlmi_decoder_forward(vlmi_decoder_state *s, const vlmi_decoder *dec,
                                const float *embeddings, size_t n_tokens,
                                float *all_logits);
/* The same, with the matrix products split over pool's threads (NULL: the
 * calling thread only); results do not depend on the thread count. */
vlm_status vlmi_decoder_forward_pool(vlmi_decoder_state *s, const vlmi_decoder *dec,
                                     const float *embeddings, size_t n_tokens,
                                     float *all_logits, vlmi_threadpool *pool);

#endif
