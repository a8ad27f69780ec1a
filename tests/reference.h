/* Reading what the generators in tests/gen wrote under $VLM_TEST_DATA and
 * comparing with it: shared by the reference tests of every family. */
#ifndef VLM_TESTS_REFERENCE_H
#define VLM_TESTS_REFERENCE_H

#include "model/config.h"
#include "io/safetensors.h"
#include "test.h"
#include "vlm.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

/* "$VLM_TEST_DATA/rel" in buf; false if the variable is unset. */
static inline bool ref_data_path(char *buf, size_t size, const char *rel) {
    const char *dir = getenv("VLM_TEST_DATA");
    if (dir == NULL) return false;
    snprintf(buf, size, "%s/%s", dir, rel);
    return true;
}

/* A whole reference file, checked to hold exactly n elements of elem_size;
 * n == 0 accepts any whole number of them (returned in *n_out if not NULL). */
static inline void *ref_read(const char *rel, size_t n, size_t elem_size, size_t *n_out) {
    char path[1024];
    size_t size = 0;
    if (!ref_data_path(path, sizeof path, rel)) return NULL;
    unsigned char *data = test_read_file(path, &size);
    CHECK_MSG(data != NULL, "cannot read %s", path);
    if (data != NULL && ((n > 0 && size != n * elem_size) || size % elem_size != 0)) {
        CHECK_MSG(0, "%s: %zu bytes, expected %zu", path, size, n * elem_size);
        free(data);
        return NULL;
    }
    if (data != NULL && n_out != NULL) *n_out = size / elem_size;
    return data;
}

/* A JSON file of the fixtures; caller deletes. */
static inline cJSON *ref_read_json(const char *rel) {
    size_t size = 0;
    char *text = ref_read(rel, 0, 1, &size);
    if (text == NULL) return NULL;
    cJSON *json = cJSON_ParseWithLength(text, size);
    CHECK_MSG(json != NULL, "cannot parse %s", rel);
    free(text);
    return json;
}

/* Parses the config.json of the hub directory rel and opens its weights;
 * the caller binds, then frees both. */
static inline vlm_status ref_open_model(const char *rel, vlmi_model_config *config,
                                        vlmi_safetensors_set **weights) {
    char path[1024];
    size_t size = 0;
    memset(config, 0, sizeof *config);
    *weights = NULL;
    if (!ref_data_path(path, sizeof path, rel)) return VLM_ERR_IO;
    size_t len = strlen(path);
    snprintf(path + len, sizeof path - len, "/config.json");
    unsigned char *json = test_read_file(path, &size);
    if (json == NULL) return VLM_ERR_IO;
    vlm_status st = vlmi_model_config_parse((const char *)json, size, "config.json", config);
    free(json);
    if (st != VLM_OK) return st;
    path[len] = '\0';
    return vlmi_safetensors_set_open(path, weights);
}

/* The generators' test pattern (make_qwen2_5_vl_*reference.py,
 * make_shieldgemma2_reference.py): channel c of pixel (x, y) in frame k is
 * (x*x + 3*y*y + 7*x*y + 50*c + (x ^ y) + 37*k) mod 256. */
static inline vlm_image *ref_pattern_image(uint32_t w, uint32_t h, uint32_t k) {
    uint8_t *rgb = malloc((size_t)w * h * 3);
    if (rgb == NULL) return NULL;
    for (uint32_t y = 0; y < h; y++)
        for (uint32_t x = 0; x < w; x++)
            for (uint32_t c = 0; c < 3; c++)
                rgb[((size_t)y * w + x) * 3 + c] = (uint8_t)(((uint64_t)x * x + 3ull * y * y +
                    7ull * x * y + 50 * c + (x ^ y) + 37ull * k) % 256);
    vlm_image *image = NULL;
    CHECK_OK(vlm_image_from_pixels(rgb, (size_t)w * h * 3, w, h, (size_t)w * 3, VLM_PIXEL_RGB8,
                                   &image));
    free(rgb);
    return image;
}

