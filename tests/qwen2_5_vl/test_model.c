/* Qwen2.5-VL against transformers on a tiny random model
 * (tests/data/qwen2_5_vl-model, made by tests/gen/make_qwen2_5_vl_reference.py):
 * the decoder's M-RoPE and q/k/v biases at arbitrary (t, h, w) positions,
 * get_rope_index for an image and a video, the processor's pixel rows, the
 * windowed vision encoder and merger, prefill logits, the greedy continuation
 * through embed + forward_positions with the rope delta (again with the KV
 * cache in f16: the same tokens, logits within 3e-3 of the largest reference
 * logit), and bad input. */
#include "arch/qwen2_5_vl.h"
#include "arch/qwen2_5_vl_processor.h"
#include "model/processor_config.h"
#include "threadpool.h"
#include "reference.h"

#include <cjson/cJSON.h>

#define FEATURE_TOLERANCE 1e-4f
#define LOGIT_TOLERANCE 1e-3f
/* With the KV cache in f16 (keys and values rounded to 11 significant bits),
 * relative to the largest |logit| of the reference (5.7 here: measured
 * 0.0077 at most, 1.3e-3 of it). */
#define LOGIT_REL_TOLERANCE_F16 3e-3f
#define PIXEL_TOLERANCE 1e-5f
#define N_GREEDY 16

typedef struct fixture {
    vlmi_model_config config;
    vlmi_safetensors_set *weights;
    vlmi_qwen2_5_vl model;
    cJSON *reference;
} fixture;

static char *data_path(char *buf, size_t cap, const char *rel) {
    const char *dir = getenv("VLM_TEST_DATA");
    snprintf(buf, cap, "%s/qwen2_5_vl-model/%s", dir ? dir : "tests/data", rel);
    return buf;
}

/* A whole reference file of the model's folder: exactly n 4-byte elements. */
static void *read_reference(const char *rel, size_t n) {
    char path[512];
    snprintf(path, sizeof path, "qwen2_5_vl-model/%s", rel);
    return ref_read(path, n, 4, NULL);
}

static const cJSON *item(const cJSON *obj, const char *key) {
    return cJSON_GetObjectItemCaseSensitive(obj, key);
}

/* A case of reference.json ("ref_image", "ref_video"). */
typedef struct ref_case {
    const char *name;
    bool video;
    vlmi_qwen2vl_grid grid;
    size_t n_tokens;      /* prompt length */
    size_t n_rows;        /* pixel rows */
    size_t n_features;    /* placeholder tokens */
    int64_t rope_delta;
    float second_per_grid_t;
} ref_case;

static bool load_case(ref_case *c, const fixture *f, const char *name, bool video) {
    const cJSON *j = item(f->reference, name);
    CHECK_MSG(j != NULL, "reference.json: no %s", name);
    if (j == NULL) return false;
    const cJSON *grid = item(j, "grid_thw");
    *c = (ref_case){
        .name = name,
        .video = video,
        .grid = {(uint32_t)cJSON_GetArrayItem(grid, 0)->valuedouble,
                 (uint32_t)cJSON_GetArrayItem(grid, 1)->valuedouble,
                 (uint32_t)cJSON_GetArrayItem(grid, 2)->valuedouble},
        .n_tokens = (size_t)item(j, "n_tokens")->valuedouble,
        .rope_delta = (int64_t)item(j, "rope_delta")->valuedouble,
        .second_per_grid_t = 1.0f,
    };
    const cJSON *ts = item(j, "second_per_grid_ts");
    if (cJSON_IsArray(ts)) c->second_per_grid_t = (float)cJSON_GetArrayItem(ts, 0)->valuedouble;
    c->n_rows = (size_t)c->grid.t * c->grid.h * c->grid.w;
    c->n_features = c->n_rows / 4;
    return true;
}

static char *case_file(char *buf, size_t cap, const ref_case *c, const char *suffix) {
    snprintf(buf, cap, "%s_%s", c->name, suffix);
    return buf;
}

// ----------------------------------------------------------------------------

static vlm_status fixture_open(fixture *f) {
    memset(f, 0, sizeof *f);
    char path[2048];
    size_t size = 0;
    char *json = (char *)test_read_file(data_path(path, sizeof path, "config.json"), &size);
    if (json == NULL) return VLM_ERR_IO;
    vlm_status st = vlmi_model_config_parse(json, size, "config.json", &f->config);
    free(json);
    if (st != VLM_OK) return st;
    json = (char *)test_read_file(data_path(path, sizeof path, "reference.json"), &size);
    if (json == NULL) return VLM_ERR_IO;
    f->reference = cJSON_ParseWithLength(json, size);
    free(json);
    if (f->reference == NULL) return VLM_ERR_FORMAT;
    data_path(path, sizeof path, "");
    return vlmi_safetensors_set_open(path, &f->weights);
}

