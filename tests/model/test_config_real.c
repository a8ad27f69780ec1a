/* Loads real hub model directories with vlmi_hub_config_load and compares every
 * value with tests/data/model/config_expectations.txt, which
 * tests/gen/make_config_expectations.py wrote from what Python's json module
 * reads (plus the transformers class defaults for absent keys).
 *
 * Usage: test_config_real MODEL where MODEL is a name in the expectations file:
 * smolvlm-256m and qwen2.5-vl-3b live in tests/data/model; gemma-3-4b-it is
 * read from $VLM_SHARED_ASSETS/google__gemma-3-4b-it (Gemma Terms of Use, not
 * copied here) and the test skips when that folder is absent. */
#include "test.h"

#include "model/hub_config.h"

#include <inttypes.h>
#include <stdarg.h>

// ---- formatting a parsed value the way the generator writes it ----

static void put(char *buf, size_t n, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, n, fmt, ap);
    va_end(ap);
}

static void put_bool(char *buf, size_t n, bool v) { put(buf, n, "%s", v ? "true" : "false"); }
static void put_str(char *buf, size_t n, const char *s) { put(buf, n, "%s", s ? s : "(null)"); }

static void put_i64_list(char *buf, size_t n, const int64_t *v, size_t count) {
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < count && used < n; i++)
        used += (size_t)snprintf(buf + used, n - used, "%s%" PRId64, i ? "," : "", v[i]);
}

static void put_i32_list(char *buf, size_t n, const int32_t *v, size_t count) {
    int64_t wide[256];
    for (size_t i = 0; i < count && i < 256; i++) wide[i] = v[i];
    put_i64_list(buf, n, wide, count < 256 ? count : 256);
}

static void put_f64_list(char *buf, size_t n, const double *v, size_t count) {
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < count && used < n; i++)
        used += (size_t)snprintf(buf + used, n - used, "%s%.17g", i ? "," : "", v[i]);
}

/* Long texts are compared by length and FNV-1a 64 of their bytes. */
static void put_text_digest(char *buf, size_t n, const char *s) {
    if (s == NULL) { put(buf, n, "(null)"); return; }
    uint64_t h = 0xCBF29CE484222325ull;
    size_t len = strlen(s);
    for (size_t i = 0; i < len; i++) h = (h ^ (unsigned char)s[i]) * 0x100000001B3ull;
    put(buf, n, "len=%zu fnv1a64=%016" PRIx64, len, h);
}

