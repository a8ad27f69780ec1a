/* Session behaviour around the reference path (tiny SmolVLM): the model's
 * image cache (a follow-up about the same picture skips the encoder and
 * answers identically), progress and cancellation of long calls (the session
 * stays usable and answers as if nothing happened), the default context
 * length, and misuse: placeholders typed into a turn, a prompt longer than
 * the context, a model directory without tokenizer.json. */
#include "smolvlm_fixture.h"
#include "image_cache.h"

#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#define N_TOKENS 8
#define TILES 4        /* the tile cap of most sessions here: several frames */

typedef struct answer {
    ref_answer r;          /* greedy ids, prompt ids, last prompt logits */
    vlm_timings timings;
} answer;

/* Greedy N_TOKENS; *a receives the ids, prompt logits and timings. */
static vlm_status answer_now(vlm_session *s, answer *a) {
    vlm_status st = ref_session_answer(s, N_TOKENS, &a->r);
    if (st != VLM_OK) return st;
    a->timings.struct_size = sizeof a->timings;
    CHECK_OK(vlm_session_timings(s, &a->timings));
    return VLM_OK;
}

/* The same tokens, prompt and prompt logits, to the bit. */
static bool same_answer(const answer *a, const answer *b) {
    const ref_answer *x = &a->r, *y = &b->r;
    return x->n_greedy == y->n_greedy && memcmp(x->greedy, y->greedy, sizeof x->greedy) == 0 &&
           x->n_ids == y->n_ids && memcmp(x->ids, y->ids, x->n_ids * sizeof *x->ids) == 0 &&
           x->n_logits == y->n_logits && x->n_logits > 0 &&
           memcmp(x->logits, y->logits, x->n_logits * sizeof *x->logits) == 0;
}

static vlm_model *load(const char *dir, uint64_t cache_bytes) {
    vlm_model_params mp;
    vlm_model_params_init(&mp, sizeof mp);
    CHECK(mp.image_cache_bytes == (uint64_t)64 << 20);
    mp.image_cache_bytes = cache_bytes;
    vlm_model *m = NULL;
    CHECK_OK(vlm_model_load(dir, &mp, &m));
    return m;
}

static vlm_session *open_session(vlm_model *m, int32_t max_tiles, vlm_progress_fn progress,
                                 void *user_data) {
    vlm_session_params sp;
    vlm_session_params_init(&sp, sizeof sp);
    CHECK(sp.progress == NULL && sp.progress_user_data == NULL);
    sp.max_image_tiles = max_tiles;
    sp.progress = progress;
    sp.progress_user_data = user_data;
    vlm_session *s = NULL;
    CHECK_OK(vlm_session_create(m, &sp, &s));
    return s;
}

// ----------------------------------------------------------------------------
// the image cache

static void test_cache_unit(void) {
    vlmi_image_cache *c = NULL;
    CHECK_OK(vlmi_image_cache_create(2 * 100 * sizeof(float), &c));
    float a[100], out[100];
    for (int i = 0; i < 100; i++) a[i] = (float)i;
    uint8_t rgb[3 * 4] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
    vlmi_image_key k[3];
    vlmi_image_request plain = {0}, capped = {.max_tiles = 1}, panned = {.pan_and_scan = 1};
    vlmi_image_key_make(&k[0], rgb, 2, 2, &plain);
    vlmi_image_key_make(&k[1], rgb, 2, 2, &capped);  /* another tile cap */
    rgb[11] ^= 1;                                      /* one bit of one pixel */
    vlmi_image_key_make(&k[2], rgb, 2, 2, &plain);
    CHECK(k[0].hash[0] != k[2].hash[0] && k[0].hash[1] != k[2].hash[1]);
    vlmi_image_plan plan = {.n_frames = 1}, got;
    vlmi_image_cache_put(c, &k[0], a, 100, &plan);
    vlmi_image_cache_put(c, &k[1], a, 100, &plan);
    CHECK(vlmi_image_cache_bytes(c) == 800);
    CHECK(vlmi_image_cache_get(c, &k[0], out, 100, &got) && out[99] == 99.0f && got.n_frames == 1);
    CHECK(!vlmi_image_cache_get(c, &k[2], out, 100, &got));
    /* full: the least recently used (k[1]; k[0] was just read) goes */
    vlmi_image_cache_put(c, &k[2], a, 100, &plan);
    CHECK(vlmi_image_cache_bytes(c) == 800);
    CHECK(!vlmi_image_cache_get(c, &k[1], out, 100, &got));
    CHECK(vlmi_image_cache_get(c, &k[0], out, 100, &got));
    CHECK(vlmi_image_cache_get(c, &k[2], out, 100, &got));
    /* larger than the whole cache: not stored, nothing evicted */
    float big[300] = {0};
    vlmi_image_cache_put(c, &k[1], big, 300, &plan);
    CHECK(vlmi_image_cache_bytes(c) == 800 && !vlmi_image_cache_get(c, &k[1], big, 300, &got));
    /* another request setting is another entry */
    rgb[11] ^= 1;
    vlmi_image_key other;
    vlmi_image_key_make(&other, rgb, 2, 2, &panned);
    CHECK(!vlmi_image_cache_get(c, &other, out, 100, &got));
    vlmi_image_cache_free(c);
    CHECK_OK(vlmi_image_cache_create(0, &c)); /* disabled */
    vlmi_image_cache_put(c, &k[0], a, 100, &plan);
    CHECK(!vlmi_image_cache_get(c, &k[0], out, 100, &got) && vlmi_image_cache_bytes(c) == 0);
    vlmi_image_cache_free(c);
    vlmi_image_cache_free(NULL);
}

