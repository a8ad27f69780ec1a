/* The Gemma 3 decoder of the tiny model against transformers: prefill logits
 * at every position (whole, chunked, token by token), a greedy continuation
 * decoded through the KV cache well past the sliding window, logit
 * softcapping, the image-block mask, rewinding, and binding errors; prefill
 * and greedy again with the KV cache, rings and window scratch in f16 (the
 * same tokens, logits within 3e-3 of the largest reference logit). */
#include "gemma3_fixture.h"

#define N_PROMPT 24
#define N_GREEDY 16
#define WINDOW 8
#define LOGITS_TOLERANCE 1e-3f
/* With the KV cache in f16 (keys and values rounded to 11 significant bits),
 * relative to the largest |logit| of the reference (5.8 here: measured
 * 0.0127 at most, 2.2e-3 of it). */
#define LOGITS_REL_TOLERANCE_F16 3e-3f

static float max_abs(const float *x, size_t n) {
    float m = 0.0f;
    for (size_t i = 0; i < n; i++)
        if (fabsf(x[i]) > m) m = fabsf(x[i]);
    return m;
}

static float worst_diff; /* the largest logits difference of the whole run */

static void note_diff(float diff) {
    if (!(diff <= worst_diff)) worst_diff = diff;
}

/* The tiny config as the parser reads it and the binder maps it. */
static void test_hparams(g3_fixture *f) {
    const vlmi_decoder *dec = &f->model.text;
    const vlmi_decoder_hparams *hp = &dec->hp;
    CHECK(hp->n_vocab == 512 && hp->dim == 64 && hp->n_heads == 2 && hp->n_kv_heads == 1);
    CHECK(hp->head_dim == 32 && hp->n_layers == 6 && hp->sliding_window == WINDOW);
    CHECK(hp->activation == VLMI_DECODER_GELU_TANH && hp->qk_norm && hp->post_norms);
    CHECK(hp->embed_scale == 8.0f);                          /* sqrt(64), f32 weights */
    CHECK(hp->attn_scale == (float)(1.0 / sqrt(24.0)));      /* query_pre_attn_scalar */
    CHECK(hp->rope_theta == 1e6f && hp->rope_theta_sliding == 1e4f);
    CHECK(hp->rope_freq_scale == 8.0f);                      /* linear, global layers */
    CHECK(hp->attn_softcap == 0.0f && hp->final_softcap == 0.0f);
    for (size_t l = 0; l < 6; l++)
        CHECK_MSG(dec->layers[l].sliding == (l % 3 != 2), "layer %zu", l);
    CHECK(dec->lm_head.data == dec->token_embedding.data);   /* tied */
}

/* Prefill in chunks of n_batch, every position's logits; then greedy decode
 * one token at a time through a cache of n_ctx tokens of kv_dtype. */
