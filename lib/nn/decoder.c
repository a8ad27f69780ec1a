/* Llama-style decoder forward pass (see decoder.h). */
#include "nn/decoder.h"

#include "dispatch.h"
#include "kernels.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>

// ----------------------------------------------------------------------------
// weights

vlm_status vlmi_decoder_init(vlmi_decoder *dec, const vlmi_decoder_hparams *hp) {
    memset(dec, 0, sizeof *dec);
    const struct { const char *name; size_t value; } sizes[] = {
        {"vocab_size", hp->n_vocab}, {"hidden_size", hp->dim},
        {"intermediate_size", hp->ffn_dim}, {"num_hidden_layers", hp->n_layers},
        {"num_attention_heads", hp->n_heads}, {"num_key_value_heads", hp->n_kv_heads},
        {"head_dim", hp->head_dim},
    };
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        if (sizes[i].value == 0)
            return vlmi_fail(VLM_ERR_FORMAT, "decoder: %s must be positive", sizes[i].name);
    if (hp->n_heads % hp->n_kv_heads != 0)
        return vlmi_fail(VLM_ERR_FORMAT,
                         "decoder: num_attention_heads %zu is not a multiple of "
                         "num_key_value_heads %zu", hp->n_heads, hp->n_kv_heads);
    if (hp->head_dim % 2 != 0)
        return vlmi_fail(VLM_ERR_FORMAT, "decoder: head_dim %zu is odd (RoPE needs pairs)",
                         hp->head_dim);
    if (!(hp->norm_eps > 0.0f) || !(hp->rope_theta > 0.0f))
        return vlmi_fail(VLM_ERR_FORMAT, "decoder: rms_norm_eps and rope_theta must be positive");
    if (hp->activation != VLMI_DECODER_SILU && hp->activation != VLMI_DECODER_GELU_TANH)
        return vlmi_fail(VLM_ERR_UNSUPPORTED, "decoder: unknown MLP activation %d",
                         (int)hp->activation);
    const struct { const char *name; float value; } reals[] = {
        {"embedding scale", hp->embed_scale}, {"attention scale", hp->attn_scale},
        {"attn_logit_softcapping", hp->attn_softcap},
        {"final_logit_softcapping", hp->final_softcap},
        {"rope scaling factor", hp->rope_freq_scale},
        {"rope_local_base_freq", hp->rope_theta_sliding},
    };
    for (size_t i = 0; i < sizeof reals / sizeof reals[0]; i++)
        if (!(reals[i].value >= 0.0f) || isinf(reals[i].value))
            return vlmi_fail(VLM_ERR_FORMAT, "decoder: %s must be finite and not negative, "
                             "got %g", reals[i].name, (double)reals[i].value);
    bool any_sliding = false;
    for (size_t l = 0; hp->layer_is_sliding != NULL && l < hp->n_layers; l++)
        any_sliding |= hp->layer_is_sliding[l] != 0;
    if (any_sliding && hp->sliding_window == 0)
        return vlmi_fail(VLM_ERR_FORMAT, "decoder: sliding layers need sliding_window > 0");
    size_t mrope_pairs = 0;
    for (size_t a = 0; a < VLMI_DECODER_MROPE_AXES; a++) mrope_pairs += hp->mrope_section[a];
    if (mrope_pairs != 0 && mrope_pairs != hp->head_dim / 2)
        return vlmi_fail(VLM_ERR_FORMAT, "decoder: mrope_section covers %zu rotary pairs, "
                         "head_dim %zu has %zu", mrope_pairs, hp->head_dim, hp->head_dim / 2);

    /* Llama's norms first ((2 * n_layers + 1) * dim, the layout it always had),
     * then per layer the variants': post norms (2 * dim), q/k norms (2 * head_dim) */
    size_t q_dim = hp->n_heads * hp->head_dim, kv_dim = hp->n_kv_heads * hp->head_dim;
    size_t per_layer_extra = (hp->post_norms ? 2 * hp->dim : 0) +
                             (hp->qk_norm ? 2 * hp->head_dim : 0) +
                             (hp->qkv_bias ? q_dim + 2 * kv_dim : 0);
    size_t n_norms, n_floats, n_extra;
    if (vlmi_mul_overflow(hp->n_layers, 2, &n_norms) || vlmi_add_overflow(n_norms, 1, &n_norms) ||
        vlmi_mul_overflow(n_norms, hp->dim, &n_floats) ||
        vlmi_mul_overflow(hp->n_layers, per_layer_extra, &n_extra) ||
        vlmi_add_overflow(n_floats, n_extra, &n_floats))
        return vlmi_fail(VLM_ERR_LIMIT, "decoder: too many layers");
    dec->layers = vlmi_calloc(hp->n_layers, sizeof *dec->layers);
    dec->norm_storage = vlmi_calloc(n_floats, sizeof(float));
    if (dec->layers == NULL || dec->norm_storage == NULL) {
        vlmi_decoder_free(dec);
        return VLM_ERR_OUT_OF_MEMORY;
    }
    dec->hp = *hp;
    dec->hp.layer_is_sliding = NULL; /* borrowed by init only: copied below */
    for (size_t l = 0; l < hp->n_layers; l++) {
        dec->layers[l].attn_norm = dec->norm_storage + (2 * l) * hp->dim;
        dec->layers[l].ffn_norm = dec->norm_storage + (2 * l + 1) * hp->dim;
    }
    dec->final_norm = dec->norm_storage + 2 * hp->n_layers * hp->dim;
    float *extra = dec->norm_storage + (2 * hp->n_layers + 1) * hp->dim;
    for (size_t l = 0; l < hp->n_layers; l++) {
        vlmi_decoder_layer *w = &dec->layers[l];
        w->sliding = hp->layer_is_sliding != NULL && hp->layer_is_sliding[l] != 0;
        if (hp->post_norms) {
            w->attn_post_norm = extra;
            w->ffn_post_norm = extra + hp->dim;
            extra += 2 * hp->dim;
        }
        if (hp->qk_norm) {
            w->q_norm = extra;
            w->k_norm = extra + hp->head_dim;
            extra += 2 * hp->head_dim;
        }
        if (hp->qkv_bias) {
            w->bq = extra;
            w->bk = extra + q_dim;
            w->bv = extra + q_dim + kv_dim;
            extra += q_dim + 2 * kv_dim;
        }
    }
    return VLM_OK;
}

