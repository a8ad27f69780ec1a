/* Qwen2.5-VL from llama.cpp's GGUF pair (tests/data/qwen2_5_vl-gguf-pair,
 * written from the hub directory tests/data/qwen2_5_vl-model by llama.cpp's
 * own convert_hf_to_gguf.py, see tests/gen/make_qwen2_5_vl_gguf_pair.py),
 * loaded through vlm_model_load with mmproj_path, against the same model
 * loaded from its hub directory:
 *
 *   - the bound model: decoder and tower hyperparameters, M-RoPE sections,
 *     placeholder ids, stop ids and processor settings as the hub gives them
 *     (min/max pixels are clip.cpp's, which the file does not carry);
 *   - the tokenizer (tokenizer.ggml.*, pre "qwen2"): ids identical to the hub
 *     tokenizer's with Qwen2's pre-tokenizer (the generator's tokenizer.json)
 *     on special tokens, digits, CJK, emoji, whitespace runs, contractions;
 *     the chat template identical to the hub's;
 *   - the tower and merger on transformers' pixel rows of the image and of
 *     the video (two different frames per temporal patch: the order of the
 *     two per-frame patch kernels shows) against transformers' features;
 *   - a session on the 150x100 pattern image, f32 and f16 files: prompt ids
 *     identical to the hub load, last prompt logits within tolerance of the
 *     hub load (and of transformers), 16 greedy tokens identical;
 *   - lying files: a missing tensor, a wrong shape, bad rope sections, a bad
 *     window pattern, a missing patch kernel half, another projector type,
 *     a projector without its text model: named errors, no model. */
#include "arch/qwen2_5_vl.h"
#include "gguf/gguf_pair.h"
#include "model.h"
#include "reference.h"
#include "vlm.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <string.h>
#include <unistd.h>

#define VOCAB 400
#define N_GREEDY 16
/* f32 files hold the hub's weights bit for bit: measured 0 on the last
 * prompt logits. f16 files (the converter writes the matrices and the
 * embedding f16, norms and biases f32): measured 9.4e-3. */
#define F32_TOLERANCE 1e-5f
#define F16_TOLERANCE 2e-2f
/* vision features against transformers: measured 2.1e-5 (f32), 8.9e-3 (f16) */
#define F32_FEATURES_TOLERANCE 1e-4f
#define F16_FEATURES_TOLERANCE 2e-2f

static void pair_path(char *buf, size_t size, const char *name) {
    gguf_pair_path(buf, size, "qwen2_5_vl-gguf-pair", name);
}

/* mmproj NULL: the text file alone. */
static vlm_status load_pair_named(const char *text, const char *mmproj, vlm_model **out) {
    char t[1024], p[1024];
    pair_path(t, sizeof t, text);
    if (mmproj != NULL) pair_path(p, sizeof p, mmproj);
    return gguf_load_pair(t, mmproj != NULL ? p : NULL, out);
}

// ----------------------------------------------------------------------------
// the bound model against the hub load

