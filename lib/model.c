/* vlm_model: loading a hub directory or a GGUF file, and what can be asked of
 * a loaded model. */
#include "model.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void vlm_model_params_init(vlm_model_params *params) {
    if (params == NULL) return;
    memset(params, 0, sizeof *params);
    params->struct_size = sizeof *params;
}

void vlm_model_free(vlm_model *model) {
    if (model == NULL) return;
    free(model->architecture);
    free(model->path);
    free(model);
}

const char *vlm_model_architecture(const vlm_model *model) {
    return model != NULL && model->architecture != NULL ? model->architecture : "";
}