/* True if any layer uses a sliding window. */
static bool has_sliding_layers(const vlmi_decoder *dec) {
    for (size_t l = 0; l < dec->hp.n_layers; l++)
        if (dec->layers[l].sliding) return true;
    return false;
}

void vlmi_decoder_free(vlmi_decoder *dec) {
    if (dec == NULL) return;
    free(dec->norm_storage);
    free(dec->layers);
    memset(dec, 0, sizeof *dec);
}

// ids (n) -> out (n, dim)
vlm_status vlmi_decoder_embed(float *out, const vlmi_decoder *dec,
                              const int32_t *ids, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (ids[i] < 0 || (size_t)ids[i] >= dec->hp.n_vocab)
            return vlmi_fail(VLM_ERR_INVALID_ARGUMENT,
                             "token id %d at position %zu is outside the vocabulary (%zu)",
                             (int)ids[i], i, dec->hp.n_vocab);
    const vlmi_matrix *e = &dec->token_embedding;
    for (size_t i = 0; i < n; i++)
        vlmi_ref_weight_row(out + i * dec->hp.dim, e->data, e->dtype, (size_t)ids[i], e->cols);
    if (dec->hp.embed_scale > 0.0f)
        for (size_t j = 0; j < n * dec->hp.dim; j++) out[j] *= dec->hp.embed_scale;
    return VLM_OK;
}

// ----------------------------------------------------------------------------
// state

/* A zeroed (rows, cols) f32 buffer; NULL (with the error recorded) on
 * overflow or when out of memory. */
static float *alloc_floats(size_t rows, size_t cols) {
    size_t n;
    if (vlmi_mul_overflow(rows, cols, &n)) {
        vlmi_fail(VLM_ERR_OUT_OF_MEMORY, "decoder: buffer size overflows");
        return NULL;
    }
    return vlmi_calloc(n, sizeof(float));
}

/* Bytes of one cache row of kv_dim elements: f32, f16 or Q8_0 blocks. */
static size_t kv_row_bytes(vlm_dtype kv_dtype, size_t kv_dim) {
    return vlmi_kernels_row_bytes(kv_dtype, kv_dim);
}

/* rows cache rows of kv_dim elements of kv_dtype, zeroed; NULL (the error
 * set) on overflow or when out of memory. */
static void *alloc_kv(size_t rows, size_t kv_dim, vlm_dtype kv_dtype) {
    size_t n;
    if (vlmi_mul_overflow(rows, kv_row_bytes(kv_dtype, kv_dim), &n)) {
        vlmi_fail(VLM_ERR_OUT_OF_MEMORY, "decoder: buffer size overflows");
        return NULL;
    }
    return vlmi_calloc(n, 1);
}

vlm_status vlmi_decoder_state_create(const vlmi_decoder *dec, size_t n_ctx,
                                     size_t n_batch, vlmi_decoder_state **out) {
    return vlmi_decoder_state_create_kv(dec, n_ctx, n_batch, VLM_DTYPE_F32, out);
}

