/* vlm-cli parse-grounding: a model's grounding answer (stdin) as JSON boxes
 * and points in the original image's pixels.
 *
 *   vlm-cli parse-grounding --width W --height H --resized-width RW --resized-height RH
 *
 * Prints {"items": [{"kind": "box", "bbox": [x1, y1, x2, y2], "label": ...},
 * {"kind": "point", "point": [x, y], "label": ...}], "rejected": [{"reason":
 * ..., "offset": N, "label": ...}]}. */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

const char *cli_grounding_reason(int32_t reason) {
    switch (reason) {
    case VLM_GROUNDING_NO_COORDINATES: return "no_coordinates";
    case VLM_GROUNDING_WRONG_ARITY: return "wrong_arity";
    case VLM_GROUNDING_NOT_A_NUMBER: return "not_a_number";
    case VLM_GROUNDING_TRUNCATED: return "truncated";
    case VLM_GROUNDING_NOT_AN_OBJECT: return "not_an_object";
    case VLM_GROUNDING_TOO_DEEP: return "too_deep";
    default: return "unknown";
    }
}

static void print_json_string(const char *s) {
    putchar('"');
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') printf("\\%c", c);
        else if (c < 0x20) printf("\\u%04x", c);
        else putchar(c);
    }
    putchar('"');
}

static char *read_stdin(size_t *len) {
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    for (size_t got; buf != NULL && (got = fread(buf + n, 1, cap - n, stdin)) > 0;) {
        n += got;
        if (n == cap) {
            char *bigger = realloc(buf, cap *= 2);
            if (bigger == NULL) { free(buf); return NULL; }
            buf = bigger;
        }
    }
    *len = n;
    return buf;
}

int cli_parse_grounding(int argc, char **argv) {
    long dims[4] = {0, 0, 0, 0}; /* width, height, resized width, resized height */
    static const char *const flags[4] = {"--width", "--height", "--resized-width", "--resized-height"};
    for (int i = 1; i < argc; i++) {
        int which = -1;
        for (int k = 0; k < 4; k++)
            if (strcmp(argv[i], flags[k]) == 0) which = k;
        if (which < 0 || i + 1 >= argc) {
            fprintf(stderr, "usage: vlm-cli parse-grounding --width W --height H "
                            "[--resized-width RW --resized-height RH] < answer.txt\n");
            return 2;
        }
        char *end;
        dims[which] = strtol(argv[++i], &end, 10);
        if (*end != '\0' || dims[which] < 0 || dims[which] > (long)UINT32_MAX) {
            fprintf(stderr, "vlm-cli: %s: not a size: %s\n", flags[which], argv[i]);
            return 2;
        }
    }
    size_t len = 0;
    char *answer = read_stdin(&len);
    if (answer == NULL) { fprintf(stderr, "vlm-cli: cannot read stdin\n"); return 1; }
    size_t n = 0, rejected = 0;
    vlm_status st = vlm_parse_grounding(answer, len, (uint32_t)dims[0], (uint32_t)dims[1],
                                        (uint32_t)dims[2], (uint32_t)dims[3], NULL,
                                        sizeof(vlm_grounding_item), 0, &n, &rejected);
    vlm_grounding_item *items = NULL;
    if (st == VLM_ERR_BUFFER_TOO_SMALL) {
        items = calloc(n, sizeof *items);
        st = items == NULL ? VLM_ERR_OUT_OF_MEMORY
                           : vlm_parse_grounding(answer, len, (uint32_t)dims[0], (uint32_t)dims[1],
                                                 (uint32_t)dims[2], (uint32_t)dims[3], items,
                                                 sizeof *items, n, &n, &rejected);
    }
    free(answer);
    if (st != VLM_OK) { free(items); return cli_report("parse-grounding", st); }
    printf("{\"items\": [");
    const char *sep = "";
    for (size_t i = 0; i < n; i++) {
        const vlm_grounding_item *it = &items[i];
        if (it->kind == VLM_GROUNDING_REJECTED) continue;
        if (it->kind == VLM_GROUNDING_BOX)
            printf("%s{\"kind\": \"box\", \"bbox\": [%.2f, %.2f, %.2f, %.2f], \"label\": ", sep,
                   it->x1, it->y1, it->x2, it->y2);
        else
            printf("%s{\"kind\": \"point\", \"point\": [%.2f, %.2f], \"label\": ", sep, it->x1, it->y1);
        print_json_string(it->label);
        putchar('}');
        sep = ", ";
    }
    printf("], \"rejected\": [");
    sep = "";
    for (size_t i = 0; i < n; i++) {
        const vlm_grounding_item *it = &items[i];
        if (it->kind != VLM_GROUNDING_REJECTED) continue;
        printf("%s{\"reason\": \"%s\", \"offset\": %zu, \"label\": ", sep, cli_grounding_reason(it->reason),
               it->offset);
        print_json_string(it->label);
        putchar('}');
        sep = ", ";
    }
    printf("]}\n");
    free(items);
    return 0;
}
