/* SmolVLM2 video frame pixels against transformers' SmolVLMVideoProcessor
 * (torchvision resize), and the torch-exact resize on its own
 * (tests/data/smolvlm-video, made by tests/gen/make_video_frame_fixtures.py):
 *   - whole pixel_values of small-edge videos (LANCZOS, BICUBIC, BILINEAR;
 *     landscape, portrait, tiny, already at the video size, tile-sized;
 *     rescale and normalize fused, or one of them alone);
 *   - sums and sampled values of the real 2048/512 setting and of frames
 *     that are already 512 x 512;
 *   - vlmi_resize_torch_u8 byte for byte at several scale factors, up and
 *     down, on two sources, for the three filters;
 *   - argument errors, channel independence, and the video config. */
#include "arch/idefics3_processor.h"
#include "image/image.h"
#include "image/resize_torch.h"
#include "smolvlm_fixture.h"

#define PIXEL_TOLERANCE 1e-5f

static float worst_pixel_diff;

/* make_video_frame_fixtures.py's sources, (height, width, 3) */
static uint8_t *make_source(const char *name, uint32_t width, uint32_t height) {
    uint8_t *rgb = malloc((size_t)width * height * 3);
    if (rgb == NULL) return NULL;
    bool stripes = strcmp(name, "stripes") == 0;
    for (uint64_t y = 0; y < height; y++)
        for (uint64_t x = 0; x < width; x++)
            for (uint64_t c = 0; c < 3; c++)
                rgb[(y * width + x) * 3 + c] =
                    stripes ? (((x + 2 * y + c) / 3) % 2 == 1 ? 255 : 0)
                            : (uint8_t)((x * x + 3 * y * y + 7 * x * y + 50 * c + (x ^ y)) % 256);
    return rgb;
}

static const char *frame_source(int t) { return t == 0 ? "pattern" : "stripes"; }

static bool load_video_config(const cJSON *manifest, const char *name,
                              vlmi_processor_config *image, vlmi_processor_config *video) {
    const char *file = sv_string(cJSON_GetObjectItemCaseSensitive(manifest, "configs"), name);
    char rel[256], path[2048];
    snprintf(rel, sizeof rel, "smolvlm-video/%s", file);
    size_t size = 0;
    if (!ref_data_path(path, sizeof path, rel)) return false;
    char *json = (char *)test_read_file(path, &size);
    CHECK_MSG(json != NULL, "cannot read %s", path);
    if (json == NULL) return false;
    vlm_status st = vlmi_processor_config_parse(json, size, rel, image);
    free(json);
    CHECK_OK(st);
    if (st != VLM_OK) return false;
    vlmi_idefics3_video_config(video, image);
    return true;
}

/* One frame's pixel values (3, tile, tile) as libvlm makes them; NULL on failure. */
static float *frame_pixels(const vlmi_processor_config *config, const uint8_t *rgb,
                           uint32_t width, uint32_t height, uint32_t tile) {
    vlmi_idefics3_frames frames;
    vlm_status st = vlmi_idefics3_frames_make(&frames, config, rgb, width, height, 0);
    CHECK_OK(st);
    if (st != VLM_OK) return NULL;
    float *got = NULL;
    CHECK_MSG(frames.plan.n_frames == 1 && frames.plan.tile == tile,
              "%ux%u: %u frames of %u, expected 1 of %u", width, height, frames.plan.n_frames,
              frames.plan.tile, tile);
    if (frames.plan.n_frames == 1 && frames.plan.tile == tile) {
        got = malloc((size_t)3 * tile * tile * sizeof *got);
        vlmi_idefics3_frame_pixels(got, &frames, config, 0);
    }
    vlmi_idefics3_frames_free(&frames);
    return got;
}

static float max_diff(const float *a, const float *b, size_t n, size_t *n_differ) {
    float worst = 0.0f;
    *n_differ = 0;
    for (size_t i = 0; i < n; i++) {
        float d = fabsf(a[i] - b[i]);
        if (d != 0.0f) (*n_differ)++;
        if (!(d <= worst)) worst = d;
    }
    return worst;
}

// ---- whole pixel_values ----

/* what the PIL path (before torch resizing) would have given with rescale
 * and normalize on: for the log only */
static float pil_worst;