/* Formats the value named key; false if the test does not know the key. */
static bool format_value(const vlmi_hub_config *hub, const char *key, char *buf, size_t n) {
    const vlmi_model_config *m = &hub->model;
    const vlmi_text_config *t = &m->text;
    const vlmi_vision_config *v = &m->vision;
    const vlmi_processor_config *p = &hub->processor;
    const vlmi_generation_config *g = &hub->generation;
    const vlmi_tokenizer_config *k = &hub->tokenizer;
#define INT(name, expr) if (strcmp(key, name) == 0) { put(buf, n, "%lld", (long long)(expr)); return true; }
#define DBL(name, expr) if (strcmp(key, name) == 0) { put(buf, n, "%.17g", (double)(expr)); return true; }
#define BOOL(name, expr) if (strcmp(key, name) == 0) { put_bool(buf, n, (expr)); return true; }
#define STR(name, expr) if (strcmp(key, name) == 0) { put_str(buf, n, (expr)); return true; }
    STR("architecture", m->architecture)
    STR("model_type", m->model_type)
    STR("dtype", m->dtype)
    INT("text.vocab_size", t->vocab_size)
    INT("text.hidden_size", t->hidden_size)
    INT("text.intermediate_size", t->intermediate_size)
    INT("text.num_hidden_layers", t->num_hidden_layers)
    INT("text.num_attention_heads", t->num_attention_heads)
    INT("text.num_key_value_heads", t->num_key_value_heads)
    INT("text.head_dim", t->head_dim)
    DBL("text.rms_norm_eps", t->rms_norm_eps)
    INT("text.max_position_embeddings", t->max_position_embeddings)
    BOOL("text.tie_word_embeddings", t->tie_word_embeddings)
    STR("text.hidden_act", t->hidden_act)
    DBL("text.rope.theta", t->rope.theta)
    STR("text.rope.type", t->rope.type)
    DBL("text.rope.factor", t->rope.factor)
    if (strcmp(key, "text.rope.mrope_section") == 0) {
        put_i32_list(buf, n, t->rope.mrope_section, (size_t)t->rope.n_mrope_section);
        return true;
    }
    INT("text.sliding_window", t->sliding_window)
    if (strcmp(key, "text.layer_is_sliding") == 0) {
        size_t i = 0;
        for (; i < (size_t)t->num_hidden_layers && i + 1 < n; i++)
            buf[i] = t->layer_is_sliding[i] ? '1' : '0';
        buf[i] = '\0';
        return true;
    }
    DBL("text.rope_local_base_freq", t->rope_local_base_freq)
    DBL("text.query_pre_attn_scalar", t->query_pre_attn_scalar)
    DBL("text.final_logit_softcapping", t->final_logit_softcapping)
    DBL("text.attn_logit_softcapping", t->attn_logit_softcapping)
    INT("text.bos_token_id", t->bos_token_id)
    if (strcmp(key, "text.eos_token_ids") == 0) {
        put_i64_list(buf, n, t->eos_token_ids, (size_t)t->n_eos_token_ids);
        return true;
    }
    INT("text.pad_token_id", t->pad_token_id)
    INT("vision.hidden_size", v->hidden_size)
    INT("vision.intermediate_size", v->intermediate_size)
    INT("vision.patch_size", v->patch_size)
    STR("vision.hidden_act", v->hidden_act)
    INT("vision.num_hidden_layers", v->num_hidden_layers)
    INT("vision.num_attention_heads", v->num_attention_heads)
    INT("vision.image_size", v->image_size)
    DBL("vision.layer_norm_eps", v->layer_norm_eps)
    INT("vision.spatial_merge_size", v->spatial_merge_size)
    INT("vision.temporal_patch_size", v->temporal_patch_size)
    INT("vision.window_size", v->window_size)
    INT("vision.out_hidden_size", v->out_hidden_size)
    INT("vision.tokens_per_second", v->tokens_per_second)
    if (strcmp(key, "vision.fullatt_block_indexes") == 0) {
        put_i32_list(buf, n, v->fullatt_block_indexes, (size_t)v->n_fullatt_block_indexes);
        return true;
    }
    INT("image_token_id", m->image_token_id)
    INT("video_token_id", m->video_token_id)
    INT("vision_start_token_id", m->vision_start_token_id)
    INT("vision_end_token_id", m->vision_end_token_id)
    INT("boi_token_id", m->boi_token_id)
    INT("eoi_token_id", m->eoi_token_id)
    INT("scale_factor", m->scale_factor)
    INT("mm_tokens_per_image", m->mm_tokens_per_image)
    STR("processor.image_processor_type", p->image_processor_type)
    BOOL("processor.do_resize", p->do_resize)
    INT("processor.resample", p->resample)
    BOOL("processor.do_rescale", p->do_rescale)
    DBL("processor.rescale_factor", p->rescale_factor)
    BOOL("processor.do_normalize", p->do_normalize)
    if (strcmp(key, "processor.image_mean") == 0) {
        put_f64_list(buf, n, p->image_mean, (size_t)p->n_channels);
        return true;
    }
    if (strcmp(key, "processor.image_std") == 0) {
        put_f64_list(buf, n, p->image_std, (size_t)p->n_channels);
        return true;
    }
    BOOL("processor.do_convert_rgb", p->do_convert_rgb)
    BOOL("processor.do_image_splitting", p->do_image_splitting)
    BOOL("processor.do_pad", p->do_pad)
    BOOL("processor.do_pan_and_scan", p->do_pan_and_scan)
    INT("processor.size.longest_edge", p->size.longest_edge)
    INT("processor.size.shortest_edge", p->size.shortest_edge)
    INT("processor.size.height", p->size.height)
    INT("processor.size.width", p->size.width)
    INT("processor.max_image_size.longest_edge", p->max_image_size.longest_edge)
    INT("processor.image_seq_len", p->image_seq_len)
    INT("processor.min_pixels", p->min_pixels)
    INT("processor.max_pixels", p->max_pixels)
    INT("processor.patch_size", p->patch_size)
    INT("processor.temporal_patch_size", p->temporal_patch_size)
    INT("processor.merge_size", p->merge_size)
    INT("processor.pan_and_scan_min_crop_size", p->pan_and_scan_min_crop_size)
    INT("processor.pan_and_scan_max_num_crops", p->pan_and_scan_max_num_crops)
    DBL("processor.pan_and_scan_min_ratio_to_activate", p->pan_and_scan_min_ratio_to_activate)
    INT("generation.bos_token_id", g->bos_token_id)
    if (strcmp(key, "generation.eos_token_ids") == 0) {
        put_i64_list(buf, n, g->eos_token_ids, (size_t)g->n_eos_token_ids);
        return true;
    }
    INT("generation.pad_token_id", g->pad_token_id)
    INT("generation.max_length", g->max_length)
    BOOL("generation.do_sample", g->do_sample)
    INT("generation.top_k", g->top_k)
    DBL("generation.temperature", g->temperature)
    DBL("generation.top_p", g->top_p)
    DBL("generation.repetition_penalty", g->repetition_penalty)
    STR("tokenizer.bos_token", k->bos_token)
    STR("tokenizer.eos_token", k->eos_token)
    STR("tokenizer.pad_token", k->pad_token)
    STR("tokenizer.unk_token", k->unk_token)
    INT("tokenizer.add_bos_token", k->add_bos_token)
    INT("tokenizer.model_max_length", k->model_max_length)
    STR("tokenizer.tokenizer_class", k->tokenizer_class)
    if (strcmp(key, "tokenizer.chat_template") == 0) {
        put_text_digest(buf, n, k->chat_template);
        return true;
    }
    STR("tokenizer.chat_template_source", k->chat_template_source)
#undef INT
#undef DBL
#undef BOOL
#undef STR
    return false;
}

