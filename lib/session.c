/* The conversation handle: turns, generation. No model family is implemented
 * yet (issue 4 brings the first), so a session cannot be opened; the argument
 * contract and the parameter defaults are already the final ones. */
#include "vlm-impl.h"
#include "model.h"

#include <string.h>

void vlm_session_params_init(vlm_session_params *params) {
    if (params == NULL) return;
    memset(params, 0, sizeof *params);
    params->struct_size = sizeof *params;
}

void vlm_generate_params_init(vlm_generate_params *params) {
    if (params == NULL) return;
    memset(params, 0, sizeof *params);
    params->struct_size = sizeof *params;
    params->max_tokens = 256;
    params->temperature = 0.0f;
    params->top_p = 1.0f;
    params->repeat_penalty = 1.0f;
}

vlm_status vlm_session_create(vlm_model *model, const vlm_session_params *params,
                              vlm_session **out) {
    vlmi_clear_error();
    if (out != NULL) *out = NULL;
    if (model == NULL || out == NULL)
        return vlmi_fail(VLM_ERR_INVALID_ARGUMENT, "vlm_session_create: %s is NULL",
                         model == NULL ? "model" : "out");
    if (params != NULL && params->struct_size == 0)
        return vlmi_fail(VLM_ERR_INVALID_ARGUMENT,
                         "vlm_session_create: params->struct_size is 0 (call vlm_session_params_init)");
    return vlmi_fail(VLM_ERR_UNSUPPORTED,
                     "vlm_session_create: architecture '%s' has no decoder in this version of libvlm",
                     vlm_model_architecture(model));
}

void vlm_session_free(vlm_session *session) { (void)session; }

vlm_status vlm_session_add_turn(vlm_session *session, vlm_role role, const char *text,
                                vlm_image *const *images, size_t n_images) {
    vlmi_clear_error();
    (void)role;
    if (session == NULL || text == NULL || (n_images > 0 && images == NULL))
        return vlmi_fail(VLM_ERR_INVALID_ARGUMENT, "vlm_session_add_turn: %s is NULL",
                         session == NULL ? "session" : text == NULL ? "text" : "images");
    return vlmi_fail(VLM_ERR_STATE, "vlm_session_add_turn: no session can exist yet");
}

vlm_status vlm_session_generate(vlm_session *session, const vlm_generate_params *params) {
    vlmi_clear_error();
    (void)params;
    if (session == NULL)
        return vlmi_fail(VLM_ERR_INVALID_ARGUMENT, "vlm_session_generate: session is NULL");
    return vlmi_fail(VLM_ERR_STATE, "vlm_session_generate: no session can exist yet");
}
