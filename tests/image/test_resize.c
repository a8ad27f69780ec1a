/* Resizing against Pillow's Image.resize for every filter, both directions,
 * odd sizes, one axis only; plus the internal resampler on 1 and 4 channels
 * and padded strides, which must agree with the RGB results channel by
 * channel (Pillow resamples bands independently). */
#include "image_test_util.h"
#include "image/image.h"

static const char *filter_names[] = {"nearest", "lanczos", "bilinear", "bicubic", "box",
                                     "hamming"};
static int worst_by_filter[6];

/* Channel c of an RGB buffer resized alone must match channel c of the RGB
 * result; and a 4-channel copy with padded rows must match too. */
static void check_channels(const uint8_t *src, uint32_t sw, uint32_t sh, const uint8_t *rgb_out,
                           uint32_t dw, uint32_t dh, int filter) {
    uint8_t *gray = malloc((size_t)sw * sh), *gray_out = malloc((size_t)dw * dh);
    size_t src_stride4 = (size_t)sw * 4 + 5, dst_stride4 = (size_t)dw * 4 + 3;
    uint8_t *quad = calloc(src_stride4, sh), *quad_out = calloc(dst_stride4, dh);
    for (size_t i = 0; i < (size_t)sw * sh; i++) gray[i] = src[i * 3 + 1];
    for (uint32_t y = 0; y < sh; y++)
        for (uint32_t x = 0; x < sw; x++)
            for (int c = 0; c < 4; c++)
                quad[y * src_stride4 + x * 4 + c] = src[((size_t)y * sw + x) * 3 + (c % 3)];
    CHECK_OK(vlmi_resize_u8(gray, sw, sh, sw, gray_out, dw, dh, dw, 1, filter));
    CHECK_OK(vlmi_resize_u8(quad, sw, sh, src_stride4, quad_out, dw, dh, dst_stride4, 4, filter));
    int gray_bad = 0, quad_bad = 0;
    for (uint32_t y = 0; y < dh; y++)
        for (uint32_t x = 0; x < dw; x++) {
            const uint8_t *want = rgb_out + ((size_t)y * dw + x) * 3;
            gray_bad += gray_out[(size_t)y * dw + x] != want[1];
            for (int c = 0; c < 4; c++) quad_bad += quad_out[y * dst_stride4 + x * 4 + c] != want[c % 3];
        }
    CHECK_MSG(gray_bad == 0 && quad_bad == 0, "%ux%u -> %ux%u %s: 1-channel %d, 4-channel %d bytes differ",
              sw, sh, dw, dh, filter_names[filter], gray_bad, quad_bad);
    free(gray); free(gray_out); free(quad); free(quad_out);
}

static void check_case(const char *src_name, uint32_t sw, uint32_t sh, int filter, uint32_t dw,
                       uint32_t dh, const char *ref_name) {
    size_t src_size;
    unsigned char *src = fixture_read(src_name, &src_size);
    vlm_image *ref = NULL;
    CHECK_OK(vlm_image_load_file(fixture_path(ref_name), NULL, &ref));
    CHECK(src != NULL && src_size == (size_t)sw * sh * 3);
    if (src == NULL || ref == NULL || src_size != (size_t)sw * sh * 3) {
        free(src);
        vlm_image_free(ref);
        return;
    }
    vlm_image *image = NULL, *resized = NULL;
    CHECK_OK(vlm_image_from_pixels(src, src_size, sw, sh, 0, VLM_PIXEL_RGB8, &image));
    CHECK_OK(vlm_image_resize(image, dw, dh, (vlm_resample)filter, &resized));
    if (resized != NULL) {
        CHECK(vlm_image_width(resized) == dw && vlm_image_height(resized) == dh);
        int diff = max_abs_diff(vlm_image_pixels(resized), vlm_image_pixels(ref), (size_t)dw * dh * 3);
        if (diff > worst_by_filter[filter]) worst_by_filter[filter] = diff;
        /* Byte-identical to Pillow is the contract, not "within one level". */
        CHECK_MSG(diff == 0, "%ux%u -> %ux%u %s: max difference to Pillow %d", sw, sh, dw, dh,
                  filter_names[filter], diff);
        check_channels(src, sw, sh, vlm_image_pixels(resized), dw, dh, filter);
    }
    vlm_image_free(resized);
    vlm_image_free(image);
    vlm_image_free(ref);
    free(src);
}

