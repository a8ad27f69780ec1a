/* The Gemma 3 vision side of the tiny Gemma3ForConditionalGeneration
 * (tests/data/gemma3-vlm) against transformers: the image features after the
 * projector, prefill logits of a chat prompt holding the image (embed, then
 * the decoder with the image rows bidirectional), a greedy continuation
 * through the KV cache, and binding errors. */
#include "gemma3_vlm_fixture.h"

#include "model/config.h"

#define FEATURE_TOLERANCE 1e-4f
#define LOGITS_TOLERANCE 1e-3f
#define N_GREEDY 16
#define N_VOCAB 384
#define TEXT_DIM 64
#define N_TOKENS 16 /* rows per frame */

typedef struct vlm_fixture {
    vlmi_model_config config;
    vlmi_safetensors_set *weights;
    vlmi_gemma3 model;
} vlm_fixture;

static vlm_status open_model(vlm_fixture *f, const char *dir) {
    memset(f, 0, sizeof *f);
    char path[1024], rel[256];
    size_t size = 0;
    snprintf(rel, sizeof rel, "%s/config.json", dir);
    const char *root = getenv("VLM_TEST_DATA");
    if (root == NULL) return VLM_ERR_IO;
    snprintf(path, sizeof path, "%s/%s", root, rel);
    unsigned char *json = test_read_file(path, &size);
    if (json == NULL) return VLM_ERR_IO;
    vlm_status st = vlmi_model_config_parse((const char *)json, size, "config.json", &f->config);
    free(json);
    if (st != VLM_OK) return st;
    snprintf(path, sizeof path, "%s/%s", root, dir);
    return vlmi_safetensors_set_open(path, &f->weights);
}

static void close_model(vlm_fixture *f) {
    vlmi_gemma3_free(&f->model);
    vlmi_safetensors_set_close(f->weights);
    vlmi_model_config_free(&f->config);
}

static void test_binding(const vlmi_gemma3 *m) {
    CHECK(m->has_vision && m->image_token_id == 383);
    CHECK(m->vision.hp.image_size == 224 && m->vision.hp.patch_size == 14);
    CHECK(m->vision.hp.dim == 32 && m->vision.hp.n_layers == 2);
    CHECK(m->patches_per_side == 16 && m->pool_kernel == 4 && m->tokens_per_image == N_TOKENS);
    CHECK(m->projection.rows == TEXT_DIM && m->projection.cols == 32);
    CHECK(m->text.hp.n_vocab == N_VOCAB && m->text.hp.sliding_window == 8);
    CHECK(m->text.layers[0].sliding && !m->text.layers[2].sliding && m->text.layers[3].sliding);
}

/* Our processor's frame 0 of image 0 through the tower and the projector,
 * against get_image_features; the pixels are checked against the
 * reference's in test_gemma3_processor. -> features (16, 64) */
static void test_features(const vlmi_gemma3 *m, float *features) {
    vlmi_processor_config config;
    CHECK_OK(vlm_processor_config(&config));
    uint32_t w = vlm_image_sizes[0][0], h = vlm_image_sizes[0][1];
    uint8_t *rgb = vlm_image_rgb(w, h);
    float *pixels = malloc(3 * 224 * 224 * sizeof(float));
    float *want = ref_read("gemma3-vlm/vision_features.f32", N_TOKENS * TEXT_DIM, 4, NULL);
    vlmi_gemma3_image_state *s = NULL;
    vlmi_gemma3_plan plan;
    CHECK_OK(vlmi_gemma3_plan_image(&plan, &config, config.do_pan_and_scan, w, h));
    CHECK(plan.n_rows == m->tokens_per_image);
    CHECK_OK(vlmi_gemma3_image_state_create(m, &s));
    if (rgb && pixels && want && s) {
        CHECK_OK(vlmi_gemma3_frame_pixels(pixels, &plan, &config, rgb, w, h, 0));
        CHECK_OK(vlmi_gemma3_encode_image_pool(features, s, m, pixels, NULL));
        float diff = ref_max_abs_diff(features, want, N_TOKENS * TEXT_DIM);
        printf("vision features (after the projector) max |diff| %.3g\n", diff);
        CHECK_MSG(diff <= FEATURE_TOLERANCE, "features max diff %g", diff);
        /* the same image again from a state already used, then on 2 threads */
        float *again = malloc(N_TOKENS * TEXT_DIM * sizeof(float));
        vlmi_threadpool *threads = NULL;
        if (again) {
            CHECK_OK(vlmi_gemma3_encode_image_pool(again, s, m, pixels, NULL));
            CHECK(memcmp(again, features, N_TOKENS * TEXT_DIM * sizeof(float)) == 0);
            CHECK_OK(vlmi_threadpool_create(2, &threads));
            CHECK_OK(vlmi_gemma3_encode_image_pool(again, s, m, pixels, threads));
            diff = ref_max_abs_diff(again, want, N_TOKENS * TEXT_DIM);
            printf("vision features on 2 threads max |diff| %.3g\n", diff);
            CHECK_MSG(diff <= FEATURE_TOLERANCE, "2-thread features max diff %g", diff);
        }
        vlmi_threadpool_free(threads);
        free(again);
    }
    vlmi_gemma3_image_state_free(s);
    free(want);
    free(pixels);
    free(rgb);
}