static void test_cache(const char *dir, vlm_image *image, const answer *reference) {
    vlm_model *m = load(dir, (uint64_t)64 << 20);
    if (m == NULL) return;
    answer a = {0};
    /* first time: encoded */
    vlm_session *s = open_session(m, TILES, NULL, NULL);
    CHECK_OK(vlm_session_add_turn(s, VLM_ROLE_USER, "What is it?", &image, 1));
    CHECK_OK(answer_now(s, &a));
    CHECK(same_answer(&a, reference));
    CHECK(a.timings.n_cached_images == 0 && a.timings.encode_ms > 0);
    /* the same photo in a new turn: from the cache */
    CHECK_OK(vlm_session_add_turn(s, VLM_ROLE_USER, "And this?", &image, 1));
    CHECK_OK(answer_now(s, &a));
    CHECK_MSG(a.timings.n_cached_images == 1 && a.timings.encode_ms == 0.0 &&
              a.timings.preprocess_ms == 0.0, "second turn: %d cached, encode %g ms",
              a.timings.n_cached_images, a.timings.encode_ms);
    vlm_session_free(s);

    /* a new session: from the cache, the same answer to the bit */
    s = open_session(m, TILES, NULL, NULL);
    CHECK_OK(vlm_session_add_turn(s, VLM_ROLE_USER, "What is it?", &image, 1));
    CHECK_OK(answer_now(s, &a));
    CHECK(a.timings.n_cached_images == 1 && a.timings.encode_ms == 0.0);
    CHECK_MSG(same_answer(&a, reference), "cached features answer differently");
    vlm_session_free(s);

    /* another tile cap is another entry */
    s = open_session(m, 1, NULL, NULL);
    CHECK_OK(vlm_session_add_turn(s, VLM_ROLE_USER, "What is it?", &image, 1));
    CHECK_OK(answer_now(s, &a));
    CHECK(a.timings.n_cached_images == 0 && a.timings.encode_ms > 0);
    vlm_session_free(s);
    ref_answer_free(&a.r);
    vlm_model_free(m);

    /* a cache too small for one image holds none */
    m = load(dir, 1000);
    s = open_session(m, TILES, NULL, NULL);
    answer b = {0};
    CHECK_OK(vlm_session_add_turn(s, VLM_ROLE_USER, "What is it?", &image, 1));
    CHECK_OK(vlm_session_add_turn(s, VLM_ROLE_USER, "And this?", &image, 1));
    CHECK_OK(answer_now(s, &b));
    CHECK(b.timings.n_cached_images == 0);
    ref_answer_free(&b.r);
    vlm_session_free(s);
    vlm_model_free(m);
}

/* Sessions on two threads share one model and its cache. */
typedef struct thread_job {
    vlm_model *model;
    vlm_image *image;
    answer a;
    vlm_status st;
} thread_job;

static void *thread_main(void *arg) {
    thread_job *j = arg;
    vlm_session_params sp;
    vlm_session_params_init(&sp, sizeof sp);
    sp.max_image_tiles = TILES;
    vlm_session *s = NULL;
    j->st = vlm_session_create(j->model, &sp, &s);
    for (int round = 0; round < 2 && j->st == VLM_OK; round++) {
        j->st = vlm_session_add_turn(s, VLM_ROLE_USER, "What is it?", &j->image, 1);
        if (j->st == VLM_OK) j->st = answer_now(s, &j->a);
        if (round == 0) { vlm_session_free(s); s = NULL; if (j->st == VLM_OK) j->st = vlm_session_create(j->model, &sp, &s); }
    }
    vlm_session_free(s);
    return NULL;
}