vlm_status vlmi_decoder_state_create_kv(const vlmi_decoder *dec, size_t n_ctx, size_t n_batch,
                                        vlm_dtype kv_dtype, vlmi_decoder_state **out) {
    *out = NULL;
    const vlmi_decoder_hparams *hp = &dec->hp;
    if (n_ctx == 0) return vlmi_fail(VLM_ERR_INVALID_ARGUMENT, "decoder: n_ctx is 0");
    if (kv_dtype != VLM_DTYPE_F32 && kv_dtype != VLM_DTYPE_F16 && kv_dtype != VLM_DTYPE_Q8_0)
        return vlmi_fail(VLM_ERR_INVALID_ARGUMENT,
                         "decoder: the KV cache is f32, f16 or q8_0, not dtype %d", (int)kv_dtype);
    if (kv_dtype == VLM_DTYPE_Q8_0 && hp->head_dim % VLMI_QK != 0)
        return vlmi_fail(VLM_ERR_INVALID_ARGUMENT,
                         "decoder: a q8_0 KV cache needs heads of a multiple of %d dims; "
                         "this model's have %zu (use f16)", VLMI_QK, hp->head_dim);
    bool staged = kv_dtype != VLM_DTYPE_F32;
    if (n_batch == 0) n_batch = n_ctx < 64 ? n_ctx : 64;
    if (n_batch > n_ctx) n_batch = n_ctx;

    size_t q_dim = hp->n_heads * hp->head_dim, kv_dim = hp->n_kv_heads * hp->head_dim;
    /* a sliding layer keeps a ring of the window's rows, a global one n_ctx */
    bool sliding = has_sliding_layers(dec);
    size_t sliding_rows = sliding && hp->sliding_window < n_ctx ? hp->sliding_window : n_ctx;
    size_t cache_rows = 0;
    for (size_t l = 0; l < hp->n_layers; l++)
        if (vlmi_add_overflow(cache_rows, dec->layers[l].sliding ? sliding_rows : n_ctx,
                              &cache_rows))
            return vlmi_fail(VLM_ERR_LIMIT, "decoder: a KV cache of %zu tokens is too large",
                             n_ctx);
    size_t cache_bytes;
    if (vlmi_mul_overflow(cache_rows, kv_row_bytes(kv_dtype, kv_dim), &cache_bytes))
        return vlmi_fail(VLM_ERR_LIMIT, "decoder: a KV cache of %zu tokens is too large", n_ctx);

    vlmi_decoder_state *s = vlmi_calloc(1, sizeof *s);
    if (s == NULL) return VLM_ERR_OUT_OF_MEMORY;
    s->n_ctx = n_ctx;
    s->n_batch = n_batch;
    s->kv_dtype = kv_dtype;
    s->logits_position = SIZE_MAX;
    bool sliding_ok = true;
    if (sliding) {
        s->sliding_rows = sliding_rows;
        size_t older = hp->sliding_window - 1 < n_ctx ? hp->sliding_window - 1 : n_ctx;
        s->window_keys = alloc_kv(older + n_batch, kv_dim, kv_dtype);
        s->window_values = alloc_kv(older + n_batch, kv_dim, kv_dtype);
        s->layer_offset = vlmi_calloc(hp->n_layers, sizeof *s->layer_offset);
        s->kv_end = vlmi_calloc(n_batch, sizeof *s->kv_end);
        sliding_ok = s->window_keys && s->window_values && s->layer_offset && s->kv_end;
        size_t offset = 0;
        for (size_t l = 0; sliding_ok && l < hp->n_layers; l++) {
            s->layer_offset[l] = offset;
            offset += dec->layers[l].sliding ? sliding_rows : n_ctx;
        }
    } else {
        s->kv_end = vlmi_calloc(n_batch, sizeof *s->kv_end);
        sliding_ok = s->kv_end != NULL;
    }
    s->x = alloc_floats(n_batch, hp->dim);
    s->xb = alloc_floats(n_batch, hp->dim);
    s->q = alloc_floats(n_batch, q_dim);
    s->att = alloc_floats(n_batch, q_dim);
    s->gate = alloc_floats(n_batch, hp->ffn_dim);
    s->up = alloc_floats(n_batch, hp->ffn_dim);
    s->scores = alloc_floats(n_ctx, 1);
    s->logits = alloc_floats(hp->n_vocab, 1);
    s->key_cache = vlmi_calloc(cache_bytes, 1);
    s->value_cache = vlmi_calloc(cache_bytes, 1);
    bool staging_ok = true;
    if (staged) {
        s->new_keys = alloc_floats(n_batch, kv_dim);
        s->new_values = alloc_floats(n_batch, kv_dim);
        /* the most rows one attention call reads: a global layer's n_ctx, or
         * a sliding layer's window scratch */
        size_t rows = n_ctx;
        if (sliding && hp->sliding_window - 1 + n_batch > rows)
            rows = hp->sliding_window - 1 + n_batch;
        s->kv_f32 = alloc_floats(2 * rows, kv_dim);
        staging_ok = s->new_keys && s->new_values && s->kv_f32;
    }
    s->rope_cos = alloc_floats(n_batch, hp->head_dim / 2);
    s->rope_sin = alloc_floats(n_batch, hp->head_dim / 2);
    if (!s->x || !s->xb || !s->q || !s->att || !s->gate || !s->up || !s->scores ||
        !s->logits || !s->key_cache || !s->value_cache || !s->rope_cos || !s->rope_sin ||
        !sliding_ok || !staging_ok) {
        vlmi_decoder_state_free(s);
        return vlmi_fail(VLM_ERR_OUT_OF_MEMORY,
                         "decoder: out of memory for a context of %zu tokens", n_ctx);
    }
    *out = s;
    return VLM_OK;
}

