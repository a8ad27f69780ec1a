/* Llama-style decoder forward pass (see decoder.h). */
#include "nn/decoder.h"

#include "dispatch.h"

#include <math.h>
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

    size_t n_norms, n_floats;
    if (vlmi_mul_overflow(hp->n_layers, 2, &n_norms) || vlmi_add_overflow(n_norms, 1, &n_norms) ||
        vlmi_mul_overflow(n_norms, hp->dim, &n_floats))
        return vlmi_fail(VLM_ERR_LIMIT, "decoder: too many layers");
    dec->layers = vlmi_calloc(hp->n_layers, sizeof *dec->layers);
    dec->norm_storage = vlmi_calloc(n_floats, sizeof(float));
    if (dec->layers == NULL || dec->norm_storage == NULL) {
        vlmi_decoder_free(dec);
        return VLM_ERR_OUT_OF_MEMORY;
    }
    dec->hp = *hp;
    for (size_t l = 0; l < hp->n_layers; l++) {
        dec->layers[l].attn_norm = dec->norm_storage + (2 * l) * hp->dim;
        dec->layers[l].ffn_norm = dec->norm_storage + (2 * l + 1) * hp->dim;
    }
    dec->final_norm = dec->norm_storage + 2 * hp->n_layers * hp->dim;
    return VLM_OK;
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

vlm_status vlmi_decoder_state_create(const vlmi_decoder *dec, size_t n_ctx,
                                     size_t n_batch, vlmi_decoder_state **out) {
    *out = NULL;
    const vlmi_decoder_hparams *hp = &dec->hp;
    if (n_ctx == 0) return vlmi_fail(VLM_ERR_INVALID_ARGUMENT, "decoder: n_ctx is 0");
    if (n_batch == 0) n_batch = n_ctx < 64 ? n_ctx : 64;
    if (n_batch > n_ctx) n_batch = n_ctx;

    size_t q_dim = hp->n_heads * hp->head_dim, kv_dim = hp->n_kv_heads * hp->head_dim;
    size_t cache_floats;
    if (vlmi_mul_overflow(hp->n_layers, n_ctx, &cache_floats) ||
        vlmi_mul_overflow(cache_floats, kv_dim, &cache_floats))
        return vlmi_fail(VLM_ERR_LIMIT, "decoder: a KV cache of %zu tokens is too large", n_ctx);

    vlmi_decoder_state *s = vlmi_calloc(1, sizeof *s);
    if (s == NULL) return VLM_ERR_OUT_OF_MEMORY;
    s->n_ctx = n_ctx;
    s->n_batch = n_batch;
    s->x = alloc_floats(n_batch, hp->dim);
    s->xb = alloc_floats(n_batch, hp->dim);
    s->q = alloc_floats(n_batch, q_dim);
    s->att = alloc_floats(n_batch, q_dim);
    s->gate = alloc_floats(n_batch, hp->ffn_dim);
    s->up = alloc_floats(n_batch, hp->ffn_dim);
    s->scores = alloc_floats(n_ctx, 1);
    s->logits = alloc_floats(hp->n_vocab, 1);
    s->key_cache = alloc_floats(cache_floats, 1);
    s->value_cache = alloc_floats(cache_floats, 1);
    if (!s->x || !s->xb || !s->q || !s->att || !s->gate || !s->up || !s->scores ||
        !s->logits || !s->key_cache || !s->value_cache) {
        vlmi_decoder_state_free(s);
        return vlmi_fail(VLM_ERR_OUT_OF_MEMORY,
                         "decoder: out of memory for a context of %zu tokens", n_ctx);
    }
    *out = s;
    return VLM_OK;
}

