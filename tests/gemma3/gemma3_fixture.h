/* Shared by the Gemma 3 tests: the tiny random-weight model in
 * tests/data/gemma3/model and transformers' outputs beside it (made by
 * tests/gen/make_gemma3_reference.py). */
#ifndef VLM_TESTS_GEMMA3_FIXTURE_H
#define VLM_TESTS_GEMMA3_FIXTURE_H

#include "arch/gemma3.h"
#include "test.h"

#include <math.h>
#include <stdint.h>

typedef struct g3_fixture {
    vlmi_model_config config;
    vlmi_safetensors_set *weights;
    vlmi_gemma3 model;
} g3_fixture;

/* "$VLM_TEST_DATA/gemma3/rel" in buf; false if the variable is unset. */
static inline bool g3_data_path(char *buf, size_t size, const char *rel) {
    const char *dir = getenv("VLM_TEST_DATA");
    if (dir == NULL) return false;
    snprintf(buf, size, "%s/gemma3/%s", dir, rel);
    return true;
}

/* A whole reference file, checked to hold exactly n elements of elem_size. */
static inline void *g3_read(const char *rel, size_t n, size_t elem_size) {
    char path[1024];
    size_t size = 0;
    if (!g3_data_path(path, sizeof path, rel)) return NULL;
    unsigned char *data = test_read_file(path, &size);
    CHECK_MSG(data != NULL, "cannot read %s", path);
    if (data != NULL && size != n * elem_size) {
        CHECK_MSG(0, "%s: %zu bytes, expected %zu", path, size, n * elem_size);
        free(data);
        return NULL;
    }
    return data;
}

/* Parses the config and opens the weights; the caller binds. */
static inline vlm_status g3_fixture_open(g3_fixture *f) {
    memset(f, 0, sizeof *f);
    char path[1024];
    size_t size = 0;
    if (!g3_data_path(path, sizeof path, "model/config.json")) return VLM_ERR_IO;
    unsigned char *json = test_read_file(path, &size);
    if (json == NULL) return VLM_ERR_IO;
    vlm_status st = vlmi_model_config_parse((const char *)json, size, "config.json", &f->config);
    free(json);
    if (st != VLM_OK) return st;
    g3_data_path(path, sizeof path, "model");
    return vlmi_safetensors_set_open(path, &f->weights);
}

static inline void g3_fixture_close(g3_fixture *f) {
    vlmi_gemma3_free(&f->model);
    vlmi_safetensors_set_close(f->weights);
    vlmi_model_config_free(&f->config);
}

static inline float g3_max_abs_diff(const float *a, const float *b, size_t n) {
    float max = 0.0f;
    for (size_t i = 0; i < n; i++) {
        float d = fabsf(a[i] - b[i]);
        if (!(d <= max)) max = d; /* NaN propagates */
    }
    return max;
}

static inline int32_t g3_argmax(const float *x, size_t n) {
    size_t best = 0;
    for (size_t i = 1; i < n; i++) if (x[i] > x[best]) best = i;
    return (int32_t)best;
}

#endif
