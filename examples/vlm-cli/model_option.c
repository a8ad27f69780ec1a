/* Where every subcommand's model comes from: -m/--model PATH (a hub
 * directory or a GGUF file; default $VLM_MODEL) and, for llama.cpp's split
 * files, --mmproj PATH (the vision projector beside a text GGUF). */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

void cli_model_init(cli_model *m) {
    m->path = getenv("VLM_MODEL");
    m->mmproj = NULL;
}

bool cli_model_option(cli_model *m, const char *arg, const char *value) {
    if (value == NULL) return false;
    if (strcmp(arg, "-m") == 0 || strcmp(arg, "--model") == 0) m->path = value;
    else if (strcmp(arg, "--mmproj") == 0) m->mmproj = value;
    else return false;
    return true;
}

vlm_status cli_model_load(const cli_model *m, vlm_progress_fn progress, vlm_model **out) {
    vlm_model_params mp;
    vlm_model_params_init(&mp, sizeof mp);
    mp.mmproj_path = m->mmproj;
    mp.progress = progress;
    return vlm_model_load(m->path, &mp, out);
}
