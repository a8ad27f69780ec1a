/* The image API's contract outside the happy path: argument checks, garbage
 * and empty input, size limits refused from the header, messages naming the
 * file, and caller frames in every pixel format with strides. */
#include "image_test_util.h"

#include <stddef.h>
#include <unistd.h>

static void check_arguments(void) {
    vlm_image *image = (vlm_image *)&image;  /* must be reset to NULL */
    uint8_t px[12] = {0};
    CHECK_STATUS(VLM_ERR_INVALID_ARGUMENT, vlm_image_load_file(NULL, NULL, &image));
    CHECK(image == NULL);
    CHECK_STATUS(VLM_ERR_INVALID_ARGUMENT, vlm_image_load_file("x.png", NULL, NULL));
    image = (vlm_image *)&image;
    CHECK_STATUS(VLM_ERR_INVALID_ARGUMENT, vlm_image_load_memory(NULL, 10, NULL, &image));
    CHECK(image == NULL);
    CHECK_STATUS(VLM_ERR_INVALID_ARGUMENT, vlm_image_load_memory(px, 10, NULL, NULL));
    CHECK_STATUS(VLM_ERR_INVALID_ARGUMENT,
                 vlm_image_from_pixels(NULL, 12, 2, 2, 0, VLM_PIXEL_RGB8, &image));
    CHECK_STATUS(VLM_ERR_INVALID_ARGUMENT, vlm_image_from_pixels(px, sizeof px, 2, 2, 0, VLM_PIXEL_RGB8, NULL));
    CHECK_STATUS(VLM_ERR_INVALID_ARGUMENT, vlm_image_from_pixels(px, sizeof px, 0, 2, 0, VLM_PIXEL_RGB8, &image));
    CHECK_STATUS(VLM_ERR_INVALID_ARGUMENT, vlm_image_from_pixels(px, sizeof px, 2, 0, 0, VLM_PIXEL_RGB8, &image));
    CHECK_STATUS(VLM_ERR_INVALID_ARGUMENT, vlm_image_from_pixels(px, sizeof px, 2, 2, 5, VLM_PIXEL_RGB8, &image));
    CHECK(strstr(vlm_last_error(), "stride") != NULL);
    /* a buffer one byte short of the last row is refused before any read */
    CHECK_STATUS(VLM_ERR_INVALID_ARGUMENT,
                 vlm_image_from_pixels(px, sizeof px - 1, 2, 2, 0, VLM_PIXEL_RGB8, &image));
    CHECK(strstr(vlm_last_error(), "11 bytes") != NULL);
    CHECK_STATUS(VLM_ERR_INVALID_ARGUMENT,
                 vlm_image_from_pixels(px, 8, 1, 2, 8, VLM_PIXEL_RGB8, &image));
    CHECK_STATUS(VLM_ERR_INVALID_ARGUMENT,
                 vlm_image_from_pixels(px, sizeof px, 2, 2, 0, (vlm_pixel_format)99, &image));
    CHECK_STATUS(VLM_ERR_INVALID_ARGUMENT,
                 vlm_image_from_pixels(px, sizeof px, UINT32_MAX, 2, SIZE_MAX, VLM_PIXEL_RGBA8, &image));
    CHECK(image == NULL);
    /* Accessors and free accept NULL. */
    CHECK(vlm_image_width(NULL) == 0 && vlm_image_height(NULL) == 0);
    CHECK(vlm_image_pixels(NULL) == NULL);
    CHECK(vlm_image_source_format(NULL) == VLM_IMAGE_FORMAT_RAW);
    vlm_image_free(NULL);
    vlm_image_params_init(NULL, 0);
    vlm_image_params params;
    vlm_image_params_init(&params, sizeof params);
    CHECK(params.struct_size == sizeof params && params.max_pixels == 64u * 1024 * 1024 &&
          params.apply_exif_orientation);
}

