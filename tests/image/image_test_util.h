/* Shared helpers of the image tests: fixture paths under $VLM_TEST_DATA/image
 * and manifest lines written by tests/gen/make_image_fixtures.py. */
#ifndef VLM_IMAGE_TEST_UTIL_H
#define VLM_IMAGE_TEST_UTIL_H

#include "test.h"
#include "vlm.h"

#include <stdint.h>

/* $VLM_TEST_DATA/image/name in a static buffer (one at a time). */
static inline const char *fixture_path(const char *name) {
    static char path[4096];
    const char *root = getenv("VLM_TEST_DATA");
    snprintf(path, sizeof path, "%s/image/%s", root ? root : "tests/data", name);
    return path;
}

static inline unsigned char *fixture_read(const char *name, size_t *size) {
    *size = 0;
    return test_read_file(fixture_path(name), size);
}

/* Opens a manifest, or NULL with a message (the test then fails). */
static inline FILE *manifest_open(const char *name) {
    FILE *f = fopen(fixture_path(name), "r");
    if (f == NULL)
        fprintf(stderr, "cannot open %s: set VLM_TEST_DATA to tests/data\n", fixture_path(name));
    return f;
}

/* Next non-comment line into buf; false at the end. */
static inline int manifest_next(FILE *f, char *buf, size_t size) {
    while (fgets(buf, (int)size, f) != NULL)
        if (buf[0] != '#' && buf[0] != '\n') return 1;
    return 0;
}

/* Largest absolute difference between two byte buffers. */
static inline int max_abs_diff(const uint8_t *a, const uint8_t *b, size_t n) {
    int worst = 0;
    for (size_t i = 0; i < n; i++) {
        int d = a[i] > b[i] ? a[i] - b[i] : b[i] - a[i];
        if (d > worst) worst = d;
    }
    return worst;
}

#endif