/* The prompt transformers built (chat template + image expansion) embedded
 * with our image rows, prefilled with the image rows bidirectional, then
 * greedy decoding one token at a time. */
static void test_prefill_and_greedy(const vlmi_gemma3 *m, const float *features,
                                    size_t n_batch) {
    size_t n = 0;
    int32_t *ids = ref_read("gemma3-vlm/prompt_ids.i32", 0, 4, &n);
    uint8_t *want_types = ref_read("gemma3-vlm/prompt_token_type.u8", n, 1, NULL);
    float *want_logits = ref_read("gemma3-vlm/prompt_logits.f32", n * N_VOCAB, 4, NULL);
    int32_t *want_greedy = ref_read("gemma3-vlm/greedy.i32", N_GREEDY, 4, NULL);
    float *embeddings = calloc((n > 0 ? n : 1) * TEXT_DIM, sizeof(float));
    float *logits = calloc((n > 0 ? n : 1) * N_VOCAB, sizeof(float));
    uint8_t *types = calloc(n > 0 ? n : 1, 1);
    vlmi_decoder_state *s = NULL;
    if (!ids || !want_types || !want_logits || !want_greedy || !embeddings || !logits || !types)
        goto done;

    // embed: the 16 image rows at the <image_soft_token> ids, flagged
    CHECK_OK(vlmi_gemma3_embed(embeddings, m, ids, n, features, N_TOKENS, types));
    CHECK_MSG(memcmp(types, want_types, n) == 0, "bidirectional flags differ from token_type_ids");
    /* text rows are the scaled embeddings, image rows the features as they are */
    size_t first_image = 0;
    while (first_image < n && !want_types[first_image]) first_image++;
    CHECK(first_image < n &&
          memcmp(embeddings + first_image * TEXT_DIM, features, TEXT_DIM * sizeof(float)) == 0);

    // prefill
    CHECK_OK(vlmi_decoder_state_create(&m->text, n + N_GREEDY, n_batch, &s));
    if (s == NULL) goto done;
    CHECK_OK(vlmi_decoder_forward_blocks(s, &m->text, embeddings, n, types, logits, NULL));
    float diff = ref_max_abs_diff(logits, want_logits, n * N_VOCAB);
    printf("n_batch %zu: prefill logits (all %zu positions) max |diff| %.3g\n", n_batch, n, diff);
    CHECK_MSG(diff <= LOGITS_TOLERANCE, "prefill max diff %g", diff);

    // greedy, through the KV cache
    int32_t token = ref_argmax(s->logits, N_VOCAB);
    for (int step = 0; step < N_GREEDY; step++) {
        CHECK_MSG(token == want_greedy[step], "n_batch %zu step %d: token %d, transformers %d",
                  n_batch, step, (int)token, (int)want_greedy[step]);
        token = want_greedy[step]; /* follow the reference to keep comparing */
        if (step == N_GREEDY - 1) break;
        CHECK_OK(vlmi_gemma3_embed(embeddings, m, &token, 1, NULL, 0, types));
        CHECK(types[0] == 0);
        CHECK_OK(vlmi_decoder_forward_blocks(s, &m->text, embeddings, 1, NULL, NULL, NULL));
        token = ref_argmax(s->logits, N_VOCAB);
    }

    // without the bidirectional image block the logits are not transformers'
    vlmi_decoder_state_reset(s);
    CHECK_OK(vlmi_gemma3_embed(embeddings, m, ids, n, features, N_TOKENS, NULL));
    CHECK_OK(vlmi_decoder_forward_blocks(s, &m->text, embeddings, n, NULL, logits, NULL));
    CHECK(ref_max_abs_diff(logits, want_logits, n * N_VOCAB) > 0.01f);

done:
    vlmi_decoder_state_free(s);
    free(types);
    free(logits);
    free(embeddings);
    free(want_greedy);
    free(want_logits);
    free(want_types);
    free(ids);
}

