/* Gemma 3 vision from llama.cpp's GGUF pair: the text GGUF plus the mmproj
 * GGUF (tests/data/gemma3-gguf-pair, written from tests/data/gemma3-vlm by
 * tests/gen/make_gemma3_gguf_pair.py as llama.cpp's converter writes them),
 * loaded through vlm_model_load with mmproj_path, against the transformers
 * references of tests/data/gemma3-vlm:
 *
 *   - the bound model: vision tower, projector, processor settings and image
 *     token ids as the hub directory gives them;
 *   - image 0's projected features (vision_features.f32), through the
 *     internal API, and the same features from the projector file of the
 *     first gemma3 converter (ffn_up / ffn_down named the other way round);
 *   - a session on image 0: prompt ids identical, last prompt logits within
 *     LOGITS_TOLERANCE, 16 greedy tokens identical;
 *   - bad input: an mmproj without a text model, another projector type or
 *     architecture, a tensor of the wrong shape (named), mmproj_path with a
 *     hub directory, a missing mmproj file.
 *
 * llama.cpp's gemma3 metadata cannot state two choices of the tiny fixture
 * (llama-model.cpp fixes them): its layer pattern (config.json layer_types
 * makes layer 2 of 4 global; llama.cpp makes every 6th global) and
 * query_pre_attn_scalar 24 (llama.cpp: 1/sqrt(key_length) = 1/sqrt(32)).
 * Before the session the test sets those two from config.json, so that what
 * is compared is the mmproj path and not a metadata gap. */
#include "gemma3/gemma3_vlm_fixture.h"
#include "gguf/gguf_pair.h"
#include "model.h"
#include "vlm.h"

#include <string.h>
#include <unistd.h>

/* The files are f32 except mm.input_projection.weight, which llama.cpp's
 * converter forces to F16 (Gemma3VisionModel.tensor_force_quant); that
 * rounding is what remains: measured 1.1e-3 on the features and 6.9e-4 on
 * the last prompt logits (with an f32 projection instead: 1.2e-6 and
 * 4.5e-6). */
#define LOGITS_TOLERANCE 1e-3f
#define FEATURES_TOLERANCE 2e-3f

static void pair_path(char *buf, size_t size, const char *name) {
    gguf_pair_path(buf, size, "gemma3-gguf-pair", name);
}


// ----------------------------------------------------------------------------
// the bound model

static void test_bound(const vlm_model *m) {
    const vlmi_gemma3 *g = &m->gemma3;
    CHECK(m->family == VLMI_FAMILY_GEMMA3 && g->has_vision);
    CHECK(strcmp(vlm_model_architecture(m), "gemma3") == 0);
    CHECK(g->vision.hp.dim == 32 && g->vision.hp.ffn_dim == 64 && g->vision.hp.n_layers == 2);
    CHECK(g->vision.hp.n_heads == 2 && g->vision.hp.image_size == 224 &&
          g->vision.hp.patch_size == 14 && fabsf(g->vision.hp.norm_eps - 1e-6f) < 1e-12f);
    CHECK(g->patches_per_side == 16 && g->pool_kernel == 4 && g->tokens_per_image == 16);
    CHECK(g->image_token_id == 383 && m->config.model.boi_token_id == 7 &&
          m->config.model.eoi_token_id == 8 && m->config.model.mm_tokens_per_image == 16);
    CHECK(g->projection.rows == 64 && g->projection.cols == 32);
    // the processor settings the hub directory's files give
    vlmi_processor_config hub;
    CHECK_OK(vlm_processor_config(&hub));
    const vlmi_processor_config *pc = &m->config.processor;
    CHECK(m->config.has_processor);
    CHECK(pc->size.height == hub.size.height && pc->size.width == hub.size.width);
    CHECK(pc->resample == hub.resample && pc->do_resize && pc->do_rescale && pc->do_normalize);
    CHECK(fabs(pc->rescale_factor - hub.rescale_factor) < 1e-15);
    CHECK(pc->n_channels == 3 && pc->image_seq_len == hub.image_seq_len);
    for (int c = 0; c < 3; c++)
        CHECK(pc->image_mean[c] == hub.image_mean[c] && pc->image_std[c] == hub.image_std[c]);
    CHECK(pc->do_pan_and_scan == hub.do_pan_and_scan &&
          pc->pan_and_scan_max_num_crops == hub.pan_and_scan_max_num_crops &&
          pc->pan_and_scan_min_crop_size == hub.pan_and_scan_min_crop_size &&
          pc->pan_and_scan_min_ratio_to_activate == hub.pan_and_scan_min_ratio_to_activate);
}

