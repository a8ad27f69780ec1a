/* Llama-style decoder: the text model of Idefics3/SmolVLM and of every family
 * whose language model is a Llama (pre-norm RMSNorm, RoPE rotate_half, GQA
 * causal attention, SwiGLU MLP, untied or tied LM head).
 *
 * Variants, each off when its hparams field is zero (so a zeroed field keeps
 * the Llama behaviour): Gemma 3's scaled embeddings, QK-norm, norms after
 * attention and MLP, GeGLU, attention scale, logit softcapping, sliding-window
 * layers with their own RoPE base and a ring-buffer cache of the window only,
 * linear RoPE scaling, bidirectional attention within image blocks
 * (vlmi_decoder_forward_blocks), Qwen2's q/k/v projection biases, and
 * Qwen2-VL's multimodal RoPE (M-RoPE): each token's rotary angle from its own
 * (temporal, height, width) position, mrope_section choosing which component
 * drives which frequency pairs (vlmi_decoder_forward_positions). Gemma's RMSNorm (1 + w) is the family's to
 * fold into the weights at bind time.
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

typedef enum vlmi_decoder_activation {
    VLMI_DECODER_SILU = 0,      /* silu(gate) * up (Llama SwiGLU) */
    VLMI_DECODER_GELU_TANH = 1, /* gelu_tanh(gate) * up (Gemma GeGLU) */
} vlmi_decoder_activation;

/* Position components of M-RoPE: temporal, height, width. */
#define VLMI_DECODER_MROPE_AXES 3

typedef struct vlmi_decoder_hparams {
    size_t n_vocab;     /* rows of the embedding and the LM head */
    size_t dim;         /* hidden_size: width of the residual stream */
    size_t ffn_dim;     /* intermediate_size: MLP inner width */
    size_t n_layers;
    size_t n_heads;     /* query heads */
    size_t n_kv_heads;  /* key/value heads; divides n_heads */
    size_t head_dim;    /* even, for RoPE */
    float norm_eps;     /* RMSNorm epsilon */
    float rope_theta;   /* RoPE base frequency (sliding layers: rope_theta_sliding) */

    /* ---- variants (appended; zero keeps the Llama behaviour) ---- */
    vlmi_decoder_activation activation; /* MLP gate activation: SiLU (SwiGLU) or
                           GELU tanh (GeGLU, Gemma) */
    float embed_scale;  /* token embeddings are multiplied by it (Gemma:
                           sqrt(dim) in the weights' dtype); 0: not scaled */
    bool qk_norm;       /* RMSNorm of each query and key head before RoPE (Gemma 3) */
    bool post_norms;    /* RMSNorm of the attention and MLP outputs before each
                           residual add (Gemma 2/3 post_attention_layernorm and
                           post_feedforward_layernorm) */
    float attn_scale;   /* attention score scale; 0: 1/sqrt(head_dim) (Gemma 3:
                           query_pre_attn_scalar^-0.5) */
    float attn_softcap; /* scores -> c tanh(scores / c); 0: none */
    float final_softcap; /* logits -> c tanh(logits / c); 0: none */
    float rope_freq_scale; /* linear RoPE scaling of the non-sliding layers:
                           inverse frequencies divided by it; 0: none */
    size_t sliding_window; /* keys a sliding layer's query sees, its own
                           included (a query at p sees p - window + 1 .. p) */
    const uint8_t *layer_is_sliding; /* (n_layers) 1: a sliding-window layer;
                           read by init only (copied into the layers); NULL: none */
    float rope_theta_sliding; /* RoPE base of the sliding layers; 0: rope_theta */
    bool qkv_bias;      /* q, k and v projections carry biases (Qwen2) */
    size_t mrope_section[VLMI_DECODER_MROPE_AXES]; /* M-RoPE: how many of the
                           head_dim / 2 rotary pairs the temporal, height and
                           width positions drive, consecutive in that order
                           (transformers' mrope_section split); sums to
                           head_dim / 2 when set; all 0: the temporal position
                           drives every pair */
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
    /* variants: NULL / false when off */
    bool sliding;       /* sliding-window attention, its own RoPE base */
    float *q_norm;      /* (head_dim) qk_norm: applied to every query head, owned */
    float *k_norm;      /* (head_dim) qk_norm: applied to every key head, owned */
    float *attn_post_norm; /* (dim) post_norms: on the attention output, owned */
    float *ffn_post_norm;  /* (dim) post_norms: on the MLP output, owned */
    float *bq;          /* (n_heads * head_dim) qkv_bias: q_proj.bias, owned */
    float *bk;          /* (n_kv_heads * head_dim) qkv_bias: k_proj.bias, owned */
    float *bv;          /* (n_kv_heads * head_dim) qkv_bias: v_proj.bias, owned */
} vlmi_decoder_layer;

