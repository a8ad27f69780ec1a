/* vlm-cli: one subcommand per file, sharing these helpers. */
#ifndef VLM_CLI_H
#define VLM_CLI_H

#include "vlm.h"

#include <stdio.h>

int cli_inspect(int argc, char **argv);
int cli_tokenize(int argc, char **argv);
int cli_ask(int argc, char **argv);
int cli_parse_grounding(int argc, char **argv);
int cli_safety(int argc, char **argv);
int cli_detect(int argc, char **argv);

/* The JSON name of a vlm_grounding_reason ("no_coordinates" ...). */
const char *cli_grounding_reason(int32_t reason);

/* Prints "vlm-cli: <what>: <status>: <library message>" to stderr; returns 1. */
int cli_report(const char *what, vlm_status status);

#endif
