/* vlm-quantize end to end: each family's tiny fixture (tests/data/
 * tiny-smolvlm, gemma3-vlm, qwen2_5_vl-model) quantized to F16, Q8_0 and Q4_K by
 * the tool, loaded with vlm_model_load and asked about tests/data/sample.jpg
 * through the public session API, against the same query on the hub
 * directory: identical prompt ids, prompt logits within a per-type
 * tolerance, the same greedy tokens while the directory's first-token
 * margin exceeds the logits' difference; the stored dtypes follow the
 * tool's rules (matrices quantized, norms F32, rows that do not fill a
 * block F16), and every stored tensor dequantizes to the directory's within
 * its type's rounding bound. Then files the loader must refuse by name.
 *
 * argv[1]: the vlm-quantize executable. */
#include "io/dtype.h"
#include "io/gguf.h"
#include "io/safetensors.h"
#include "kernels.h"
#include "model_gguf_hub.h"
#include "reference.h"
#include "vlm.h"

#include <stdint.h>
#include <unistd.h>

#define MAX_GREEDY 8

static const char *quantize_tool;
static char work_dir[512];

static const char *data_dir(void) {
    const char *d = getenv("VLM_TEST_DATA");
    return d != NULL ? d : "tests/data";
}

/* One user turn with the sample picture, greedy: ids, logits, tokens. */
static bool ask(vlm_model *model, ref_answer *a) {
    memset(a, 0, sizeof *a);
    char image_path[1024];
    snprintf(image_path, sizeof image_path, "%s/sample.jpg", data_dir());
    vlm_image *image = NULL;
    CHECK_OK(vlm_image_load_file(image_path, NULL, &image));
    vlm_session_params sp;
    vlm_session_params_init(&sp, sizeof sp);
    sp.n_ctx = 4096;
    sp.max_image_tiles = 1;
    if (image != NULL) ref_session_ask(model, &sp, "What is in the picture?", &image, 1, MAX_GREEDY, a);
    vlm_image_free(image);
    return a->ids != NULL && a->logits != NULL;
}

static vlm_model *load(const char *path) {
    vlm_model_params mp;
    vlm_model_params_init(&mp, sizeof mp);
    mp.n_threads = 2;
    vlm_model *model = NULL;
    CHECK_OK(vlm_model_load(path, &mp, &model));
    return model;
}

/* Runs vlm-quantize on the fixture dir; false (and a failed check) if it fails. */
static bool quantize(const char *dir, const char *out, const char *type) {
    char command[4096];
    snprintf(command, sizeof command, "'%s' '%s' '%s' --type %s > /dev/null", quantize_tool, dir,
             out, type);
    int rc = system(command);
    CHECK_MSG(rc == 0, "%s exited with %d", command, rc);
    return rc == 0;
}

static const vlm_tensor_info *tensor_named(const vlm_model *m, const char *name,
                                           vlm_tensor_info *info) {
    for (size_t i = 0; i < vlm_model_n_tensors(m); i++) {
        info->struct_size = sizeof *info;
        if (vlm_model_tensor_info(m, i, info) == VLM_OK && strcmp(info->name, name) == 0)
            return info;
    }
    return NULL;
}

/* The stored dtype of the tensor name, or -1 if it is missing. */
static int dtype_of(const vlm_model *m, const char *name) {
    vlm_tensor_info info;
    return tensor_named(m, name, &info) != NULL ? (int)info.dtype : -1;
}

/* Every tensor of the GGUF file against the directory's, element by
 * element: F32 exact, F16 within 2^-11 relative (+ 2^-25 below f16's
 * normal range), Q8_0 within amax/254 and Q5_0 within amax/16, each plus
 * the f16 scale's rounding (amax of the 32-element block; a Q5_0 extreme
 * opposite the max clamps one step); the same names, shapes and count. */