static void fixture_close(fixture *f) {
    vlmi_qwen2_5_vl_free(&f->model);
    vlmi_safetensors_set_close(f->weights);
    vlmi_model_config_free(&f->config);
    cJSON_Delete(f->reference);
}

// ----------------------------------------------------------------------------

/* The language model alone at arbitrary (t, h, w) positions: M-RoPE with
 * mrope_section [2, 3, 3] and the q/k/v biases. */
static void test_decoder_positions(const fixture *f) {
    const vlmi_decoder *dec = &f->model.text;
    size_t n = 12, vocab = dec->hp.n_vocab;
    int32_t *ids = read_reference("ref_text_ids.i32", n);
    int32_t *positions = read_reference("ref_text_positions.i32", 3 * n);
    float *want = read_reference("ref_text_logits.f32", n * vocab);
    float *embeddings = malloc(n * dec->hp.dim * sizeof(float));
    float *logits = malloc(n * vocab * sizeof(float));
    float *sequential = malloc(n * vocab * sizeof(float));
    int32_t *counting = malloc(3 * n * sizeof(int32_t));
    vlmi_decoder_state *s = NULL;
    if (!ids || !positions || !want || !embeddings || !logits || !sequential || !counting)
        goto done;
    CHECK(dec->hp.qkv_bias && dec->hp.mrope_section[0] == 2 && dec->hp.mrope_section[1] == 3 &&
          dec->hp.mrope_section[2] == 3);
    CHECK_OK(vlmi_decoder_state_create(dec, 64, 5, &s)); /* 5: the prompt in 3 chunks */
    if (s == NULL) goto done;
    CHECK_OK(vlmi_decoder_embed(embeddings, dec, ids, n));
    CHECK_OK(vlmi_decoder_forward_positions(s, dec, embeddings, n, positions, logits, NULL));
    float diff = ref_max_abs_diff(logits, want, n * vocab);
    printf("decoder at (t, h, w) positions: logits (12 x %zu) max |diff| %.3g\n", vocab, diff);
    CHECK_MSG(diff <= LOGIT_TOLERANCE, "decoder positions logits max diff %g", diff);

    /* positions equal to the cache rows on every axis are the plain forward */
    for (size_t a = 0; a < 3; a++)
        for (size_t i = 0; i < n; i++) counting[a * n + i] = (int32_t)i;
    vlmi_decoder_state_reset(s);
    CHECK_OK(vlmi_decoder_forward_positions(s, dec, embeddings, n, counting, logits, NULL));
    vlmi_decoder_state_reset(s);
    CHECK_OK(vlmi_decoder_forward_pool(s, dec, embeddings, n, sequential, NULL));
    CHECK(memcmp(logits, sequential, n * vocab * sizeof(float)) == 0);

    /* negative positions are refused, nothing computed */
    vlmi_decoder_state_reset(s);
    counting[2 * n + 3] = -1;
    CHECK_STATUS(VLM_ERR_INVALID_ARGUMENT,
                 vlmi_decoder_forward_positions(s, dec, embeddings, n, counting, logits, NULL));
    CHECK(s->n_past == 0);
done:
    vlmi_decoder_state_free(s);
    free(counting);
    free(sequential);
    free(logits);
    free(embeddings);
    free(want);
    free(positions);
    free(ids);
}

static void test_rope_index(const fixture *f, const ref_case *c) {
    char name[128];
    size_t n = c->n_tokens;
    int32_t *ids = read_reference(case_file(name, sizeof name, c, "ids.i32"), n);
    int32_t *want = read_reference(case_file(name, sizeof name, c, "positions.i32"), 3 * n);
    int32_t *positions = malloc(3 * n * sizeof(int32_t));
    if (!ids || !want || !positions) goto done;
    int64_t delta = 0;
    CHECK_OK(vlmi_qwen2vl_rope_index(positions, &delta, &f->model.rope, ids, n,
                                     c->video ? NULL : &c->grid, c->video ? 0 : 1,
                                     c->video ? &c->grid : NULL, c->video ? 1 : 0,
                                     c->video ? &c->second_per_grid_t : NULL));
    CHECK_MSG(memcmp(positions, want, 3 * n * sizeof(int32_t)) == 0,
              "%s: position ids differ from get_rope_index", c->name);
    CHECK_MSG(delta == c->rope_delta, "%s: rope delta %lld, transformers %lld", c->name,
              (long long)delta, (long long)c->rope_delta);

    /* a grid that disagrees with the placeholder run, or a missing grid */
    vlmi_qwen2vl_grid wrong = c->grid;
    wrong.w += 2;
    CHECK_STATUS(VLM_ERR_INVALID_ARGUMENT,
                 vlmi_qwen2vl_rope_index(positions, &delta, &f->model.rope, ids, n,
                                         c->video ? NULL : &wrong, c->video ? 0 : 1,
                                         c->video ? &wrong : NULL, c->video ? 1 : 0, NULL));
    CHECK_STATUS(VLM_ERR_INVALID_ARGUMENT,
                 vlmi_qwen2vl_rope_index(positions, &delta, &f->model.rope, ids, n, NULL, 0,
                                         NULL, 0, NULL));
done:
    free(positions);
    free(want);
    free(ids);
}

