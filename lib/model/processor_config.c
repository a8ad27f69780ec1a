/* preprocessor_config.json / processor_config.json -> vlmi_processor_config. */
#include "model/processor_config.h"

#include "io/json_util.h"

#include <stdio.h>
#include <string.h>

#define TRY(call)                                   \
    do {                                            \
        vlm_status st_ = (call);                    \
        if (st_ != VLM_OK) return st_;              \
    } while (0)

/* PIL Image.Resampling numbers used by the class defaults. */
enum { PIL_LANCZOS = 1, PIL_BILINEAR = 2, PIL_BICUBIC = 3, PIL_MAX_FILTER = 5 };

// ---- class defaults ----

/* True when type names class (optionally with the "Fast" suffix). */
static bool is_class(const char *type, const char *class_name) {
    size_t n = strlen(class_name);
    return strncmp(type, class_name, n) == 0 &&
           (type[n] == '\0' || strcmp(type + n, "Fast") == 0);
}

static void set_channels(vlmi_processor_config *c, double mean, double std) {
    c->n_channels = 3;
    for (int i = 0; i < 3; i++) { c->image_mean[i] = mean; c->image_std[i] = std; }
}

void vlmi_processor_config_init(vlmi_processor_config *c, const char *type) {
    memset(c, 0, sizeof *c);
    if (type == NULL) type = "";
    snprintf(c->image_processor_type, sizeof c->image_processor_type, "%s", type);
    c->rescale_factor = 1.0 / 255.0;
    c->resample = PIL_BICUBIC;

    if (is_class(type, "Idefics3ImageProcessor") || is_class(type, "SmolVLMImageProcessor")) {
        /* transformers Idefics3ImageProcessor.__init__ (SmolVLM's is generated
         * from it); image_seq_len: Idefics3Processor.__init__ default 169 */
        c->do_convert_rgb = c->do_resize = c->do_rescale = c->do_normalize = true;
        c->do_image_splitting = c->do_pad = true;
        c->size.longest_edge = 4 * 364;
        c->max_image_size.longest_edge = 364;
        c->resample = PIL_LANCZOS;
        set_channels(c, 0.5, 0.5);   /* IMAGENET_STANDARD_MEAN / _STD */
        c->image_seq_len = 169;
    } else if (is_class(type, "Qwen2VLImageProcessor") ||
               is_class(type, "Qwen2_5_VLImageProcessor") ||
               is_class(type, "Qwen2VLVideoProcessor")) {
        /* transformers Qwen2VLImageProcessor.__init__: size defaults to
         * {shortest_edge: 56*56, longest_edge: 28*28*1280} (pixel counts) */
        c->do_convert_rgb = c->do_resize = c->do_rescale = c->do_normalize = true;
        c->min_pixels = 56 * 56;
        c->max_pixels = 28 * 28 * 1280;
        c->size.shortest_edge = 56 * 56;
        c->size.longest_edge = 28 * 28 * 1280;
        c->patch_size = 14;
        c->temporal_patch_size = 2;
        c->merge_size = 2;
        c->n_channels = 3;           /* OPENAI_CLIP_MEAN / _STD */
        const double mean[3] = {0.48145466, 0.4578275, 0.40821073};
        const double std[3] = {0.26862954, 0.26130258, 0.27577711};
        for (int i = 0; i < 3; i++) { c->image_mean[i] = mean[i]; c->image_std[i] = std[i]; }
        if (is_class(type, "Qwen2VLVideoProcessor")) {
            /* its class size: {shortest_edge: 128*28*28, longest_edge: 28*28*768} */
            c->min_pixels = c->size.shortest_edge = 128 * 28 * 28;
            c->max_pixels = c->size.longest_edge = 28 * 28 * 768;
        }
        /* cap_pixels_per_frame None means off (transformers 5.24) */
        c->max_video_tokens = 128000;
    } else if (is_class(type, "Gemma3ImageProcessor")) {
        /* transformers Gemma3ImageProcessor.__init__; None-valued pan & scan
         * settings resolve to these in its preprocess(); image_seq_length:
         * Gemma3Processor default 256 */
        c->do_convert_rgb = c->do_resize = c->do_rescale = c->do_normalize = true;
        c->size.height = c->size.width = 224;
        c->resample = PIL_BILINEAR;
        set_channels(c, 0.5, 0.5);
        c->do_pan_and_scan = false;
        c->pan_and_scan_min_crop_size = 256;
        c->pan_and_scan_max_num_crops = 4;
        c->pan_and_scan_min_ratio_to_activate = 1.2;
        c->image_seq_len = 256;
    }
}