static void test_bound(const vlm_model *hub, const vlm_model *m) {
    CHECK(m->family == VLMI_FAMILY_QWEN2_5_VL && strcmp(vlm_model_architecture(m), "qwen2vl") == 0);
    const vlmi_qwen2_5_vl *a = &hub->qwen2_5_vl, *b = &m->qwen2_5_vl;
    const vlmi_decoder_hparams *ta = &a->text.hp, *tb = &b->text.hp;
    CHECK(ta->n_vocab == tb->n_vocab && ta->dim == tb->dim && ta->ffn_dim == tb->ffn_dim &&
          ta->n_layers == tb->n_layers && ta->n_heads == tb->n_heads &&
          ta->n_kv_heads == tb->n_kv_heads && ta->head_dim == tb->head_dim && tb->qkv_bias);
    CHECK_MSG(ta->norm_eps == tb->norm_eps && ta->rope_theta == tb->rope_theta,
              "eps %g / %g, theta %g / %g", ta->norm_eps, tb->norm_eps, ta->rope_theta,
              tb->rope_theta);
    for (int i = 0; i < VLMI_DECODER_MROPE_AXES; i++)
        CHECK(ta->mrope_section[i] == tb->mrope_section[i]);
    CHECK(b->text.lm_head.data == b->text.token_embedding.data); /* tied, as the hub's */
    const vlmi_vit_hparams *va = &a->vision.hp, *vb = &b->vision.hp;
    CHECK(va->dim == vb->dim && va->ffn_dim == vb->ffn_dim && va->n_layers == vb->n_layers &&
          va->n_heads == vb->n_heads && va->n_channels == vb->n_channels &&
          va->patch_size == vb->patch_size && va->norm_eps == vb->norm_eps &&
          va->activation == vb->activation && va->norm == vb->norm &&
          va->gated_mlp == vb->gated_mlp && va->rope_theta == vb->rope_theta &&
          va->temporal_patch_size == vb->temporal_patch_size &&
          va->merge_size == vb->merge_size && va->window_groups == vb->window_groups);
    for (size_t l = 0; l < va->n_layers && l < vb->n_layers; l++)
        CHECK_MSG(a->vision.layers[l].full_attention == b->vision.layers[l].full_attention,
                  "block %zu full attention differs", l);
    CHECK(memcmp(&a->rope, &b->rope, sizeof a->rope) == 0);
    const vlmi_model_config *ca = &hub->config.model, *cb = &m->config.model;
    CHECK(ca->vision_start_token_id == cb->vision_start_token_id &&
          ca->vision_end_token_id == cb->vision_end_token_id);
    CHECK(strcmp(ca->architecture, cb->architecture) == 0);
    // the stop ids: generation_config's eos list, as a set
    const vlmi_generation_config *gen = &hub->config.generation;
    CHECK(hub->config.has_generation && gen->n_eos_token_ids == cb->text.n_eos_token_ids);
    for (int32_t i = 0; i < gen->n_eos_token_ids; i++) {
        bool found = false;
        for (int32_t j = 0; j < cb->text.n_eos_token_ids; j++)
            found |= gen->eos_token_ids[i] == cb->text.eos_token_ids[j];
        CHECK_MSG(found, "stop id %lld missing", (long long)gen->eos_token_ids[i]);
    }
    // the processor: the hub's, but llama.cpp's image budget (8 .. 4096 tokens)
    const vlmi_processor_config *pa = &hub->config.processor, *pb = &m->config.processor;
    CHECK(m->config.has_processor);
    CHECK(strcmp(pa->image_processor_type, pb->image_processor_type) == 0 &&
          strcmp(pa->processor_class, pb->processor_class) == 0);
    CHECK(pa->do_resize == pb->do_resize && pa->do_rescale == pb->do_rescale &&
          pa->do_normalize == pb->do_normalize && pa->do_convert_rgb == pb->do_convert_rgb &&
          pa->resample == pb->resample && pa->rescale_factor == pb->rescale_factor);
    CHECK(pa->patch_size == pb->patch_size && pa->temporal_patch_size == pb->temporal_patch_size &&
          pa->merge_size == pb->merge_size && pa->n_channels == pb->n_channels);
    for (int c = 0; c < 3; c++) /* stored as f32 by the converter */
        CHECK(fabs(pa->image_mean[c] - pb->image_mean[c]) < 1e-7 &&
              fabs(pa->image_std[c] - pb->image_std[c]) < 1e-7);
    CHECK(pb->min_pixels == 8 * 28 * 28 && pb->max_pixels == 4096 * 28 * 28);
    // the chat template, verbatim
    CHECK(hub->config.tokenizer.chat_template && m->config.tokenizer.chat_template &&
          strcmp(hub->config.tokenizer.chat_template, m->config.tokenizer.chat_template) == 0);
}

// ----------------------------------------------------------------------------
// the vision side on transformers' pixel rows

/* Features of transformers' pixel rows (rows, 3 * 2 * 14 * 14) through the
 * GGUF model's tower and merger, against transformers' features. The video's
 * temporal patches hold two different frames, so the order in which the two
 * per-frame kernels are put back together shows; an image's hold one frame
 * twice. */
