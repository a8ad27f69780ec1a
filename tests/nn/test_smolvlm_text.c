/* The Llama decoder of tiny-smolvlm against transformers: prefill logits,
 * then a greedy continuation decoded token by token through the KV cache. */
#include "nn_fixture.h"

#define N_PROMPT 20
#define N_GREEDY 16
#define LOGITS_TOLERANCE 1e-3f

static void test_prefill_and_greedy(nn_fixture *f, size_t n_batch) {
    const vlmi_decoder *dec = &f->model.text;
    size_t n_vocab = dec->hp.n_vocab, dim = dec->hp.dim;
    int32_t *ids = ref_read("smolvlm/text_ids.i32", N_PROMPT, 4, NULL);
    float *want_last = ref_read("smolvlm/text_logits_last.f32", n_vocab, 4, NULL);
    int32_t *want_greedy = ref_read("smolvlm/text_greedy.i32", N_GREEDY, 4, NULL);
    float *want_final = ref_read("smolvlm/text_logits_final.f32", n_vocab, 4, NULL);
    float *embeddings = calloc(N_PROMPT * dim, sizeof(float));
    float *all_logits = calloc(N_PROMPT * n_vocab, sizeof(float));
    vlmi_decoder_state *s = NULL;
    if (!ids || !want_last || !want_greedy || !want_final || !embeddings || !all_logits)
        goto done;

    CHECK_OK(vlmi_decoder_state_create(dec, 64, n_batch, &s));
    if (s == NULL) goto done;

    // prefill (in chunks of n_batch rows)
    CHECK_OK(vlmi_decoder_embed(embeddings, dec, ids, N_PROMPT));
    CHECK_OK(vlmi_decoder_forward(s, dec, embeddings, N_PROMPT, all_logits));
    CHECK(s->n_past == N_PROMPT);
    float diff = ref_max_abs_diff(s->logits, want_last, n_vocab);
    printf("n_batch %zu: prefill logits max |diff| %.3g\n", n_batch, diff);
    CHECK_MSG(diff <= LOGITS_TOLERANCE, "prefill max diff %g", diff);
    CHECK(memcmp(s->logits, all_logits + (N_PROMPT - 1) * n_vocab, n_vocab * 4) == 0);

    // greedy decode, one token at a time through the cache
    float final_diff = INFINITY;
    for (int step = 0; step < N_GREEDY; step++) {
        if (step == N_GREEDY - 1) final_diff = ref_max_abs_diff(s->logits, want_final, n_vocab);
        int32_t token = ref_argmax(s->logits, n_vocab);
        CHECK_MSG(token == want_greedy[step], "step %d: token %d, transformers %d", step,
                  (int)token, (int)want_greedy[step]);
        if (step == N_GREEDY - 1) break;
        CHECK_OK(vlmi_decoder_embed(embeddings, dec, &token, 1));
        CHECK_OK(vlmi_decoder_forward(s, dec, embeddings, 1, NULL));
    }
    printf("n_batch %zu: logits after %d decode steps max |diff| %.3g\n", n_batch,
           N_GREEDY - 1, final_diff);
    CHECK_MSG(final_diff <= LOGITS_TOLERANCE, "decode max diff %g", final_diff);

    // after a reset the same prompt gives the same logits
    vlmi_decoder_state_reset(s);
    CHECK_OK(vlmi_decoder_embed(embeddings, dec, ids, N_PROMPT));
    CHECK_OK(vlmi_decoder_forward(s, dec, embeddings, N_PROMPT, NULL));
    CHECK(memcmp(s->logits, all_logits + (N_PROMPT - 1) * n_vocab, n_vocab * 4) == 0 ||
          ref_max_abs_diff(s->logits, all_logits + (N_PROMPT - 1) * n_vocab, n_vocab) < 1e-5f);

done:
    vlmi_decoder_state_free(s);
    free(all_logits);
    free(embeddings);
    free(want_final);
    free(want_greedy);
    free(want_last);
    free(ids);
}