void vlmi_decoder_state_free(vlmi_decoder_state *s) {
    if (s == NULL) return;
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

void vlmi_decoder_state_reset(vlmi_decoder_state *s) { s->n_past = 0; }

// ----------------------------------------------------------------------------
// forward

/* A linear layer through the dispatch table, on the pool's threads.
 * x (m, w->cols) @ W^T -> out (m, w->rows) */
static void linear(vlmi_threadpool *pool, float *out, const float *x, const vlmi_matrix *w,
                   size_t m) {
    vlmi_matmul(pool, out, x, w->data, w->dtype, NULL, m, w->cols, w->rows);
}

/* n <= n_batch rows at positions n_past .. n_past + n - 1. */
static void forward_chunk(vlmi_decoder_state *s, const vlmi_decoder *dec,
                          const float *embeddings, size_t n, float *all_logits,
                          vlmi_threadpool *pool) {
    const vlmi_kernel_table *k = vlmi_kernels();
    const vlmi_decoder_hparams *hp = &dec->hp;
    size_t dim = hp->dim, head_dim = hp->head_dim;
    size_t kv_dim = hp->n_kv_heads * head_dim;
    size_t pos0 = s->n_past;
    float scale = 1.0f / sqrtf((float)head_dim);

    memcpy(s->x, embeddings, n * dim * sizeof(float));

    for (size_t l = 0; l < hp->n_layers; l++) {
        const vlmi_decoder_layer *w = &dec->layers[l];
        float *layer_keys = s->key_cache + l * s->n_ctx * kv_dim;     // (n_ctx, kv_dim)
        float *layer_values = s->value_cache + l * s->n_ctx * kv_dim; // (n_ctx, kv_dim)
        float *new_keys = layer_keys + pos0 * kv_dim;                 // (n, kv_dim)
        float *new_values = layer_values + pos0 * kv_dim;             // (n, kv_dim)

        // attention rmsnorm
        k->rmsnorm(s->xb, s->x, w->attn_norm, n, dim, hp->norm_eps);

        // q, k, v projections; keys and values land in the cache directly
        linear(pool, s->q, s->xb, &w->wq, n);
        linear(pool, new_keys, s->xb, &w->wk, n);
        linear(pool, new_values, s->xb, &w->wv, n);

        // RoPE on the queries and the new keys
        k->rope(s->q, n, hp->n_heads, head_dim, pos0, hp->rope_theta);
        k->rope(new_keys, n, hp->n_kv_heads, head_dim, pos0, hp->rope_theta);

        // causal grouped-query attention over everything cached so far
        k->attention(s->att, s->scores, s->q, layer_keys, layer_values, n, pos0 + n,
                           hp->n_heads, hp->n_kv_heads, head_dim, pos0, true, scale);

        // output projection and residual connection
        linear(pool, s->xb, s->att, &w->wo, n);
        k->add(s->x, s->xb, n * dim);

        // ffn rmsnorm
        k->rmsnorm(s->xb, s->x, w->ffn_norm, n, dim, hp->norm_eps);

        // SwiGLU MLP: down(silu(gate(x)) * up(x))
        linear(pool, s->gate, s->xb, &w->w_gate, n);
        linear(pool, s->up, s->xb, &w->w_up, n);
        k->silu_mul(s->gate, s->gate, s->up, n * hp->ffn_dim);
        linear(pool, s->xb, s->gate, &w->w_down, n);

        // residual connection
        k->add(s->x, s->xb, n * dim);
    }

    // final rmsnorm
    k->rmsnorm(s->x, s->x, dec->final_norm, n, dim, hp->norm_eps);

    // classifier into logits: every row if asked, else only the last
    const float *last = s->x + (n - 1) * dim;
    if (all_logits != NULL) {
        linear(pool, all_logits, s->x, &dec->lm_head, n);
        memcpy(s->logits, all_logits + (n - 1) * hp->n_vocab, hp->n_vocab * sizeof(float));
    } else {
        linear(pool, s->logits, last, &dec->lm_head, 1);
    }
    s->n_past += n;
}

vlm_status vlmi_decoder_forward(vlmi_decoder_state *s, const vlmi_decoder *dec,
                                const float *embeddings, size_t n_tokens,
                                float *all_logits) {
    return vlmi_decoder_forward_pool(s, dec, embeddings, n_tokens, all_logits, NULL);
}

vlm_status vlmi_decoder_forward_pool(vlmi_decoder_state *s, const vlmi_decoder *dec,
                                     const float *embeddings, size_t n_tokens,
                                     float *all_logits, vlmi_threadpool *pool) {
    if (n_tokens == 0) return vlmi_fail(VLM_ERR_INVALID_ARGUMENT, "decoder: no tokens");
    if (n_tokens > s->n_ctx - s->n_past)
        return vlmi_fail(VLM_ERR_LIMIT,
                         "decoder: %zu tokens do not fit in the context (%zu of %zu used)",
                         n_tokens, s->n_past, s->n_ctx);
    for (size_t done = 0; done < n_tokens;) {
        size_t n = n_tokens - done < s->n_batch ? n_tokens - done : s->n_batch;
        forward_chunk(s, dec, embeddings + done * dec->hp.dim, n,
                      all_logits ? all_logits + done * dec->hp.n_vocab : NULL, pool);
        done += n;
    }
    return VLM_OK;
}
