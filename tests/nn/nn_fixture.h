/* Shared by the SmolVLM reference tests: the tiny model bound from
 * tests/data/tiny-smolvlm and the transformers outputs in tests/data/smolvlm
 * (made by tests/gen/make_smolvlm_reference.py). */
#ifndef VLM_TESTS_NN_FIXTURE_H
#define VLM_TESTS_NN_FIXTURE_H

#include "arch/idefics3.h"
#include "reference.h"

#include <stdint.h>

typedef struct nn_fixture {
    vlmi_model_config config;
    vlmi_safetensors_set *weights;
    vlmi_idefics3 model;
} nn_fixture;

/* Parses the config and opens the weights; the caller binds. */
static inline vlm_status nn_fixture_open(nn_fixture *f) {
    memset(f, 0, sizeof *f);
    return ref_open_model("tiny-smolvlm", &f->config, &f->weights);
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

#endif