// ---- parsing helpers ----

static vlm_status fail_positive(const char *file, const char *prefix, const char *key,
                                double value) {
    char path[256];
    vlmi_json_path(path, sizeof path, prefix, key);
    return vlmi_fail(VLM_ERR_FORMAT, "%s: %s must be positive, got %g", file, path, value);
}

/* A positive int32 (kept as is when absent or null). */
static vlm_status get_positive_i32(const cJSON *obj, const char *key, const char *file,
                                   const char *prefix, int32_t *out) {
    int64_t v = *out;
    TRY(vlmi_json_get_int(obj, key, file, prefix, &v, false));
    if (vlmi_json_find(obj, key) == NULL) return VLM_OK;
    if (v <= 0 || v > INT32_MAX) return fail_positive(file, prefix, key, (double)v);
    *out = (int32_t)v;
    return VLM_OK;
}

static vlm_status get_positive_i64(const cJSON *obj, const char *key, const char *file,
                                   const char *prefix, int64_t *out) {
    int64_t v = *out;
    TRY(vlmi_json_get_int(obj, key, file, prefix, &v, false));
    if (vlmi_json_find(obj, key) == NULL) return VLM_OK;
    if (v <= 0) return fail_positive(file, prefix, key, (double)v);
    *out = v;
    return VLM_OK;
}

static vlm_status get_positive_f64(const cJSON *obj, const char *key, const char *file,
                                   const char *prefix, double *out) {
    double v = *out;
    TRY(vlmi_json_get_double(obj, key, file, prefix, &v, false));
    if (vlmi_json_find(obj, key) == NULL) return VLM_OK;
    if (!(v > 0.0)) return fail_positive(file, prefix, key, v);
    *out = v;
    return VLM_OK;
}

/* A size object; when present it replaces *out entirely (HF replaces the
 * whole dict). Must set longest_edge, shortest_edge, or height and width. */
static vlm_status get_size(const cJSON *obj, const char *key, const char *file,
                           const char *prefix, vlmi_size_spec *out) {
    const cJSON *size_obj;
    TRY(vlmi_json_get_object(obj, key, file, prefix, &size_obj, false));
    if (size_obj == NULL) return VLM_OK;
    char path[128];
    vlmi_json_path(path, sizeof path, prefix, key);
    vlmi_size_spec size = {0, 0, 0, 0};
    TRY(get_positive_i32(size_obj, "longest_edge", file, path, &size.longest_edge));
    TRY(get_positive_i32(size_obj, "shortest_edge", file, path, &size.shortest_edge));
    TRY(get_positive_i32(size_obj, "height", file, path, &size.height));
    TRY(get_positive_i32(size_obj, "width", file, path, &size.width));
    if ((size.height != 0) != (size.width != 0))
        return vlmi_fail(VLM_ERR_FORMAT, "%s: %s: height and width come together", file, path);
    if (size.longest_edge == 0 && size.shortest_edge == 0 && size.height == 0)
        return vlmi_fail(VLM_ERR_FORMAT, "%s: %s: needs longest_edge, shortest_edge or "
                         "height and width", file, path);
    *out = size;
    return VLM_OK;
}

static vlm_status get_channels(const cJSON *root, const char *key, const char *file,
                               double *out, int32_t *n_channels) {
    if (vlmi_json_find(root, key) == NULL) return VLM_OK;
    size_t n = 0;
    double values[VLMI_PROCESSOR_MAX_CHANNELS];
    TRY(vlmi_json_get_double_list(root, key, file, "", values, VLMI_PROCESSOR_MAX_CHANNELS,
                                  &n, true, false));
    if (n == 0) return vlmi_fail(VLM_ERR_FORMAT, "%s: %s is empty", file, key);
    if (*n_channels != 0 && (size_t)*n_channels != n && n != 1)
        return vlmi_fail(VLM_ERR_FORMAT, "%s: %s has %zu values, expected %d", file, key, n,
                         *n_channels);
    /* a single number applies to every channel, as HF broadcasts it */
    int32_t channels = n == 1 ? (*n_channels ? *n_channels : 3) : (int32_t)n;
    for (int32_t i = 0; i < channels; i++) out[i] = values[n == 1 ? 0 : i];
    *n_channels = channels;
    return VLM_OK;
}