typedef struct vlmi_decoder {
    vlmi_decoder_hparams hp;
    vlmi_matrix token_embedding; /* (n_vocab, dim) */
    vlmi_decoder_layer *layers;  /* (n_layers) */
    float *final_norm;           /* (dim) f32, owned */
    vlmi_matrix lm_head;         /* (n_vocab, dim); token_embedding when tied */
    float *norm_storage;         /* ((2 * n_layers + 1) * dim, then the variants'
                                    norms and biases): the f32 vectors above point into it */
} vlmi_decoder;

/* Validates hp (positive sizes, heads grouping, even head_dim, a window when
 * a layer slides; VLM_ERR_FORMAT naming the field) and allocates the layer
 * table and the f32 norm weights (those of the variants hp turns on too),
 * zeroed; the caller then binds every weight. On failure *dec is empty. */
vlm_status vlmi_decoder_init(vlmi_decoder *dec, const vlmi_decoder_hparams *hp);
/* Releases what init allocated and zeroes dec; NULL or empty is fine. */
void vlmi_decoder_free(vlmi_decoder *dec);

/* Token embeddings: row ids[i] of the embedding table, as f32, times
 * hp.embed_scale when set. An id outside
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
    size_t logits_position; /* the position logits belong to; SIZE_MAX: none */
    vlm_dtype kv_dtype;  /* VLM_DTYPE_F32, F16 or Q8_0: the elements of the
                            caches, rings and window scratch */
    void *key_cache;     /* per layer (rows, n_kv_heads * head_dim) kv_dtype, after
                            RoPE: n_ctx rows, or sliding_rows for a sliding layer */
    void *value_cache;   /* the same layout */
    float *new_keys;     /* (n_batch, kv_dim) f16 and q8_0 caches only: a chunk's
                            keys in f32 before they are rounded into the cache */
    float *new_values;   /* the same, values */
    float *kv_f32;       /* f16 and q8_0 caches only: the keys, then the values,
                            of the rows one prefill attention call reads, in f32 */
    /* sliding-window layers (all zero / NULL when no layer slides) */
    size_t *layer_offset; /* (n_layers) first row of each layer in the caches */
    size_t sliding_rows; /* ring rows of a sliding layer: min(n_ctx, window);
                            position p lives in row p % sliding_rows */
    void *window_keys;   /* (min(window - 1, n_ctx) + n_batch, kv_dim) kv_dtype
                            scratch: a chunk's keys after the window's older ones */
    void *window_values; /* the same, values */
    size_t n_filled;     /* end of the positions last written */
    size_t ring_valid_from; /* the rings hold positions ring_valid_from .. n_filled - 1 */
    size_t *kv_end;      /* (n_batch) per query row, end of the positions it sees */
    float *rope_cos;     /* (n_batch, head_dim / 2) per row and pair, of the chunk */
    float *rope_sin;     /* (n_batch, head_dim / 2) */
} vlmi_decoder_state;

/* Allocates a state for dec with a KV cache of n_ctx tokens, processing up to
 * n_batch rows per step (0: min(n_ctx, 64)). Caller owns *out. */
