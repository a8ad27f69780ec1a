/* vlm_model_load on the tiny SmolVLM fixture and on broken copies of it:
 * tensors as the reference safetensors package lists them, and a clear
 * status + message for every way a model directory can be wrong. */
#include "vlm.h"
#include <stddef.h>
#include "test.h"

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <unistd.h>

static char data_dir[2048];

static bool cancel_at_half(float progress, void *user_data) {
    int *calls = user_data;
    (*calls)++;
    return progress < 0.5f;
}

static bool count_progress(float progress, void *user_data) {
    float *last = user_data;
    CHECK(progress >= *last && progress <= 1.0f);
    *last = progress;
    return true;
}

static void copy_file(const char *from, const char *to, size_t truncate_to) {
    size_t size = 0;
    unsigned char *bytes = test_read_file(from, &size);
    CHECK(bytes != NULL);
    FILE *f = fopen(to, "wb");
    if (bytes && f) fwrite(bytes, 1, truncate_to && truncate_to < size ? truncate_to : size, f);
    if (f) fclose(f);
    free(bytes);
}

static void write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "wb");
    if (f) { fputs(text, f); fclose(f); }
}

/* A scratch model directory: config.json and model.safetensors copied (the
 * weights possibly truncated), or replaced by the given texts. */
static void make_broken_dir(const char *dir, const char *config_text, size_t truncate_weights,
                            bool with_weights) {
    char from[4096], to[4096];
    mkdir(dir, 0700);
    snprintf(to, sizeof to, "%s/config.json", dir);
    snprintf(from, sizeof from, "%s/tiny-smolvlm/config.json", data_dir);
    if (config_text) write_text(to, config_text);
    else copy_file(from, to, 0);
    snprintf(to, sizeof to, "%s/model.safetensors", dir);
    snprintf(from, sizeof from, "%s/tiny-smolvlm/model.safetensors", data_dir);
    unlink(to);
    if (with_weights) copy_file(from, to, truncate_weights);
}

static void check_tensors_match_reference(const vlm_model *model) {
    char path[4096];
    snprintf(path, sizeof path, "%s/tiny-smolvlm.tensors.json", data_dir);
    size_t size = 0;
    char *text = (char *)test_read_file(path, &size);
    CHECK(text != NULL);
    if (!text) return;
    cJSON *expected = cJSON_ParseWithLength(text, size);
    free(text);
    CHECK(expected != NULL);
    CHECK((size_t)cJSON_GetArraySize(expected) == vlm_model_n_tensors(model));
    int matched = 0;
    for (size_t i = 0; i < vlm_model_n_tensors(model); i++) {
        vlm_tensor_info info = { .struct_size = sizeof info };
        CHECK_OK(vlm_model_tensor_info(model, i, &info));
        const cJSON *e = cJSON_GetObjectItemCaseSensitive(expected, info.name);
        CHECK_MSG(e != NULL, "tensor %s not in the reference listing", info.name);
        if (!e) continue;
        const cJSON *shape = cJSON_GetObjectItemCaseSensitive(e, "shape");
        const char *dtype = cJSON_GetObjectItemCaseSensitive(e, "dtype")->valuestring;
        vlm_dtype expected_dtype = strcmp(dtype, "F32") == 0 ? VLM_DTYPE_F32
                                   : strcmp(dtype, "BF16") == 0 ? VLM_DTYPE_BF16
                                   : strcmp(dtype, "F16") == 0 ? VLM_DTYPE_F16 : (vlm_dtype)-1;
        uint64_t element_size = expected_dtype == VLM_DTYPE_F32 ? 4 : 2;
        bool same = (int)info.n_dims == cJSON_GetArraySize(shape) && info.dtype == expected_dtype;
        int64_t elements = 1;
        for (uint32_t d = 0; same && d < info.n_dims; d++) {
            same = info.shape[d] == (int64_t)cJSON_GetArrayItem(shape, (int)d)->valuedouble;
            elements *= info.shape[d];
        }
        CHECK_MSG(same && info.n_bytes == (uint64_t)elements * element_size, "tensor %s differs", info.name);
        matched += same;
    }
    CHECK(matched == cJSON_GetArraySize(expected));
    cJSON_Delete(expected);
}

