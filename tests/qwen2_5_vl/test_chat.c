/* The Qwen2.5-VL chat format against the model's chat template as
 * transformers renders it (jinja2; qwen2_5_vl/chat.json, made by
 * tests/gen/make_qwen2_5_vl_chat_fixtures.py). */
#include "arch/qwen2_5_vl_chat.h"
#include "../smolvlm/smolvlm_fixture.h"

static vlm_role role_of(const char *name) {
    return strcmp(name, "system") == 0 ? VLM_ROLE_SYSTEM
           : strcmp(name, "assistant") == 0 ? VLM_ROLE_ASSISTANT : VLM_ROLE_USER;
}

static void run_case(const cJSON *c, int index) {
    const cJSON *turns = cJSON_GetObjectItemCaseSensitive(c, "messages"), *t;
    size_t n = (size_t)cJSON_GetArraySize(turns), i = 0;
    vlmi_chat_message *messages = calloc(n, sizeof *messages);
    cJSON_ArrayForEach(t, turns) {
        const cJSON *images = cJSON_GetObjectItemCaseSensitive(t, "n_images");
        messages[i++] = (vlmi_chat_message){
            role_of(sv_string(t, "role")), sv_string(t, "text"),
            cJSON_IsNumber(images) ? (size_t)images->valuedouble : 0,
            cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(t, "video"))};
    }
    for (int add_prompt = 0; add_prompt < 2; add_prompt++) {
        const char *want = sv_string(c, add_prompt ? "with_prompt" : "without_prompt");
        size_t len = vlmi_qwen2vl_chat_render(NULL, 0, messages, n, add_prompt);
        char *got = malloc(len + 1);
        CHECK(vlmi_qwen2vl_chat_render(got, len + 1, messages, n, add_prompt) == len);
        CHECK_MSG(strcmp(got, want) == 0, "case %d: rendered\n%s\nexpected\n%s", index, got, want);
        char small[8];
        CHECK(vlmi_qwen2vl_chat_render(small, sizeof small, messages, n, add_prompt) == len);
        CHECK(strlen(small) == sizeof small - 1 && strncmp(small, want, sizeof small - 1) == 0);
        free(got);
    }
    free(messages);
}

int main(void) {
    if (getenv("VLM_TEST_DATA") == NULL) return TEST_SKIP_CODE;
    cJSON *json = ref_read_json("qwen2_5_vl/chat.json");
    int n = 0;
    const cJSON *c;
    cJSON_ArrayForEach(c, json) run_case(c, n++);
    CHECK(n >= 4);
    cJSON_Delete(json);
    printf("%d chat cases\n", n);
    return test_finish("qwen2_5_vl_chat");
}