static void test_cache_threads(const char *dir, vlm_image *image, const answer *reference) {
    vlm_model *m = load(dir, (uint64_t)64 << 20);
    if (m == NULL) return;
    thread_job jobs[2];
    memset(jobs, 0, sizeof jobs);
    for (int i = 0; i < 2; i++) { jobs[i].model = m; jobs[i].image = image; }
    pthread_t threads[2];
    for (int i = 0; i < 2; i++) CHECK(pthread_create(&threads[i], NULL, thread_main, &jobs[i]) == 0);
    for (int i = 0; i < 2; i++) pthread_join(threads[i], NULL);
    for (int i = 0; i < 2; i++) {
        CHECK_MSG(jobs[i].st == VLM_OK, "thread %d: %s", i, vlm_status_string(jobs[i].st));
        /* the second session of each thread found the image cached */
        CHECK(jobs[i].a.timings.n_cached_images == 1);
        CHECK(same_answer(&jobs[i].a, reference));
        ref_answer_free(&jobs[i].a.r);
    }
    vlm_model_free(m);
}

// ----------------------------------------------------------------------------
// progress and cancellation

typedef struct progress_log {
    int calls;
    int cancel_at;      /* return false at this call (1-based); 0: never */
    float last;
    bool ordered;       /* every report in [0, 1], none smaller than the previous */
} progress_log;

static bool on_progress(float f, void *user_data) {
    progress_log *p = user_data;
    p->calls++;
    if (!(f >= 0.0f && f <= 1.0f) || (p->calls > 1 && f < p->last)) p->ordered = false;
    p->last = f;
    return p->cancel_at == 0 || p->calls != p->cancel_at;
}

static void reset(progress_log *p, int cancel_at) {
    *p = (progress_log){.cancel_at = cancel_at, .ordered = true};
}

static void test_cancel(vlm_model *uncached, vlm_image *image, const answer *reference) {
    progress_log p;
    reset(&p, 1);
    vlm_session *s = open_session(uncached, TILES, on_progress, &p);
    if (s == NULL) return;
    answer a = {0};

    /* cancelled at the first report of the encoding: nothing was added */
    CHECK_STATUS(VLM_ERR_CANCELLED, vlm_session_add_turn(s, VLM_ROLE_USER, "What is it?", &image, 1));
    CHECK(p.calls == 1 && p.last == 0.0f);
    CHECK(strstr(vlm_last_error(), "cancelled") != NULL);
    CHECK_STATUS(VLM_ERR_STATE, answer_now(s, &a)); /* still no turns */
    /* cancelled after the first frame */
    reset(&p, 2);
    CHECK_STATUS(VLM_ERR_CANCELLED, vlm_session_add_turn(s, VLM_ROLE_USER, "What is it?", &image, 1));
    CHECK(p.calls == 2 && p.last > 0.0f && p.last < 1.0f);

    /* then it goes through, reporting frames up to 1 */
    reset(&p, 0);
    CHECK_OK(vlm_session_add_turn(s, VLM_ROLE_USER, "What is it?", &image, 1));
    CHECK(p.calls >= 3 && p.ordered && p.last == 1.0f);

    /* generate cancelled at the first prefill report */
    reset(&p, 1);
    CHECK_STATUS(VLM_ERR_CANCELLED, answer_now(s, &a));
    CHECK(p.calls == 1 && a.r.n_greedy == 0);
    /* cancelled after the first chunk: what was prefilled stays cached */
    reset(&p, 2);
    CHECK_STATUS(VLM_ERR_CANCELLED, answer_now(s, &a));
    CHECK(p.calls == 2 && a.r.n_greedy == 0);
    reset(&p, 0);
    CHECK_OK(answer_now(s, &a));
    CHECK(p.ordered && p.last == 1.0f);
    CHECK_MSG(same_answer(&a, reference), "the answer after cancelled calls differs");
    CHECK_MSG(a.timings.n_prefill_tokens < a.timings.n_prompt_tokens && a.timings.encode_ms > 0,
              "prefilled %d of %d", a.timings.n_prefill_tokens, a.timings.n_prompt_tokens);
    ref_answer_free(&a.r);
    vlm_session_free(s);
}

