/* preprocessor_config.json, processor_config.json and
 * video_preprocessor_config.json: how images (and video frames) are prepared
 * for the vision encoder. PREPROCESSING.md (shared assets) explains each key.
 *
 * Keys the file leaves out, or sets to null, take the defaults of the
 * transformers image processor class named by "image_processor_type"
 * (Idefics3/SmolVLM, Qwen2-VL, Gemma 3; a "Fast" suffix is ignored). For other
 * classes absent booleans are false and absent sizes 0. Unknown keys are
 * ignored. No heap memory: the struct can be copied and needs no free. */
#ifndef VLM_MODEL_PROCESSOR_CONFIG_H
#define VLM_MODEL_PROCESSOR_CONFIG_H

#include "vlm-impl.h"

#include <stdbool.h>

#define VLMI_PROCESSOR_NAME_MAX 64
#define VLMI_PROCESSOR_MAX_CHANNELS 4

/* A "size"-like object. Which members are set depends on the processor:
 * Idefics3 {longest_edge}, Gemma 3 {height, width}, Qwen2-VL {shortest_edge,
 * longest_edge} where both are PIXEL COUNTS (min_pixels, max_pixels), not
 * edges. 0 means not given. */
typedef struct vlmi_size_spec {
    int32_t longest_edge;
    int32_t shortest_edge;
    int32_t height;
    int32_t width;
} vlmi_size_spec;

/* SmolVLM2 video frame sampling (preprocessor "video_sampling"). */
typedef struct vlmi_video_sampling {
    bool present;                  /* false: the file has no video_sampling */
    int32_t max_frames;            /* at most this many frames per video */
    double fps;                    /* frames sampled per second of video */
    vlmi_size_spec video_size;     /* replaces size for frames ({longest_edge}) */
} vlmi_video_sampling;

typedef struct vlmi_processor_config {
    char image_processor_type[VLMI_PROCESSOR_NAME_MAX]; /* "Idefics3ImageProcessor"; "" */
    char processor_class[VLMI_PROCESSOR_NAME_MAX];      /* "Idefics3Processor"; "" */
    /* resize */
    bool do_resize;
    vlmi_size_spec size;           /* target, see vlmi_size_spec */
    vlmi_size_spec max_image_size; /* Idefics3: tile side as {longest_edge} */
    int32_t resample;              /* PIL filter number 0..5 (vlm_resample 0..3) */
    /* pixel values */
    bool do_rescale;
    double rescale_factor;         /* multiplies 0..255 samples, usually 1/255 */
    bool do_normalize;
    double image_mean[VLMI_PROCESSOR_MAX_CHANNELS]; /* (n_channels) per channel */
    double image_std[VLMI_PROCESSOR_MAX_CHANNELS];  /* (n_channels) per channel, > 0 */
    int32_t n_channels;            /* entries of image_mean/std; 0 if none */
    bool do_convert_rgb;           /* composite alpha over white, gray -> RGB */
    /* Idefics3 / SmolVLM */
    bool do_image_splitting;       /* tiles of max_image_size plus a global image */
    bool do_pad;                   /* pad frames of a batch to one size */
    int32_t image_seq_len;         /* tokens per image or tile (processor_config
                                      image_seq_len / image_seq_length); 0: dynamic */
    /* Qwen2-VL smart_resize and patching */
    int64_t min_pixels;            /* resized area lower bound; 0 if n/a */
    int64_t max_pixels;            /* resized area upper bound; 0 if n/a */
    int32_t patch_size;            /* ViT patch side; 0 if n/a */
    int32_t temporal_patch_size;   /* frames per patch; 0 if n/a */
    int32_t merge_size;            /* merger side; resized sides are multiples of
                                      patch_size * merge_size */
    bool cap_pixels_per_frame;     /* Qwen2-VL video: each frame's max_pixels also
                                      bounded by a share of max_video_tokens */
    int32_t max_video_tokens;      /* its total budget in tokens; 0 if n/a */
    /* Gemma 3 pan and scan */
    bool do_pan_and_scan;
    int32_t pan_and_scan_min_crop_size;  /* pixels */
    int32_t pan_and_scan_max_num_crops;
    double pan_and_scan_min_ratio_to_activate; /* long/short side ratio */
    vlmi_video_sampling video_sampling;
} vlmi_processor_config;

/* Fills the defaults of the named image processor class ("" or unknown: the
 * generic ones described above). */
void vlmi_processor_config_init(vlmi_processor_config *config, const char *image_processor_type);

/* Parses preprocessor_config.json (or video_preprocessor_config.json) text;
 * size bytes, need not be NUL-terminated; file names it in messages. */
vlm_status vlmi_processor_config_parse(const char *json, size_t size, const char *file,
                                       vlmi_processor_config *out);

/* Applies processor_config.json on top of *config: image_seq_len (Idefics3) or
 * image_seq_length (Gemma 3), and processor_class. */
vlm_status vlmi_processor_config_apply_processor_json(const char *json, size_t size,
                                                      const char *file,
                                                      vlmi_processor_config *config);

#endif
