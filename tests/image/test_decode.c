/* Decoding against Pillow: every fixture in decode.txt must decode to exactly
 * the pixels Pillow + convert_to_rgb (+ exif_transpose) give, from a file
 * and from memory; with EXIF orientation off, oriented files give the
 * unrotated pixels. */
#include "image_test_util.h"

static void check_against_reference(const char *name, uint32_t width, uint32_t height,
                                    const char *ref_name) {
    size_t ref_size;
    unsigned char *ref = fixture_read(ref_name, &ref_size);
    CHECK_MSG(ref != NULL, "missing reference %s", ref_name);
    if (ref == NULL) return;

    vlm_image *image = NULL;
    CHECK_OK(vlm_image_load_file(fixture_path(name), NULL, &image));
    if (image != NULL) {
        CHECK_MSG(vlm_image_width(image) == width && vlm_image_height(image) == height,
                  "%s: %ux%u, Pillow %ux%u", name, vlm_image_width(image),
                  vlm_image_height(image), width, height);
        if (ref_size == (size_t)width * height * 3 && vlm_image_width(image) == width &&
            vlm_image_height(image) == height) {
            int diff = max_abs_diff(vlm_image_pixels(image), ref, ref_size);
            CHECK_MSG(diff == 0, "%s: max difference to Pillow %d", name, diff);
        }
        vlm_image_format expected = strstr(name, ".jpg") ? VLM_IMAGE_FORMAT_JPEG
                                                         : VLM_IMAGE_FORMAT_PNG;
        CHECK(vlm_image_source_format(image) == expected);
    }

    /* Same bytes from memory. */
    size_t size;
    unsigned char *data = fixture_read(name, &size);
    vlm_image *from_memory = NULL;
    CHECK_OK(vlm_image_load_memory(data, size, NULL, &from_memory));
    if (image != NULL && from_memory != NULL)
        CHECK_MSG(memcmp(vlm_image_pixels(image), vlm_image_pixels(from_memory),
                         (size_t)width * height * 3) == 0, "%s: memory differs from file", name);
    vlm_image_free(from_memory);
    vlm_image_free(image);
    free(data);
    free(ref);
}

/* Orientation off: every exif/xmp-oriented JPEG decodes like orientation 1. */
static void check_orientation_off(void) {
    static const char *names[] = {
        "exif_orientation_2_13x7.jpg", "exif_orientation_5_13x7.jpg",
        "exif_orientation_6_13x7.jpg", "exif_orientation_8_13x7.jpg",
        "xmp_orientation_6_13x7.jpg",
    };
    size_t ref_size;
    unsigned char *ref = fixture_read("exif_orientation_1_13x7.jpg.rgb", &ref_size);
    CHECK(ref != NULL && ref_size == 13 * 7 * 3);
    vlm_image_params params;
    vlm_image_params_init(&params, sizeof params);
    params.apply_exif_orientation = false;
    for (size_t i = 0; ref != NULL && i < sizeof names / sizeof names[0]; i++) {
        vlm_image *image = NULL;
        CHECK_OK(vlm_image_load_file(fixture_path(names[i]), &params, &image));
        if (image == NULL) continue;
        CHECK_MSG(vlm_image_width(image) == 13 && vlm_image_height(image) == 7 &&
                      memcmp(vlm_image_pixels(image), ref, ref_size) == 0,
                  "%s decoded with orientation off differs from orientation 1", names[i]);
        vlm_image_free(image);
    }
    free(ref);
}

int main(void) {
    FILE *manifest = manifest_open("decode.txt");
    CHECK(manifest != NULL);
    int cases = 0;
    char line[1024];
    while (manifest != NULL && manifest_next(manifest, line, sizeof line)) {
        char name[256], ref[256];
        unsigned width, height;
        if (sscanf(line, "%255s %u %u %255s", name, &width, &height, ref) != 4) {
            CHECK_MSG(0, "bad manifest line: %s", line);
            continue;
        }
        check_against_reference(name, width, height, ref);
        cases++;
    }
    if (manifest != NULL) fclose(manifest);
    CHECK_MSG(cases >= 40, "only %d decode cases", cases);
    check_orientation_off();
    printf("%d fixtures compared with Pillow\n", cases);
    return test_finish("image-decode");
}