/* The C processor on the generator's image gives transformers' pixel rows. */
static void test_pixel_rows(void) {
    char path[2048];
    size_t size = 0;
    char *text = (char *)test_read_file(data_path(path, sizeof path, "preprocessor_config.json"),
                                        &size);
    CHECK_MSG(text != NULL, "cannot read %s", path);
    if (text == NULL) return;
    vlmi_processor_config config;
    CHECK_OK(vlmi_processor_config_parse(text, size, "preprocessor_config.json", &config));
    free(text);
    uint32_t width = 150, height = 100;
    uint8_t *rgb = malloc((size_t)width * height * 3);
    vlmi_qwen2vl_plan plan;
    CHECK_OK(vlmi_qwen2vl_plan_frames(&plan, &config, width, height, 1, 0, 0));
    float *want = read_reference("ref_image_pixels.f32", plan.n_values);
    float *rows = malloc(plan.n_values * sizeof(float));
    if (rgb && want && rows) {
        /* the generator's pattern */
        for (uint64_t y = 0; y < height; y++)
            for (uint64_t x = 0; x < width; x++)
                for (uint64_t ch = 0; ch < 3; ch++)
                    rgb[(y * width + x) * 3 + ch] =
                        (uint8_t)((x * x + 3 * y * y + 7 * x * y + 50 * ch + (x ^ y)) % 256);
        const uint8_t *frames[1] = {rgb};
        CHECK_OK(vlmi_qwen2vl_pixel_values(rows, &plan, &config, frames));
        float diff = ref_max_abs_diff(rows, want, plan.n_values);
        printf("processor pixel rows (%zu x %zu) max |diff| %.3g\n", plan.n_patches,
               plan.patch_dim, diff);
        CHECK_MSG(diff <= PIXEL_TOLERANCE, "pixel rows max diff %g", diff);
    }
    free(rows);
    free(want);
    free(rgb);
}

/* Vision features, prefill logits and the greedy continuation of one case,
 * the work split over pool's threads (NULL: this thread). */
