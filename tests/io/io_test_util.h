/* Helpers shared by the lib/io tests: fixture paths, scratch files, byte
 * builders for hand-made files, and checks on failure statuses. */
#ifndef VLM_TESTS_IO_UTIL_H
#define VLM_TESTS_IO_UTIL_H

#include "test.h"
#include "vlm.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* $VLM_TEST_DATA/io/name in a static buffer (one at a time). */
static inline const char *fixture_path(const char *name) {
    static char path[4096];
    const char *root = getenv("VLM_TEST_DATA");
    if (root == NULL) {
        fprintf(stderr, "VLM_TEST_DATA is not set\n");
        exit(1);
    }
    snprintf(path, sizeof path, "%s/io/%s", root, name);
    return path;
}

static inline unsigned char *read_fixture(const char *name, size_t *size) {
    unsigned char *data = test_read_file(fixture_path(name), size);
    if (data == NULL) {
        fprintf(stderr, "cannot read fixture %s\n", fixture_path(name));
        exit(1);
    }
    return data;
}

/* A scratch directory under $TMPDIR (or /tmp), removed by scratch_cleanup. */
static char scratch_dir[1024];

static inline const char *scratch_init(void) {
    const char *tmp = getenv("TMPDIR");
    snprintf(scratch_dir, sizeof scratch_dir, "%s/vlm-io-test-XXXXXX",
             tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp");
    if (mkdtemp(scratch_dir) == NULL) {
        perror("mkdtemp");
        exit(1);
    }
    return scratch_dir;
}

/* Files written through scratch_write, to remove at the end. */
static char scratch_files[64][4096];
static int n_scratch_files;

static inline const char *scratch_write(const char *name, const void *data, size_t size) {
    static char path[4096];
    snprintf(path, sizeof path, "%s/%s", scratch_dir, name);
    FILE *f = fopen(path, "wb");
    if (f == NULL || (size > 0 && fwrite(data, 1, size, f) != size)) {
        perror(path);
        exit(1);
    }
    fclose(f);
    int seen = 0;
    for (int i = 0; i < n_scratch_files; i++) seen |= strcmp(scratch_files[i], path) == 0;
    if (!seen && n_scratch_files < 64) strcpy(scratch_files[n_scratch_files++], path);
    return path;
}

static inline void scratch_cleanup(void) {
    for (int i = 0; i < n_scratch_files; i++) unlink(scratch_files[i]);
    rmdir(scratch_dir);
}

/* Checks that call failed with `expected` and that the message names
 * `name` (the file) and contains `fragment` (the field). */
#define CHECK_FAILS(expected, name, fragment, call)                            \
    do {                                                                       \
        vlm_status fs_ = (call);                                               \
        CHECK_MSG(fs_ == (expected), "%s returned %s (%s), expected %s", #call, \
                  vlm_status_string(fs_), vlm_last_error(),                    \
                  vlm_status_string(expected));                                \
        CHECK_MSG(strstr(vlm_last_error(), (name)) != NULL,                    \
                  "message '%s' does not name '%s'", vlm_last_error(), (name)); \
        CHECK_MSG(strstr(vlm_last_error(), (fragment)) != NULL,                \
                  "message '%s' lacks '%s'", vlm_last_error(), (fragment));    \
    } while (0)

/* ---- byte builder ---- */

typedef struct bytes {
    unsigned char *data;
    size_t size, capacity;
} bytes;

static inline void put(bytes *b, const void *p, size_t n) {
    if (b->size + n > b->capacity) {
        b->capacity = (b->size + n) * 2 + 64;
        b->data = realloc(b->data, b->capacity);
        if (b->data == NULL) exit(1);
    }
    if (n > 0) memcpy(b->data + b->size, p, n);
    b->size += n;
}

static inline void put_u8(bytes *b, uint8_t v) { put(b, &v, 1); }

static inline void put_le(bytes *b, uint64_t v, int n) {
    for (int i = 0; i < n; i++) put_u8(b, (uint8_t)(v >> (8 * i)));
}

static inline void put_u32(bytes *b, uint32_t v) { put_le(b, v, 4); }
static inline void put_u64(bytes *b, uint64_t v) { put_le(b, v, 8); }
static inline void put_str(bytes *b, const char *s) {
    put_u64(b, strlen(s));
    put(b, s, strlen(s));
}
static inline void put_zeros(bytes *b, size_t n) {
    for (size_t i = 0; i < n; i++) put_u8(b, 0);
}
static inline void pad_to(bytes *b, size_t alignment) {
    while (b->size % alignment != 0) put_u8(b, 0);
}

#endif
