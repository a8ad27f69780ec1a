/* The SigLIP encoder and the Idefics3 connector of tiny-smolvlm against
 * transformers (model.model.vision_model + model.model.connector). */
#include "nn_fixture.h"

#define FEATURE_TOLERANCE 1e-4f

/* side 4, dim 1, scale 2: each 2x2 block becomes a row, read row by row. */
static void test_pixel_shuffle(void) {
    float x[16], out[16];
    for (int i = 0; i < 16; i++) x[i] = (float)i;
    vlmi_idefics3_pixel_shuffle(out, x, 4, 1, 2);
    const float want[16] = {0, 1, 4, 5, 2, 3, 6, 7, 8, 9, 12, 13, 10, 11, 14, 15};
    CHECK(memcmp(out, want, sizeof want) == 0);
    /* dim 2 keeps each row's channels together */
    float x2[8], out2[8];
    for (int i = 0; i < 8; i++) x2[i] = (float)i; /* side 2: rows (0,1) (2,3) (4,5) (6,7) */
    vlmi_idefics3_pixel_shuffle(out2, x2, 2, 2, 2);
    CHECK(memcmp(out2, x2, sizeof x2) == 0);
}

static void test_encode(nn_fixture *f) {
    const vlmi_idefics3 *m = &f->model;
    const vlmi_vit_hparams *vp = &m->vision.hp;
    size_t side = vp->image_size, n_patches = vlmi_vit_n_patches(vp);
    size_t n_pixels = vp->n_channels * side * side;
    CHECK(m->image_seq_len == 64 && m->scale_factor == 4 && n_patches == 1024);

    float *pixels = malloc(n_pixels * sizeof(float));
    float *hidden = malloc(n_patches * vp->dim * sizeof(float));
    float *features = malloc(m->image_seq_len * m->text.hp.dim * sizeof(float));
    float *want_hidden = ref_read("smolvlm/vision_hidden.f32", n_patches * vp->dim, 4, NULL);
    float *want_features = ref_read("smolvlm/image_features.f32",
                                             m->image_seq_len * m->text.hp.dim, 4, NULL);
    vlmi_idefics3_image_state *s = NULL;
    if (!pixels || !hidden || !features || !want_hidden || !want_features) goto done;
    nn_fill_pixels(pixels, n_pixels, NN_PIXEL_SEED);
    CHECK_OK(vlmi_idefics3_image_state_create(m, &s));
    if (s == NULL) goto done;

    // the encoder alone (post-layernorm hidden states)
    CHECK_OK(vlmi_vit_encode(hidden, s->vit, &m->vision, pixels, side, side));
    float diff = ref_max_abs_diff(hidden, want_hidden, n_patches * vp->dim);
    printf("vision hidden states (1024 x 16) max |diff| %.3g\n", diff);
    CHECK_MSG(diff <= FEATURE_TOLERANCE, "vision hidden max diff %g", diff);

    // encoder + pixel shuffle + projection
    CHECK_OK(vlmi_idefics3_encode_image(features, s, m, pixels, side, side));
    diff = ref_max_abs_diff(features, want_features, m->image_seq_len * m->text.hp.dim);
    printf("image features (64 x 16) max |diff| %.3g\n", diff);
    CHECK_MSG(diff <= FEATURE_TOLERANCE, "image features max diff %g", diff);

    /* only full frames for now */
    CHECK_STATUS(VLM_ERR_UNSUPPORTED,
                 vlmi_idefics3_encode_image(features, s, m, pixels, side / 2, side));

done:
    vlmi_idefics3_image_state_free(s);
    free(want_features);
    free(want_hidden);
    free(features);
    free(hidden);
    free(pixels);
}

static void test_bind_errors(nn_fixture *f) {
    vlmi_idefics3 m;
    vlmi_model_config config = f->config;
    config.vision.intermediate_size = 48;
    CHECK_STATUS(VLM_ERR_SHAPE, vlmi_idefics3_bind(&m, &config, f->weights));
    CHECK_MSG(strstr(vlm_last_error(), "model.vision_model.encoder.layers.0.mlp.fc1.weight") != NULL,
              "message: %s", vlm_last_error());
    CHECK(m.text.layers == NULL && m.vision.layers == NULL); /* nothing left behind */

    config = f->config;
    config.vision.patch_size = 32; /* conv kernel and position table disagree */
    CHECK_STATUS(VLM_ERR_SHAPE, vlmi_idefics3_bind(&m, &config, f->weights));
    CHECK(strstr(vlm_last_error(), "patch_embedding.weight") != NULL);

    config = f->config;
    config.scale_factor = 2; /* the projection expects 16 * 16 inputs */
    CHECK_STATUS(VLM_ERR_SHAPE, vlmi_idefics3_bind(&m, &config, f->weights));
    CHECK(strstr(vlm_last_error(), "modality_projection.proj.weight") != NULL);

    config = f->config;
    config.scale_factor = 5;
    CHECK_STATUS(VLM_ERR_FORMAT, vlmi_idefics3_bind(&m, &config, f->weights));

    config = f->config;
    snprintf(config.vision.hidden_act, sizeof config.vision.hidden_act, "quick_gelu");
    CHECK_STATUS(VLM_ERR_UNSUPPORTED, vlmi_idefics3_bind(&m, &config, f->weights));
}

int main(void) {
    test_pixel_shuffle();
    if (getenv("VLM_TEST_DATA") == NULL) return TEST_SKIP_CODE;
    nn_fixture f;
    CHECK_OK(nn_fixture_open(&f));
    if (f.weights != NULL) {
        CHECK_OK(vlmi_idefics3_bind(&f.model, &f.config, f.weights));
        if (f.model.vision.layers != NULL) test_encode(&f);
        test_bind_errors(&f);
    }
    nn_fixture_close(&f);
    return test_finish("smolvlm_vision");
}