static void test_case(const fixture *f, const ref_case *c, vlmi_threadpool *pool,
                      vlm_dtype kv_dtype) {
    const char *kv = kv_dtype == VLM_DTYPE_F16 ? "f16" : "f32";
    const vlmi_qwen2_5_vl *m = &f->model;
    const vlmi_decoder *dec = &m->text;
    char name[128];
    size_t n = c->n_tokens, dim = dec->hp.dim, vocab = dec->hp.n_vocab;
    size_t patch_dim = 3 * 2 * 14 * 14;
    float *pixels = read_reference(case_file(name, sizeof name, c, "pixels.f32"),
                                   c->n_rows * patch_dim);
    float *want_features = read_reference(case_file(name, sizeof name, c, "features.f32"),
                                          c->n_features * dim);
    float *want_logits = read_reference(case_file(name, sizeof name, c, "logits.f32"), n * vocab);
    int32_t *want_greedy = read_reference(case_file(name, sizeof name, c, "greedy.i32"),
                                          N_GREEDY);
    int32_t *ids = read_reference(case_file(name, sizeof name, c, "ids.i32"), n);
    float *features = malloc(c->n_features * dim * sizeof(float));
    float *embeddings = malloc(n * dim * sizeof(float));
    float *logits = malloc(n * vocab * sizeof(float));
    int32_t *positions = malloc(3 * n * sizeof(int32_t));
    vlmi_qwen2_5_vl_image_state *is = NULL;
    vlmi_decoder_state *s = NULL;
    if (!pixels || !want_features || !want_logits || !want_greedy || !ids || !features ||
        !embeddings || !logits || !positions)
        goto done;

    // vision encoder + merger
    CHECK_OK(vlmi_qwen2_5_vl_image_state_create(m, c->n_rows, &is));
    if (is == NULL) goto done;
    CHECK_OK(vlmi_qwen2_5_vl_encode_image_pool(features, is, m, pixels, c->n_rows, c->grid.t,
                                               c->grid.h, c->grid.w, pool));
    float diff = ref_max_abs_diff(features, want_features, c->n_features * dim);
    printf("%s (threads: %zu): vision features (%zu x %zu) max |diff| %.3g\n", c->name,
           pool ? vlmi_threadpool_n_threads(pool) : 1, c->n_features, dim, diff);
    CHECK_MSG(diff <= FEATURE_TOLERANCE, "%s: features max diff %g", c->name, diff);

    // prefill at the rope index positions, the prompt in chunks of 16 rows
    int64_t delta = 0;
    CHECK_OK(vlmi_qwen2vl_rope_index(positions, &delta, &m->rope, ids, n,
                                     c->video ? NULL : &c->grid, c->video ? 0 : 1,
                                     c->video ? &c->grid : NULL, c->video ? 1 : 0,
                                     c->video ? &c->second_per_grid_t : NULL));
    CHECK_OK(vlmi_qwen2_5_vl_embed(embeddings, m, ids, n, features, c->n_features));
    float logit_tolerance = LOGIT_TOLERANCE;
    if (kv_dtype == VLM_DTYPE_F16) {
        float largest = 0.0f;
        for (size_t i = 0; i < n * vocab; i++)
            if (fabsf(want_logits[i]) > largest) largest = fabsf(want_logits[i]);
        logit_tolerance = LOGIT_REL_TOLERANCE_F16 * largest;
    }
    CHECK_OK(vlmi_decoder_state_create_kv(dec, n + N_GREEDY, 16, kv_dtype, &s));
    if (s == NULL) goto done;
    CHECK_OK(vlmi_decoder_forward_positions(s, dec, embeddings, n, positions, logits, pool));
    diff = ref_max_abs_diff(logits, want_logits, n * vocab);
    printf("%s, %s KV: prefill logits (%zu x %zu) max |diff| %.3g\n", c->name, kv, n, vocab,
           diff);
    CHECK_MSG(diff <= logit_tolerance, "%s, %s KV: prefill logits max diff %g", c->name, kv,
              diff);

    // greedy: each new token at its cache row + the rope delta on every axis
    int32_t tokens[N_GREEDY];
    for (size_t i = 0; i < N_GREEDY; i++) {
        tokens[i] = ref_argmax(s->logits, vocab);
        if (i + 1 == N_GREEDY) break;
        int32_t at = (int32_t)((int64_t)s->n_past + delta);
        int32_t step_positions[3] = {at, at, at};
        vlm_status st = vlmi_decoder_embed(embeddings, dec, &tokens[i], 1);
        if (st == VLM_OK)
            st = vlmi_decoder_forward_positions(s, dec, embeddings, 1, step_positions, NULL,
                                                    pool);
        CHECK_OK(st);
        if (st != VLM_OK) break;
    }
    CHECK_MSG(memcmp(tokens, want_greedy, sizeof tokens) == 0, "%s, %s KV: greedy tokens differ",
              c->name, kv);
    printf("%s: greedy tokens:", c->name);
    for (size_t i = 0; i < N_GREEDY; i++) printf(" %d", tokens[i]);
    printf("\n");

    // bad input: a grid that disagrees with the rows, rows that do not fit the state
    CHECK_STATUS(VLM_ERR_INVALID_ARGUMENT,
                 vlmi_qwen2_5_vl_encode_image_pool(features, is, m, pixels, c->n_rows - 4,
                                                   c->grid.t, c->grid.h, c->grid.w, NULL));
    CHECK_STATUS(VLM_ERR_INVALID_ARGUMENT,
                 vlmi_qwen2_5_vl_encode_image_pool(features, is, m, pixels, c->n_rows,
                                                   c->grid.t * c->grid.h, 1, c->grid.w, NULL));
    CHECK_STATUS(VLM_ERR_LIMIT,
                 vlmi_qwen2_5_vl_encode_image_pool(features, is, m, pixels, 2 * c->n_rows,
                                                   2 * c->grid.t, c->grid.h, c->grid.w, NULL));
    CHECK_STATUS(VLM_ERR_INVALID_ARGUMENT,
                 vlmi_qwen2_5_vl_embed(embeddings, m, ids, n, features, c->n_features - 1));
done:
    vlmi_decoder_state_free(s);
    vlmi_qwen2_5_vl_image_state_free(is);
    free(positions);
    free(logits);
    free(embeddings);
    free(features);
    free(ids);
    free(want_greedy);
    free(want_logits);
    free(want_features);
    free(pixels);
}