void vlmi_decoder_state_free(vlmi_decoder_state *s) {
    if (s == NULL) return;
    free(s->rope_sin);
    free(s->rope_cos);
    free(s->kv_end);
    free(s->layer_offset);
    free(s->window_values);
    free(s->window_keys);
    free(s->kv_f32);
    free(s->new_values);
    free(s->new_keys);
    free(s->value_cache);
    free(s->key_cache);
    free(s->logits);
    free(s->scores);
    free(s->up);
    free(s->gate);
    free(s->att);
    free(s->q);
    free(s->xb);
    free(s->x);
    free(s);
}

void vlmi_decoder_state_reset(vlmi_decoder_state *s) {
    s->n_past = 0;
    s->n_filled = 0;
    s->ring_valid_from = 0;
    s->logits_position = SIZE_MAX;
}

/* The first position a query at n_past needs in the sliding rings. */
static size_t window_start(size_t window, size_t n_past) {
    return n_past + 1 > window ? n_past + 1 - window : 0;
}

/* True if a forward may start at n_past: the rings hold its window. */
static bool rings_serve(const vlmi_decoder_state *s, size_t window, size_t n_past) {
    if (s->layer_offset == NULL || n_past == 0) return true;
    return n_past <= s->n_filled && window_start(window, n_past) >= s->ring_valid_from;
}

size_t vlmi_decoder_state_reusable(const vlmi_decoder_state *s, size_t n_keep) {
    if (s->layer_offset == NULL) return n_keep;
    /* the window is the ring's size unless the whole context fits (no wrap) */
    return rings_serve(s, s->sliding_rows, n_keep) ? n_keep : 0;
}

// ----------------------------------------------------------------------------
// forward

/* A linear layer through the dispatch table, on the pool's threads.
 * x (m, w->cols) @ W^T -> out (m, w->rows) */
static void linear(vlmi_threadpool *pool, float *out, const float *x, const vlmi_matrix *w,
                   size_t m) {
    vlmi_matmul(pool, out, x, w->data, w->dtype, NULL, m, w->cols, w->rows);
}

/* The same with an optional bias (NULL: none). */
static void linear_bias(vlmi_threadpool *pool, float *out, const float *x, const vlmi_matrix *w,
                        const float *bias, size_t m) {
    vlmi_matmul(pool, out, x, w->data, w->dtype, bias, m, w->cols, w->rows);
}

/* RMSNorm of each head of n rows in place (QK-norm).
 * x (n, n_heads * head_dim), weight (head_dim) -> x */
static void norm_heads(const vlmi_kernel_table *k, float *x, const float *weight, size_t n,
                       size_t n_heads, size_t head_dim, float eps) {
    k->rmsnorm(x, x, weight, n * n_heads, head_dim, eps);
}

/* c tanh(x / c), as transformers softcaps. x (n) -> x */
static void softcap(float *x, size_t n, float cap) {
    for (size_t i = 0; i < n; i++) x[i] = cap * tanhf(x[i] / cap);
}

/* Rotary positions of one chunk: axis a of row i at at[a * stride + i]; at
 * NULL: row i at position first + i on every axis (the cache row). */
typedef struct rope_positions {
    const int32_t *at;
    size_t stride;
    size_t first;
} rope_positions;

/* The position axis (0 temporal, 1 height, 2 width) that drives rotary pair
 * i: transformers splits the pairs by mrope_section and takes axis j % 3 for
 * chunk j; without sections, the first. */
static size_t mrope_axis(const vlmi_decoder_hparams *hp, size_t pair) {
    size_t end = 0;
    for (size_t a = 0; a < VLMI_DECODER_MROPE_AXES; a++) {
        end += hp->mrope_section[a];
        if (pair < end) return a;
    }
    return 0;
}

/* cos and sin of every row's angle per pair, computed in f32 as transformers
 * does (inv_freq, scaled linearly when set, times the position as a float;
 * the arithmetic of the kernels' rope and rope_scaled).
 * -> cos_table, sin_table (n, head_dim / 2) */