/* Same size is a copy; errors for bad arguments. */
static void check_edges(void) {
    uint8_t px[2 * 2 * 3] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
    vlm_image *image = NULL, *out = NULL;
    CHECK_OK(vlm_image_from_pixels(px, sizeof px, 2, 2, 0, VLM_PIXEL_RGB8, &image));
    for (int f = 0; f <= 5; f++) {
        CHECK_OK(vlm_image_resize(image, 2, 2, (vlm_resample)f, &out));
        CHECK(out != NULL && memcmp(vlm_image_pixels(out), px, sizeof px) == 0);
        vlm_image_free(out);
        out = NULL;
    }
    CHECK_STATUS(VLM_ERR_INVALID_ARGUMENT, vlm_image_resize(image, 0, 2, VLM_RESAMPLE_BICUBIC, &out));
    CHECK(out == NULL);
    CHECK_STATUS(VLM_ERR_INVALID_ARGUMENT, vlm_image_resize(image, 2, 0, VLM_RESAMPLE_BICUBIC, &out));
    CHECK_STATUS(VLM_ERR_INVALID_ARGUMENT, vlm_image_resize(image, 2, 2, (vlm_resample)6, &out));
    CHECK_STATUS(VLM_ERR_INVALID_ARGUMENT, vlm_image_resize(image, 2, 2, (vlm_resample)-1, &out));
    CHECK_STATUS(VLM_ERR_INVALID_ARGUMENT, vlm_image_resize(NULL, 2, 2, VLM_RESAMPLE_BICUBIC, &out));
    CHECK_STATUS(VLM_ERR_INVALID_ARGUMENT, vlm_image_resize(image, 2, 2, VLM_RESAMPLE_BICUBIC, NULL));
    CHECK(vlm_last_error()[0] != '\0');
    uint8_t dst[16];
    CHECK_STATUS(VLM_ERR_INVALID_ARGUMENT, vlmi_resize_u8(px, 2, 2, 5, dst, 1, 1, 3, 3, 2));
    CHECK_STATUS(VLM_ERR_INVALID_ARGUMENT, vlmi_resize_u8(px, 2, 2, 6, dst, 1, 1, 3, 5, 2));
    CHECK_STATUS(VLM_ERR_INVALID_ARGUMENT, vlmi_resize_u8(px, 2, 2, 6, dst, 1, 1, 3, 3, 9));
    /* 1x1 -> 1x1 source grows to a big target and back down without trouble. */
    CHECK_OK(vlm_image_resize(image, 1, 300, VLM_RESAMPLE_LANCZOS, &out));
    vlm_image *back = NULL;
    CHECK_OK(vlm_image_resize(out, 1, 1, VLM_RESAMPLE_LANCZOS, &back));
    vlm_image_free(back);
    vlm_image_free(out);
    vlm_image_free(image);
}

int main(void) {
    FILE *manifest = manifest_open("resize.txt");
    CHECK(manifest != NULL);
    int cases = 0;
    char line[1024];
    while (manifest != NULL && manifest_next(manifest, line, sizeof line)) {
        char src[256], ref[256];
        unsigned sw, sh, dw, dh;
        int filter;
        if (sscanf(line, "%255s %u %u %d %u %u %255s", src, &sw, &sh, &filter, &dw, &dh, ref) != 7 ||
            filter < 0 || filter > 5) {
            CHECK_MSG(0, "bad manifest line: %s", line);
            continue;
        }
        check_case(src, sw, sh, filter, dw, dh, ref);
        cases++;
    }
    if (manifest != NULL) fclose(manifest);
    CHECK_MSG(cases >= 60, "only %d resize cases", cases);
    check_edges();
    for (int f = 0; f < 6; f++)
        printf("%-8s max difference to Pillow: %d\n", filter_names[f], worst_by_filter[f]);
    printf("%d resizes compared with Pillow\n", cases);
    return test_finish("image-resize");
}