// ----------------------------------------------------------------------------
// binding errors: shapes and names against the config

static void test_bind_errors(fixture *f) {
    vlmi_qwen2_5_vl model;
    /* a wider vision MLP than the checkpoint's: the first tensor that disagrees */
    vlmi_model_config wide = f->config;
    wide.vision.intermediate_size *= 2;
    CHECK_STATUS(VLM_ERR_SHAPE, vlmi_qwen2_5_vl_bind(&model, &wide, f->weights));
    CHECK_MSG(strstr(vlm_last_error(), "visual.blocks.0.mlp.gate_proj.weight") != NULL,
              "message: %s", vlm_last_error());
    /* a text layer the checkpoint does not have */
    vlmi_model_config deep = f->config;
    deep.text.num_hidden_layers += 1;
    CHECK_STATUS(VLM_ERR_FORMAT, vlmi_qwen2_5_vl_bind(&model, &deep, f->weights));
    CHECK_MSG(strstr(vlm_last_error(), "model.layers.3.input_layernorm.weight") != NULL,
              "message: %s", vlm_last_error());
    /* the merger's output must be the text width */
    vlmi_model_config out = f->config;
    out.vision.out_hidden_size = 2 * out.text.hidden_size;
    CHECK_STATUS(VLM_ERR_FORMAT, vlmi_qwen2_5_vl_bind(&model, &out, f->weights));
    /* untied: lm_head.weight is not in this checkpoint */
    vlmi_model_config untied = f->config;
    untied.text.tie_word_embeddings = false;
    CHECK_STATUS(VLM_ERR_FORMAT, vlmi_qwen2_5_vl_bind(&model, &untied, f->weights));
    CHECK_MSG(strstr(vlm_last_error(), "lm_head.weight") != NULL, "message: %s",
              vlm_last_error());
}

/* The real 3B config (when the shared assets are present) passes every
 * hyperparameter check, M-RoPE [16, 24, 24] over head_dim 128 included, and
 * stops at the first tensor, whose shape is the tiny model's. */
static void test_real_config(const fixture *f) {
    const char *assets = getenv("VLM_SHARED_ASSETS");
    char path[2048];
    snprintf(path, sizeof path, "%s/Qwen__Qwen2.5-VL-3B-Instruct/config.json",
             assets ? assets : "");
    size_t size = 0;
    char *json = assets ? (char *)test_read_file(path, &size) : NULL;
    if (json == NULL) {
        printf("real 3B config: skipped (no shared assets)\n");
        return;
    }
    vlmi_model_config config;
    CHECK_OK(vlmi_model_config_parse(json, size, "config.json", &config));
    free(json);
    vlmi_qwen2_5_vl model;
    CHECK_STATUS(VLM_ERR_SHAPE, vlmi_qwen2_5_vl_bind(&model, &config, f->weights));
    CHECK_MSG(strstr(vlm_last_error(), "model.embed_tokens.weight") != NULL &&
              strstr(vlm_last_error(), "[151936, 2048]") != NULL, "message: %s",
              vlm_last_error());
    vlmi_model_config_free(&config);
}

int main(void) {
    fixture f;
    vlm_status st = fixture_open(&f);
    CHECK_OK(st);
    if (st == VLM_OK) st = vlmi_qwen2_5_vl_bind(&f.model, &f.config, f.weights);
    CHECK_OK(st);
    /* transformers 5 writes the vision rotary base; the window is 56 px = 2 groups */
    CHECK(f.config.vision.rope_theta == 10000.0 && f.model.vision.hp.window_groups == 2);
    if (st == VLM_OK) {
        test_decoder_positions(&f);
        test_pixel_rows();
        ref_case image, video;
        vlmi_threadpool *pool = NULL;
        CHECK_OK(vlmi_threadpool_create(2, &pool));
        if (load_case(&image, &f, "ref_image", false)) {
            test_rope_index(&f, &image);
            test_case(&f, &image, NULL, VLM_DTYPE_F32);
            test_case(&f, &image, pool, VLM_DTYPE_F32);
            test_case(&f, &image, pool, VLM_DTYPE_F16);
        }
        if (load_case(&video, &f, "ref_video", true)) {
            test_rope_index(&f, &video);
            test_case(&f, &video, pool, VLM_DTYPE_F32);
            test_case(&f, &video, NULL, VLM_DTYPE_F16);
        }
        vlmi_threadpool_free(pool);
        test_bind_errors(&f);
        test_real_config(&f);
    }
    fixture_close(&f);
    return test_finish("qwen2_5_vl_model");
}