static void test_limits(nn_fixture *f) {
    const vlmi_decoder *dec = &f->model.text;
    vlmi_decoder_state *s = NULL;
    CHECK_OK(vlmi_decoder_state_create(dec, 4, 0, &s));
    if (s == NULL) return;
    float embeddings[5 * 16] = {0};
    CHECK(dec->hp.dim == 16);
    CHECK_STATUS(VLM_ERR_LIMIT, vlmi_decoder_forward(s, dec, embeddings, 5, NULL));
    CHECK(s->n_past == 0);
    CHECK_OK(vlmi_decoder_forward(s, dec, embeddings, 4, NULL));
    CHECK_STATUS(VLM_ERR_LIMIT, vlmi_decoder_forward(s, dec, embeddings, 1, NULL));
    CHECK(strstr(vlm_last_error(), "context") != NULL);
    const int32_t bad[2] = {5, 49280};
    CHECK_STATUS(VLM_ERR_INVALID_ARGUMENT, vlmi_decoder_embed(embeddings, dec, bad, 2));
    const int32_t negative = -1;
    CHECK_STATUS(VLM_ERR_INVALID_ARGUMENT, vlmi_decoder_embed(embeddings, dec, &negative, 1));
    vlmi_decoder_state_free(s);
}

/* A config that disagrees with the tensors names the first tensor that does
 * not fit. */
static void test_bind_errors(nn_fixture *f) {
    vlmi_idefics3 m;
    vlmi_model_config config = f->config;
    config.text.num_key_value_heads = 2;
    CHECK_STATUS(VLM_ERR_SHAPE, vlmi_idefics3_bind(&m, &config, f->weights));
    CHECK_MSG(strstr(vlm_last_error(), "model.text_model.layers.0.self_attn.k_proj.weight") &&
              strstr(vlm_last_error(), "[8, 16]") && strstr(vlm_last_error(), "[16, 16]"),
              "message: %s", vlm_last_error());
    vlmi_idefics3_free(&m);

    config = f->config;
    config.text.intermediate_size = 64;
    CHECK_STATUS(VLM_ERR_SHAPE, vlmi_idefics3_bind(&m, &config, f->weights));
    CHECK(strstr(vlm_last_error(), "mlp.gate_proj.weight") != NULL);

    config = f->config;
    snprintf(config.text.hidden_act, sizeof config.text.hidden_act, "relu");
    CHECK_STATUS(VLM_ERR_UNSUPPORTED, vlmi_idefics3_bind(&m, &config, f->weights));

    /* a checkpoint without the model's tensors */
    const char header[] = "{\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}";
    const char *path = "test_smolvlm_text_missing.safetensors";
    FILE *out = fopen(path, "wb");
    CHECK(out != NULL);
    if (out == NULL) return;
    uint64_t header_len = sizeof header - 1;
    unsigned char len_le[8];
    for (int i = 0; i < 8; i++) len_le[i] = (unsigned char)(header_len >> (8 * i));
    const float one = 1.0f;
    fwrite(len_le, 1, 8, out);
    fwrite(header, 1, header_len, out);
    fwrite(&one, 4, 1, out);
    fclose(out);
    vlmi_safetensors_set *set = NULL;
    CHECK_OK(vlmi_safetensors_set_open(path, &set));
    if (set != NULL) {
        CHECK_STATUS(VLM_ERR_FORMAT, vlmi_idefics3_bind(&m, &f->config, set));
        CHECK_MSG(strstr(vlm_last_error(), "model.text_model.embed_tokens.weight") &&
                  strstr(vlm_last_error(), "missing"), "message: %s", vlm_last_error());
    }
    vlmi_safetensors_set_close(set);
    remove(path);
}

int main(void) {
    if (getenv("VLM_TEST_DATA") == NULL) return TEST_SKIP_CODE;
    nn_fixture f;
    CHECK_OK(nn_fixture_open(&f));
    if (f.weights != NULL) {
        CHECK_OK(vlmi_idefics3_bind(&f.model, &f.config, f.weights));
        if (f.model.text.layers != NULL) {
            test_prefill_and_greedy(&f, 64); /* the whole prompt in one step */
            test_prefill_and_greedy(&f, 7);  /* chunks of 7, 7, 6 */
            test_prefill_and_greedy(&f, 1);  /* token by token */
            test_limits(&f);
        }
        test_bind_errors(&f);
    }
    nn_fixture_close(&f);
    return test_finish("smolvlm_text");
}