int main(void) {
    const char *env = getenv("VLM_TEST_DATA");
    if (env == NULL) { fprintf(stderr, "VLM_TEST_DATA not set\n"); return 1; }
    snprintf(data_dir, sizeof data_dir, "%s", env);
    char model_dir[4096];
    snprintf(model_dir, sizeof model_dir, "%s/tiny-smolvlm", data_dir);

    /* a good directory loads; what it holds matches the reference listing */
    vlm_model_params params;
    vlm_model_params_init(&params, sizeof params);
    float last = 0.0f;
    params.progress = count_progress;
    params.progress_user_data = &last;
    vlm_model *model = NULL;
    CHECK_OK(vlm_model_load(model_dir, &params, &model));
    CHECK(model != NULL);
    CHECK(last == 1.0f);
    CHECK(strcmp(vlm_model_architecture(model), "Idefics3ForConditionalGeneration") == 0);
    check_tensors_match_reference(model);
    vlm_tensor_info info = { .struct_size = sizeof info };
    CHECK_STATUS(VLM_ERR_INVALID_ARGUMENT, vlm_model_tensor_info(model, 100000, &info));
    CHECK_STATUS(VLM_ERR_INVALID_ARGUMENT, vlm_model_tensor_info(model, 0, NULL));
    /* an older caller's shorter info struct: only its bytes are written */
    vlm_tensor_info short_info;
    memset(&short_info, 0xAB, sizeof short_info);
    short_info.struct_size = offsetof(vlm_tensor_info, dtype);
    CHECK_OK(vlm_model_tensor_info(model, 0, &short_info));
    CHECK(short_info.name != NULL && short_info.struct_size == offsetof(vlm_tensor_info, dtype));
    CHECK(short_info.n_dims == 0xABABABABu);
    short_info.struct_size = 0;
    CHECK_STATUS(VLM_ERR_INVALID_ARGUMENT, vlm_model_tensor_info(model, 0, &short_info));
    const vlm_tokenizer *tok = vlm_model_tokenizer(model);
    CHECK(tok != NULL && vlm_tokenizer_n_vocab(tok) == 49280);
    CHECK(vlm_token_lookup(tok, "<image>") == 49190);

    /* the Idefics3 family is bound at load: a session opens */
    vlm_session *session = NULL;
    CHECK_OK(vlm_session_create(model, NULL, &session));
    CHECK(session != NULL);
    vlm_session_free(session);
    vlm_model_free(model);

    /* cancelling from the progress callback */
    int calls = 0;
    params.progress = cancel_at_half;
    params.progress_user_data = &calls;
    model = (vlm_model *)&calls;
    CHECK_STATUS(VLM_ERR_CANCELLED, vlm_model_load(model_dir, &params, &model));
    CHECK(model == NULL && calls >= 1);

    /* bad arguments */
    CHECK_STATUS(VLM_ERR_INVALID_ARGUMENT, vlm_model_load(NULL, NULL, &model));
    CHECK_STATUS(VLM_ERR_INVALID_ARGUMENT, vlm_model_load(model_dir, NULL, NULL));
    vlm_model_params zero = { 0 };
    CHECK_STATUS(VLM_ERR_INVALID_ARGUMENT, vlm_model_load(model_dir, &zero, &model));
    CHECK_STATUS(VLM_ERR_IO, vlm_model_load("/nonexistent/model", NULL, &model));

    /* broken directories */
    char scratch[] = "/tmp/vlm-model-test-XXXXXX";
    CHECK(mkdtemp(scratch) != NULL);
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/m", scratch);

    make_broken_dir(dir, NULL, 0, false); /* no weights */
    CHECK_STATUS(VLM_ERR_IO, vlm_model_load(dir, NULL, &model));
    CHECK(strstr(vlm_last_error(), "model.safetensors") != NULL);

    make_broken_dir(dir, NULL, 1000, true); /* truncated weights */
    CHECK_STATUS(VLM_ERR_FORMAT, vlm_model_load(dir, NULL, &model));
    CHECK(strstr(vlm_last_error(), "model.safetensors") != NULL);

    make_broken_dir(dir, "{\"architectures\": [\"X\"], ", 0, true); /* truncated config */
    CHECK_STATUS(VLM_ERR_FORMAT, vlm_model_load(dir, NULL, &model));
    CHECK(strstr(vlm_last_error(), "config.json") != NULL);

    /* an architecture no family implements: named, with the supported ones */
    char config_path[4200];
    snprintf(config_path, sizeof config_path, "%s/tiny-smolvlm/config.json", data_dir);
    size_t config_size = 0;
    char *config_bytes = (char *)test_read_file(config_path, &config_size);
    char *config_text = config_bytes ? calloc(1, config_size + 1) : NULL; /* NUL-terminated */
    if (config_text != NULL) memcpy(config_text, config_bytes, config_size);
    free(config_bytes);
    CHECK(config_text != NULL);
    if (config_text != NULL) {
        char *text = calloc(1, config_size + 64);
        char *arch = strstr(config_text, "\"Idefics3ForConditionalGeneration\"");
        CHECK(arch != NULL);
        if (arch != NULL) {
            snprintf(text, config_size + 64, "%.*s\"FooForBar\"%s", (int)(arch - config_text),
                     config_text, arch + strlen("\"Idefics3ForConditionalGeneration\""));
            make_broken_dir(dir, text, 0, true);
            CHECK_STATUS(VLM_ERR_UNSUPPORTED, vlm_model_load(dir, NULL, &model));
            CHECK(model == NULL && strstr(vlm_last_error(), "FooForBar") != NULL &&
                  strstr(vlm_last_error(), "Idefics3ForConditionalGeneration") != NULL);
        }
        /* a config that disagrees with the weights: the tensor is named */
        char *ffn = strstr(config_text, "\"intermediate_size\": 32");
        CHECK(ffn != NULL);
        if (ffn != NULL) {
            snprintf(text, config_size + 64, "%.*s\"intermediate_size\": 48%s",
                     (int)(ffn - config_text), config_text, ffn + strlen("\"intermediate_size\": 32"));
            make_broken_dir(dir, text, 0, true);
            CHECK_STATUS(VLM_ERR_SHAPE, vlm_model_load(dir, NULL, &model));
            CHECK(model == NULL && strstr(vlm_last_error(), "mlp.gate_proj.weight") != NULL);
        }
        free(text);
        free(config_text);
    }

    snprintf(config_path, sizeof config_path, "%s/config.json", dir);
    unlink(config_path); /* no config at all */
    CHECK_STATUS(VLM_ERR_IO, vlm_model_load(dir, NULL, &model));
    CHECK(strstr(vlm_last_error(), "config.json") != NULL);
    CHECK(model == NULL);

    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", scratch);
    CHECK(system(cmd) == 0);
    return test_finish("model_load");
}
