/* A one-image prompt through tiny-smolvlm against transformers: the image
 * features replace the 64 <image> token embeddings, then the decoder prefills
 * the 79-token prompt. */
#include "nn_fixture.h"

#define N_PROMPT 79
#define LOGITS_TOLERANCE 1e-3f

static void test_image_prompt(nn_fixture *f) {
    const vlmi_idefics3 *m = &f->model;
    const vlmi_vit_hparams *vp = &m->vision.hp;
    size_t dim = m->text.hp.dim, n_vocab = m->text.hp.n_vocab;
    size_t n_pixels = vp->n_channels * vp->image_size * vp->image_size;

    int32_t *ids = ref_read("smolvlm/image_ids.i32", N_PROMPT, 4, NULL);
    float *want = ref_read("smolvlm/image_logits_last.f32", n_vocab, 4, NULL);
    float *pixels = malloc(n_pixels * sizeof(float));
    float *features = malloc(m->image_seq_len * dim * sizeof(float));
    float *embeddings = malloc(N_PROMPT * dim * sizeof(float));
    vlmi_idefics3_image_state *image_state = NULL;
    vlmi_decoder_state *s = NULL;
    if (!ids || !want || !pixels || !features || !embeddings) goto done;

    // the processor's layout: <fake_token_around_image><global-img> 64 x <image> <fake...>
    size_t first_image = 0;
    while (first_image < N_PROMPT && ids[first_image] != m->image_token_id) first_image++;
    CHECK(first_image >= 2 && ids[first_image - 2] == 49189 && ids[first_image - 1] == 49152);
    CHECK(first_image + 64 < N_PROMPT && ids[first_image + 64] == 49189);

    nn_fill_pixels(pixels, n_pixels, NN_PIXEL_SEED);
    CHECK_OK(vlmi_idefics3_image_state_create(m, &image_state));
    CHECK_OK(vlmi_decoder_state_create(&m->text, 128, 32, &s));
    if (image_state == NULL || s == NULL) goto done;

    // encode the image, splice its features, prefill
    CHECK_OK(vlmi_idefics3_encode_image(features, image_state, m, pixels, vp->image_size,
                                        vp->image_size));
    CHECK_OK(vlmi_idefics3_embed(embeddings, m, ids, N_PROMPT, features, m->image_seq_len));
    CHECK(memcmp(embeddings + (first_image + 5) * dim, features + 5 * dim, dim * 4) == 0);
    CHECK_OK(vlmi_decoder_forward(s, &m->text, embeddings, N_PROMPT, NULL));
    float diff = ref_max_abs_diff(s->logits, want, n_vocab);
    printf("one-image prompt (79 tokens) last logits max |diff| %.3g\n", diff);
    CHECK_MSG(diff <= LOGITS_TOLERANCE, "image prompt max diff %g", diff);
    CHECK(ref_argmax(s->logits, n_vocab) == ref_argmax(want, n_vocab));

    /* feature rows must match the <image> tokens one to one */
    CHECK_STATUS(VLM_ERR_INVALID_ARGUMENT,
                 vlmi_idefics3_embed(embeddings, m, ids, N_PROMPT, features, 63));
    CHECK(strstr(vlm_last_error(), "64 <image> tokens") != NULL);
    CHECK_STATUS(VLM_ERR_INVALID_ARGUMENT,
                 vlmi_idefics3_embed(embeddings, m, ids, first_image, features, 64));
    CHECK_OK(vlmi_idefics3_embed(embeddings, m, ids, first_image, NULL, 0));

done:
    vlmi_decoder_state_free(s);
    vlmi_idefics3_image_state_free(image_state);
    free(embeddings);
    free(features);
    free(pixels);
    free(want);
    free(ids);
}

int main(void) {
    if (getenv("VLM_TEST_DATA") == NULL) return TEST_SKIP_CODE;
    nn_fixture f;
    CHECK_OK(nn_fixture_open(&f));
    if (f.weights != NULL) {
        CHECK_OK(vlmi_idefics3_bind(&f.model, &f.config, f.weights));
        if (f.model.text.layers != NULL) test_image_prompt(&f);
    }
    nn_fixture_close(&f);
    return test_finish("smolvlm_image_prompt");
}