/* Image 0's features (tokens_per_image, text dim) against transformers'. */
static void test_features(const vlm_model *m) {
    const vlmi_gemma3 *g = &m->gemma3;
    float *want = ref_read("gemma3-vlm/vision_features.f32", 16 * 64, 4, NULL);
    uint8_t *rgb = vlm_image_rgb(vlm_image_sizes[0][0], vlm_image_sizes[0][1]);
    float *pixels = calloc(3 * 224 * 224, sizeof(float)), *got = calloc(16 * 64, sizeof(float));
    vlmi_gemma3_plan plan;
    vlmi_gemma3_image_state *s = NULL;
    CHECK_OK(vlmi_gemma3_plan_image(&plan, &m->config.processor, false, vlm_image_sizes[0][0],
                                    vlm_image_sizes[0][1]));
    CHECK_OK(vlmi_gemma3_frame_pixels(pixels, &plan, &m->config.processor, rgb,
                                      vlm_image_sizes[0][0], vlm_image_sizes[0][1], 0));
    CHECK_OK(vlmi_gemma3_image_state_create(g, &s));
    if (s != NULL && want != NULL) {
        CHECK_OK(vlmi_gemma3_encode_image_pool(got, s, g, pixels, NULL));
        float d = ref_max_abs_diff(got, want, 16 * 64);
        CHECK_MSG(d <= FEATURES_TOLERANCE, "image features differ by %g", d);
        printf("image 0 features within %g of transformers\n", d);
    }
    vlmi_gemma3_image_state_free(s);
    free(want);
    free(rgb);
    free(pixels);
    free(got);
}

/* The projector file of the first gemma3 converter (mlp.fc1 named
 * ffn_down) binds to the same tower: identical features. */
static void test_legacy_ffn_names(const vlm_model *m) {
    char text[1024], legacy[1024];
    pair_path(text, sizeof text, "text.gguf");
    pair_path(legacy, sizeof legacy, "mmproj-legacy-ffn.gguf");
    vlm_model *old = NULL;
    CHECK_OK(gguf_load_pair(text, legacy, &old));
    if (old == NULL) return;
    uint8_t *rgb = vlm_image_rgb(vlm_image_sizes[0][0], vlm_image_sizes[0][1]);
    float *pixels = calloc(3 * 224 * 224, sizeof(float));
    float *a = calloc(16 * 64, sizeof(float)), *b = calloc(16 * 64, sizeof(float));
    vlmi_gemma3_plan plan;
    vlmi_gemma3_image_state *sa = NULL, *sb = NULL;
    CHECK_OK(vlmi_gemma3_plan_image(&plan, &m->config.processor, false, vlm_image_sizes[0][0],
                                    vlm_image_sizes[0][1]));
    CHECK_OK(vlmi_gemma3_frame_pixels(pixels, &plan, &m->config.processor, rgb,
                                      vlm_image_sizes[0][0], vlm_image_sizes[0][1], 0));
    CHECK_OK(vlmi_gemma3_image_state_create(&m->gemma3, &sa));
    CHECK_OK(vlmi_gemma3_image_state_create(&old->gemma3, &sb));
    if (sa && sb) {
        CHECK_OK(vlmi_gemma3_encode_image_pool(a, sa, &m->gemma3, pixels, NULL));
        CHECK_OK(vlmi_gemma3_encode_image_pool(b, sb, &old->gemma3, pixels, NULL));
        CHECK_MSG(memcmp(a, b, 16 * 64 * sizeof(float)) == 0,
                  "legacy ffn names: features differ by %g", ref_max_abs_diff(a, b, 16 * 64));
    }
    vlmi_gemma3_image_state_free(sa);
    vlmi_gemma3_image_state_free(sb);
    free(rgb);
    free(pixels);
    free(a);
    free(b);
    vlm_model_free(old);
}

