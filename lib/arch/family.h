/* What a session asks of a model family: its chat format, how it plans,
 * preprocesses and encodes an image, what text stands for an image in the
 * prompt, and how a prompt becomes decoder input. session.c owns the
 * conversation, the KV cache and the generation loop for every family; a
 * family file (lib/arch/<family>_family.c) fills one of these tables and
 * registry.c hands it out. */
#ifndef VLM_ARCH_FAMILY_H
#define VLM_ARCH_FAMILY_H

#include "arch/chat.h"
#include "arch/gemma3_processor.h"
#include "arch/idefics3_processor.h"
#include "arch/qwen2_5_vl_processor.h"
#include "arch/registry.h"
#include "model/processor_config.h"
#include "nn/decoder.h"
#include "threadpool.h"

/* What decides an image's features besides its pixels: the session's
 * settings for it. Fields a family does not use are ignored. */
typedef struct vlmi_image_request {
    int32_t max_tiles;     /* Idefics3: cap on the tile grid; 0: none */
    int32_t pan_and_scan;  /* Gemma 3: 0 the processor's setting, 1 on, -1 off */
    int64_t min_pixels;    /* Qwen2-VL: token budget; 0: the processor's */
    int64_t max_pixels;
    bool video_frame;      /* a frame of a video (the video processor's settings) */
} vlmi_image_request;

/* One image as its family plans it, from its size alone. */
typedef struct vlmi_image_plan {
    uint32_t n_frames;      /* vision encoder passes (tiles, crops, global image) */
    size_t n_rows;          /* feature rows = image tokens in the prompt */
    uint32_t rows, cols;    /* tile / crop grid; 0, 0 when none */
    uint32_t frame_width;   /* pixels of each frame the encoder sees */
    uint32_t frame_height;
    size_t n_values;        /* floats of its pixel values (all frames) */
    uint64_t work_bytes;    /* memory needed while preprocessing and encoding */
    vlmi_image_request request; /* what it was planned for */
    union {
        vlmi_idefics3_plan idefics3;
        vlmi_gemma3_plan gemma3;
        vlmi_qwen2vl_plan qwen2vl;
    } u;                    /* the family's own plan */
} vlmi_image_plan;

/* An image or a video of the prompt, in prompt order, as rope_positions
 * sees it. */
typedef struct vlmi_prompt_media {
    const vlmi_image_plan *plan;  /* an image's, or a whole video's (plan_video) */
    const double *timestamps;     /* (n_frames) seconds from the video's start;
                                     NULL for an image */
    size_t n_frames;
    double duration_s;            /* the video's length; < 0: unknown */
} vlmi_prompt_media;

/* Called by encode_image after each frame; a status other than VLM_OK
 * (the caller cancelled) stops encoding with that status. */
typedef vlm_status (*vlmi_frame_done_fn)(void *user_data);

