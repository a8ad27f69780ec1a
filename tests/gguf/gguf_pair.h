/* A llama.cpp GGUF pair (text model + mmproj) in tests/data/DIR: loading it
 * and lying copies of its files. Header-only; for tests/gguf. */
#ifndef VLM_TESTS_GGUF_PAIR_H
#define VLM_TESTS_GGUF_PAIR_H

#include "test.h"
#include "vlm.h"

#include <string.h>
#include <unistd.h>

static inline void gguf_pair_path(char *buf, size_t size, const char *dir, const char *name) {
    snprintf(buf, size, "%s/%s/%s", getenv("VLM_TEST_DATA"), dir, name);
}

static inline vlm_status gguf_load_pair(const char *text, const char *mmproj, vlm_model **out) {
    vlm_model_params mp;
    vlm_model_params_init(&mp, sizeof mp);
    mp.mmproj_path = mmproj;
    return vlm_model_load(text, &mp, out);
}

/* The first len bytes equal to needle in hay (n bytes), or NULL. */
static inline unsigned char *gguf_find_bytes(unsigned char *hay, size_t n, const void *needle,
                                             size_t len) {
    for (size_t i = 0; len > 0 && i + len <= n; i++)
        if (memcmp(hay + i, needle, len) == 0) return hay + i;
    return NULL;
}

/* The file src with the first `from` (of the same length as `to`) after
 * `anchor` replaced, written to a temporary file (path in buf). */
static inline bool gguf_patched_copy(char *buf, size_t size, const char *src, const char *anchor,
                                     const void *from, const void *to, size_t len,
                                     const char *tag) {
    size_t n = 0;
    unsigned char *data = test_read_file(src, &n);
    if (data == NULL) return false;
    unsigned char *at = gguf_find_bytes(data, n, anchor, strlen(anchor));
    unsigned char *hit = at ? gguf_find_bytes(at, n - (size_t)(at - data), from, len) : NULL;
    CHECK_MSG(hit != NULL, "%s: no %s in %s", tag, anchor, src);
    if (hit) memcpy(hit, to, len);
    const char *tmp = getenv("TMPDIR");
    snprintf(buf, size, "%s/vlm_gguf_pair_%s_%d.gguf", tmp && tmp[0] ? tmp : "/tmp", tag,
             (int)getpid());
    FILE *f = fopen(buf, "wb");
    bool ok = hit && f && fwrite(data, 1, n, f) == n;
    if (f) fclose(f);
    free(data);
    return ok;
}

/* The bytes of a tensor's header from n_dims through ne[0], to find one
 * tensor's shape in a file: out holds 12 bytes. */
static inline void gguf_dims_bytes(unsigned char *out, uint32_t n_dims, uint64_t ne0) {
    memcpy(out, &n_dims, 4);
    memcpy(out + 4, &ne0, 8);
}

/* Loading the pair fails with want, no model, and a message naming needle. */
static inline void gguf_expect_failure(const char *text, const char *mmproj, vlm_status want,
                                       const char *needle) {
    vlm_model *m = (vlm_model *)1;
    vlm_status st = gguf_load_pair(text, mmproj, &m);
    CHECK_MSG(st == want, "%s: %s, expected %s (%s)", needle, vlm_status_string(st),
              vlm_status_string(want), vlm_last_error());
    CHECK(m == NULL);
    CHECK_MSG(strstr(vlm_last_error(), needle) != NULL, "message \"%s\" does not name %s",
              vlm_last_error(), needle);
    vlm_model_free(st == VLM_OK ? m : NULL);
}

#endif