// ---- comparing ----

/* One comma-separated element each: numbers compare within 1e-12 relative
 * (Python repr and %.17g spell the same double differently), text exactly. */
static bool element_equal(const char *a, size_t a_len, const char *b, size_t b_len) {
    char sa[128], sb[128];
    if (a_len < sizeof sa && b_len < sizeof sb) {
        memcpy(sa, a, a_len); sa[a_len] = '\0';
        memcpy(sb, b, b_len); sb[b_len] = '\0';
        char *ea, *eb;
        double da = strtod(sa, &ea), db = strtod(sb, &eb);
        if (a_len && b_len && *ea == '\0' && *eb == '\0')
            return da == db || fabs(da - db) <= 1e-12 * fmax(fabs(da), fabs(db));
    }
    return a_len == b_len && memcmp(a, b, a_len) == 0;
}

static bool values_equal(const char *expected, const char *actual) {
    if (strncmp(expected, "len=", 4) == 0) return strcmp(expected, actual) == 0;
    for (;;) {
        const char *ce = strchr(expected, ','), *ca = strchr(actual, ',');
        size_t le = ce ? (size_t)(ce - expected) : strlen(expected);
        size_t la = ca ? (size_t)(ca - actual) : strlen(actual);
        if (!element_equal(expected, le, actual, la)) return false;
        if ((ce == NULL) != (ca == NULL)) return false;
        if (ce == NULL) return true;
        expected = ce + 1;
        actual = ca + 1;
    }
}

int main(int argc, char **argv) {
    if (argc != 2) { fprintf(stderr, "usage: %s MODEL\n", argv[0]); return 2; }
    const char *model = argv[1];
    const char *data = getenv("VLM_TEST_DATA");
    if (data == NULL) { fprintf(stderr, "VLM_TEST_DATA is not set\n"); return 1; }

    char dir[4096];
    if (strcmp(model, "gemma-3-4b-it") == 0) {
        const char *shared = getenv("VLM_SHARED_ASSETS");
        snprintf(dir, sizeof dir, "%s/google__gemma-3-4b-it", shared ? shared : "");
        char probe[4200];
        snprintf(probe, sizeof probe, "%s/config.json", dir);
        FILE *f = shared ? fopen(probe, "rb") : NULL;
        if (f == NULL) {
            printf("SKIP: gemma-3-4b-it files not found under $VLM_SHARED_ASSETS "
                   "(Gemma Terms of Use files are not copied into the repository)\n");
            return TEST_SKIP_CODE;
        }
        fclose(f);
    } else {
        snprintf(dir, sizeof dir, "%s/model/%s", data, model);
    }

    char path[4200];
    snprintf(path, sizeof path, "%s/model/config_expectations.txt", data);
    FILE *expectations = fopen(path, "r");
    if (expectations == NULL) { fprintf(stderr, "cannot open %s\n", path); return 1; }

    vlmi_hub_config hub;
    CHECK_OK(vlmi_hub_config_load(dir, &hub));
    CHECK(hub.has_processor && hub.has_generation && hub.has_tokenizer);

    char line[8192];
    int compared = 0;
    while (fgets(line, sizeof line, expectations) != NULL) {
        line[strcspn(line, "\n")] = '\0';
        if (line[0] == '#' || line[0] == '\0') continue;
        char *key = strchr(line, '\t');
        if (key == NULL) continue;
        *key++ = '\0';
        char *expected = strchr(key, '\t');
        if (expected == NULL) continue;
        *expected++ = '\0';
        if (strcmp(line, model) != 0) continue;
        char actual[8192];
        bool known = format_value(&hub, key, actual, sizeof actual);
        CHECK_MSG(known, "%s: the test does not know key %s", model, key);
        if (known)
            CHECK_MSG(values_equal(expected, actual), "%s: %s: expected %s, parsed %s", model,
                      key, expected, actual);
        compared++;
    }
    fclose(expectations);
    CHECK_MSG(compared > 50, "%s: only %d expectations found (regenerate them?)", model,
              compared);
    vlmi_hub_config_free(&hub);
    return test_finish(model);
}