static void test_embed_errors(const vlmi_gemma3 *m, const float *features) {
    int32_t ids[4] = {2, 383, 383, 5};
    float out[4 * TEXT_DIM];
    CHECK_STATUS(VLM_ERR_INVALID_ARGUMENT, vlmi_gemma3_embed(out, m, ids, 4, features, 1, NULL));
    CHECK(strstr(vlm_last_error(), "2 <image_soft_token>") != NULL);
    CHECK_OK(vlmi_gemma3_embed(out, m, ids, 4, features, 2, NULL));
    ids[3] = N_VOCAB; /* outside the vocabulary */
    CHECK_STATUS(VLM_ERR_INVALID_ARGUMENT, vlmi_gemma3_embed(out, m, ids, 4, features, 2, NULL));
}

/* A config that disagrees with the tensors names the first tensor that does
 * not fit; a bad pooling is refused; a text-only checkpoint has no tower. */
static void test_bind_errors(vlm_fixture *f) {
    vlmi_gemma3 m;
    vlmi_model_config config = f->config;
    config.vision.hidden_size = 48;
    config.vision.num_attention_heads = 2;
    CHECK_STATUS(VLM_ERR_SHAPE, vlmi_gemma3_bind(&m, &config, f->weights));
    CHECK_MSG(strstr(vlm_last_error(), "vision_tower.embeddings.patch_embedding.weight") &&
              strstr(vlm_last_error(), "[32, 3, 14, 14]") &&
              strstr(vlm_last_error(), "[48, 3, 14, 14]"),
              "message: %s", vlm_last_error());
    CHECK(m.text.layers == NULL && m.vision.layers == NULL && !m.has_vision);

    config = f->config;
    config.vision.intermediate_size = 80;
    CHECK_STATUS(VLM_ERR_SHAPE, vlmi_gemma3_bind(&m, &config, f->weights));
    CHECK_MSG(strstr(vlm_last_error(), "vision_tower.encoder.layers.0.mlp.fc1.weight") != NULL,
              "message: %s", vlm_last_error());

    config = f->config;
    config.vision.image_size = 28 * 14; /* 28x28 patches: 784 positions, the file has 256 */
    CHECK_STATUS(VLM_ERR_SHAPE, vlmi_gemma3_bind(&m, &config, f->weights));
    CHECK_MSG(strstr(vlm_last_error(), "position_embedding.weight") != NULL,
              "message: %s", vlm_last_error());

    config = f->config;
    config.mm_tokens_per_image = 9; /* 3x3 does not pool 16x16 */
    CHECK_STATUS(VLM_ERR_FORMAT, vlmi_gemma3_bind(&m, &config, f->weights));
    CHECK(strstr(vlm_last_error(), "mm_tokens_per_image 9") != NULL);

    config = f->config;
    snprintf(config.vision.hidden_act, sizeof config.vision.hidden_act, "relu");
    CHECK_STATUS(VLM_ERR_UNSUPPORTED, vlmi_gemma3_bind(&m, &config, f->weights));
    CHECK(strstr(vlm_last_error(), "relu") != NULL);

    /* a coarser pooling binds (no weight depends on it): 64 rows per frame */
    config = f->config;
    config.mm_tokens_per_image = 64;
    CHECK_OK(vlmi_gemma3_bind(&m, &config, f->weights));
    CHECK(m.pool_kernel == 2 && m.tokens_per_image == 64);
    vlmi_gemma3_free(&m);

    /* the text-only checkpoint of tests/data/gemma3: no tower, no images */
    vlm_fixture text;
    CHECK_OK(open_model(&text, "gemma3/model"));
    if (text.weights != NULL) {
        CHECK_OK(vlmi_gemma3_bind(&text.model, &text.config, text.weights));
        CHECK(!text.model.has_vision && text.model.image_token_id == -1);
        vlmi_gemma3_image_state *s = NULL;
        CHECK_STATUS(VLM_ERR_STATE, vlmi_gemma3_image_state_create(&text.model, &s));
        CHECK(s == NULL);
        int32_t ids[2] = {2, 7};
        float out[2 * 64];
        uint8_t types[2] = {9, 9};
        CHECK_OK(vlmi_gemma3_embed(out, &text.model, ids, 2, NULL, 0, types));
        CHECK(types[0] == 0 && types[1] == 0);
    }
    close_model(&text);
}

