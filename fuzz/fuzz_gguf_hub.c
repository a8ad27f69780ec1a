/* Fuzz target: the bytes as a libvlm GGUF model file (vlm-quantize's output:
 * general.architecture "libvlm", the hub files as libvlm.file.* strings,
 * tensors under their Hugging Face names) through the public vlm_model_load:
 * the GGUF parse, the embedded config and tokenizer JSON, the tensors'
 * shapes, types and offsets against the config, the family's binder. The
 * loader takes a path, so the bytes go to one file rewritten per input: on
 * Linux an in-memory one (memfd) opened through /proc/self/fd, elsewhere a
 * temporary file. Any input must end in a model or a status with a message:
 * never a crash, leak or over-read. Seeds: fuzz/make_gguf_hub_seeds.py. */
#include "model.h"
#include "model_gguf_hub.h"
#include "vlm.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef __linux__
#include <sys/mman.h>
#endif
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile uint64_t sink;

/* What a caller may ask of a loaded model: every tensor's description, and
 * the tokenizer on a few words when the file carries one. */
static void touch_model(const vlm_model *model) {
    for (size_t i = 0; i < vlm_model_n_tensors(model); i++) {
        vlm_tensor_info info;
        info.struct_size = sizeof info;
        if (vlm_model_tensor_info(model, i, &info) != VLM_OK) abort();
        sink += info.n_bytes + (uint64_t)info.n_dims + (uint8_t)info.name[0];
    }
    const vlm_tokenizer *tokenizer = vlm_model_tokenizer(model);
    if (tokenizer == NULL) return;
    static const char text[] = "What is in the picture?";
    int32_t ids[64];
    size_t n_ids = 0;
    if (vlm_tokenize(tokenizer, text, sizeof text - 1, 0, ids, 64, &n_ids) == VLM_OK)
        sink += n_ids;
}

#ifndef __linux__
static char temp_path[1024];

static void remove_temp(void) { unlink(temp_path); }
#endif

/* The file the inputs are written to, created on first use; its path in path. */
static int model_file(char *path, size_t size) {
    static int fd = -1;
#ifdef __linux__
    if (fd < 0) fd = memfd_create("fuzz.gguf", 0);
    snprintf(path, size, "/proc/self/fd/%d", fd);
#else
    if (fd < 0) {
        snprintf(temp_path, sizeof temp_path, "%s/fuzz_gguf_hub.XXXXXX", P_tmpdir);
        if ((fd = mkstemp(temp_path)) >= 0) atexit(remove_temp);
    }
    snprintf(path, size, "%s", temp_path);
#endif
    return fd;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char path[1024];
    int fd = model_file(path, sizeof path);
    if (fd < 0 || ftruncate(fd, 0) != 0 || pwrite(fd, data, size, 0) != (ssize_t)size) abort();

    vlm_model *model = NULL;
    vlm_status st = vlm_model_load(path, NULL, &model);
    if (st != VLM_OK) {
        if (model != NULL || vlm_last_error()[0] == '\0') abort();  /* failures must say why */
        if (getenv("FUZZ_EXPECT_LOADABLE") != NULL) {
            fprintf(stderr, "not loaded: %s\n", vlm_last_error());
            abort();
        }
        return 0;
    }
    /* the seeds' check (fuzz/meson.build): each is a hub file bound to a family */
    if (getenv("FUZZ_EXPECT_LOADABLE") != NULL &&
        (!vlmi_gguf_hub_detect(path) || model->family == VLMI_FAMILY_NONE)) {
        fprintf(stderr, "loaded, but not as a libvlm GGUF of a known family\n");
        abort();
    }
    touch_model(model);
    vlm_model_free(model);
    return 0;
}