static void check_tensors(const char *dir, const char *gguf_path) {
    vlmi_safetensors_set *want = NULL, *got = NULL;
    vlmi_gguf *g = NULL;
    CHECK_OK(vlmi_safetensors_set_open(dir, &want));
    CHECK_OK(vlmi_gguf_open(gguf_path, &g));
    if (g != NULL) CHECK_OK(vlmi_gguf_hub_weights(g, &got));
    if (want == NULL || got == NULL) goto done;
    CHECK(vlmi_safetensors_set_n_tensors(want) == vlmi_safetensors_set_n_tensors(got));
    size_t bad = 0;
    for (size_t i = 0; i < vlmi_safetensors_set_n_tensors(want); i++) {
        const vlmi_tensor_info *w = vlmi_safetensors_set_tensor(want, i);
        const vlmi_tensor_info *t = vlmi_safetensors_set_find(got, w->name);
        CHECK_MSG(t != NULL, "%s: tensor %s missing", gguf_path, w->name);
        if (t == NULL) continue;
        CHECK_MSG(t->n_dims == w->n_dims && memcmp(t->shape, w->shape, sizeof t->shape) == 0,
                  "%s: tensor %s: another shape", gguf_path, w->name);
        if (vlmi_dequant_fn_for(w->dtype) == NULL || vlmi_dequant_fn_for(t->dtype) == NULL) {
            /* integer tensors are copied as they are */
            CHECK_MSG(t->n_bytes == w->n_bytes && memcmp(t->data, w->data, w->n_bytes) == 0,
                      "%s: tensor %s: other bytes", gguf_path, w->name);
            continue;
        }
        size_t n = (size_t)w->n_elements;
        float *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b);
        if (a == NULL || b == NULL || t->n_elements != w->n_elements) {
            free(a), free(b);
            continue;
        }
        vlmi_dequant_fn_for(w->dtype)(a, w->data, n);
        vlmi_dequant_fn_for(t->dtype)(b, t->data, n);
        size_t block = t->dtype == VLM_DTYPE_Q8_0 || t->dtype == VLM_DTYPE_Q5_0 ? 32 : 1;
        for (size_t j = 0; j < n; j++) {
            float amax = 0;
            for (size_t l = j / block * block; l < j / block * block + block; l++)
                amax = fmaxf(amax, fabsf(a[l]));
            double bound = 0;  /* F32 */
            if (t->dtype == VLM_DTYPE_F16) bound = amax / 2048.0 + 0x1p-25;
            if (t->dtype == VLM_DTYPE_Q5_0) bound = amax * (1.0 / 16 + 1.0 / 2048) + 16 * 0x1p-25;
            if (t->dtype == VLM_DTYPE_Q8_0) bound = amax * (1.0 / 254 + 1.0 / 2048) + 127 * 0x1p-25;
            if (fabs((double)a[j] - b[j]) > bound && bad++ == 0)
                fprintf(stderr, "%s: %s[%zu]: %g stored as %s %g\n", gguf_path, w->name, j,
                        a[j], vlmi_dtype_name(t->dtype), b[j]);
        }
        free(a);
        free(b);
    }
    CHECK_MSG(bad == 0, "%s: %zu elements beyond their type's bound", gguf_path, bad);
done:
    vlmi_safetensors_set_close(got);
    vlmi_gguf_close(g);
    vlmi_safetensors_set_close(want);
}

typedef struct family {
    const char *dir;            /* under VLM_TEST_DATA */
    const char *matrix;         /* a text matrix; its rows fill Q8_0 blocks unless noted */
    bool matrix_fills_blocks;
    const char *vision_matrix;
    const char *norm;
    /* max |logit difference| / max |directory logit|. Q8_0's is wide: the
     * matmuls quantize the activations to 8 bits too, and these random
     * weights are as hard to round as any; q4_k's (Q5_0 here) only catches
     * gross errors, the per-tensor bounds of check_tensors hold it to its
     * format */
    float tol_f16, tol_q8_0, tol_q4_k;
} family;