static void test_prefill_and_greedy(g3_fixture *f, size_t n_ctx, size_t n_batch,
                                    vlm_dtype kv_dtype) {
    const char *kv = kv_dtype == VLM_DTYPE_F16 ? "f16" : "f32";
    const vlmi_decoder *dec = &f->model.text;
    size_t n_vocab = dec->hp.n_vocab, dim = dec->hp.dim;
    int32_t *ids = ref_read("gemma3/text_ids.i32", N_PROMPT, 4, NULL);
    float *want_logits = ref_read("gemma3/text_logits.f32", N_PROMPT * n_vocab, 4, NULL);
    int32_t *want_greedy = ref_read("gemma3/text_greedy.i32", N_GREEDY, 4, NULL);
    float *want_final = ref_read("gemma3/text_logits_final.f32", n_vocab, 4, NULL);
    float *embeddings = calloc(N_PROMPT * dim, sizeof(float));
    float *all_logits = calloc(N_PROMPT * n_vocab, sizeof(float));
    vlmi_decoder_state *s = NULL;
    if (!ids || !want_logits || !want_greedy || !want_final || !embeddings || !all_logits)
        goto done;

    float tolerance = kv_dtype == VLM_DTYPE_F16
                          ? LOGITS_REL_TOLERANCE_F16 * max_abs(want_logits, N_PROMPT * n_vocab)
                          : LOGITS_TOLERANCE;
    CHECK_OK(vlmi_decoder_state_create_kv(dec, n_ctx, n_batch, kv_dtype, &s));
    if (s == NULL) goto done;
    CHECK(s->kv_dtype == kv_dtype);
    /* a sliding layer keeps the window only */
    CHECK(s->sliding_rows == (n_ctx < WINDOW ? n_ctx : WINDOW));

    // prefill
    CHECK_OK(vlmi_decoder_embed(embeddings, dec, ids, N_PROMPT));
    CHECK_OK(vlmi_decoder_forward(s, dec, embeddings, N_PROMPT, all_logits));
    CHECK(s->n_past == N_PROMPT);
    float diff = ref_max_abs_diff(all_logits, want_logits, N_PROMPT * n_vocab);
    note_diff(diff);
    printf("n_ctx %zu n_batch %zu %s KV: prefill logits (all %d positions) max |diff| %.3g\n",
           n_ctx, n_batch, kv, N_PROMPT, diff);
    CHECK_MSG(diff <= tolerance, "%s KV: prefill max diff %g", kv, diff);
    CHECK(memcmp(s->logits, all_logits + (N_PROMPT - 1) * n_vocab, n_vocab * 4) == 0);

    // greedy decode, one token at a time through the cache, past the window
    float final_diff = INFINITY;
    for (int step = 0; step < N_GREEDY; step++) {
        if (step == N_GREEDY - 1) final_diff = ref_max_abs_diff(s->logits, want_final, n_vocab);
        int32_t token = ref_argmax(s->logits, n_vocab);
        CHECK_MSG(token == want_greedy[step], "step %d: token %d, transformers %d", step,
                  (int)token, (int)want_greedy[step]);
        if (step == N_GREEDY - 1) break;
        CHECK_OK(vlmi_decoder_embed(embeddings, dec, &want_greedy[step], 1));
        CHECK_OK(vlmi_decoder_forward(s, dec, embeddings, 1, NULL));
    }
    note_diff(final_diff);
    printf("n_ctx %zu n_batch %zu %s KV: logits after %d decode steps max |diff| %.3g\n",
           n_ctx, n_batch, kv, N_GREEDY - 1, final_diff);
    CHECK_MSG(final_diff <= tolerance, "%s KV: decode max diff %g", kv, final_diff);

done:
    vlmi_decoder_state_free(s);
    free(all_logits);
    free(embeddings);
    free(want_final);
    free(want_greedy);
    free(want_logits);
    free(ids);
}

/* The same weights with final_logit_softcapping 3 and attention scores
 * softcapped at 2. transformers' Gemma 3 ignores attn_logit_softcapping, and
 * so does the binder: the test sets the decoder's directly (Gemma 2 style). */
static void test_softcap(g3_fixture *f) {
    vlmi_model_config config = f->config;
    config.text.attn_logit_softcapping = 2.0;
    config.text.final_logit_softcapping = 3.0;
    vlmi_gemma3 capped;
    CHECK_OK(vlmi_gemma3_bind(&capped, &config, f->weights));
    CHECK(capped.text.hp.attn_softcap == 0.0f && capped.text.hp.final_softcap == 3.0f);
    capped.text.hp.attn_softcap = 2.0f;
    const vlmi_decoder *dec = &capped.text;
    size_t n_vocab = 512, dim = 64;
    int32_t *ids = ref_read("gemma3/text_ids.i32", N_PROMPT, 4, NULL);
    float *want = ref_read("gemma3/softcap_logits.f32", N_PROMPT * n_vocab, 4, NULL);
    float *embeddings = calloc(N_PROMPT * dim, sizeof(float));
    float *logits = calloc(N_PROMPT * n_vocab, sizeof(float));
    vlmi_decoder_state *s = NULL;
    if (dec->layers && ids && want && embeddings && logits &&
        vlmi_decoder_state_create(dec, 32, 5, &s) == VLM_OK) {
        CHECK_OK(vlmi_decoder_embed(embeddings, dec, ids, N_PROMPT));
        CHECK_OK(vlmi_decoder_forward(s, dec, embeddings, N_PROMPT, logits));
        float diff = ref_max_abs_diff(logits, want, N_PROMPT * n_vocab);
        note_diff(diff);
        printf("softcapped prefill logits max |diff| %.3g\n", diff);
        CHECK_MSG(diff <= LOGITS_TOLERANCE, "softcap max diff %g", diff);
        float max = 0.0f;
        for (size_t i = 0; i < N_PROMPT * n_vocab; i++) max = fmaxf(max, fabsf(logits[i]));
        CHECK(max <= 3.0f);
    }
    vlmi_decoder_state_free(s);
    free(logits);
    free(embeddings);
    free(want);
    free(ids);
    vlmi_gemma3_free(&capped);
}

/* Two blocks of image rows (4..9, 12..21; the second longer than the
 * window) attend to each other both ways, as Gemma 3's token_type_ids mask. */
