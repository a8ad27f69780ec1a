/* The SmolVLM chat format against the model's chat template as transformers
 * renders it (jinja2 through apply_chat_template; smolvlm-e2e/chat.json). */
#include "arch/idefics3_chat.h"
#include "smolvlm_fixture.h"

static vlm_role role_of(const char *name) {
    return strcmp(name, "system") == 0 ? VLM_ROLE_SYSTEM
           : strcmp(name, "assistant") == 0 ? VLM_ROLE_ASSISTANT : VLM_ROLE_USER;
}

static void run_case(const cJSON *c) {
    const cJSON *turns = cJSON_GetObjectItemCaseSensitive(c, "turns"), *t;
    size_t n = (size_t)cJSON_GetArraySize(turns), i = 0;
    vlmi_chat_message *messages = calloc(n, sizeof *messages);
    cJSON_ArrayForEach(t, turns)
        messages[i++] = (vlmi_chat_message){role_of(sv_string(t, "role")), sv_string(t, "text"),
                                            (size_t)sv_int(t, "n_images")};
    bool add_prompt = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(c, "add_generation_prompt"));
    const char *want = sv_string(c, "rendered");
    size_t len = vlmi_idefics3_chat_render(NULL, 0, messages, n, add_prompt);
    char *got = malloc(len + 1);
    CHECK(vlmi_idefics3_chat_render(got, len + 1, messages, n, add_prompt) == len);
    CHECK_MSG(strcmp(got, want) == 0, "%s: rendered\n%s\nexpected\n%s", sv_string(c, "name"), got, want);
    /* a short buffer gets a NUL-terminated prefix and the full length */
    char small[8];
    CHECK(vlmi_idefics3_chat_render(small, sizeof small, messages, n, add_prompt) == len);
    /* ... holding the text's first 7 bytes */
    CHECK(strlen(small) == sizeof small - 1 && strncmp(small, want, sizeof small - 1) == 0);
    free(got);
    free(messages);
}

int main(void) {
    if (getenv("VLM_TEST_DATA") == NULL) return TEST_SKIP_CODE;
    cJSON *json = ref_read_json("smolvlm-e2e/chat.json");
    int n = 0;
    const cJSON *c;
    cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(json, "cases")) { run_case(c); n++; }
    CHECK(n >= 8);

    /* the fixture's template is the one the renderer reproduces */
    cJSON *template_json = ref_read_json("tiny-smolvlm/chat_template.json");
    CHECK(vlmi_idefics3_chat_template_known(sv_string(template_json, "chat_template")));
    CHECK(!vlmi_idefics3_chat_template_known("{{ messages }}"));
    CHECK(!vlmi_idefics3_chat_template_known(NULL));
    cJSON_Delete(template_json);
    cJSON_Delete(json);
    printf("%d chat cases\n", n);
    return test_finish("smolvlm_chat");
}