static void run_video(const cJSON *manifest, const cJSON *c) {
    const char *name = sv_string(c, "case");
    vlmi_processor_config image, video;
    if (!load_video_config(manifest, sv_string(c, "config"), &image, &video)) return;
    uint32_t width = (uint32_t)sv_int(c, "width"), height = (uint32_t)sv_int(c, "height");
    uint32_t tile = (uint32_t)sv_int(c, "tile");
    int n_frames = sv_int(c, "n_frames");
    size_t frame_floats = (size_t)3 * tile * tile;
    char rel[256];
    snprintf(rel, sizeof rel, "smolvlm-video/%s", sv_string(c, "pixels"));
    float *want = ref_read(rel, (size_t)n_frames * frame_floats, sizeof(float), NULL);
    if (want == NULL) return;
    vlmi_processor_config pil = video;
    pil.resample &= 0xff;   /* the PIL path with the same filter */
    for (int t = 0; t < n_frames; t++) {
        uint8_t *rgb = make_source(frame_source(t), width, height);
        float *got = frame_pixels(&video, rgb, width, height, tile);
        if (got != NULL) {
            size_t n_differ;
            float d = max_diff(got, want + (size_t)t * frame_floats, frame_floats, &n_differ);
            CHECK_MSG(d <= PIXEL_TOLERANCE, "%s frame %d: pixel_values max |diff| %g (%zu of %zu "
                      "values differ)", name, t, d, n_differ, frame_floats);
            if (!(d <= worst_pixel_diff)) worst_pixel_diff = d;
            free(got);
        }
        float *old = video.do_rescale && video.do_normalize
                         ? frame_pixels(&pil, rgb, width, height, tile) : NULL;
        if (old != NULL) {
            size_t n_differ;
            float d = max_diff(old, want + (size_t)t * frame_floats, frame_floats, &n_differ);
            if (!(d <= pil_worst)) pil_worst = d;
            free(old);
        }
        free(rgb);
    }
    free(want);
}

// ---- sums and sampled values (frames too large to store) ----

static void run_stats_video(const cJSON *manifest, const cJSON *c) {
    const char *name = sv_string(c, "case");
    vlmi_processor_config image, video;
    if (!load_video_config(manifest, sv_string(c, "config"), &image, &video)) return;
    uint32_t width = (uint32_t)sv_int(c, "width"), height = (uint32_t)sv_int(c, "height");
    uint32_t tile = (uint32_t)sv_int(c, "tile");
    int n_frames = sv_int(c, "n_frames");
    size_t frame_floats = (size_t)3 * tile * tile;
    const cJSON *index = cJSON_GetObjectItemCaseSensitive(c, "sample_index");
    for (int t = 0; t < n_frames; t++) {
        uint8_t *rgb = make_source(frame_source(t), width, height);
        float *got = frame_pixels(&video, rgb, width, height, tile);
        free(rgb);
        if (got == NULL) continue;
        double sum = 0.0;
        for (size_t i = 0; i < frame_floats; i++) sum += got[i];
        double want_sum = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(c, "sums"), t)->valuedouble;
        CHECK_MSG(fabs(sum - want_sum) <= 1e-3, "%s frame %d: sum %.9g, expected %.9g", name, t,
                  sum, want_sum);
        const cJSON *values = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(c, "samples"), t);
        float d = 0.0f;
        int checked = 0;
        const cJSON *item;
        cJSON_ArrayForEach(item, index) {
            size_t flat = (size_t)item->valuedouble;
            float want = (float)cJSON_GetArrayItem(values, checked)->valuedouble;
            float diff = flat < frame_floats ? fabsf(got[flat] - want) : INFINITY;
            if (!(diff <= d)) d = diff;
            checked++;
        }
        CHECK_MSG(checked >= 100 && d <= PIXEL_TOLERANCE, "%s frame %d: %d samples, max |diff| %g",
                  name, t, checked, d);
        if (!(d <= worst_pixel_diff)) worst_pixel_diff = d;
        free(got);
    }
}

// ---- the resize alone ----

static int resize_cases, resize_bytes_differ;

