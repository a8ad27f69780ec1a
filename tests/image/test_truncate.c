/* Truncated inputs: for each prefix listed in truncate.txt the decoder must
 * agree with Pillow on success or failure; failures are VLM_ERR_FORMAT with
 * a message, and successes give Pillow's full image. */
#include "image_test_util.h"

int main(void) {
    FILE *manifest = manifest_open("truncate.txt");
    CHECK(manifest != NULL);
    int cases = 0;
    char line[1024];
    while (manifest != NULL && manifest_next(manifest, line, sizeof line)) {
        char name[256], verdict[16];
        size_t length;
        if (sscanf(line, "%255s %zu %15s", name, &length, verdict) != 3) {
            CHECK_MSG(0, "bad manifest line: %s", line);
            continue;
        }
        size_t size;
        unsigned char *data = fixture_read(name, &size);
        CHECK_MSG(data != NULL && length < size, "%s: cannot read", name);
        if (data == NULL || length >= size) { free(data); continue; }
        /* A copy of exactly length bytes, so ASan sees any over-read. */
        unsigned char *prefix = malloc(length ? length : 1);
        memcpy(prefix, data, length);
        vlm_image *image = NULL;
        vlm_status st = vlm_image_load_memory(prefix, length, NULL, &image);
        if (strcmp(verdict, "ok") == 0) {
            CHECK_MSG(st == VLM_OK, "%s cut to %zu: %s (%s), Pillow decodes it", name, length,
                      vlm_status_string(st), vlm_last_error());
        } else {
            CHECK_MSG(st == VLM_ERR_FORMAT && image == NULL && vlm_last_error()[0] != '\0',
                      "%s cut to %zu: %s, Pillow fails", name, length, vlm_status_string(st));
        }
        vlm_image_free(image);
        free(prefix);
        free(data);
        cases++;
    }
    if (manifest != NULL) fclose(manifest);
    CHECK_MSG(cases >= 40, "only %d truncation cases", cases);
    printf("%d truncations compared with Pillow\n", cases);
    return test_finish("image-truncate");
}
