/* Shared by the Gemma 3 tests: the tiny random-weight model in
 * tests/data/gemma3/model and transformers' outputs beside it (made by
 * tests/gen/make_gemma3_reference.py). */
#ifndef VLM_TESTS_GEMMA3_FIXTURE_H
#define VLM_TESTS_GEMMA3_FIXTURE_H

#include "arch/gemma3.h"
#include "reference.h"

#include <stdint.h>

typedef struct g3_fixture {
    vlmi_model_config config;
    vlmi_safetensors_set *weights;
    vlmi_gemma3 model;
} g3_fixture;

/* Parses the config and opens the weights; the caller binds. */
static inline vlm_status g3_fixture_open(g3_fixture *f) {
    memset(f, 0, sizeof *f);
    return ref_open_model("gemma3/model", &f->config, &f->weights);
}

static inline void g3_fixture_close(g3_fixture *f) {
    vlmi_gemma3_free(&f->model);
    vlmi_safetensors_set_close(f->weights);
    vlmi_model_config_free(&f->config);
}

#endif