vlm_status vlmi_decoder_state_create(const vlmi_decoder *dec, size_t n_ctx,
                                     size_t n_batch, vlmi_decoder_state **out);
/* The same with the KV cache (and the sliding layers' rings and window
 * scratch) stored as kv_dtype: VLM_DTYPE_F32 (vlmi_decoder_state_create) or
 * VLM_DTYPE_F16, half the memory and traffic: each key and value (after
 * RoPE) is rounded to the nearest f16, ties to even, as it is appended, and
 * attention reads it back exactly. Values beyond f16's range (65504) become
 * infinite. VLM_DTYPE_Q8_0 (head_dim a multiple of 32): each row of a head
 * quantized to Q8_0 blocks as it is appended (about 1/254 of each 32 values'
 * largest magnitude), 0.27x the f32 memory. Both: decode reads the cache in
 * place; longer chunks convert the rows they attend to into kv_f32 first
 * (f16: when BLAS takes the call; vlmi_attention_masked_stored). Another
 * dtype is VLM_ERR_INVALID_ARGUMENT. */
vlm_status vlmi_decoder_state_create_kv(const vlmi_decoder *dec, size_t n_ctx, size_t n_batch,
                                        vlm_dtype kv_dtype, vlmi_decoder_state **out);
void vlmi_decoder_state_free(vlmi_decoder_state *s); /* NULL is fine */
/* Forgets the cached tokens (the next forward starts at position 0). */
void vlmi_decoder_state_reset(vlmi_decoder_state *s);
/* How many of the cached tokens a caller may keep when it rewinds to reuse a
 * shared prefix of n_keep tokens (setting n_past to the result): n_keep when
 * the cache still holds what position n_keep needs, else 0. A sliding layer's
 * ring keeps only the last window positions, so it can rewind only by a token
 * (n_keep >= n_past - 1); without sliding layers any n_keep <= n_past is fine.
 * A forward from an n_past the rings cannot serve is VLM_ERR_INVALID_ARGUMENT. */
size_t vlmi_decoder_state_reusable(const vlmi_decoder_state *s, size_t n_keep);

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
/* The same, where bidirectional (n_tokens; NULL: none) flags rows that see
 * each other both ways within each maximal run of flagged rows, as Gemma 3's
 * image tokens do (token_type_ids == 1); a sliding layer's window still
 * bounds what they see. A run is one block: it must lie within this call and
 * fit in n_batch rows (VLM_ERR_LIMIT otherwise, nothing computed); chunks
 * never split it. */
vlm_status vlmi_decoder_forward_blocks(vlmi_decoder_state *s, const vlmi_decoder *dec,
                                       const float *embeddings, size_t n_tokens,
                                       const uint8_t *bidirectional, float *all_logits,
                                       vlmi_threadpool *pool);
/* The same as vlmi_decoder_forward_pool, where the rotary angle of row i
 * comes from positions[a * n_tokens + i] for the axes a = temporal, height,
 * width (hp.mrope_section says which axis drives which pairs; without one
 * the temporal row drives them all) instead of its cache row. The rows still
 * go to the cache in order at n_past .. n_past + n_tokens - 1, and attention
 * stays causal by that order. positions NULL: each axis = the cache row, the
 * plain forward. Qwen2-VL gives image tokens their (t, h, w) grid positions,
 * and text after an image continues from the largest position + 1 (its cache
 * row plus the rope delta). Positions must not be negative
 * (VLM_ERR_INVALID_ARGUMENT, nothing computed).
 * embeddings (n_tokens, dim), positions (3, n_tokens) -> as the plain forward */
vlm_status vlmi_decoder_forward_positions(vlmi_decoder_state *s, const vlmi_decoder *dec,
                                          const float *embeddings, size_t n_tokens,
                                          const int32_t *positions, float *all_logits,
                                          vlmi_threadpool *pool);

#endif
