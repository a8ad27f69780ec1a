/* Loads a hub model directory's JSON configuration files. */
#include "model/hub_config.h"

#include "io/file.h"
#include "io/json_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The parsers that read one whole file's text. */
typedef vlm_status (*file_parser)(const char *text, size_t size, const char *path,
                                  void *target);

static vlm_status parse_model(const char *t, size_t n, const char *p, void *target) {
    return vlmi_model_config_parse(t, n, p, target);
}
static vlm_status parse_processor(const char *t, size_t n, const char *p, void *target) {
    return vlmi_processor_config_parse(t, n, p, target);
}
static vlm_status apply_processor(const char *t, size_t n, const char *p, void *target) {
    return vlmi_processor_config_apply_processor_json(t, n, p, target);
}
static vlm_status parse_generation(const char *t, size_t n, const char *p, void *target) {
    return vlmi_generation_config_parse(t, n, p, target);
}
static vlm_status parse_tokenizer(const char *t, size_t n, const char *p, void *target) {
    return vlmi_tokenizer_config_parse(t, n, p, target);
}
static vlm_status parse_template_json(const char *t, size_t n, const char *p, void *target) {
    return vlmi_chat_template_parse_json(t, n, p, target);
}
static vlm_status set_template_jinja(const char *t, size_t n, const char *p, void *target) {
    return vlmi_chat_template_set_jinja(t, n, p, target);
}

typedef struct file_source {
    vlmi_hub_file_reader read;
    void *ctx;
} file_source;

/* A directory's files: dir/name, absent when not a regular file (a
 * required one is read anyway, for the reader's own error). */
static vlm_status read_from_directory(void *ctx, const char *name, bool required, char **text,
                                      size_t *size, char *display, size_t display_size) {
    *text = NULL;
    char *path = vlmi_path_join(ctx, name);
    if (path == NULL) return VLM_ERR_OUT_OF_MEMORY;
    snprintf(display, display_size, "%s", path);
    vlm_status st = VLM_OK;
    if (required || vlmi_is_regular_file(path))
        st = vlmi_file_read(path, VLMI_JSON_MAX_FILE_SIZE, text, size);
    free(path);
    return st;
}

/* Reads the file name and runs parse on it. *found tells whether the file
 * exists; a missing optional file is not an error. */
static vlm_status read_one(const file_source *src, const char *name, bool required,
                           file_parser parse, void *target, bool *found) {
    if (found != NULL) *found = false;
    char display[1024], *text;
    size_t size;
    vlm_status st = src->read(src->ctx, name, required, &text, &size, display, sizeof display);
    if (st != VLM_OK) return st;
    if (text == NULL)
        return required ? vlmi_fail(VLM_ERR_IO, "%s: no such file", display) : VLM_OK;
    st = parse(text, size, display, target);
    free(text);
    if (st == VLM_OK && found != NULL) *found = true;
    return st;
}

static vlm_status load(const file_source *src, vlmi_hub_config *hub) {
    vlm_status st;
    bool found;
    if ((st = read_one(src, "config.json", true, parse_model, &hub->model, NULL)) != VLM_OK)
        return st;

    if ((st = read_one(src, "preprocessor_config.json", false, parse_processor, &hub->processor,
                       &found)) != VLM_OK)
        return st;
    hub->has_processor = found;
    if ((st = read_one(src, "processor_config.json", false, apply_processor, &hub->processor,
                       &found)) != VLM_OK)
        return st;
    hub->has_processor = hub->has_processor || found;
    if ((st = read_one(src, "video_preprocessor_config.json", false, parse_processor,
                       &hub->video_processor, &found)) != VLM_OK)
        return st;
    hub->has_video_processor = found;

    if ((st = read_one(src, "generation_config.json", false, parse_generation, &hub->generation,
                       &found)) != VLM_OK)
        return st;
    hub->has_generation = found;

    /* lowest precedence first, so the later files replace the template */
    if ((st = read_one(src, "tokenizer_config.json", false, parse_tokenizer, &hub->tokenizer,
                       &found)) != VLM_OK)
        return st;
    hub->has_tokenizer = found;
    if ((st = read_one(src, "chat_template.json", false, parse_template_json, &hub->tokenizer,
                       &found)) != VLM_OK)
        return st;
    hub->has_tokenizer = hub->has_tokenizer || found;
    if ((st = read_one(src, "chat_template.jinja", false, set_template_jinja, &hub->tokenizer,
                       &found)) != VLM_OK)
        return st;
    hub->has_tokenizer = hub->has_tokenizer || found;
    return VLM_OK;
}

static void init(vlmi_hub_config *hub) {
    memset(hub, 0, sizeof *hub);
    vlmi_processor_config_init(&hub->processor, "");
    vlmi_processor_config_init(&hub->video_processor, "");
    vlmi_generation_config_init(&hub->generation);
    /* an empty tokenizer config: parse of an empty object sets the "unset" markers */
    vlmi_tokenizer_config_free(&hub->tokenizer);
}

vlm_status vlmi_hub_config_load(const char *model_dir, vlmi_hub_config *out) {
    if (out == NULL) return vlmi_fail(VLM_ERR_INVALID_ARGUMENT, "hub config: out is NULL");
    init(out);
    if (model_dir == NULL)
        return vlmi_fail(VLM_ERR_INVALID_ARGUMENT, "hub config: model directory is NULL");
    if (!vlmi_is_directory(model_dir))
        return vlmi_fail(VLM_ERR_IO, "%s: not a directory", model_dir);
    file_source src = {read_from_directory, (void *)model_dir};
    vlm_status st = load(&src, out);
    if (st != VLM_OK) vlmi_hub_config_free(out);
    return st;
}

vlm_status vlmi_hub_config_load_from(vlmi_hub_file_reader read, void *ctx,
                                     vlmi_hub_config *out) {
    if (out == NULL) return vlmi_fail(VLM_ERR_INVALID_ARGUMENT, "hub config: out is NULL");
    init(out);
    file_source src = {read, ctx};
    vlm_status st = load(&src, out);
    if (st != VLM_OK) vlmi_hub_config_free(out);
    return st;
}

void vlmi_hub_config_free(vlmi_hub_config *hub) {
    if (hub == NULL) return;
    vlmi_model_config_free(&hub->model);
    vlmi_tokenizer_config_free(&hub->tokenizer);
    init(hub);
}