/* What llama.cpp's metadata cannot say: config.json's layer_types and
 * query_pre_attn_scalar (see the top of the file). */
static void restore_fixture_choices(vlm_model *m) {
    cJSON *cfg = ref_read_json("gemma3-vlm/config.json");
    const cJSON *text = cfg ? cJSON_GetObjectItemCaseSensitive(cfg, "text_config") : NULL;
    const cJSON *types = text ? cJSON_GetObjectItemCaseSensitive(text, "layer_types") : NULL;
    const cJSON *scalar = text ? cJSON_GetObjectItemCaseSensitive(text, "query_pre_attn_scalar") : NULL;
    vlmi_decoder *dec = &m->gemma3.text;
    CHECK(cJSON_GetArraySize(types) == (int)dec->hp.n_layers && cJSON_IsNumber(scalar));
    size_t l = 0;
    for (const cJSON *t = types ? types->child : NULL; t && l < dec->hp.n_layers; t = t->next, l++)
        dec->layers[l].sliding = strcmp(t->valuestring, "sliding_attention") == 0;
    if (cJSON_IsNumber(scalar)) dec->hp.attn_scale = 1.0f / sqrtf((float)scalar->valuedouble);
    cJSON_Delete(cfg);
}

static void test_session(vlm_model *m) {
    size_t n_prompt = 0, n_vocab = 384;
    int32_t *want_ids = ref_read("gemma3-vlm/prompt_ids.i32", 0, 4, &n_prompt);
    float *want_logits = ref_read("gemma3-vlm/prompt_logits.f32", n_prompt * n_vocab, 4, NULL);
    int32_t *want_greedy = ref_read("gemma3-vlm/greedy.i32", 16, 4, NULL);
    uint8_t *rgb = vlm_image_rgb(vlm_image_sizes[0][0], vlm_image_sizes[0][1]);
    vlm_image *image = NULL;
    CHECK_OK(vlm_image_from_pixels(rgb, (size_t)vlm_image_sizes[0][0] * vlm_image_sizes[0][1] * 3,
                                   vlm_image_sizes[0][0], vlm_image_sizes[0][1], 0,
                                   VLM_PIXEL_RGB8, &image));
    free(rgb);
    vlm_session *s = NULL;
    if (want_ids && want_logits && want_greedy && image) CHECK_OK(vlm_session_create(m, NULL, &s));
    if (s != NULL) {
        CHECK_OK(vlm_session_add_turn(s, VLM_ROLE_USER, "Describe this image.", &image, 1));
        ref_answer got = {0};
        CHECK_OK(ref_session_answer(s, 16, &got));
        CHECK_MSG(got.n_ids == n_prompt && memcmp(got.ids, want_ids, n_prompt * 4) == 0,
                  "prompt: %zu ids, transformers %zu", got.n_ids, n_prompt);
        float d = got.n_logits == n_vocab
                      ? ref_max_abs_diff(got.logits, want_logits + (n_prompt - 1) * n_vocab, n_vocab)
                      : INFINITY;
        CHECK_MSG(d <= LOGITS_TOLERANCE, "last prompt logits differ by %g (%zu of them)", d,
                  got.n_logits);
        CHECK_MSG(got.n_greedy == 16 && memcmp(got.greedy, want_greedy, 16 * 4) == 0,
                  "greedy tokens differ (%zu generated)", got.n_greedy);
        vlm_timings t = {.struct_size = sizeof t};
        CHECK_OK(vlm_session_timings(s, &t));
        CHECK(t.n_image_tokens == 16 && t.n_prompt_tokens == (int32_t)n_prompt);
        printf("GGUF pair: %zu prompt ids identical, last prompt logits within %g, %zu greedy "
               "tokens identical\n", got.n_ids, d, got.n_greedy);
        ref_answer_free(&got);
    }
    vlm_session_free(s);
    vlm_image_free(image);
    free(want_ids);
    free(want_logits);
    free(want_greedy);
}

