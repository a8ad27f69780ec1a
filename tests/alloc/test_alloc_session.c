/* Issue 4: nothing in the per-token loop allocates. A session on the tiny
 * SmolVLM model answers a question about a small image; from the 4th
 * generated token to the last (max_tokens) no allocator call is made, by
 * the decoder, sampler, detokenizer or stop-string matcher. Checked for
 * greedy decoding and for sampling with every warper and a stop string
 * that never matches (argument: greedy or sampling; none: both), on the
 * default thread pool. Built twice (tests/alloc/meson.build): with --wrap
 * (libvlm's own calls) and with malloc interposed (libc's calls too). */
#include "vlm.h"
#include "test.h"
#include "alloc_count.h"

#define MAX_TOKENS 24
#define WARM_TOKENS 3

typedef struct run_state {
    int n_tokens;    /* on_token calls with a token */
    int n_counted;   /* of them, made while counting */
    alloc_counts at_last;   /* the counts when the last token arrived */
} run_state;

/* Counting starts once WARM_TOKENS tokens are out and stops at the last
 * one: it covers the loop for tokens WARM_TOKENS + 1 .. MAX_TOKENS (the
 * forward pass of the previous token, sampling, detokenizing, stop
 * strings, this callback), not what generate does after the loop. */
static bool on_token(int32_t token, const char *piece, size_t piece_len, void *user_data) {
    run_state *r = user_data;
    (void)piece;
    (void)piece_len;
    if (token < 0) return true;   /* held text released at the end */
    r->n_tokens++;
    if (alloc_count_active()) r->n_counted++;
    if (r->n_tokens == WARM_TOKENS) alloc_count_start();
    if (r->n_tokens == MAX_TOKENS && alloc_count_active()) {
        alloc_count_stop();
        r->at_last = alloc_count_get();
    }
    return true;
}

static void check_generate(vlm_session *s, vlm_generate_params *gp, const char *what) {
    run_state r = { 0 };
    gp->max_tokens = MAX_TOKENS;
    gp->on_token = on_token;
    gp->user_data = &r;
    vlm_status st = vlm_session_generate(s, gp);
    int reached_end = alloc_count_active() == 0 && r.n_tokens == MAX_TOKENS;
    alloc_count_stop();
    CHECK_MSG(st == VLM_OK, "%s: vlm_session_generate: %s", what, vlm_last_error());
    /* the test only proves something if the loop ran while counting */
    CHECK_MSG(reached_end && r.n_counted == MAX_TOKENS - WARM_TOKENS,
              "%s: generation gave %d tokens (%d counted), not the %d the test needs (an end "
              "token came early: change the prompt)", what, r.n_tokens, r.n_counted, MAX_TOKENS);
    if (!reached_end) return;
    CHECK_MSG(r.at_last.allocs == 0,
              "%s: the per-token loop allocated %zu times over %d tokens (see the stacks below)",
              what, r.at_last.allocs, r.n_counted);
    CHECK_MSG(r.at_last.frees == 0, "%s: the per-token loop freed %zu times over %d tokens",
              what, r.at_last.frees, r.n_counted);
    if (r.at_last.allocs || r.at_last.frees) alloc_count_report(what);
    printf("%s: %d tokens, %d in the counted loop, %zu allocations, %zu frees\n", what,
           r.n_tokens, r.n_counted, r.at_last.allocs, r.at_last.frees);
}

int main(int argc, char **argv) {
    /* which runs: greedy, sampling or (no argument) both */
    const char *only = argc > 1 ? argv[1] : "";
    const char *data = getenv("VLM_TEST_DATA");
    if (data == NULL) return 1;
    CHECK_MSG(alloc_count_init(), "the allocator wrappers are not linked in (-Wl,--wrap)");
    char path[4096];
    snprintf(path, sizeof path, "%s/tiny-smolvlm", data);
    vlm_model *model = NULL;
    CHECK_OK(vlm_model_load(path, NULL, &model));
    vlm_session *s = NULL;
    if (model != NULL) CHECK_OK(vlm_session_create(model, NULL, &s));
    if (s == NULL) {
        vlm_model_free(model);
        return test_finish("alloc-session");
    }

    /* a small gradient image */
    enum { W = 40, H = 30 };
    static unsigned char pixels[W * H * 3];
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            unsigned char *p = pixels + 3 * (y * W + x);
            p[0] = (unsigned char)(x * 6);
            p[1] = (unsigned char)(y * 8);
            p[2] = (unsigned char)((x + y) * 3);
        }
    vlm_image *image = NULL;
    /* the counting sees the library's calls: making an image allocates */
    alloc_count_start();
    CHECK_OK(vlm_image_from_pixels(pixels, sizeof pixels, W, H, 0, VLM_PIXEL_RGB8, &image));
    alloc_count_stop();
    CHECK_MSG(alloc_count_get().allocs > 0, "vlm_image_from_pixels made no counted allocation: "
              "the wrappers do not see libvlm's calls");
    CHECK_OK(vlm_session_add_turn(s, VLM_ROLE_USER, "Describe this image in detail.", &image, 1));
    vlm_image_free(image);

    vlm_generate_params gp;
    vlm_generate_params_init(&gp, sizeof gp);
    if (strcmp(only, "sampling") != 0) check_generate(s, &gp, "greedy");

    /* the next turn reuses the cache; sampling sorts candidates and keeps
     * text back for a stop string */
    CHECK_OK(vlm_session_add_turn(s, VLM_ROLE_USER, "Tell me more about the colors.", NULL, 0));
    static const char *const stops[] = { "\x01never in the answer" };
    vlm_generate_params_init(&gp, sizeof gp);
    gp.temperature = 0.8f;
    gp.top_k = 50;
    gp.top_p = 0.95f;
    gp.min_p = 0.01f;
    gp.repeat_penalty = 1.1f;
    gp.seed = 7;
    gp.stop_strings = stops;
    gp.n_stop_strings = 1;
    if (strcmp(only, "greedy") != 0) check_generate(s, &gp, "sampling with a stop string");

    vlm_session_free(s);
    vlm_model_free(model);
    return test_finish("alloc-session");
}