// ---- preprocessor_config.json ----

static vlm_status parse_root(const cJSON *root, const char *file, vlmi_processor_config *c) {
    char type[VLMI_PROCESSOR_NAME_MAX] = "";
    const char *type_key = vlmi_json_find(root, "image_processor_type")
                               ? "image_processor_type" : "video_processor_type";
    TRY(vlmi_json_get_name(root, type_key, file, "", type, sizeof type, false));
    vlmi_processor_config_init(c, type);
    TRY(vlmi_json_get_name(root, "processor_class", file, "", c->processor_class,
                           sizeof c->processor_class, false));

    TRY(vlmi_json_get_bool(root, "do_resize", file, "", &c->do_resize, false));
    TRY(get_size(root, "size", file, "", &c->size));
    TRY(get_size(root, "max_image_size", file, "", &c->max_image_size));
    int64_t resample = c->resample;
    TRY(vlmi_json_get_int(root, "resample", file, "", &resample, false));
    if (resample < 0 || resample > PIL_MAX_FILTER)
        return vlmi_fail(VLM_ERR_FORMAT, "%s: resample %lld is not a PIL filter (0..5)", file,
                         (long long)resample);
    c->resample = (int32_t)resample;

    TRY(vlmi_json_get_bool(root, "do_rescale", file, "", &c->do_rescale, false));
    TRY(get_positive_f64(root, "rescale_factor", file, "", &c->rescale_factor));
    TRY(vlmi_json_get_bool(root, "do_normalize", file, "", &c->do_normalize, false));
    int32_t mean_channels = c->n_channels, std_channels = c->n_channels;
    /* a list replaces the class default, so its length sets the channel count */
    const cJSON *mean_item = vlmi_json_find(root, "image_mean");
    if (mean_item != NULL && cJSON_IsArray(mean_item)) mean_channels = 0;
    TRY(get_channels(root, "image_mean", file, c->image_mean, &mean_channels));
    const cJSON *std_item = vlmi_json_find(root, "image_std");
    if (std_item != NULL && cJSON_IsArray(std_item)) std_channels = 0;
    TRY(get_channels(root, "image_std", file, c->image_std, &std_channels));
    if (mean_channels != std_channels)
        return vlmi_fail(VLM_ERR_FORMAT, "%s: image_mean has %d values, image_std %d", file,
                         mean_channels, std_channels);
    c->n_channels = mean_channels;
    for (int32_t i = 0; i < c->n_channels; i++)
        if (!(c->image_std[i] > 0.0))
            return vlmi_fail(VLM_ERR_FORMAT, "%s: image_std[%d] must be positive, got %g", file,
                             i, c->image_std[i]);
    if (c->do_normalize && c->n_channels == 0)
        return vlmi_fail(VLM_ERR_FORMAT, "%s: do_normalize is set but image_mean and "
                         "image_std are missing", file);
    TRY(vlmi_json_get_bool(root, "do_convert_rgb", file, "", &c->do_convert_rgb, false));

    TRY(vlmi_json_get_bool(root, "do_image_splitting", file, "", &c->do_image_splitting, false));
    TRY(vlmi_json_get_bool(root, "do_pad", file, "", &c->do_pad, false));
    const char *seq_key = vlmi_json_find(root, "image_seq_len") ? "image_seq_len"
                                                                 : "image_seq_length";
    TRY(get_positive_i32(root, seq_key, file, "", &c->image_seq_len));

    /* Qwen2-VL: min_pixels / max_pixels override size, and size says them
     * when they are absent (Qwen2VLImageProcessor.__init__) */
    bool qwen = c->merge_size != 0;
    if (qwen && vlmi_json_find(root, "size") != NULL) {
        if (c->size.shortest_edge == 0 || c->size.longest_edge == 0)
            return vlmi_fail(VLM_ERR_FORMAT, "%s: size must contain shortest_edge and "
                             "longest_edge (pixel counts) for %s", file, c->image_processor_type);
        c->min_pixels = c->size.shortest_edge;
        c->max_pixels = c->size.longest_edge;
    }
    TRY(get_positive_i64(root, "min_pixels", file, "", &c->min_pixels));
    TRY(get_positive_i64(root, "max_pixels", file, "", &c->max_pixels));
    if (c->min_pixels != 0 && c->max_pixels != 0 && c->min_pixels > c->max_pixels)
        return vlmi_fail(VLM_ERR_FORMAT, "%s: min_pixels %lld exceeds max_pixels %lld", file,
                         (long long)c->min_pixels, (long long)c->max_pixels);
    if (qwen) {
        if (c->min_pixels <= INT32_MAX) c->size.shortest_edge = (int32_t)c->min_pixels;
        if (c->max_pixels <= INT32_MAX) c->size.longest_edge = (int32_t)c->max_pixels;
    }
    TRY(get_positive_i32(root, "patch_size", file, "", &c->patch_size));
    TRY(get_positive_i32(root, "temporal_patch_size", file, "", &c->temporal_patch_size));
    TRY(get_positive_i32(root, "merge_size", file, "", &c->merge_size));
    const cJSON *cap = vlmi_json_find(root, "cap_pixels_per_frame");
    if (cap != NULL && !cJSON_IsNull(cap))
        TRY(vlmi_json_get_bool(root, "cap_pixels_per_frame", file, "", &c->cap_pixels_per_frame,
                               false));
    TRY(get_positive_i32(root, "max_video_tokens", file, "", &c->max_video_tokens));

    TRY(vlmi_json_get_bool(root, "do_pan_and_scan", file, "", &c->do_pan_and_scan, false));
    TRY(get_positive_i32(root, "pan_and_scan_min_crop_size", file, "",
                         &c->pan_and_scan_min_crop_size));
    TRY(get_positive_i32(root, "pan_and_scan_max_num_crops", file, "",
                         &c->pan_and_scan_max_num_crops));
    TRY(get_positive_f64(root, "pan_and_scan_min_ratio_to_activate", file, "",
                         &c->pan_and_scan_min_ratio_to_activate));

    const cJSON *sampling;
    TRY(vlmi_json_get_object(root, "video_sampling", file, "", &sampling, false));
    if (sampling != NULL) {
        vlmi_video_sampling *v = &c->video_sampling;
        v->present = true;
        TRY(get_positive_i32(sampling, "max_frames", file, "video_sampling", &v->max_frames));
        TRY(get_positive_f64(sampling, "fps", file, "video_sampling", &v->fps));
        TRY(get_size(sampling, "video_size", file, "video_sampling", &v->video_size));
    }
    return VLM_OK;
}

