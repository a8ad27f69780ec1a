/* vlm-cli -m MODEL --image PATH --safety [POLICY]: the probability that the
 * image violates each policy, from an image-safety classifier (ShieldGemma 2).
 * POLICY is dangerous, sexual, violence or all (the default); --policy TEXT
 * scores a policy of the caller's own; --ctx N sets the context (the prompt
 * is the image's tokens plus about 250). --json prints the scores and timings. */
#include "cli.h"

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

static const struct {
    const char *name;
    vlm_safety_policy policy;
} builtin[] = {
    {"dangerous", VLM_SAFETY_DANGEROUS},
    {"sexual", VLM_SAFETY_SEXUAL},
    {"violence", VLM_SAFETY_VIOLENCE},
};
#define N_BUILTIN (sizeof builtin / sizeof builtin[0])

int cli_safety(int argc, char **argv) {
    const char *image_path = NULL, *which = "all";
    cli_model model_option;
    cli_model_init(&model_option);
    const char *custom = NULL;
    bool json = false;
    vlm_session_params sp;
    vlm_session_params_init(&sp, sizeof sp);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *value = i + 1 < argc ? argv[i + 1] : NULL;
        bool value_is_option = value == NULL || value[0] == '-';
        if (cli_model_option(&model_option, a, value)) i++;
        else if (strcmp(a, "--image") == 0 && value) { image_path = value; i++; }
        else if (strcmp(a, "--policy") == 0 && value) { custom = value; i++; }
        else if (strcmp(a, "--safety") == 0) { if (!value_is_option) { which = value; i++; } }
        else if (strcmp(a, "--json") == 0) json = true;
        else if (strcmp(a, "--ctx") == 0 && value) { sp.n_ctx = atoi(value); i++; }
        else {
            fprintf(stderr, "vlm-cli: unknown or incomplete argument '%s'\n", a);
            return 2;
        }
    }
    bool all = strcmp(which, "all") == 0, known = all;
    for (size_t i = 0; i < N_BUILTIN; i++) known |= strcmp(which, builtin[i].name) == 0;
    if (model_option.path == NULL || image_path == NULL || !known) {
        fprintf(stderr, "vlm-cli: --safety needs -m MODEL, --image PATH and a policy "
                        "(dangerous, sexual, violence or all)\n");
        return 2;
    }

    vlm_model *model = NULL;
    vlm_image *image = NULL;
    vlm_session *session = NULL;
    vlm_status st = cli_model_load(&model_option, NULL, &model);
    if (st != VLM_OK) return cli_report(model_option.path, st);
    const char *stage = image_path;
    if ((st = vlm_image_load_file(image_path, NULL, &image)) == VLM_OK) {
        stage = "cannot open a session";
        st = vlm_session_create(model, &sp, &session);
    }
    cJSON *out = cJSON_CreateObject(), *scores = cJSON_AddArrayToObject(out, "scores");
    size_t n_policies = custom != NULL ? 1 : all ? N_BUILTIN : 1;
    for (size_t i = 0; st == VLM_OK && i < n_policies; i++) {
        const char *name = custom != NULL ? "custom" : all ? builtin[i].name : which;
        vlm_safety_policy policy = VLM_SAFETY_CUSTOM;
        for (size_t k = 0; custom == NULL && k < N_BUILTIN; k++)
            if (strcmp(name, builtin[k].name) == 0) policy = builtin[k].policy;
        float probability = 0.0f;
        stage = name;
        st = vlm_session_safety_score(session, image, policy, custom, &probability);
        if (st != VLM_OK) break;
        if (!json) printf("%-10s %.6f\n", name, probability);
        cJSON *score = cJSON_CreateObject();
        cJSON_AddStringToObject(score, "policy", name);
        cJSON_AddNumberToObject(score, "probability", probability);
        cJSON_AddItemToArray(scores, score);
    }
    if (st == VLM_OK && json) {
        cli_json_add_timings(out, session);
        if (!cli_json_print(out)) st = VLM_ERR_OUT_OF_MEMORY;
    }
    cJSON_Delete(out);
    int rc = st == VLM_OK ? 0 : cli_report(stage, st);
    vlm_session_free(session);
    vlm_image_free(image);
    vlm_model_free(model);
    return rc;
}