static void test_features(const char *label, const vlm_model *m, const char *pixels_file,
                          const char *features_file, size_t grid_t, size_t grid_h,
                          size_t grid_w, float tolerance) {
    size_t rows = grid_t * grid_h * grid_w, n_features = rows / 4 * 64, size = 0;
    char path[1100];
    snprintf(path, sizeof path, "%s/qwen2_5_vl-model/%s", getenv("VLM_TEST_DATA"), pixels_file);
    float *pixels = (float *)test_read_file(path, &size);
    CHECK_MSG(pixels != NULL && size == rows * 1176 * sizeof(float), "%s: %zu bytes", path, size);
    snprintf(path, sizeof path, "%s/qwen2_5_vl-model/%s", getenv("VLM_TEST_DATA"), features_file);
    float *want = (float *)test_read_file(path, &size);
    CHECK_MSG(want != NULL && size == n_features * sizeof(float), "%s: %zu bytes", path, size);
    float *got = calloc(n_features, sizeof(float));
    vlmi_qwen2_5_vl_image_state *s = NULL;
    CHECK_OK(vlmi_qwen2_5_vl_image_state_create(&m->qwen2_5_vl, rows, &s));
    if (pixels && want && got && s) {
        CHECK_OK(vlmi_qwen2_5_vl_encode_image_pool(got, s, &m->qwen2_5_vl, pixels, rows, grid_t,
                                                   grid_h, grid_w, NULL));
        float d = 0.0f;
        for (size_t i = 0; i < n_features; i++) d = fmaxf(d, fabsf(got[i] - want[i]));
        CHECK_MSG(d <= tolerance, "%s: features differ from transformers by %g", label, d);
        printf("%s: features within %g of transformers\n", label, d);
    }
    vlmi_qwen2_5_vl_image_state_free(s);
    free(pixels);
    free(want);
    free(got);
}

// ----------------------------------------------------------------------------
// patched copies of the pair

/* A copy of the pair file name with the first `from` after `anchor`
 * replaced by `to` (see gguf_patched_copy). */
static bool patched_copy(char *buf, size_t size, const char *name, const char *anchor,
                         const void *from, const void *to, size_t len, const char *tag) {
    char src[1024];
    pair_path(src, sizeof src, name);
    return gguf_patched_copy(buf, size, src, anchor, from, to, len, tag);
}

// ----------------------------------------------------------------------------
// the tokenizer

/* The cases of the generator's tokenizer.json that tok encodes differently;
 * every case when a file or tokenization fails. */
static int count_mismatches(const vlm_tokenizer *tok, const cJSON *cases, bool report) {
    int n_bad = 0;
    const cJSON *c;
    cJSON_ArrayForEach(c, cases) {
        const char *s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(c, "text"));
        const cJSON *want = cJSON_GetObjectItemCaseSensitive(c, "ids");
        int32_t ids[256];
        size_t n = 0;
        bool same = s != NULL && tok != NULL &&
                    vlm_tokenize(tok, s, strlen(s), VLM_TOKENIZE_ADD_SPECIAL |
                                 VLM_TOKENIZE_PARSE_SPECIAL, ids, 256, &n) == VLM_OK &&
                    n == (size_t)cJSON_GetArraySize(want);
        for (size_t i = 0; same && i < n; i++)
            same = ids[i] == (int32_t)cJSON_GetArrayItem(want, (int)i)->valueint;
        if (!same && report)
            fprintf(stderr, "tokenizer: \"%s\": %zu ids differ from the hub tokenizer's %d\n",
                    s ? s : "?", n, cJSON_GetArraySize(want));
        n_bad += !same;
    }
    return n_bad;
}