// ----------------------------------------------------------------------------
// bad input

/* The mmproj file with the first `from` after `anchor` replaced (see
 * gguf_patched_copy). */
static bool patched_copy(char *buf, size_t size, const char *anchor, const void *from,
                         const void *to, size_t len, const char *tag) {
    char src[1024];
    pair_path(src, sizeof src, "mmproj.gguf");
    return gguf_patched_copy(buf, size, src, anchor, from, to, len, tag);
}


static void test_bad_input(void) {
    char text[1024], mmproj[1024], hub[1024], bad[1024];
    pair_path(text, sizeof text, "text.gguf");
    pair_path(mmproj, sizeof mmproj, "mmproj.gguf");
    ref_data_path(hub, sizeof hub, "gemma3-vlm/");

    // an mmproj without a text model: as the model, and as both files
    gguf_expect_failure(mmproj, mmproj, VLM_ERR_UNSUPPORTED, "'clip'");
    vlm_model *alone = NULL;
    CHECK_OK(vlm_model_load(mmproj, NULL, &alone)); /* inspectable, but no session */
    vlm_session *s = (vlm_session *)1;
    if (alone != NULL) CHECK(vlm_session_create(alone, NULL, &s) != VLM_OK && s == NULL);
    vlm_model_free(alone);
    // the text model as the projector
    gguf_expect_failure(text, text, VLM_ERR_UNSUPPORTED, "general.architecture");
    // mmproj_path with a hub directory
    gguf_expect_failure(hub, mmproj, VLM_ERR_INVALID_ARGUMENT, "mmproj_path");
    // a missing projector file
    pair_path(bad, sizeof bad, "no-such-mmproj.gguf");
    gguf_expect_failure(text, bad, VLM_ERR_IO, "no-such-mmproj.gguf");

    // another projector type (same length: "llama4")
    if (patched_copy(bad, sizeof bad, "clip.projector_type", "gemma3", "llama4", 6, "type")) {
        gguf_expect_failure(text, bad, VLM_ERR_UNSUPPORTED, "clip.projector_type is 'llama4'");
        remove(bad);
    }
    // another architecture
    if (patched_copy(bad, sizeof bad, "general.architecture", "clip", "clap", 4, "arch")) {
        gguf_expect_failure(text, bad, VLM_ERR_UNSUPPORTED, "general.architecture is 'clap'");
        remove(bad);
    }
    // a tensor of the wrong shape: v.blk.0.attn_q.weight's ne[0] 32 -> 16
    unsigned char from[12], to[12];
    gguf_dims_bytes(from, 2, 32);
    gguf_dims_bytes(to, 2, 16);
    if (patched_copy(bad, sizeof bad, "v.blk.0.attn_q.weight", from, to, 12, "shape")) {
        gguf_expect_failure(text, bad, VLM_ERR_SHAPE, "v.blk.0.attn_q.weight");
        remove(bad);
    }
    printf("bad input: %d checks so far\n", test_checks);
}

int main(void) {
    if (getenv("VLM_TEST_DATA") == NULL) return TEST_SKIP_CODE;
    char text[1024], mmproj[1024];
    pair_path(text, sizeof text, "text.gguf");
    pair_path(mmproj, sizeof mmproj, "mmproj.gguf");
    vlm_model *m = NULL;
    CHECK_OK(gguf_load_pair(text, mmproj, &m));
    if (m == NULL) return test_finish("gguf_gemma3_vision");
    test_bound(m);
    test_features(m);
    test_legacy_ffn_names(m);
    restore_fixture_choices(m);
    test_session(m);
    vlm_model_free(m);
    test_bad_input();
    return test_finish("gguf_gemma3_vision");
}
