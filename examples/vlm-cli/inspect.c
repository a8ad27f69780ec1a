/* vlm-cli inspect PATH: prints vlm_inspect's JSON. */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

int cli_inspect(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: vlm-cli inspect PATH\n");
        return 2;
    }
    size_t len = 0;
    vlm_status st = vlm_inspect(argv[1], NULL, 0, &len);
    if (st != VLM_ERR_BUFFER_TOO_SMALL && st != VLM_OK) return cli_report(argv[1], st);
    char *json = malloc(len + 1);
    if (json == NULL) return cli_report(argv[1], VLM_ERR_OUT_OF_MEMORY);
    st = vlm_inspect(argv[1], json, len + 1, &len);
    if (st != VLM_OK) { free(json); return cli_report(argv[1], st); }
    fwrite(json, 1, len, stdout);
    fputc('\n', stdout);
    free(json);
    return 0;
}