static void test_tokenizer(const vlm_model *m) {
    char path[1024];
    pair_path(path, sizeof path, "tokenizer.json");
    size_t size = 0;
    char *text = (char *)test_read_file(path, &size);
    cJSON *root = text ? cJSON_ParseWithLength(text, size) : NULL;
    free(text);
    const cJSON *cases = cJSON_GetObjectItemCaseSensitive(root, "cases");
    CHECK_MSG(cJSON_GetArraySize(cases) >= 10, "%s: no cases", path);
    const vlm_tokenizer *tok = vlm_model_tokenizer(m);
    CHECK(tok != NULL && vlm_tokenizer_n_vocab(tok) == VOCAB);
    int n_bad = count_mismatches(tok, cases, true);
    CHECK_MSG(n_bad == 0, "tokenizer: %d of %d strings differ", n_bad, cJSON_GetArraySize(cases));
    static const char *const specials[] = {"<|endoftext|>", "<|im_start|>", "<|im_end|>",
                                           "<|vision_start|>", "<|vision_end|>",
                                           "<|vision_pad|>", "<|image_pad|>", "<|video_pad|>"};
    for (size_t i = 0; tok && i < sizeof specials / sizeof specials[0]; i++)
        CHECK(vlm_token_lookup(tok, specials[i]) == (int32_t)(380 + i));
    /* the cases see the split: the same file with llama.cpp's GPT-2
     * pre-tokenizer name ("gpt-2", the plain ByteLevel split) must differ */
    char bad[1024];
    vlm_model *gpt2 = NULL;
    int n_gpt2_bad = 0;
    if (patched_copy(bad, sizeof bad, "text.gguf", "tokenizer.ggml.pre", "qwen2", "gpt-2", 5,
                     "pre")) {
        CHECK_OK(vlm_model_load(bad, NULL, &gpt2));
        n_gpt2_bad = count_mismatches(vlm_model_tokenizer(gpt2), cases, false);
        CHECK_MSG(n_gpt2_bad >= 3, "tokenizer: the GPT-2 split changes only %d strings' ids",
                  n_gpt2_bad);
        vlm_model_free(gpt2);
        remove(bad);
    }
    printf("tokenizer: %d strings tokenized as the hub tokenizer does (%d of them differently "
           "with GPT-2's split)\n", cJSON_GetArraySize(cases), n_gpt2_bad);
    cJSON_Delete(root);
}

// ----------------------------------------------------------------------------
// a session

/* One user turn (the image, if any) through a new session: greedy tokens,
 * prompt ids, last prompt logits. */
static void session_run(vlm_model *m, vlm_image *image, ref_answer *out) {
    ref_session_ask(m, NULL, "Describe this image.", &image, image != NULL ? 1 : 0, N_GREEDY, out);
    CHECK(out->n_logits == VOCAB);
}

static void test_session(const char *label, vlm_model *m, const ref_answer *hub,
                         vlm_image *image, const float *transformers_last, float tolerance) {
    ref_answer got = {0};
    session_run(m, image, &got);
    CHECK_MSG(got.n_ids == hub->n_ids && memcmp(got.ids, hub->ids, hub->n_ids * 4) == 0,
              "%s: prompt of %zu ids, the hub load %zu", label, got.n_ids, hub->n_ids);
    if (got.n_logits != VOCAB || hub->n_logits != VOCAB) { ref_answer_free(&got); return; }
    float d = ref_max_abs_diff(got.logits, hub->logits, VOCAB);
    float dt = transformers_last ? ref_max_abs_diff(got.logits, transformers_last, VOCAB) : 0.0f;
    CHECK_MSG(d <= tolerance, "%s: last prompt logits differ from the hub load by %g", label, d);
    CHECK_MSG(dt <= tolerance + 1e-4f, "%s: last prompt logits differ from transformers by %g",
              label, dt);
    CHECK_MSG(got.n_greedy == N_GREEDY && memcmp(got.greedy, hub->greedy, N_GREEDY * 4) == 0,
              "%s: greedy tokens differ from the hub load", label);
    printf("%s: %zu prompt ids identical, last prompt logits within %g of the hub load (%g of "
           "transformers), %zu greedy tokens identical\n", label, got.n_ids, d, dt, got.n_greedy);
    ref_answer_free(&got);
}

/* The text GGUF without its mmproj: text-only sessions as the hub model's,
 * and images refused with a message that names the missing file. */