static void check_family(const family *f) {
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/%s", data_dir(), f->dir);
    vlm_model *reference_model = load(dir);
    ref_answer want;
    if (reference_model == NULL || !ask(reference_model, &want)) {
        vlm_model_free(reference_model);
        return;
    }
    float max_logit = 0, top1 = -INFINITY, top2 = -INFINITY;
    for (size_t i = 0; i < want.n_logits; i++) {
        max_logit = fmaxf(max_logit, fabsf(want.logits[i]));
        if (want.logits[i] > top1) { top2 = top1; top1 = want.logits[i]; }
        else if (want.logits[i] > top2) top2 = want.logits[i];
    }

    static const char *const types[] = {"f16", "q8_0", "q4_k"};
    for (size_t k = 0; k < 3; k++) {
        char out[1024];
        snprintf(out, sizeof out, "%s/%s-%s.gguf", work_dir, f->dir, types[k]);
        if (!quantize(dir, out, types[k])) continue;
        check_tensors(dir, out);
        vlm_model *m = load(out);
        ref_answer got;
        if (m == NULL || !ask(m, &got)) { vlm_model_free(m); continue; }

        CHECK_MSG(strcmp(vlm_model_architecture(m), vlm_model_architecture(reference_model)) == 0,
                  "%s: architecture %s", out, vlm_model_architecture(m));
        CHECK_MSG(got.n_ids == want.n_ids &&
                      memcmp(got.ids, want.ids, want.n_ids * sizeof *want.ids) == 0,
                  "%s: prompt ids differ (%zu vs %zu)", out, got.n_ids, want.n_ids);
        float worst = 0;
        CHECK(got.n_logits == want.n_logits);
        for (size_t i = 0; i < want.n_logits && got.n_logits == want.n_logits; i++)
            worst = fmaxf(worst, fabsf(got.logits[i] - want.logits[i]));
        float tol = k == 0 ? f->tol_f16 : k == 1 ? f->tol_q8_0 : f->tol_q4_k;
        printf("%s %s: logits differ by %.3g of the largest (%.3g); first-token margin %.3g\n",
               f->dir, types[k], worst / max_logit, max_logit, top1 - top2);
        CHECK_MSG(worst <= tol * max_logit, "%s: logits differ by %g, tolerance %g", out, worst,
                  tol * max_logit);
        /* the first greedy token is the argmax of these logits: the same
         * whenever the margin exceeds twice the largest difference */
        if (top1 - top2 > 2 * worst)
            CHECK_MSG(got.n_greedy > 0 && want.n_greedy > 0 && got.greedy[0] == want.greedy[0],
                      "%s: first greedy token %d, directory %d", out, got.greedy[0],
                      want.greedy[0]);
        if (k == 0)  /* f16 moves the logits least: the whole greedy answer holds */
            CHECK_MSG(got.n_greedy == want.n_greedy &&
                          memcmp(got.greedy, want.greedy, want.n_greedy * sizeof(int32_t)) == 0,
                      "%s: greedy tokens differ", out);

        /* q4_k: no row here fills 256-blocks, so Q5_0 as llama-quantize
         * falls back; the vision tower F16 (the 4-bit types' default) */
        static const vlm_dtype matrix_types[] = {VLM_DTYPE_F16, VLM_DTYPE_Q8_0, VLM_DTYPE_Q5_0};
        static const vlm_dtype vision_types[] = {VLM_DTYPE_F16, VLM_DTYPE_Q8_0, VLM_DTYPE_F16};
        CHECK_MSG(dtype_of(m, f->matrix) ==
                      (int)(f->matrix_fills_blocks ? matrix_types[k] : VLM_DTYPE_F16),
                  "%s: %s stored as %d", out, f->matrix, dtype_of(m, f->matrix));
        CHECK_MSG(dtype_of(m, f->vision_matrix) == (int)vision_types[k], "%s: %s stored as %d",
                  out, f->vision_matrix, dtype_of(m, f->vision_matrix));
        CHECK_MSG(dtype_of(m, f->norm) == VLM_DTYPE_F32, "%s: %s stored as %d", out, f->norm,
                  dtype_of(m, f->norm));
        CHECK(vlm_model_n_tensors(m) == vlm_model_n_tensors(reference_model));
        ref_answer_free(&got);
        vlm_model_free(m);
    }
    ref_answer_free(&want);
    vlm_model_free(reference_model);
}

// ---- files the loader must refuse ----

/* path's bytes, edited by the caller, written to work_dir/name. */
static unsigned char *read_whole(const char *path, size_t *size) {
    unsigned char *data = test_read_file(path, size);
    CHECK_MSG(data != NULL, "%s: cannot read", path);
    return data;
}

static bool write_whole(const char *path, const unsigned char *data, size_t size) {
    FILE *f = fopen(path, "wb");
    bool ok = f != NULL && fwrite(data, 1, size, f) == size;
    if (f != NULL && fclose(f) != 0) ok = false;
    CHECK_MSG(ok, "%s: cannot write", path);
    return ok;
}

/* The offset just past the first GGUF string (u64 length + bytes) equal to
 * text, or 0. */
static size_t find_gguf_string(const unsigned char *data, size_t size, const char *text) {
    size_t len = strlen(text);
    for (size_t i = 8; i + len <= size; i++) {
        uint64_t stored = 0;
        for (int b = 7; b >= 0; b--) stored = stored << 8 | data[i - 8 + (size_t)b];
        if (stored == len && memcmp(data + i, text, len) == 0) return i + len;
    }
    return 0;
}

/* Loading work_dir/name fails with status and a message holding needle. */
static void check_refused(const char *name, const unsigned char *data, size_t size,
                          vlm_status status, const char *needle) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", work_dir, name);
    if (!write_whole(path, data, size)) return;
    vlm_model *m = NULL;
    vlm_status st = vlm_model_load(path, NULL, &m);
    CHECK_MSG(st == status && strstr(vlm_last_error(), needle) != NULL,
              "%s: %s (%s), expected %s naming \"%s\"", name, vlm_status_string(st),
              vlm_last_error(), vlm_status_string(status), needle);
    CHECK(m == NULL);
    vlm_model_free(m);
}

