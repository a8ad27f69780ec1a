/* vlm-cli: one subcommand per file, sharing these helpers. */
#ifndef VLM_CLI_H
#define VLM_CLI_H

#include "vlm.h"

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdio.h>

int cli_inspect(int argc, char **argv);
int cli_tokenize(int argc, char **argv);
int cli_ask(int argc, char **argv);
int cli_parse_grounding(int argc, char **argv);
int cli_safety(int argc, char **argv);
int cli_detect(int argc, char **argv);

/* The model options every subcommand takes (model_option.c). */
typedef struct cli_model {
    const char *path;    /* -m/--model, default $VLM_MODEL; NULL: none given */
    const char *mmproj;  /* --mmproj: llama.cpp's vision projector GGUF */
} cli_model;
void cli_model_init(cli_model *m);
/* True (and m updated) if arg is a model option; it always takes value. */
bool cli_model_option(cli_model *m, const char *arg, const char *value);
vlm_status cli_model_load(const cli_model *m, vlm_progress_fn progress, vlm_model **out);

/* --json (json_out.c): the session's vlm_timings as out's "timings" object,
 * and out printed to stdout (false, with a message, when out of memory). */
void cli_json_add_timings(cJSON *out, const vlm_session *session);
bool cli_json_print(const cJSON *out);

/* The JSON name of a vlm_grounding_reason ("no_coordinates" ...). */
const char *cli_grounding_reason(int32_t reason);

/* Prints "vlm-cli: <what>: <status>: <library message>" to stderr; returns 1. */
int cli_report(const char *what, vlm_status status);

#endif