// ----------------------------------------------------------------------------
// misuse

static void test_misuse(vlm_model *m, const char *data_dir) {
    vlm_session *s = open_session(m, 0, NULL, NULL);
    if (s == NULL) return;
    /* placeholders typed into a turn: refused when added, nothing kept */
    CHECK_STATUS(VLM_ERR_INVALID_ARGUMENT, vlm_session_add_turn(s, VLM_ROLE_USER, "look: <image>", NULL, 0));
    CHECK(strstr(vlm_last_error(), "\"<image>\" placeholder") != NULL);
    CHECK_STATUS(VLM_ERR_INVALID_ARGUMENT, vlm_session_add_turn(s, VLM_ROLE_SYSTEM, "<video>", NULL, 0));
    CHECK(strstr(vlm_last_error(), "\"<video>\"") != NULL);
    answer a = {0};
    CHECK_STATUS(VLM_ERR_STATE, answer_now(s, &a));

    /* the default context: the model's 8192, capped at 4096; a longer prompt
     * is refused with both numbers */
    size_t n_words = 4200;
    char *text = malloc(n_words * 3 + 1);
    for (size_t i = 0; i < n_words; i++) memcpy(text + 3 * i, " hi", 3);
    text[3 * n_words] = '\0';
    CHECK_OK(vlm_session_add_turn(s, VLM_ROLE_USER, text, NULL, 0));
    CHECK_STATUS(VLM_ERR_LIMIT, answer_now(s, &a));
    CHECK_MSG(strstr(vlm_last_error(), "the context holds 4096") != NULL &&
              strstr(vlm_last_error(), "the prompt takes 42") != NULL, "%s", vlm_last_error());
    free(text);
    ref_answer_free(&a.r);
    vlm_session_free(s);

    /* a directory without tokenizer.json: the model loads (it can be
     * inspected) but a session says what is missing */
    char scratch[] = "/tmp/vlm-session-test-XXXXXX";
    CHECK(mkdtemp(scratch) != NULL);
    const char *files[] = {"config.json", "model.safetensors", "preprocessor_config.json",
                           "generation_config.json", "tokenizer_config.json"};
    char from[4096], to[4096];
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(from, sizeof from, "%s/tiny-smolvlm/%s", data_dir, files[i]);
        snprintf(to, sizeof to, "%s/%s", scratch, files[i]);
        if (access(from, F_OK) == 0) CHECK(symlink(from, to) == 0);
    }
    vlm_model *broken = NULL;
    CHECK_OK(vlm_model_load(scratch, NULL, &broken));
    CHECK(vlm_model_tokenizer(broken) == NULL);
    CHECK_STATUS(VLM_ERR_IO, vlm_session_create(broken, NULL, &s));
    CHECK(s == NULL && strstr(vlm_last_error(), "tokenizer.json") != NULL);
    vlm_model_free(broken);
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(to, sizeof to, "%s/%s", scratch, files[i]);
        unlink(to);
    }
    rmdir(scratch);
}

int main(void) {
    if (getenv("VLM_TEST_DATA") == NULL) return TEST_SKIP_CODE;
    char dir[2048], data_dir[2048], path[2048];
    ref_data_path(dir, sizeof dir, "tiny-smolvlm");
    ref_data_path(data_dir, sizeof data_dir, "");
    test_cache_unit();

    vlm_model *uncached = load(dir, 0);
    vlm_image *image = NULL;
    ref_data_path(path, sizeof path, "sample.jpg");
    CHECK_OK(vlm_image_load_file(path, NULL, &image));
    if (uncached == NULL || image == NULL) return test_finish("smolvlm_session");

    /* the reference: a model without a cache */
    answer reference = {0};
    vlm_session *s = open_session(uncached, TILES, NULL, NULL);
    CHECK_OK(vlm_session_add_turn(s, VLM_ROLE_USER, "What is it?", &image, 1));
    CHECK_OK(answer_now(s, &reference));
    CHECK(reference.r.n_greedy == N_TOKENS && reference.timings.n_cached_images == 0);
    CHECK(reference.r.n_logits == vlm_tokenizer_n_vocab(vlm_model_tokenizer(uncached)));
    vlm_session_free(s);

    test_cache(dir, image, &reference);
    test_cache_threads(dir, image, &reference);
    test_cancel(uncached, image, &reference);
    test_misuse(uncached, data_dir);

    ref_answer_free(&reference.r);
    vlm_image_free(image);
    vlm_model_free(uncached);
    return test_finish("smolvlm_session");
}