vlm_status vlmi_processor_config_parse(const char *json, size_t size, const char *file,
                                       vlmi_processor_config *out) {
    if (out == NULL) return vlmi_fail(VLM_ERR_INVALID_ARGUMENT, "processor config: out is NULL");
    vlmi_processor_config_init(out, "");
    if (file == NULL) file = "preprocessor_config.json";
    if (json == NULL) return vlmi_fail(VLM_ERR_INVALID_ARGUMENT, "%s: data is NULL", file);
    cJSON *root;
    TRY(vlmi_json_parse_object(json, size, file, &root));
    vlm_status st = parse_root(root, file, out);
    cJSON_Delete(root);
    if (st != VLM_OK) vlmi_processor_config_init(out, "");
    return st;
}

// ---- processor_config.json ----

vlm_status vlmi_processor_config_apply_processor_json(const char *json, size_t size,
                                                      const char *file,
                                                      vlmi_processor_config *config) {
    if (config == NULL)
        return vlmi_fail(VLM_ERR_INVALID_ARGUMENT, "processor config: config is NULL");
    if (file == NULL) file = "processor_config.json";
    if (json == NULL) return vlmi_fail(VLM_ERR_INVALID_ARGUMENT, "%s: data is NULL", file);
    cJSON *root;
    TRY(vlmi_json_parse_object(json, size, file, &root));
    /* parse into a copy so a failure leaves *config as it was */
    vlmi_processor_config c = *config;
    const char *seq_key = vlmi_json_find(root, "image_seq_len") ? "image_seq_len"
                                                                 : "image_seq_length";
    vlm_status st = get_positive_i32(root, seq_key, file, "", &c.image_seq_len);
    if (st == VLM_OK)
        st = vlmi_json_get_name(root, "processor_class", file, "", c.processor_class,
                                sizeof c.processor_class, false);
    cJSON_Delete(root);
    if (st == VLM_OK) *config = c;
    return st;
}