static inline float ref_max_abs_diff(const float *a, const float *b, size_t n) {
    float max = 0.0f;
    for (size_t i = 0; i < n; i++) {
        float d = fabsf(a[i] - b[i]);
        if (!(d <= max)) max = d; /* NaN propagates */
    }
    return max;
}

static inline int32_t ref_argmax(const float *x, size_t n) {
    size_t best = 0;
    for (size_t i = 1; i < n; i++) if (x[i] > x[best]) best = i;
    return (int32_t)best;
}

/* What one greedy answer of a session gives: the tokens generated (the first
 * REF_MAX_GREEDY), the prompt's ids and the logits at its last position. */
#define REF_MAX_GREEDY 64
typedef struct ref_answer {
    int32_t greedy[REF_MAX_GREEDY];
    size_t n_greedy;
    int32_t *ids;           /* (n_ids) the prompt, malloc'd */
    size_t n_ids;
    float *logits;          /* (n_logits) the last prompt position's, malloc'd */
    size_t n_logits;
} ref_answer;

static inline void ref_answer_free(ref_answer *a) {
    free(a->ids);
    free(a->logits);
    memset(a, 0, sizeof *a);
}

static inline bool ref_collect_greedy(int32_t token, const char *piece, size_t len,
                                      void *user_data) {
    (void)piece, (void)len;
    ref_answer *a = user_data;
    if (token >= 0 && a->n_greedy < REF_MAX_GREEDY) a->greedy[a->n_greedy++] = token;
    return true;
}

/* A buffer of what a buffer-convention getter reports: asked with no room
 * first for the count, then filled. */
#define REF_FETCH(getter, s, out, n_out)                                                  \
    do {                                                                                  \
        vlm_status fetch_st_ = getter(s, NULL, 0, &(n_out));                                    \
        CHECK_MSG(fetch_st_ == VLM_OK || fetch_st_ == VLM_ERR_BUFFER_TOO_SMALL, #getter ": %s",      \
                  vlm_last_error());                                                      \
        (out) = malloc((n_out) * sizeof *(out) + 1);                                      \
        if ((out) != NULL) CHECK_OK(getter(s, out, n_out, &(n_out)));                     \
    } while (0)

/* Greedy generation of up to max_tokens on the session's pending turns (gp's
 * other fields as vlm_generate_params_init sets them), then the prompt ids and
 * the last prompt logits into *a (zeroed or an earlier answer: what it held is
 * freed first). Returns the
 * generation's status; on a failure *a holds no ids or logits. */
static inline vlm_status ref_session_answer(vlm_session *s, int32_t max_tokens, ref_answer *a) {
    ref_answer_free(a);
    vlm_generate_params gp;
    vlm_generate_params_init(&gp, sizeof gp);
    gp.max_tokens = max_tokens;
    gp.on_token = ref_collect_greedy;
    gp.user_data = a;
    vlm_status st = vlm_session_generate(s, &gp);
    if (st != VLM_OK) return st;
    REF_FETCH(vlm_session_prompt_tokens, s, a->ids, a->n_ids);
    REF_FETCH(vlm_session_prompt_logits, s, a->logits, a->n_logits);
    return VLM_OK;
}

/* A new session on model (params sp, NULL for the defaults), one user turn of
 * prompt with the images, and its greedy answer into *a (see
 * ref_session_answer); every step checked. */
static inline void ref_session_ask(vlm_model *model, const vlm_session_params *sp,
                                   const char *prompt, vlm_image *const *images, size_t n_images,
                                   int32_t max_tokens, ref_answer *a) {
    ref_answer_free(a);
    vlm_session *s = NULL;
    CHECK_OK(vlm_session_create(model, sp, &s));
    if (s == NULL) return;
    CHECK_OK(vlm_session_add_turn(s, VLM_ROLE_USER, prompt, images, n_images));
    CHECK_OK(ref_session_answer(s, max_tokens, a));
    vlm_session_free(s);
}

#endif