static void test_text_only(vlm_model *hub, vlm_image *image) {
    vlm_model *m = NULL;
    CHECK_OK(load_pair_named("text.gguf", NULL, &m));
    if (m == NULL) return;
    ref_answer want = {0};
    session_run(hub, NULL, &want);
    test_session("f32 text GGUF, no image", m, &want, NULL, NULL, F32_TOLERANCE);
    ref_answer_free(&want);
    vlm_session *s = NULL;
    CHECK_OK(vlm_session_create(m, NULL, &s));
    if (s != NULL) {
        CHECK_STATUS(VLM_ERR_UNSUPPORTED, vlm_session_add_turn(s, VLM_ROLE_USER, "What?", &image, 1));
        CHECK_MSG(strstr(vlm_last_error(), "mmproj") != NULL, "message: %s", vlm_last_error());
    }
    vlm_session_free(s);
    vlm_model_free(m);
}

// ----------------------------------------------------------------------------
// lying files

/* Patches file name (text.gguf or mmproj.gguf) and expects the pair to fail. */
static void expect_patched_failure(const char *name, const char *anchor, const void *from,
                                   const void *to, size_t len, const char *tag, vlm_status want,
                                   const char *needle) {
    char text[1024], mmproj[1024], bad[1024];
    pair_path(text, sizeof text, "text.gguf");
    pair_path(mmproj, sizeof mmproj, "mmproj.gguf");
    if (!patched_copy(bad, sizeof bad, name, anchor, from, to, len, tag)) return;
    bool is_text = strcmp(name, "text.gguf") == 0;
    gguf_expect_failure(is_text ? bad : text, is_text ? mmproj : bad, want, needle);
    remove(bad);
}

static void test_lying_files(void) {
    char text[1024], mmproj[1024], gemma_text[1024];
    pair_path(text, sizeof text, "text.gguf");
    pair_path(mmproj, sizeof mmproj, "mmproj.gguf");
    snprintf(gemma_text, sizeof gemma_text, "%s/gemma3-gguf-pair/text.gguf",
             getenv("VLM_TEST_DATA"));

    // a missing tensor: blk.1.attn_k.bias renamed
    expect_patched_failure("text.gguf", "blk.1.attn_k.bias", "blk.1.attn_k.bias",
                           "blk.1.attn_k.bIas", 17, "missing", VLM_ERR_FORMAT, "blk.1.attn_k.bias");
    // the second patch kernel missing
    expect_patched_failure("mmproj.gguf", "v.patch_embd.weight.1", "v.patch_embd.weight.1",
                           "v.patch_embd.weight.2", 21, "kernel", VLM_ERR_FORMAT,
                           "v.patch_embd.weight.1");
    // a wrong shape: v.blk.0.attn_q.weight's ne[0] 32 -> 16
    unsigned char from[12], to[12];
    gguf_dims_bytes(from, 2, 32);
    gguf_dims_bytes(to, 2, 16);
    expect_patched_failure("mmproj.gguf", "v.blk.0.attn_q.weight", from, to, 12, "shape",
                           VLM_ERR_SHAPE, "v.blk.0.attn_q.weight");
    // rope sections that do not cover the head ([2, 3, 3, 0] -> [2, 3, 4, 0]),
    // and a 4th section llama.cpp never writes for Qwen2-VL ([2, 3, 2, 1])
    const int32_t sections[4] = {2, 3, 3, 0}, uneven[4] = {2, 3, 4, 0}, fourth[4] = {2, 3, 2, 1};
    expect_patched_failure("text.gguf", "qwen2vl.rope.dimension_sections", sections, uneven, 16,
                           "rope", VLM_ERR_FORMAT, "qwen2vl.rope.dimension_sections");
    expect_patched_failure("text.gguf", "qwen2vl.rope.dimension_sections", sections, fourth, 16,
                           "rope4", VLM_ERR_FORMAT, "qwen2vl.rope.dimension_sections");
    // a required key missing (renamed)
    expect_patched_failure("text.gguf", "qwen2vl.block_count", "qwen2vl.block_count",
                           "qwen2vl.block_cXunt", 19, "key", VLM_ERR_FORMAT, "qwen2vl.block_count");
    // a window pattern longer than the tower (3 -> 9 of 4 blocks)
    const uint32_t pattern[2] = {4 /* UINT32 */, 3}, long_pattern[2] = {4, 9};
    expect_patched_failure("mmproj.gguf", "clip.vision.n_wa_pattern", pattern, long_pattern, 8,
                           "pattern", VLM_ERR_FORMAT, "clip.vision.n_wa_pattern");
    // another projector (same length)
    expect_patched_failure("mmproj.gguf", "clip.projector_type", "qwen2.5vl_merger",
                           "qwen3.5vl_merger", 16, "type", VLM_ERR_UNSUPPORTED,
                           "clip.projector_type is 'qwen3.5vl_merger'");
    // a vision tower that is not SiLU
    const unsigned char silu_on[5] = {7 /* BOOL */, 0, 0, 0, 1}, silu_off[5] = {7, 0, 0, 0, 0};
    expect_patched_failure("mmproj.gguf", "clip.use_silu", silu_on, silu_off, 5, "silu",
                           VLM_ERR_UNSUPPORTED, "clip.use_silu");
    // the projector with another family's text model, and the other way round
    gguf_expect_failure(gemma_text, mmproj, VLM_ERR_UNSUPPORTED, "clip.projector_type");
    char gemma_mmproj[1024];
    snprintf(gemma_mmproj, sizeof gemma_mmproj, "%s/gemma3-gguf-pair/mmproj.gguf",
             getenv("VLM_TEST_DATA"));
    gguf_expect_failure(text, gemma_mmproj, VLM_ERR_UNSUPPORTED, "clip.projector_type is 'gemma3'");
    // the text model as the projector
    gguf_expect_failure(text, text, VLM_ERR_UNSUPPORTED, "general.architecture");

    // the text model alone loads (tokenizer, decoder) without an image side
    // (its text-only sessions: test_text_only)
    vlm_model *alone = NULL;
    CHECK_OK(vlm_model_load(text, NULL, &alone));
    CHECK(alone != NULL && alone->family == VLMI_FAMILY_QWEN2_5_VL &&
          !alone->config.has_processor);
    vlm_model_free(alone);
    printf("lying files: %d checks so far\n", test_checks);
}

