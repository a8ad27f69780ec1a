/* vlm-cli: the command-line window on libvlm.
 *
 *   vlm-cli inspect PATH                       what a model, weights file or image holds
 *   vlm-cli tokenize -m MODEL [--pieces] [--special]   JSON lines in, ids out
 *   vlm-cli -m MODEL --image PATH -p PROMPT    ask about an image (or a video, or chat)
 *   vlm-cli parse-grounding --width W ...      a grounding answer (stdin) as JSON boxes
 *   vlm-cli -m MODEL --image PATH --safety     image-safety scores (ShieldGemma 2)
 *   vlm-cli -m MODEL --image PATH --detect X   boxes around every X (Qwen2.5-VL), printed or drawn
 */
#include "cli.h"

#include <string.h>


static void usage(FILE *out) {
    fprintf(out,
            "usage: vlm-cli inspect PATH [--compact]\n"
            "       vlm-cli tokenize -m MODEL_DIR|tokenizer.json [--pieces] [--special] [--no-add-special]\n"
            "       vlm-cli [ask] -m MODEL_DIR [--image PATH|-]... [-p PROMPT] [--chat]\n"
            "               [--frames DIR --fps F] [--system TEXT] [--json] [--dump-logits FILE]\n"
            "               [--dump-pixel-values FILE]\n"
            "               [--max-tokens N] [--temp T] [--top-k K] [--top-p P] [--min-p P]\n"
            "               [--repeat-penalty R] [--seed S] [--stop STR]... [--max-tiles N] [--ctx N]\n"
            "               [--pan-and-scan|--no-pan-and-scan] [--min-pixels N] [--max-pixels N]\n"
            "               [--kv-type f32|f16|q8_0]\n"
            "       vlm-cli -m MODEL_DIR --image PATH --safety [dangerous|sexual|violence|all]\n"
            "               [--policy TEXT] [--ctx N] [--json]\n"
            "       vlm-cli -m MODEL_DIR --image PATH --detect PHRASE [--draw OUT.png] [--json]\n"
            "               [--max-tokens N] [--answer TEXT|--answer-file FILE] [--ctx N]\n"
            "               [--min-pixels N] [--max-pixels N]\n"
            "       vlm-cli parse-grounding --width W --height H --resized-width RW --resized-height RH\n"
            "       vlm-cli --version\n"
            "MODEL_DIR is a hub directory or a GGUF file; a llama.cpp text GGUF takes its\n"
            "vision projector with --mmproj FILE (ask, --safety, --detect).\n");
}

int cli_report(const char *what, vlm_status status) {
    fprintf(stderr, "vlm-cli: %s: %s: %s\n", what, vlm_status_string(status), vlm_last_error());
    return 1;
}

int main(int argc, char **argv) {
    if (argc < 2) { usage(stderr); return 2; }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) { usage(stdout); return 0; }
    if (strcmp(argv[1], "--version") == 0) { printf("%s\n", vlm_build_info()); return 0; }
    if (strcmp(argv[1], "inspect") == 0) return cli_inspect(argc - 1, argv + 1);
    if (strcmp(argv[1], "tokenize") == 0) return cli_tokenize(argc - 1, argv + 1);
    if (strcmp(argv[1], "parse-grounding") == 0) return cli_parse_grounding(argc - 1, argv + 1);
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--safety") == 0) return cli_safety(argc, argv);
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--detect") == 0) return cli_detect(argc, argv);
    if (strcmp(argv[1], "ask") == 0) return cli_ask(argc - 1, argv + 1);
    return cli_ask(argc, argv);
}