static void check_bad_files(void) {
    char path[1024];
    size_t size;
    snprintf(path, sizeof path, "%s/gemma3-vlm-f16.gguf", work_dir);
    unsigned char *good = read_whole(path, &size);
    unsigned char *bad = good != NULL ? malloc(size) : NULL;
    if (bad == NULL) { free(good); return; }

    /* a projector file beside a file that holds the vision tower already */
    vlm_model_params mp;
    vlm_model_params_init(&mp, sizeof mp);
    mp.mmproj_path = path;
    vlm_model *m = NULL;
    CHECK_STATUS(VLM_ERR_INVALID_ARGUMENT, vlm_model_load(path, &mp, &m));
    CHECK(m == NULL);

    /* cut short: the data section runs past the end (the GGUF reader) */
    check_refused("truncated.gguf", good, size - 100, VLM_ERR_FORMAT, "truncated.gguf");

    /* the config under another key: named as missing */
    memcpy(bad, good, size);
    size_t at = find_gguf_string(bad, size, "libvlm.file.config.json");
    CHECK(at != 0);
    if (at != 0) bad[at - 5] = 'X';  /* "config.json" -> "configXjson" */
    check_refused("no-config.gguf", bad, size, VLM_ERR_FORMAT, "libvlm.file.config.json missing");

    /* a matrix's dims swapped (the same bytes): the binder names it */
    const char *name = "language_model.model.layers.0.mlp.down_proj.weight";
    memcpy(bad, good, size);
    at = find_gguf_string(bad, size, name);
    CHECK(at != 0 && bad[at] == 2);  /* u32 n_dims, then u64 ne[0], ne[1] */
    if (at != 0) {
        unsigned char ne0[8];
        memcpy(ne0, bad + at + 4, 8);
        memmove(bad + at + 4, bad + at + 12, 8);
        memcpy(bad + at + 12, ne0, 8);
    }
    check_refused("swapped-shape.gguf", bad, size, VLM_ERR_SHAPE, name);

    /* a later format version */
    memcpy(bad, good, size);
    at = find_gguf_string(bad, size, "libvlm.format_version");
    CHECK(at != 0);
    if (at != 0) bad[at + 4] = 2;  /* u32 type, then the u32 value */
    check_refused("version-2.gguf", bad, size, VLM_ERR_UNSUPPORTED, "libvlm.format_version 2");
    free(good);
    free(bad);

    /* Qwen2.5-VL's 5-D patch embedding: its recorded shape must describe the
     * stored tensor */
    snprintf(path, sizeof path, "%s/qwen2_5_vl-model-f16.gguf", work_dir);
    if ((good = read_whole(path, &size)) == NULL) return;
    at = find_gguf_string(good, size, "libvlm.shape.visual.patch_embed.proj.weight");
    CHECK(at != 0);
    /* u32 ARRAY, u32 INT64, u64 count, then the dims: double the first */
    if (at != 0) good[at + 16] = (unsigned char)(good[at + 16] * 2);
    check_refused("bad-5d-shape.gguf", good, size, VLM_ERR_SHAPE,
                  "libvlm.shape.visual.patch_embed.proj.weight");
    free(good);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: test_quantized_models VLM_QUANTIZE\n");
        return 2;
    }
    quantize_tool = argv[1];
    const char *tmp = getenv("TMPDIR");
    snprintf(work_dir, sizeof work_dir, "%s/vlm_quantize_XXXXXX", tmp && tmp[0] ? tmp : "/tmp");
    if (mkdtemp(work_dir) == NULL) { perror("mkdtemp"); return 1; }

    static const family families[] = {
        /* hidden size 16: the text matrices' rows do not fill 32-blocks */
        {"tiny-smolvlm", "model.text_model.layers.0.self_attn.q_proj.weight", false,
         "model.vision_model.encoder.layers.0.mlp.fc2.weight",
         "model.text_model.layers.0.input_layernorm.weight", 1e-3f, 5e-3f, 2e-2f},
        {"gemma3-vlm", "language_model.model.layers.0.self_attn.q_proj.weight", true,
         "vision_tower.encoder.layers.0.mlp.fc1.weight",
         "language_model.model.layers.0.input_layernorm.weight", 4e-3f, 6e-2f, 0.5f},
        {"qwen2_5_vl-model", "model.layers.0.self_attn.q_proj.weight", true,
         "visual.blocks.0.mlp.gate_proj.weight", "model.layers.0.input_layernorm.weight",
         2e-3f, 4e-2f, 0.2f},
    };
    for (size_t i = 0; i < sizeof families / sizeof families[0]; i++) check_family(&families[i]);
    check_bad_files();

    char command[1100];
    snprintf(command, sizeof command, "rm -rf '%s'", work_dir);
    if (system(command) != 0) fprintf(stderr, "could not remove %s\n", work_dir);
    return test_finish("quantized_models");
}