static void check_not_images(void) {
    static const uint8_t gif[] = "GIF89a\x01\x00\x01\x00\x00\x00\x00;";
    static const uint8_t bmp[] = "BM\x3a\x00\x00\x00\x00\x00\x00\x00\x36\x00";
    static const uint8_t almost_png[] = "\x89PNG\r\n\x1a";   /* 7 signature bytes */
    static const uint8_t almost_jpeg[] = "\xff\xd8";
    struct { const void *data; size_t size; } cases[] = {
        {gif, sizeof gif - 1}, {bmp, sizeof bmp - 1}, {"hello", 5}, {almost_png, 7},
        {almost_jpeg, 2}, {"", 0}, {NULL, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        vlm_image *image = NULL;
        CHECK_STATUS(VLM_ERR_FORMAT, vlm_image_load_memory(cases[i].data, cases[i].size, NULL, &image));
        CHECK(image == NULL);
        CHECK_MSG(strstr(vlm_last_error(), "not a JPEG or PNG image") != NULL, "case %zu: '%s'",
                  i, vlm_last_error());
    }
    /* Random bytes after a valid signature. */
    uint8_t junk[600];
    uint32_t seed = 12345;
    for (int round = 0; round < 50; round++) {
        for (size_t i = 0; i < sizeof junk; i++) {
            seed = seed * 1103515245u + 12345u;
            junk[i] = (uint8_t)(seed >> 16);
        }
        const uint8_t *sig = round % 2 ? (const uint8_t *)"\x89PNG\r\n\x1a\n" : (const uint8_t *)"\xff\xd8\xff";
        memcpy(junk, sig, round % 2 ? 8 : 3);
        vlm_image *image = NULL;
        CHECK_STATUS(VLM_ERR_FORMAT, vlm_image_load_memory(junk, sizeof junk, NULL, &image));
        CHECK(image == NULL && vlm_last_error()[0] != '\0');
    }
}

static void check_files(void) {
    vlm_image *image = NULL;
    const char *missing = fixture_path("no_such_image.png");
    CHECK_STATUS(VLM_ERR_IO, vlm_image_load_file(missing, NULL, &image));
    CHECK(strstr(vlm_last_error(), "no_such_image.png") != NULL);
    /* A corrupt file's message names the file. */
    size_t size;
    unsigned char *data = fixture_read("rgb_420_37x23.jpg", &size);
    CHECK(data != NULL);
    if (data != NULL) {
        char path[4096];
        const char *dir = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
        snprintf(path, sizeof path, "%s/vlm_test_cut_%d.jpg", dir, (int)getpid());
        FILE *f = fopen(path, "wb");
        CHECK(f != NULL);
        if (f != NULL) {
            fwrite(data, 1, size / 2, f);
            fclose(f);
            CHECK_STATUS(VLM_ERR_FORMAT, vlm_image_load_file(path, NULL, &image));
            CHECK_MSG(strstr(vlm_last_error(), path) != NULL, "'%s'", vlm_last_error());
            f = fopen(path, "wb");
            if (f != NULL) fclose(f);  /* empty file */
            CHECK_STATUS(VLM_ERR_FORMAT, vlm_image_load_file(path, NULL, &image));
            CHECK_MSG(strstr(vlm_last_error(), path) != NULL, "'%s'", vlm_last_error());
            remove(path);
        }
        free(data);
    }
    CHECK(image == NULL);
}

static void check_limits(void) {
    static const char *huge[] = {"limit_100000x100000.png", "limit_60000x60000.jpg"};
    for (int i = 0; i < 2; i++) {
        vlm_image *image = NULL;
        CHECK_STATUS(VLM_ERR_LIMIT, vlm_image_load_file(fixture_path(huge[i]), NULL, &image));
        CHECK(image == NULL);
        CHECK_MSG(strstr(vlm_last_error(), huge[i]) != NULL, "'%s'", vlm_last_error());
    }
    /* A small limit refuses a small image; exactly its size passes. */
    vlm_image_params params;
    vlm_image_params_init(&params, sizeof params);
    params.max_pixels = 37 * 23 - 1;
    static const char *files[] = {"rgb_420_37x23.jpg", "rgb_37x23.png", "rgb_interlaced_37x23.png"};
    for (int i = 0; i < 3; i++) {
        vlm_image *image = NULL;
        params.max_pixels = 37 * 23 - 1;
        CHECK_STATUS(VLM_ERR_LIMIT, vlm_image_load_file(fixture_path(files[i]), &params, &image));
        params.max_pixels = 37 * 23;
        CHECK_OK(vlm_image_load_file(fixture_path(files[i]), &params, &image));
        vlm_image_free(image);
    }
    /* A caller built against an older, shorter params struct gets defaults
     * for the fields it does not know (orientation on). */
    vlm_image_params old;
    vlm_image_params_init(&old, sizeof old);
    old.struct_size = offsetof(vlm_image_params, apply_exif_orientation);
    old.apply_exif_orientation = false;
    vlm_image *image = NULL;
    CHECK_OK(vlm_image_load_file(fixture_path("exif_orientation_6_13x7.jpg"), &old, &image));
    CHECK(vlm_image_width(image) == 7 && vlm_image_height(image) == 13);
    vlm_image_free(image);
}

/* Every pixel format against Pillow's composite over white, with strides. */
static void check_from_pixels(void) {
    size_t rgba_size, ref_size;
    vlm_image *decoded = NULL;
    unsigned char *ref = fixture_read("rgba_every_alpha_256x256.png.rgb", &ref_size);
    CHECK_OK(vlm_image_load_file(fixture_path("rgba_every_alpha_256x256.png"), NULL, &decoded));
    (void)rgba_size;
    CHECK(ref != NULL && ref_size == 256 * 256 * 3 && decoded != NULL);
    if (ref == NULL || decoded == NULL) { free(ref); vlm_image_free(decoded); return; }
    /* Rebuild the RGBA source the generator wrote: R = x, G = 255 - x, B = 128, A = y. */
    const uint32_t w = 256, h = 256;
    const size_t stride = w * 4 + 7;
    uint8_t *rgba = calloc(stride, h), *bgra = calloc(stride, h);
    for (uint32_t y = 0; y < h; y++)
        for (uint32_t x = 0; x < w; x++) {
            uint8_t *p = rgba + y * stride + x * 4, *q = bgra + y * stride + x * 4;
            p[0] = (uint8_t)x; p[1] = (uint8_t)(255 - x); p[2] = 128; p[3] = (uint8_t)y;
            q[0] = p[2]; q[1] = p[1]; q[2] = p[0]; q[3] = p[3];
        }
    vlm_image *a = NULL, *b = NULL;
    CHECK_OK(vlm_image_from_pixels(rgba, stride * h, w, h, stride, VLM_PIXEL_RGBA8, &a));
    CHECK_OK(vlm_image_from_pixels(bgra, stride * h, w, h, stride, VLM_PIXEL_BGRA8, &b));
    if (a != NULL && b != NULL) {
        CHECK(vlm_image_source_format(a) == VLM_IMAGE_FORMAT_RAW);
        CHECK_MSG(max_abs_diff(vlm_image_pixels(a), ref, ref_size) == 0, "RGBA8 composite");
        CHECK_MSG(max_abs_diff(vlm_image_pixels(b), ref, ref_size) == 0, "BGRA8 composite");
        CHECK_MSG(max_abs_diff(vlm_image_pixels(decoded), ref, ref_size) == 0, "PNG composite");
    }
    vlm_image_free(a);
    vlm_image_free(b);
    /* RGB8, BGR8, GRAY8 with padding between rows. */
    uint8_t rgb[2 * 8] = {1, 2, 3, 4, 5, 6, 99, 99, 7, 8, 9, 10, 11, 12, 99, 99};
    uint8_t bgr[2 * 8] = {3, 2, 1, 6, 5, 4, 99, 99, 9, 8, 7, 12, 11, 10, 99, 99};
    uint8_t gray[2 * 3] = {10, 20, 99, 30, 40, 99};
    static const uint8_t want_rgb[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
    static const uint8_t want_gray[12] = {10, 10, 10, 20, 20, 20, 30, 30, 30, 40, 40, 40};
    CHECK_OK(vlm_image_from_pixels(rgb, sizeof rgb, 2, 2, 8, VLM_PIXEL_RGB8, &a));
    CHECK(a != NULL && memcmp(vlm_image_pixels(a), want_rgb, 12) == 0);
    vlm_image_free(a);
    CHECK_OK(vlm_image_from_pixels(bgr, sizeof bgr, 2, 2, 8, VLM_PIXEL_BGR8, &a));
    CHECK(a != NULL && memcmp(vlm_image_pixels(a), want_rgb, 12) == 0);
    vlm_image_free(a);
    CHECK_OK(vlm_image_from_pixels(gray, sizeof gray, 2, 2, 3, VLM_PIXEL_GRAY8, &a));
    CHECK(a != NULL && memcmp(vlm_image_pixels(a), want_gray, 12) == 0);
    vlm_image_free(a);
    CHECK_OK(vlm_image_from_pixels(want_rgb, sizeof want_rgb, 2, 2, 0, VLM_PIXEL_RGB8, &a));
    CHECK(a != NULL && vlm_image_width(a) == 2 && memcmp(vlm_image_pixels(a), want_rgb, 12) == 0);
    vlm_image_free(a);
    free(rgba);
    free(bgra);
    free(ref);
    vlm_image_free(decoded);
}

int main(void) {
    check_arguments();
    check_not_images();
    check_files();
    check_limits();
    check_from_pixels();
    return test_finish("image-errors");
}
