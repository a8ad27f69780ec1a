/* The real gemma-3-4b-it config.json (from the shared assets, never
 * committed) through the parser and the Gemma 3 decoder mapping: the
 * defaults transformers fills in become the decoder's variants. Skipped
 * (77) when VLM_SHARED_ASSETS does not hold it. */
#include "arch/gemma3.h"
#include "test.h"

#include <math.h>

int main(void) {
    const char *assets = getenv("VLM_SHARED_ASSETS");
    char path[1024];
    size_t size = 0;
    unsigned char *json = NULL;
    if (assets != NULL) {
        snprintf(path, sizeof path, "%s/google__gemma-3-4b-it/config.json", assets);
        json = test_read_file(path, &size);
    }
    if (json == NULL) {
        printf("skipped: gemma-3-4b-it config.json not found (set VLM_SHARED_ASSETS)\n");
        return TEST_SKIP_CODE;
    }
    vlmi_model_config config;
    CHECK_OK(vlmi_model_config_parse((const char *)json, size, "config.json", &config));
    free(json);

    vlmi_decoder_hparams hp;
    CHECK_OK(vlmi_gemma3_decoder_hparams(&hp, &config.text, VLM_DTYPE_BF16));
    CHECK(hp.n_vocab == 262208 && hp.dim == 2560 && hp.ffn_dim == 10240 && hp.n_layers == 34);
    CHECK(hp.n_heads == 8 && hp.n_kv_heads == 4 && hp.head_dim == 256);
    CHECK(hp.activation == VLMI_DECODER_GELU_TANH && hp.qk_norm && hp.post_norms);
    /* sqrt(2560) = 50.596 is 50.5 in bfloat16, as transformers multiplies */
    CHECK_MSG(hp.embed_scale == 50.5f, "embed_scale %g", (double)hp.embed_scale);
    CHECK(hp.attn_scale == 1.0f / 16.0f);              /* query_pre_attn_scalar 256 */
    CHECK(hp.rope_theta == 1e6f && hp.rope_theta_sliding == 1e4f);
    CHECK(hp.rope_freq_scale == 8.0f);                 /* linear x8, global layers */
    CHECK(hp.sliding_window == 1024);
    CHECK(hp.attn_softcap == 0.0f && hp.final_softcap == 0.0f);
    size_t n_global = 0;
    for (size_t l = 0; l < hp.n_layers; l++) {
        bool global = (l + 1) % 6 == 0;                /* 5 sliding, then 1 global */
        CHECK_MSG(hp.layer_is_sliding[l] == !global, "layer %zu", l);
        n_global += global;
    }
    CHECK(n_global == 5);

    vlmi_decoder_hparams f32;
    CHECK_OK(vlmi_gemma3_decoder_hparams(&f32, &config.text, VLM_DTYPE_F32));
    CHECK(f32.embed_scale == (float)sqrt(2560.0));

    /* the decoder accepts it (no weights bound here) */
    vlmi_decoder dec;
    CHECK_OK(vlmi_decoder_init(&dec, &hp));
    CHECK(dec.layers != NULL && dec.layers[5].sliding == false && dec.layers[4].sliding);
    CHECK(dec.layers[0].q_norm != NULL && dec.layers[0].ffn_post_norm != NULL);
    vlmi_decoder_free(&dec);
    vlmi_model_config_free(&config);
    return test_finish("gemma3_config");
}