/* The same weights under the Hub 4.x tower names ("vision_tower.vision_model."),
 * "model.multi_modal_projector." and "model.language_model." (bfloat16 text):
 * the tower and projector are f32 as in the main file, so the features are
 * the main model's, bit for bit. */
static void test_alt_names(const float *features) {
    vlm_fixture alt;
    CHECK_OK(open_model(&alt, "gemma3-vlm/alt-names"));
    if (alt.weights != NULL) {
        CHECK_OK(vlmi_gemma3_bind(&alt.model, &alt.config, alt.weights));
        CHECK(alt.model.has_vision && alt.model.text.token_embedding.dtype == VLM_DTYPE_BF16);
        float *frames = NULL;
        vlmi_gemma3_image_state *s = NULL;
        size_t plane = (size_t)VLM_FRAME_SIDE * VLM_FRAME_SIDE;
        uint8_t *u8 = ref_read("gemma3-vlm/frames.u8", VLM_N_FRAMES_ON * 3 * plane, 1, NULL);
        float *table = ref_read("gemma3-vlm/pixel_table.f32", 3 * 256, 4, NULL);
        float *again = malloc(N_TOKENS * TEXT_DIM * sizeof(float));
        frames = malloc(3 * plane * sizeof(float));
        if (alt.model.has_vision && u8 && table && again && frames &&
            vlmi_gemma3_image_state_create(&alt.model, &s) == VLM_OK) {
            vlm_reference_frame(frames, u8, table, 0); /* image 0 */
            CHECK_OK(vlmi_gemma3_encode_image_pool(again, s, &alt.model, frames, NULL));
            CHECK(memcmp(again, features, N_TOKENS * TEXT_DIM * sizeof(float)) == 0);
        }
        vlmi_gemma3_image_state_free(s);
        free(frames);
        free(again);
        free(table);
        free(u8);
    }
    close_model(&alt);
}

int main(void) {
    if (getenv("VLM_TEST_DATA") == NULL) return TEST_SKIP_CODE;
    vlm_fixture f;
    CHECK_OK(open_model(&f, "gemma3-vlm"));
    if (f.weights != NULL) {
        CHECK_OK(vlmi_gemma3_bind(&f.model, &f.config, f.weights));
        if (f.model.text.layers != NULL && f.model.has_vision) {
            float features[N_TOKENS * TEXT_DIM];
            test_binding(&f.model);
            test_features(&f.model, features);
            test_prefill_and_greedy(&f.model, features, 64); /* the whole prompt at once */
            test_prefill_and_greedy(&f.model, features, 16); /* chunks; the block fits one */
            test_prefill_and_greedy(&f.model, features, 20);
            test_embed_errors(&f.model, features);
            test_alt_names(features);
        }
        test_bind_errors(&f);
    }
    close_model(&f);
    return test_finish("gemma3_vision");
}