static void run_resizes(const cJSON *manifest) {
    size_t blob_size = 0;
    char path[2048];
    if (!ref_data_path(path, sizeof path, "smolvlm-video/resize_expected.u8")) return;
    uint8_t *blob = test_read_file(path, &blob_size);
    CHECK_MSG(blob != NULL, "cannot read %s", path);
    if (blob == NULL) return;
    const cJSON *c;
    cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(manifest, "resizes")) {
        uint32_t sw = (uint32_t)sv_int(c, "sw"), sh = (uint32_t)sv_int(c, "sh");
        uint32_t dw = (uint32_t)sv_int(c, "dw"), dh = (uint32_t)sv_int(c, "dh");
        int filter = sv_int(c, "filter");
        size_t offset = (size_t)cJSON_GetObjectItemCaseSensitive(c, "offset")->valuedouble;
        size_t n = (size_t)dw * dh * 3;
        CHECK(offset + n <= blob_size);
        if (offset + n > blob_size) continue;
        uint8_t *src = make_source(sv_string(c, "source"), sw, sh);
        uint8_t *dst = malloc(n);
        CHECK_OK(vlmi_resize_torch_u8(src, sw, sh, (size_t)sw * 3, dst, dw, dh, (size_t)dw * 3, 3,
                                      filter));
        int differ = 0, worst = 0;
        for (size_t i = 0; i < n; i++) {
            int d = abs((int)dst[i] - (int)blob[offset + i]);
            if (d != 0) differ++;
            if (d > worst) worst = d;
        }
        CHECK_MSG(differ == 0, "resize %s %ux%u -> %ux%u filter %d: %d of %zu bytes differ (max %d)",
                  sv_string(c, "source"), sw, sh, dw, dh, filter, differ, n, worst);
        resize_bytes_differ += differ;
        resize_cases++;
        free(dst);
        free(src);
    }
    free(blob);
}

/* Channels are independent: 1 and 4 channel images give the 3-channel bytes. */
static void test_channels(void) {
    const uint32_t sw = 41, sh = 29, dw = 17, dh = 53;
    uint8_t *rgb = make_source("pattern", sw, sh);
    uint8_t *want = malloc((size_t)dw * dh * 3), *plane = malloc((size_t)sw * sh * 4);
    uint8_t *got = malloc((size_t)dw * dh * 4);
    CHECK_OK(vlmi_resize_torch_u8(rgb, sw, sh, (size_t)sw * 3, want, dw, dh, (size_t)dw * 3, 3,
                                  VLM_RESAMPLE_LANCZOS));
    for (int ch = 0; ch < 3; ch++) {
        for (size_t i = 0; i < (size_t)sw * sh; i++) plane[i] = rgb[i * 3 + ch];
        /* a padded destination stride */
        CHECK_OK(vlmi_resize_torch_u8(plane, sw, sh, sw, got, dw, dh, dw + 3, 1,
                                      VLM_RESAMPLE_LANCZOS));
        bool same = true;
        for (uint32_t y = 0; y < dh; y++)
            for (uint32_t x = 0; x < dw; x++)
                same = same && got[(size_t)y * (dw + 3) + x] == want[((size_t)y * dw + x) * 3 + ch];
        CHECK_MSG(same, "channel %d alone differs", ch);
    }
    for (size_t i = 0; i < (size_t)sw * sh; i++) {
        memcpy(plane + i * 4, rgb + i * 3, 3);
        plane[i * 4 + 3] = (uint8_t)(i * 7);
    }
    CHECK_OK(vlmi_resize_torch_u8(plane, sw, sh, (size_t)sw * 4, got, dw, dh, (size_t)dw * 4, 4,
                                  VLM_RESAMPLE_LANCZOS));
    bool same = true;
    for (size_t i = 0; i < (size_t)dw * dh; i++) same = same && memcmp(got + i * 4, want + i * 3, 3) == 0;
    CHECK_MSG(same, "4-channel resize differs in RGB");
    free(got);
    free(plane);
    free(want);
    free(rgb);
}