typedef struct vlmi_family_ops {
    /* The checks and settings a session needs beyond the weights (processor
     * config present and consistent with the encoder, the chat template);
     * messages name the model's path. */
    vlm_status (*check_session)(const vlm_model *model);
    const vlmi_decoder *(*decoder)(const vlm_model *model);
    /* The token that stands for one feature row of an image in the prompt,
     * and of a video (NULL: image_token, as for families whose video
     * frames are images). */
    int32_t (*image_token)(const vlm_model *model);
    int32_t (*video_token)(const vlm_model *model);
    /* Rows the decoder must see in one forward call: the longest run of
     * image tokens attending bidirectionally (0: none, causal everywhere). */
    size_t (*image_block_rows)(const vlm_model *model);

    /* The chat format (writes up to cap bytes plus a NUL when cap > 0;
     * returns the full length), and the placeholder it writes per image
     * and per video ("" when the family has no video). */
    size_t (*chat_render)(char *buf, size_t cap, const vlmi_chat_message *messages, size_t n,
                          bool add_generation_prompt);
    const char *image_placeholder;
    const char *video_placeholder;
    /* The text one placeholder becomes (buffer as chat_render). */
    size_t (*expand_image)(char *buf, size_t cap, const vlm_model *model,
                           const vlmi_image_plan *plan);
    /* NULL when the family has no video. */
    size_t (*expand_video)(char *buf, size_t cap, const vlm_model *model,
                           const vlmi_image_plan *frame_plan, const double *timestamps,
                           size_t n_frames, double duration_s);
    /* The processor settings for video frames; NULL when no video. */
    void (*video_config)(vlmi_processor_config *out, const vlm_model *model);
    /* Which frames of a video vlm_session_video_frames picks, as the
     * family's video processor samples them: of total_frames at video_fps,
     * fps per second (0: the family's default), at most max_frames (0: the
     * default) -> increasing indices, their count; with indices NULL, the
     * most it can write (a size query). NULL: SmolVLM2's sampling with
     * video_config's video_sampling. */
    size_t (*sample_frames)(uint32_t *indices, const vlm_model *model,
                            const vlmi_processor_config *video_config, uint32_t total_frames,
                            double video_fps, double fps, uint32_t max_frames);
    /* Whole-video encoding (Qwen2-VL): the n_frames frames of a video, all
     * width x height, make one plan, one placeholder expansion (expand_video
     * gets this plan) and one encoder pass -> plan->n_rows rows, as
     * encode_image. NULL: the session plans and encodes each frame as an
     * image of the video processor settings (Idefics3). */
    vlm_status (*plan_video)(vlmi_image_plan *plan, const vlm_model *model,
                             const vlmi_processor_config *config, const vlmi_image_request *req,
                             uint32_t width, uint32_t height, size_t n_frames);
    vlm_status (*encode_video)(float *rows, void *state, const vlm_model *model,
                               const vlmi_processor_config *config, const vlmi_image_plan *plan,
                               const uint8_t *const *frames, uint32_t width, uint32_t height,
                               vlmi_threadpool *pool, vlmi_frame_done_fn frame_done,
                               void *user_data, double *preprocess_ms, double *encode_ms);

    vlm_status (*plan_image)(vlmi_image_plan *plan, const vlm_model *model,
                             const vlmi_processor_config *config, const vlmi_image_request *req,
                             uint32_t width, uint32_t height);
    /* The processor's pixel_values for rgb (height, width, 3) as planned:
     * plan->n_values floats, in the reference's layout. */
    vlm_status (*pixel_values)(float *out, const vlm_model *model,
                               const vlmi_processor_config *config, const vlmi_image_plan *plan,
                               const uint8_t *rgb, uint32_t width, uint32_t height);

    /* The vision buffers of one session, made at its first image. */
    vlm_status (*vision_state_create)(const vlm_model *model, void **state);
    void (*vision_state_free)(void *state);
    /* Preprocesses and encodes rgb as planned -> rows (plan->n_rows, text
     * dim). Adds the time spent to *preprocess_ms and *encode_ms. */
    vlm_status (*encode_image)(float *rows, void *state, const vlm_model *model,
                               const vlmi_processor_config *config, const vlmi_image_plan *plan,
                               const uint8_t *rgb, uint32_t width, uint32_t height,
                               vlmi_threadpool *pool, vlmi_frame_done_fn frame_done,
                               void *user_data, double *preprocess_ms, double *encode_ms);

    /* Decoder input of prompt tokens: token embeddings with the image
     * tokens replaced by image_rows in order (n_image_rows of them), and
     * bidirectional[i] = 1 where row i attends within its image block
     * (bidirectional is (n); families without such blocks write zeros). */
    vlm_status (*embed)(float *out, uint8_t *bidirectional, const vlm_model *model,
                        const int32_t *ids, size_t n, const float *image_rows,
                        size_t n_image_rows);

    /* Multimodal RoPE (Qwen2-VL): the rotary positions of prompt ids (n of
     * them; axis a of token i at positions[a * n + i], 3 axes) given the
     * prompt's images and videos in order, and the offset of the tokens after
     * it (their position is their cache row + *delta on every axis). NULL:
     * positions are the cache rows. */
    vlm_status (*rope_positions)(int32_t *positions, int64_t *delta, const vlm_model *model,
                                 const int32_t *ids, size_t n, const vlmi_prompt_media *media,
                                 size_t n_media);

    /* Image-safety classifiers (ShieldGemma 2): true with the ids of the
     * "Yes" and "No" tokens whose logits make the score; false for other
     * models of the family. NULL: the family has none. */
    bool (*safety_tokens)(const vlm_model *model, int32_t *yes, int32_t *no);
} vlmi_family_ops;

/* The table of a bound family; NULL for VLMI_FAMILY_NONE. */
const vlmi_family_ops *vlmi_family_ops_of(vlmi_family family);

extern const vlmi_family_ops vlmi_idefics3_ops;
extern const vlmi_family_ops vlmi_gemma3_ops;
extern const vlmi_family_ops vlmi_qwen2_5_vl_ops;

#endif