static void test_image_blocks(g3_fixture *f, size_t n_batch) {
    const vlmi_decoder *dec = &f->model.text;
    size_t n_vocab = dec->hp.n_vocab, dim = dec->hp.dim;
    uint8_t *is_image = ref_read("gemma3/image_token_type.u8", N_PROMPT, 1, NULL);
    float *embeddings = ref_read("gemma3/image_embeds.f32", N_PROMPT * dim, 4, NULL);
    float *want = ref_read("gemma3/image_logits.f32", N_PROMPT * n_vocab, 4, NULL);
    float *logits = calloc(N_PROMPT * n_vocab, sizeof(float));
    vlmi_decoder_state *s = NULL;
    if (is_image && embeddings && want && logits &&
        vlmi_decoder_state_create(dec, 40, n_batch, &s) == VLM_OK) {
        CHECK_OK(vlmi_decoder_forward_blocks(s, dec, embeddings, N_PROMPT, is_image, logits,
                                             NULL));
        float diff = ref_max_abs_diff(logits, want, N_PROMPT * n_vocab);
        note_diff(diff);
        printf("n_batch %zu: image-block prefill logits max |diff| %.3g\n", n_batch, diff);
        CHECK_MSG(diff <= LOGITS_TOLERANCE, "image max diff %g", diff);
        /* causal attention everywhere gives other logits at the image rows */
        vlmi_decoder_state_reset(s);
        CHECK_OK(vlmi_decoder_forward(s, dec, embeddings, N_PROMPT, logits));
        CHECK(ref_max_abs_diff(logits, want, N_PROMPT * n_vocab) > 0.1f);
    }
    vlmi_decoder_state_free(s);
    free(logits);
    free(want);
    free(embeddings);
    free(is_image);
}

static void test_block_limits(g3_fixture *f) {
    const vlmi_decoder *dec = &f->model.text;
    uint8_t is_image[N_PROMPT] = {0};
    for (int i = 12; i < 22; i++) is_image[i] = 1; /* a block of 10 */
    float *embeddings = calloc(N_PROMPT * dec->hp.dim, sizeof(float));
    vlmi_decoder_state *s = NULL;
    CHECK_OK(vlmi_decoder_state_create(dec, 40, 8, &s));
    if (s != NULL && embeddings != NULL) {
        CHECK_STATUS(VLM_ERR_LIMIT, vlmi_decoder_forward_blocks(s, dec, embeddings, N_PROMPT,
                                                                is_image, NULL, NULL));
        CHECK(strstr(vlm_last_error(), "block of 10") != NULL);
        CHECK(s->n_past == 0);
    }
    vlmi_decoder_state_free(s);
    free(embeddings);
}

/* The rings keep the window only: a rewind of more than one token past it
 * cannot be served, and says so; within the window it can. */
static void test_rewind(g3_fixture *f) {
    const vlmi_decoder *dec = &f->model.text;
    size_t n_vocab = dec->hp.n_vocab, dim = dec->hp.dim;
    int32_t *ids = ref_read("gemma3/text_ids.i32", N_PROMPT, 4, NULL);
    float *want = ref_read("gemma3/text_logits.f32", N_PROMPT * n_vocab, 4, NULL);
    float *embeddings = calloc(N_PROMPT * dim, sizeof(float));
    vlmi_decoder_state *s = NULL;
    if (ids && want && embeddings && vlmi_decoder_state_create(dec, 64, 0, &s) == VLM_OK) {
        CHECK_OK(vlmi_decoder_embed(embeddings, dec, ids, N_PROMPT));
        CHECK_OK(vlmi_decoder_forward(s, dec, embeddings, N_PROMPT, NULL));
        CHECK(vlmi_decoder_state_reusable(s, N_PROMPT) == N_PROMPT);
        CHECK(vlmi_decoder_state_reusable(s, N_PROMPT - 1) == N_PROMPT - 1);
        CHECK(vlmi_decoder_state_reusable(s, N_PROMPT - 2) == 0);
        CHECK(vlmi_decoder_state_reusable(s, 5) == 0);
        // the last token again: the logits of the whole prompt
        s->n_past = N_PROMPT - 1;
        CHECK_OK(vlmi_decoder_forward(s, dec, embeddings + (N_PROMPT - 1) * dim, 1, NULL));
        float diff = ref_max_abs_diff(s->logits, want + (N_PROMPT - 1) * n_vocab, n_vocab);
        CHECK_MSG(diff <= LOGITS_TOLERANCE, "rewound max diff %g", diff);
        // further back is refused, not silently wrong
        s->n_past = 10;
        CHECK_STATUS(VLM_ERR_INVALID_ARGUMENT,
                     vlmi_decoder_forward(s, dec, embeddings + 10 * dim, 1, NULL));
        CHECK(strstr(vlm_last_error(), "sliding-window") != NULL);
        vlmi_decoder_state_reset(s);
        CHECK_OK(vlmi_decoder_forward(s, dec, embeddings, N_PROMPT, NULL));
        diff = ref_max_abs_diff(s->logits, want + (N_PROMPT - 1) * n_vocab, n_vocab);
        CHECK_MSG(diff <= LOGITS_TOLERANCE, "after reset max diff %g", diff);
    }
    vlmi_decoder_state_free(s);
    free(embeddings);
    free(want);
    free(ids);
}

