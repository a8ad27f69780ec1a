/* Encode throughput of one tokenizer on one text file, single thread.
 * Build (from the repository root, after ninja -C build):
 *   cc -O2 -Iinclude bench/tokenizer_bench.c build/libvlm.a \
 *      -lcjson -lonig -lutf8proc -ljpeg -lpng -lz -lm -lpthread -o tokenizer_bench
 * Usage: tokenizer_bench TOKENIZER_JSON_OR_DIR TEXT_FILE [SECONDS]
 * The text is encoded line by line (as a chat would be); compare with
 * bench/tokenizer_bench.py on the same inputs. */
#include "vlm.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s tokenizer.json text-file [seconds]\n", argv[0]);
        return 2;
    }
    double seconds = argc > 3 ? atof(argv[3]) : 3.0;
    double t0 = now();
    vlm_tokenizer *tok;
    if (vlm_tokenizer_load(argv[1], &tok) != VLM_OK) {
        fprintf(stderr, "load: %s\n", vlm_last_error());
        return 1;
    }
    printf("load: %.3f s\n", now() - t0);
    FILE *f = fopen(argv[2], "rb");
    if (!f) { perror(argv[2]); return 1; }
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *text = malloc((size_t)size + 1);
    if (fread(text, 1, (size_t)size, f) != (size_t)size) return 1;
    fclose(f);
    text[size] = '\0';
    size_t cap = (size_t)size + 16, total_ids = 0, bytes = 0;
    int32_t *ids = malloc(cap * sizeof *ids);
    int rounds = 0;
    double start = now();
    while (now() - start < seconds) {
        char *line = text, *end = text + size;
        while (line < end) {
            char *nl = memchr(line, '\n', (size_t)(end - line));
            size_t len = (size_t)((nl ? nl + 1 : end) - line);
            size_t n;
            if (vlm_tokenize(tok, line, len, VLM_TOKENIZE_PARSE_SPECIAL, ids, cap, &n) != VLM_OK) {
                fprintf(stderr, "encode: %s\n", vlm_last_error());
                return 1;
            }
            total_ids += n;
            bytes += len;
            line += len;
        }
        rounds++;
    }
    double elapsed = now() - start;
    printf("encode: %.2f MB/s (%d rounds, %zu ids per round)\n", (double)bytes / elapsed / 1e6, rounds,
           total_ids / (size_t)rounds);
    free(ids);
    free(text);
    vlm_tokenizer_free(tok);
    return 0;
}