int main(void) {
    if (getenv("VLM_TEST_DATA") == NULL) return TEST_SKIP_CODE;
    char hub_dir[1024], ref[1100];
    snprintf(hub_dir, sizeof hub_dir, "%s/qwen2_5_vl-model", getenv("VLM_TEST_DATA"));
    vlm_model *hub = NULL, *m = NULL, *m16 = NULL;
    CHECK_OK(vlm_model_load(hub_dir, NULL, &hub));
    CHECK_OK(load_pair_named("text.gguf", "mmproj.gguf", &m));
    CHECK_OK(load_pair_named("text-f16.gguf", "mmproj-f16.gguf", &m16));
    vlm_image *image = ref_pattern_image(150, 100, 0);
    // transformers' last prompt logits (48 prompt rows)
    snprintf(ref, sizeof ref, "%s/ref_image_logits.f32", hub_dir);
    size_t size = 0;
    float *ref_logits = (float *)test_read_file(ref, &size);
    CHECK(ref_logits != NULL && size == 48 * VOCAB * sizeof(float));
    if (hub && m && m16 && image && ref_logits) {
        test_bound(hub, m);
        test_bound(hub, m16);
        test_tokenizer(m);
        test_features("f32 image", m, "ref_image_pixels.f32", "ref_image_features.f32", 1, 8, 10,
                      F32_FEATURES_TOLERANCE);
        test_features("f32 video", m, "ref_video_pixels.f32", "ref_video_features.f32", 2, 4, 6,
                      F32_FEATURES_TOLERANCE);
        test_features("f16 video", m16, "ref_video_pixels.f32", "ref_video_features.f32", 2, 4,
                      6, F16_FEATURES_TOLERANCE);
        ref_answer want = {0};
        session_run(hub, image, &want);
        test_session("f32 GGUF pair", m, &want, image, ref_logits + 47 * VOCAB, F32_TOLERANCE);
        test_session("f16 GGUF pair", m16, &want, image, ref_logits + 47 * VOCAB, F16_TOLERANCE);
        ref_answer_free(&want);
        test_text_only(hub, image);
    }
    free(ref_logits);
    vlm_image_free(image);
    vlm_model_free(m16);
    vlm_model_free(m);
    vlm_model_free(hub);
    test_lying_files();
    return test_finish("gguf_qwen2_5_vl");
}