/* A config that disagrees with the tensors names the first tensor that does
 * not fit; unsupported variants are refused by name. */
static void test_bind_errors(g3_fixture *f) {
    vlmi_gemma3 m;
    vlmi_model_config config = f->config;
    config.text.num_key_value_heads = 2;
    CHECK_STATUS(VLM_ERR_SHAPE, vlmi_gemma3_bind(&m, &config, f->weights));
    CHECK_MSG(strstr(vlm_last_error(), "model.layers.0.self_attn.k_proj.weight") &&
              strstr(vlm_last_error(), "[32, 64]") && strstr(vlm_last_error(), "[64, 64]"),
              "message: %s", vlm_last_error());
    CHECK(m.text.layers == NULL);

    config = f->config;
    config.text.head_dim = 16;
    CHECK_STATUS(VLM_ERR_SHAPE, vlmi_gemma3_bind(&m, &config, f->weights));
    CHECK_MSG(strstr(vlm_last_error(), "model.layers.0.self_attn.q_proj.weight") != NULL,
              "message: %s", vlm_last_error());

    config = f->config;
    config.text.intermediate_size = 128;
    CHECK_STATUS(VLM_ERR_SHAPE, vlmi_gemma3_bind(&m, &config, f->weights));
    CHECK(strstr(vlm_last_error(), "mlp.gate_proj.weight") != NULL);

    config = f->config;
    config.text.tie_word_embeddings = false; /* the tiny model has no lm_head */
    CHECK_STATUS(VLM_ERR_FORMAT, vlmi_gemma3_bind(&m, &config, f->weights));
    CHECK(strstr(vlm_last_error(), "lm_head.weight") && strstr(vlm_last_error(), "missing"));

    config = f->config;
    snprintf(config.text.hidden_act, sizeof config.text.hidden_act, "silu");
    CHECK_STATUS(VLM_ERR_UNSUPPORTED, vlmi_gemma3_bind(&m, &config, f->weights));
    CHECK(strstr(vlm_last_error(), "silu") != NULL);

    config = f->config;
    snprintf(config.text.rope.type, sizeof config.text.rope.type, "yarn");
    CHECK_STATUS(VLM_ERR_UNSUPPORTED, vlmi_gemma3_bind(&m, &config, f->weights));
    CHECK(strstr(vlm_last_error(), "yarn") != NULL);
    vlmi_gemma3_free(&m);
}

int main(void) {
    if (getenv("VLM_TEST_DATA") == NULL) return TEST_SKIP_CODE;
    g3_fixture f;
    CHECK_OK(g3_fixture_open(&f));
    if (f.weights != NULL) {
        CHECK_OK(vlmi_gemma3_bind(&f.model, &f.config, f.weights));
        if (f.model.text.layers != NULL) {
            test_hparams(&f);
            for (int kv = 0; kv < 2; kv++) {
                vlm_dtype t = kv ? VLM_DTYPE_F16 : VLM_DTYPE_F32;
                test_prefill_and_greedy(&f, 64, 64, t); /* the whole prompt in one step */
                test_prefill_and_greedy(&f, 64, 7, t);  /* chunks of 7, 7, 7, 3 */
                test_prefill_and_greedy(&f, 64, 1, t);  /* token by token */
                test_prefill_and_greedy(&f, 40, 10, t); /* exactly prompt + greedy */
                test_prefill_and_greedy(&f, 40, 3, t);
            }
            test_softcap(&f);
            test_image_blocks(&f, 64);
            test_image_blocks(&f, 10); /* chunks 0..9, 10..11, 12..21, 22..23 */
            test_image_blocks(&f, 12);
            test_block_limits(&f);
            test_rewind(&f);
        }
        test_bind_errors(&f);
    }
    printf("worst logits max |diff| against transformers: %.3g\n", worst_diff);
    g3_fixture_close(&f);
    return test_finish("gemma3_text");
}