static void rope_table(float *cos_table, float *sin_table, const vlmi_decoder_hparams *hp,
                       float theta, float freq_scale, const rope_positions *pos, size_t n) {
    size_t half = hp->head_dim / 2;
    for (size_t i = 0; i < half; i++) {
        float inv_freq = 1.0f / powf(theta, (float)(2 * i) / (float)hp->head_dim);
        if (freq_scale > 0.0f && freq_scale != 1.0f) inv_freq /= freq_scale;
        const int32_t *axis = pos->at ? pos->at + mrope_axis(hp, i) * pos->stride : NULL;
        for (size_t r = 0; r < n; r++) {
            float angle = (axis ? (float)axis[r] : (float)(pos->first + r)) * inv_freq;
            cos_table[r * half + i] = cosf(angle);
            sin_table[r * half + i] = sinf(angle);
        }
    }
}

/* RoPE (rotate_half layout) from a table of cos and sin per row and pair.
 * x (n, n_heads * head_dim), tables (n, head_dim / 2) -> x rotated */
static void rope_apply(float *x, const float *cos_table, const float *sin_table, size_t n,
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

/* Masked attention of s->q over keys and values in the cache's dtype. */
static void attention_masked(vlmi_decoder_state *s, const vlmi_decoder *dec, const void *keys,
                             const void *values, size_t n, size_t n_kv,
                             const vlmi_attention_mask *mask, float scale,
                             vlmi_threadpool *pool) {
    const vlmi_decoder_hparams *hp = &dec->hp;
    if (s->kv_dtype != VLM_DTYPE_F32)
        vlmi_attention_masked_stored(pool, s->att, s->scores, s->q, keys, values, s->kv_dtype,
                                     s->kv_f32, n, n_kv, hp->n_heads, hp->n_kv_heads,
                                     hp->head_dim, mask, scale);
    else
        vlmi_attention_masked(pool, s->att, s->scores, s->q, keys, values, n, n_kv,
                              hp->n_heads, hp->n_kv_heads, hp->head_dim, mask, scale);
}

/* Attention of a sliding layer for n rows at pos0 whose keys and values
 * (after RoPE) are the last n rows of s->window_keys / window_values after
 * n_older rows left free for the window's older positions.
 * The ring holds position p at row p % sliding_rows. When writing the chunk
 * into the ring first cannot overwrite a position a query of the chunk still
 * needs (one token, or no wrap yet), attention reads the ring in place;
 * otherwise the older positions are copied in front of the chunk's. */
static void sliding_attention(vlmi_decoder_state *s, const vlmi_decoder *dec,
                              unsigned char *ring_keys, unsigned char *ring_values,
                              size_t n_older, size_t n, const vlmi_attention_mask *base_mask,
                              float scale, vlmi_threadpool *pool) {
    const vlmi_decoder_hparams *hp = &dec->hp;
    size_t kv_dim = hp->n_kv_heads * hp->head_dim, rows = s->sliding_rows;
    size_t row_bytes = kv_row_bytes(s->kv_dtype, kv_dim);
    size_t pos0 = s->n_past, end = pos0 + n;
    unsigned char *window_keys = s->window_keys, *window_values = s->window_values;
    unsigned char *chunk_keys = window_keys + n_older * row_bytes;     // (n, kv_dim)
    unsigned char *chunk_values = window_values + n_older * row_bytes; // (n, kv_dim)
    vlmi_attention_mask mask = *base_mask;
    bool in_place = end <= rows || rows + 1 >= hp->sliding_window + n;
    if (in_place) {
        for (size_t i = 0; i < n; i++) {
            memcpy(ring_keys + ((pos0 + i) % rows) * row_bytes, chunk_keys + i * row_bytes,
                   row_bytes);
            memcpy(ring_values + ((pos0 + i) % rows) * row_bytes, chunk_values + i * row_bytes,
                   row_bytes);
        }
        mask.kv_pos0 = end > rows ? end - rows : 0;
        mask.kv_ring = rows;
        attention_masked(s, dec, ring_keys, ring_values, n, end - mask.kv_pos0, &mask, scale,
                         pool);
        return;
    }
    // the window's older positions in front of the chunk, in position order
    for (size_t i = 0; i < n_older; i++) {
        size_t row = (pos0 - n_older + i) % rows;
        memcpy(window_keys + i * row_bytes, ring_keys + row * row_bytes, row_bytes);
        memcpy(window_values + i * row_bytes, ring_values + row * row_bytes, row_bytes);
    }
    mask.kv_pos0 = pos0 - n_older;
    mask.kv_ring = 0;
    attention_masked(s, dec, window_keys, window_values, n, n_older + n, &mask, scale, pool);
    // then the chunk's last positions into the ring
    size_t kept = n < rows ? n : rows;
    for (size_t i = n - kept; i < n; i++) {
        memcpy(ring_keys + ((pos0 + i) % rows) * row_bytes, chunk_keys + i * row_bytes,
               row_bytes);
        memcpy(ring_values + ((pos0 + i) % rows) * row_bytes, chunk_values + i * row_bytes,
               row_bytes);
    }
}

/* n <= n_batch rows at positions n_past .. n_past + n - 1; bidirectional
 * (n) or NULL flags image rows, whose runs lie inside the chunk. */
static void forward_chunk(vlmi_decoder_state *s, const vlmi_decoder *dec,
                          const float *embeddings, size_t n, const uint8_t *bidirectional,
                          const rope_positions *positions, float *all_logits,
                          vlmi_threadpool *pool) {
    const vlmi_kernel_table *k = vlmi_kernels();
    const vlmi_decoder_hparams *hp = &dec->hp;
    size_t dim = hp->dim, head_dim = hp->head_dim;
    size_t kv_dim = hp->n_kv_heads * head_dim;
    size_t pos0 = s->n_past;
    bool staged = s->kv_dtype != VLM_DTYPE_F32; /* new rows through f32 staging */
    size_t row_bytes = kv_row_bytes(s->kv_dtype, kv_dim);
    float scale = hp->attn_scale > 0.0f ? hp->attn_scale : 1.0f / sqrtf((float)head_dim);
    /* the plain causal kernel unless a variant (or a cache in f16 or q8_0) needs
     * the masked one */
    bool masked = hp->attn_softcap > 0.0f || bidirectional != NULL || s->layer_offset != NULL ||
                  s->kv_dtype != VLM_DTYPE_F32;

    // per query row, the end of the key positions it sees: itself, or its image block's end
    vlmi_attention_mask mask = {.q_pos0 = pos0, .window = 0, .softcap = hp->attn_softcap};
    if (bidirectional != NULL) {
        for (size_t i = 0; i < n;) {
            size_t run_end = i + 1;
            if (bidirectional[i])
                while (run_end < n && bidirectional[run_end]) run_end++;
            for (size_t j = i; j < run_end; j++)
                s->kv_end[j] = pos0 + (bidirectional[i] ? run_end : j + 1);
            i = run_end;
        }
        mask.kv_end = s->kv_end;
    }
    size_t n_older = 0; /* rows of the window before the chunk, for sliding layers */
    if (s->layer_offset != NULL)
        n_older = pos0 < hp->sliding_window - 1 ? pos0 : hp->sliding_window - 1;

    memcpy(s->x, embeddings, n * dim * sizeof(float));
    int table_of = -1; /* the layer kind (sliding) the rope tables are for */
    const rope_positions by_row = {.first = pos0};
    const rope_positions *rope_at = positions ? positions : &by_row;

    for (size_t l = 0; l < hp->n_layers; l++) {
        const vlmi_decoder_layer *w = &dec->layers[l];
        size_t offset = s->layer_offset ? s->layer_offset[l] : l * s->n_ctx; /* rows */
        // (n_ctx or sliding_rows, kv_dim) of kv_dtype
        unsigned char *layer_keys = (unsigned char *)s->key_cache + offset * row_bytes;
        unsigned char *layer_values = (unsigned char *)s->value_cache + offset * row_bytes;
        /* a global layer's keys land in its cache directly; a sliding layer's
         * in the window scratch first; f16 and q8_0 ones through f32 staging */
        unsigned char *dst_keys = w->sliding
            ? (unsigned char *)s->window_keys + n_older * row_bytes
            : layer_keys + pos0 * row_bytes;                                   // (n, kv_dim)
        unsigned char *dst_values = w->sliding
            ? (unsigned char *)s->window_values + n_older * row_bytes
            : layer_values + pos0 * row_bytes;                                 // (n, kv_dim)
        float *new_keys = staged ? s->new_keys : (float *)(void *)dst_keys;     // (n, kv_dim)
        float *new_values = staged ? s->new_values : (float *)(void *)dst_values; // (n, kv_dim)

        // attention rmsnorm
        k->rmsnorm(s->xb, s->x, w->attn_norm, n, dim, hp->norm_eps);

        // q, k, v projections
        linear_bias(pool, s->q, s->xb, &w->wq, w->bq, n);
        linear_bias(pool, new_keys, s->xb, &w->wk, w->bk, n);
        linear_bias(pool, new_values, s->xb, &w->wv, w->bv, n);

        // QK-norm: each query and key head RMS-normalized
        if (w->q_norm != NULL) {
            norm_heads(k, s->q, w->q_norm, n, hp->n_heads, head_dim, hp->norm_eps);
            norm_heads(k, new_keys, w->k_norm, n, hp->n_kv_heads, head_dim, hp->norm_eps);
        }

        // RoPE on the queries and the new keys, by cache row or at explicit
        // positions, from tables made once per chunk and layer kind: sliding
        // layers have their own base, global ones the scaling
        if (table_of != (int)w->sliding) {
            float theta = w->sliding && hp->rope_theta_sliding > 0.0f
                              ? hp->rope_theta_sliding : hp->rope_theta;
            rope_table(s->rope_cos, s->rope_sin, hp, theta,
                       w->sliding ? 0.0f : hp->rope_freq_scale, rope_at, n);
            table_of = (int)w->sliding;
        }
        rope_apply(s->q, s->rope_cos, s->rope_sin, n, hp->n_heads, head_dim);
        rope_apply(new_keys, s->rope_cos, s->rope_sin, n, hp->n_kv_heads, head_dim);

        // f16 cache: the new keys and values rounded (to nearest even) into it;
        // q8_0: quantized row by row (blocks of 32 within each head)
        if (s->kv_dtype == VLM_DTYPE_F16) {
            vlmi_convert_f32_to_f16((uint16_t *)(void *)dst_keys, new_keys, n * kv_dim);
            vlmi_convert_f32_to_f16((uint16_t *)(void *)dst_values, new_values, n * kv_dim);
        } else if (s->kv_dtype == VLM_DTYPE_Q8_0) {
            for (size_t i = 0; i < n; i++) {
                k->quantize_q8_0(dst_keys + i * row_bytes, new_keys + i * kv_dim, kv_dim);
                k->quantize_q8_0(dst_values + i * row_bytes, new_values + i * kv_dim, kv_dim);
            }
        }

        // grouped-query attention over the cache: causal, windowed on sliding layers
        if (w->sliding) {
            mask.window = hp->sliding_window;
            sliding_attention(s, dec, layer_keys, layer_values, n_older, n, &mask, scale, pool);
        } else if (masked) {
            mask.window = 0;
            mask.kv_pos0 = 0;
            mask.kv_ring = 0;
            attention_masked(s, dec, layer_keys, layer_values, n, pos0 + n, &mask, scale, pool);
        } else {
            vlmi_attention(pool, s->att, s->scores, s->q, (const float *)(void *)layer_keys,
                           (const float *)(void *)layer_values, n, pos0 + n, hp->n_heads,
                           hp->n_kv_heads, head_dim, pos0, true, scale);
        }

        // output projection (post-norm) and residual connection
        linear(pool, s->xb, s->att, &w->wo, n);
        if (w->attn_post_norm != NULL)
            k->rmsnorm(s->xb, s->xb, w->attn_post_norm, n, dim, hp->norm_eps);
        k->add(s->x, s->xb, n * dim);

        // ffn rmsnorm
        k->rmsnorm(s->xb, s->x, w->ffn_norm, n, dim, hp->norm_eps);

        // gated MLP: down(act(gate(x)) * up(x)), act silu (SwiGLU) or gelu tanh (GeGLU)
        linear(pool, s->gate, s->xb, &w->w_gate, n);
        linear(pool, s->up, s->xb, &w->w_up, n);
        if (hp->activation == VLMI_DECODER_GELU_TANH) {
            k->gelu_tanh(s->gate, s->gate, n * hp->ffn_dim);
            for (size_t i = 0; i < n * hp->ffn_dim; i++) s->gate[i] *= s->up[i];
        } else {
            k->silu_mul(s->gate, s->gate, s->up, n * hp->ffn_dim);
        }
        linear(pool, s->xb, s->gate, &w->w_down, n);

        // (post-norm and) residual connection
        if (w->ffn_post_norm != NULL)
            k->rmsnorm(s->xb, s->xb, w->ffn_post_norm, n, dim, hp->norm_eps);
        k->add(s->x, s->xb, n * dim);
    }

    // final rmsnorm
    k->rmsnorm(s->x, s->x, dec->final_norm, n, dim, hp->norm_eps);

    // classifier into logits (softcapped): every row if asked, else only the last
    const float *last = s->x + (n - 1) * dim;
    if (all_logits != NULL) {
        linear(pool, all_logits, s->x, &dec->lm_head, n);
        if (hp->final_softcap > 0.0f) softcap(all_logits, n * hp->n_vocab, hp->final_softcap);
        memcpy(s->logits, all_logits + (n - 1) * hp->n_vocab, hp->n_vocab * sizeof(float));
    } else {
        linear(pool, s->logits, last, &dec->lm_head, 1);
        if (hp->final_softcap > 0.0f) softcap(s->logits, hp->n_vocab, hp->final_softcap);
    }
    s->n_past += n;
    s->logits_position = s->n_past - 1;
    if (s->layer_offset != NULL) {
        /* writing pos0 .. end - 1 overwrote the ring rows of end - rows .. pos0 - 1 */
        size_t end = s->n_past, rows = s->sliding_rows;
        if (end > rows && end - rows > s->ring_valid_from) s->ring_valid_from = end - rows;
        s->n_filled = end;
    }
}

static vlm_status forward(vlmi_decoder_state *s, const vlmi_decoder *dec,
                          const float *embeddings, size_t n_tokens,
                          const uint8_t *bidirectional, const int32_t *positions,
                          float *all_logits, vlmi_threadpool *pool);

vlm_status vlmi_decoder_forward(vlmi_decoder_state *s, const vlmi_decoder *dec,
                                const float *embeddings, size_t n_tokens,
                                float *all_logits) {
    return vlmi_decoder_forward_blocks(s, dec, embeddings, n_tokens, NULL, all_logits, NULL);
}

vlm_status vlmi_decoder_forward_pool(vlmi_decoder_state *s, const vlmi_decoder *dec,
                                     const float *embeddings, size_t n_tokens,
                                     float *all_logits, vlmi_threadpool *pool) {
    return vlmi_decoder_forward_blocks(s, dec, embeddings, n_tokens, NULL, all_logits, pool);
}

vlm_status vlmi_decoder_forward_blocks(vlmi_decoder_state *s, const vlmi_decoder *dec,
                                       const float *embeddings, size_t n_tokens,
                                       const uint8_t *bidirectional, float *all_logits,
                                       vlmi_threadpool *pool) {
    return forward(s, dec, embeddings, n_tokens, bidirectional, NULL, all_logits, pool);
}

vlm_status vlmi_decoder_forward_positions(vlmi_decoder_state *s, const vlmi_decoder *dec,
                                          const float *embeddings, size_t n_tokens,
                                          const int32_t *positions, float *all_logits,
                                          vlmi_threadpool *pool) {
    for (size_t i = 0; positions != NULL && i < VLMI_DECODER_MROPE_AXES * n_tokens; i++)
        if (positions[i] < 0)
            return vlmi_fail(VLM_ERR_INVALID_ARGUMENT, "decoder: position %d of axis %zu, "
                             "token %zu, is negative", (int)positions[i], i / n_tokens,
                             i % n_tokens);
    return forward(s, dec, embeddings, n_tokens, NULL, positions, all_logits, pool);
}

/* Checks, then the chunks of n_batch rows (never cutting a bidirectional
 * block); positions (3, n_tokens) or NULL. */
static vlm_status forward(vlmi_decoder_state *s, const vlmi_decoder *dec,
                          const float *embeddings, size_t n_tokens,
                          const uint8_t *bidirectional, const int32_t *positions,
                          float *all_logits, vlmi_threadpool *pool) {
    if (n_tokens == 0) return vlmi_fail(VLM_ERR_INVALID_ARGUMENT, "decoder: no tokens");
    if (s->n_past > s->n_ctx || n_tokens > s->n_ctx - s->n_past)
        return vlmi_fail(VLM_ERR_LIMIT,
                         "decoder: %zu tokens do not fit in the context (%zu of %zu used)",
                         n_tokens, s->n_past, s->n_ctx);
    if (!rings_serve(s, dec->hp.sliding_window, s->n_past))
        return vlmi_fail(VLM_ERR_INVALID_ARGUMENT,
                         "decoder: cannot resume at position %zu: the sliding-window cache "
                         "holds positions %zu..%zu only (see vlmi_decoder_state_reusable)",
                         s->n_past, s->ring_valid_from, s->n_filled);
    // every image block must fit in one chunk
    for (size_t i = 0; bidirectional != NULL && i < n_tokens;) {
        size_t run_end = i + 1;
        if (bidirectional[i])
            while (run_end < n_tokens && bidirectional[run_end]) run_end++;
        if (run_end - i > s->n_batch)
            return vlmi_fail(VLM_ERR_LIMIT, "decoder: a bidirectional block of %zu tokens "
                             "exceeds the batch of %zu rows", run_end - i, s->n_batch);
        i = run_end;
    }
    for (size_t done = 0; done < n_tokens;) {
        size_t n = n_tokens - done < s->n_batch ? n_tokens - done : s->n_batch;
        // end the chunk before a block it would cut
        if (bidirectional != NULL && done + n < n_tokens && bidirectional[done + n - 1] &&
            bidirectional[done + n]) {
            size_t block_start = done + n - 1;
            while (block_start > done && bidirectional[block_start - 1]) block_start--;
            if (block_start > done) n = block_start - done;
        }
        rope_positions chunk_positions = {positions ? positions + done : NULL, n_tokens, 0};
        forward_chunk(s, dec, embeddings + done * dec->hp.dim, n,
                      bidirectional ? bidirectional + done : NULL,
                      positions ? &chunk_positions : NULL,
                      all_logits ? all_logits + done * dec->hp.n_vocab : NULL, pool);
        done += n;
    }
    return VLM_OK;
}