static void test_errors(void) {
    uint8_t src[12] = {0}, dst[48];
    CHECK(vlmi_resize_torch_supported(VLM_RESAMPLE_BICUBIC) && vlmi_resize_torch_supported(VLM_RESAMPLE_LANCZOS) &&
          vlmi_resize_torch_supported(VLM_RESAMPLE_BILINEAR));
    CHECK(!vlmi_resize_torch_supported(VLM_RESAMPLE_NEAREST) && !vlmi_resize_torch_supported(VLM_RESAMPLE_BOX) &&
          !vlmi_resize_torch_supported(VLM_RESAMPLE_HAMMING) && !vlmi_resize_torch_supported(99));
    CHECK_STATUS(VLM_ERR_INVALID_ARGUMENT,
                 vlmi_resize_torch_u8(src, 2, 2, 6, dst, 4, 4, 12, 3, VLM_RESAMPLE_NEAREST));
    CHECK_STATUS(VLM_ERR_INVALID_ARGUMENT,
                 vlmi_resize_torch_u8(src, 2, 2, 6, dst, 4, 4, 12, 0, VLM_RESAMPLE_BICUBIC));
    CHECK_STATUS(VLM_ERR_INVALID_ARGUMENT,
                 vlmi_resize_torch_u8(src, 0, 2, 6, dst, 4, 4, 12, 3, VLM_RESAMPLE_BICUBIC));
    CHECK_STATUS(VLM_ERR_INVALID_ARGUMENT,
                 vlmi_resize_torch_u8(src, 2, 2, 5, dst, 4, 4, 12, 3, VLM_RESAMPLE_BICUBIC));
    CHECK_STATUS(VLM_ERR_INVALID_ARGUMENT,
                 vlmi_resize_torch_u8(NULL, 2, 2, 6, dst, 4, 4, 12, 3, VLM_RESAMPLE_BICUBIC));
    /* equal sizes copy */
    for (int i = 0; i < 12; i++) src[i] = (uint8_t)(i * 20);
    CHECK_OK(vlmi_resize_torch_u8(src, 2, 2, 6, dst, 2, 2, 6, 3, VLM_RESAMPLE_BICUBIC));
    CHECK(memcmp(src, dst, 12) == 0);
}

/* The video settings: torch resize flagged, LANCZOS kept, edge capped. */
static void test_video_config(const cJSON *manifest) {
    vlmi_processor_config image, video;
    if (!load_video_config(manifest, "lanczos", &image, &video)) return;
    CHECK(image.resample == VLM_RESAMPLE_LANCZOS);
    CHECK(video.resample == (VLM_RESAMPLE_LANCZOS | VLMI_IDEFICS3_RESAMPLE_TORCH));
    CHECK(!video.do_image_splitting && image.do_image_splitting);
    CHECK(video.size.longest_edge == 96);
    image.video_sampling.video_size.longest_edge = 10000;
    image.resample = VLMI_RESAMPLE_BOX;   /* no torch counterpart: stays PIL */
    vlmi_idefics3_video_config(&video, &image);
    CHECK(video.size.longest_edge == 4096 && video.resample == VLMI_RESAMPLE_BOX);
    /* the image path is untouched: same frames as before for an image config */
    uint8_t *rgb = make_source("pattern", 30, 20);
    image.resample = VLM_RESAMPLE_BICUBIC;
    image.do_image_splitting = false;
    image.size.longest_edge = 96;
    vlmi_idefics3_frames frames;
    CHECK_OK(vlmi_idefics3_frames_make(&frames, &image, rgb, 30, 20, 0));
    uint8_t *want = malloc((size_t)96 * 64 * 3), *tile = malloc((size_t)48 * 48 * 3);
    CHECK_OK(vlmi_resize_u8(rgb, 30, 20, 90, want, 96, 64, 96 * 3, 3, VLM_RESAMPLE_BICUBIC));
    CHECK_OK(vlmi_resize_u8(want, 96, 64, 96 * 3, tile, 48, 48, 48 * 3, 3, VLM_RESAMPLE_BICUBIC));
    if (frames.grid != NULL) CHECK(memcmp(frames.grid, tile, (size_t)48 * 48 * 3) == 0);
    vlmi_idefics3_frames_free(&frames);
    free(tile);
    free(want);
    free(rgb);
}

int main(void) {
    if (getenv("VLM_TEST_DATA") == NULL) return TEST_SKIP_CODE;
    test_errors();
    test_channels();
    cJSON *manifest = ref_read_json("smolvlm-video/manifest.json");
    if (manifest != NULL) {
        const cJSON *c;
        int n = 0, n_stats = 0;
        cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(manifest, "videos")) {
            run_video(manifest, c);
            n++;
        }
        cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(manifest, "stats_videos")) {
            run_stats_video(manifest, c);
            n_stats++;
        }
        CHECK(n >= 10 && n_stats >= 2);
        printf("%d videos + %d sampled: pixel_values max |diff| %.3g (the PIL path would give %.3g)\n",
               n, n_stats, worst_pixel_diff, pil_worst);
        run_resizes(manifest);
        CHECK(resize_cases >= 60);
        printf("%d torch resizes: %d bytes differ\n", resize_cases, resize_bytes_differ);
        test_video_config(manifest);
    }
    cJSON_Delete(manifest);
    return test_finish("smolvlm_video_pixels");
}
