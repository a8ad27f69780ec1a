/* vlm-cli tokenize: one JSON string per input line, one JSON object per
 * output line ({"ids": [...]}, plus "pieces" and "text" with --pieces), so
 * parity with another tokenizer can be checked from outside. */
#include "cli.h"

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

static char *read_line(FILE *in) {
    size_t cap = 256, n = 0;
    char *line = malloc(cap);
    int c;
    while (line != NULL && (c = fgetc(in)) != EOF && c != '\n') {
        if (n + 1 == cap) {
            char *grown = realloc(line, cap *= 2);
            if (grown == NULL) { free(line); return NULL; }
            line = grown;
        }
        line[n++] = (char)c;
    }
    if (line == NULL || (n == 0 && c == EOF)) { free(line); return NULL; }
    line[n] = '\0';
    return line;
}

/* Returns a malloc'd string from a size-query call: f(buf, size, &len). */
#define CLI_QUERY_STRING(result, status, call_with_buf)                   \
    do {                                                                  \
        size_t len_ = 0;                                                  \
        char *buf = NULL;                                                 \
        size_t buf_size = 0;                                              \
        size_t *out_len = &len_;                                          \
        status = call_with_buf;                                           \
        if (status == VLM_ERR_BUFFER_TOO_SMALL || status == VLM_OK) {     \
            buf_size = len_ + 1;                                          \
            buf = malloc(buf_size);                                       \
            status = buf ? call_with_buf : VLM_ERR_OUT_OF_MEMORY;         \
        }                                                                 \
        if (status != VLM_OK) { free(buf); buf = NULL; }                  \
        result = buf;                                                     \
    } while (0)

static int tokenize_line(const vlm_tokenizer *tok, const char *line, uint32_t flags,
                         bool pieces) {
    cJSON *input = cJSON_Parse(line);
    if (input == NULL || !cJSON_IsString(input)) {
        cJSON_Delete(input);
        fprintf(stderr, "vlm-cli tokenize: each line must be a JSON string\n");
        return 1;
    }
    const char *text = input->valuestring;
    size_t n = 0;
    vlm_status st = vlm_tokenize(tok, text, strlen(text), flags, NULL, 0, &n);
    int32_t *ids = malloc((n ? n : 1) * sizeof *ids);
    if (st == VLM_ERR_BUFFER_TOO_SMALL || st == VLM_OK)
        st = ids ? vlm_tokenize(tok, text, strlen(text), flags, ids, n, &n) : VLM_ERR_OUT_OF_MEMORY;
    cJSON_Delete(input);
    if (st != VLM_OK) { free(ids); return cli_report("tokenize", st); }

    cJSON *out = cJSON_CreateObject();
    cJSON *id_array = cJSON_AddArrayToObject(out, "ids");
    for (size_t i = 0; i < n; i++) cJSON_AddItemToArray(id_array, cJSON_CreateNumber(ids[i]));
    if (pieces) {
        cJSON *piece_array = cJSON_AddArrayToObject(out, "pieces");
        for (size_t i = 0; i < n && st == VLM_OK; i++) {
            char *piece;
            CLI_QUERY_STRING(piece, st, vlm_token_to_piece(tok, ids[i], buf, buf_size, out_len));
            if (piece) cJSON_AddItemToArray(piece_array, cJSON_CreateString(piece));
            free(piece);
        }
        char *decoded = NULL;
        if (st == VLM_OK)
            CLI_QUERY_STRING(decoded, st, vlm_detokenize(tok, ids, n, 0, buf, buf_size, out_len));
        if (decoded) cJSON_AddStringToObject(out, "text", decoded);
        free(decoded);
    }
    free(ids);
    char *printed = cJSON_PrintUnformatted(out);
    cJSON_Delete(out);
    if (st != VLM_OK) { free(printed); return cli_report("detokenize", st); }
    if (printed) puts(printed);
    free(printed);
    return printed ? 0 : 1;
}

int cli_tokenize(int argc, char **argv) {
    const char *path = getenv("VLM_MODEL");
    bool pieces = false;
    uint32_t flags = VLM_TOKENIZE_ADD_SPECIAL;
    for (int i = 1; i < argc; i++) {
        if ((strcmp(argv[i], "-m") == 0 || strcmp(argv[i], "--model") == 0) && i + 1 < argc)
            path = argv[++i];
        else if (strcmp(argv[i], "--pieces") == 0) pieces = true;
        else if (strcmp(argv[i], "--special") == 0) flags |= VLM_TOKENIZE_PARSE_SPECIAL;
        else if (strcmp(argv[i], "--no-add-special") == 0) flags &= ~(uint32_t)VLM_TOKENIZE_ADD_SPECIAL;
        else {
            fprintf(stderr, "vlm-cli tokenize: unknown argument '%s'\n", argv[i]);
            return 2;
        }
    }
    if (path == NULL) {
        fprintf(stderr, "usage: vlm-cli tokenize -m MODEL_DIR|tokenizer.json [--pieces] [--special]\n");
        return 2;
    }
    vlm_tokenizer *tok = NULL;
    vlm_status st = vlm_tokenizer_load(path, &tok);
    if (st != VLM_OK) return cli_report(path, st);
    int rc = 0;
    char *line;
    while (rc == 0 && (line = read_line(stdin)) != NULL) {
        if (line[0] != '\0') rc = tokenize_line(tok, line, flags, pieces);
        fflush(stdout);
        free(line);
    }
    vlm_tokenizer_free(tok);
    return rc;
}
