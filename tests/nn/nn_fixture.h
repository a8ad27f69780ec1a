/* Shared by the SmolVLM reference tests: the tiny model bound from
 * tests/data/tiny-smolvlm and the transformers outputs in tests/data/smolvlm
 * (made by tests/gen/make_smolvlm_reference.py). */
#ifndef VLM_TESTS_NN_FIXTURE_H
#define VLM_TESTS_NN_FIXTURE_H

#include "arch/idefics3.h"
#include "test.h"

#include <stdint.h>

typedef struct nn_fixture {
    vlmi_model_config config;
    vlmi_safetensors_set *weights;
    vlmi_idefics3 model;
} nn_fixture;

/* "$VLM_TEST_DATA/rel" in buf; false if the variable is unset. */
static inline bool nn_data_path(char *buf, size_t size, const char *rel) {
    const char *dir = getenv("VLM_TEST_DATA");
    if (dir == NULL) return false;
    snprintf(buf, size, "%s/%s", dir, rel);
    return true;
}

/* A whole reference file, checked to hold exactly n elements of elem_size. */
static inline void *nn_read_reference(const char *rel, size_t n, size_t elem_size) {
    char path[1024];
    size_t size = 0;
    if (!nn_data_path(path, sizeof path, rel)) return NULL;
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
static inline vlm_status nn_fixture_open(nn_fixture *f) {
    memset(f, 0, sizeof *f);
    char path[1024];
    size_t size = 0;
    if (!nn_data_path(path, sizeof path, "tiny-smolvlm/config.json")) return VLM_ERR_IO;
    unsigned char *json = test_read_file(path, &size);
    if (json == NULL) return VLM_ERR_IO;
    vlm_status st = vlmi_model_config_parse((const char *)json, size, "config.json", &f->config);
    free(json);
    if (st != VLM_OK) return st;
    nn_data_path(path, sizeof path, "tiny-smolvlm");
    return vlmi_safetensors_set_open(path, &f->weights);
}

static inline void nn_fixture_close(nn_fixture *f) {
    vlmi_idefics3_free(&f->model);
    vlmi_safetensors_set_close(f->weights);
    vlmi_model_config_free(&f->config);
}

/* The generator's pixel_values: element i (C, H, W order) is splitmix64
 * output i+1 from state seed, top 24 bits k mapped to k * 2^-23 - 1, exact
 * in f32 and in [-1, 1). */
#define NN_PIXEL_SEED 0x5EEDu

static inline void nn_fill_pixels(float *pixels, size_t n, uint64_t seed) {
    uint64_t state = seed;
    for (size_t i = 0; i < n; i++) {
        state += 0x9E3779B97F4A7C15ull;
        uint64_t z = state;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        z ^= z >> 31;
        pixels[i] = (float)(z >> 40) * (1.0f / 8388608.0f) - 1.0f;
    }
}

static inline float nn_max_abs_diff(const float *a, const float *b, size_t n) {
    float max = 0.0f;
    for (size_t i = 0; i < n; i++) {
        float d = fabsf(a[i] - b[i]);
        if (!(d <= max)) max = d; /* NaN propagates */
    }
    return max;
}

static inline int32_t nn_argmax(const float *x, size_t n) {
    size_t best = 0;
    for (size_t i = 1; i < n; i++) if (x[i] > x[best]) best = i;
    return (int32_t)best;
}

#endif
