/* vlm-cli -m MODEL --image PATH -p PROMPT: ask a question about an image. */
#include "cli.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static bool print_progress(float progress, void *user_data) {
    (void)user_data;
    int width = 40, filled = (int)(progress * (float)width);
    fprintf(stderr, "\rloading [%.*s%*s] %3d%%", filled,
            "########################################", width - filled, "",
            (int)(progress * 100.0f));
    if (progress >= 1.0f) fputc('\n', stderr);
    return true;
}

static bool print_piece(int32_t token, const char *piece, size_t len, void *user_data) {
    (void)token;
    (void)user_data;
    fwrite(piece, 1, len, stdout);
    fflush(stdout);
    return true;
}

static unsigned char *read_stdin(size_t *size) {
    size_t cap = 1 << 16, n = 0;
    unsigned char *buf = malloc(cap);
    while (buf != NULL) {
        size_t got = fread(buf + n, 1, cap - n, stdin);
        n += got;
        if (got == 0) break;
        if (n == cap) {
            unsigned char *grown = realloc(buf, cap * 2);
            if (grown == NULL) { free(buf); return NULL; }
            buf = grown;
            cap *= 2;
        }
    }
    *size = n;
    return buf;
}

int cli_ask(int argc, char **argv) {
    const char *model_path = getenv("VLM_MODEL"), *image_path = NULL, *prompt = NULL;
    bool json = false;
    for (int i = 1; i < argc; i++) {
        if ((strcmp(argv[i], "-m") == 0 || strcmp(argv[i], "--model") == 0) && i + 1 < argc)
            model_path = argv[++i];
        else if (strcmp(argv[i], "--image") == 0 && i + 1 < argc) image_path = argv[++i];
        else if ((strcmp(argv[i], "-p") == 0 || strcmp(argv[i], "--prompt") == 0) && i + 1 < argc)
            prompt = argv[++i];
        else if (strcmp(argv[i], "--json") == 0) json = true;
        else {
            fprintf(stderr, "vlm-cli: unknown or incomplete argument '%s'\n", argv[i]);
            return 2;
        }
    }
    if (model_path == NULL || prompt == NULL) {
        fprintf(stderr, "vlm-cli: need -m MODEL (or VLM_MODEL) and -p PROMPT\n");
        return 2;
    }

    vlm_model_params mp;
    vlm_model_params_init(&mp);
    if (isatty(STDERR_FILENO) && !json) mp.progress = print_progress;
    vlm_model *model = NULL;
    vlm_status st = vlm_model_load(model_path, &mp, &model);
    if (st != VLM_OK) return cli_report(model_path, st);

    vlm_image *image = NULL;
    if (image_path != NULL) {
        if (strcmp(image_path, "-") == 0) {
            size_t size = 0;
            unsigned char *bytes = read_stdin(&size);
            st = bytes ? vlm_image_load_memory(bytes, size, NULL, &image) : VLM_ERR_OUT_OF_MEMORY;
            free(bytes);
        } else {
            st = vlm_image_load_file(image_path, NULL, &image);
        }
        if (st != VLM_OK) { vlm_model_free(model); return cli_report(image_path, st); }
    }

    int rc = 0;
    vlm_session *session = NULL;
    st = vlm_session_create(model, NULL, &session);
    if (st == VLM_OK) st = vlm_session_add_turn(session, VLM_ROLE_USER, prompt, &image, image ? 1 : 0);
    if (st == VLM_OK) {
        vlm_generate_params gp;
        vlm_generate_params_init(&gp);
        gp.on_token = print_piece;
        st = vlm_session_generate(session, &gp);
        fputc('\n', stdout);
    }
    if (st != VLM_OK) {
        /* Say how far the pipeline got, so a user sees what works. */
        fprintf(stderr, "vlm-cli: loaded %s (%s, %zu tensors)", model_path,
                vlm_model_architecture(model), vlm_model_n_tensors(model));
        if (image) fprintf(stderr, "; image %ux%u", vlm_image_width(image), vlm_image_height(image));
        fputc('\n', stderr);
        rc = cli_report("cannot answer", st);
    }
    vlm_session_free(session);
    vlm_image_free(image);
    vlm_model_free(model);
    return rc;
}
