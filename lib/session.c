/* The conversation handle: turns, images, the prompt, the KV cache and the
 * generation loop every family shares.
 *
 * Images are preprocessed and encoded when their turn is added (the caller
 * lends them for that call only); their features wait in the session. A
 * generate renders the whole conversation with the chat format, expands each
 * image placeholder, tokenizes, and then prefills only what the KV cache
 * does not already hold: the tokens after the longest prefix shared with the
 * cached ones (turns are append-only, so the images in that prefix are the
 * same). The decode loop then allocates nothing. */
#include "vlm-impl.h"
#include "model.h"
#include "image_cache.h"
#include "arch/family.h"
#include "arch/shieldgemma2.h"
#include "generate/sampler.h"
#include "generate/stop.h"
#include "image/image.h"
#include "text/tokenizer-impl.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#if defined(__GLIBC__)
#  include <malloc.h>
#endif

#define PIECE_CAPACITY 4096   /* streamed text per token; pieces are short */
#define DEFAULT_MAX_CTX 4096  /* n_ctx 0: the model's length, at most this */
#define DEFAULT_BATCH 512     /* prompt rows per forward call, unless an image block needs more */

typedef struct session_turn {
    vlm_role role;
    char *text;            /* owned */
    size_t n_images;       /* images placed before the text */
    bool has_video;        /* a video placed before the images */
} session_turn;

typedef struct session_image {
    vlmi_image_plan plan;
    bool video_frame;      /* a video or one frame of it, not an image of its own */
    size_t first_row;      /* its first row in vlm_session.features */
    size_t n_rows;         /* feature rows (= its image tokens) */
} session_image;

typedef struct session_video {
    size_t first_image;    /* its first frame in vlm_session.images, or the whole
                              video when the family encodes videos whole */
    double *timestamps;    /* (n_frames) seconds, owned */
    size_t n_frames;
    double duration_s;     /* < 0: unknown */
} session_video;

struct vlm_session {
    vlm_model *model;
    const vlmi_family_ops *ops;    /* the model's family */
    const vlmi_decoder *text;      /* the model's bound language model */
    int32_t image_token;           /* stands for one feature row in the prompt */
    int32_t video_token;           /* the same for a video (image_token unless
                                      the family has its own) */
    const vlmi_processor_config *processor;
    size_t n_ctx;
    vlmi_image_request image_request;  /* the session's image settings */

    // conversation
    session_turn *turns;           /* (n_turns) */
    size_t n_turns, turns_capacity;
    session_image *images;         /* (n_images) images and video frames in prompt order */
    size_t n_images, images_capacity;
    session_video *videos;         /* (n_videos) in prompt order */
    size_t n_videos, videos_capacity;
    vlmi_processor_config video_processor; /* settings for video frames (families with video) */
    float *features;               /* (n_feature_rows, text dim) every image's rows */
    size_t n_feature_rows, feature_rows_capacity;

    // model state, allocated at create
    vlmi_threadpool *pool;         /* splits the matrix products; NULL: one thread */
    vlmi_decoder_state *decoder;   /* KV cache of n_ctx tokens */
    int32_t *cached_ids;           /* (n_ctx) the ids whose keys/values are cached */
    float *embeddings;             /* (n_batch, text dim) one prefill chunk */
    uint8_t *bidirectional;        /* (n_batch) its rows inside image blocks */
    int32_t *positions;            /* (3, n_ctx) M-RoPE positions of the prompt; NULL
                                      unless the family has rope_positions */
    int32_t *chunk_positions;      /* (3, n_batch) one chunk's, then one token's */
    int64_t rope_delta;            /* position of cache row p: p + rope_delta */
    float *prompt_logits;          /* (n_vocab) last prompt position of the latest generate */
    bool has_prompt_logits;
    void *vision_state;            /* the family's vision buffers, made at the first image */

    // generation, allocated at create
    vlmi_sampler *sampler;
    vlm_detokenizer *detokenizer;
    char *piece;                   /* (PIECE_CAPACITY) */
    int32_t *stop_ids;             /* (n_stop_ids) end-of-reply tokens */
    size_t n_stop_ids;

    // latest generate
    int32_t *prompt_ids;           /* (n_prompt_ids) */
    size_t n_prompt_ids;
    vlm_timings timings;
    double pending_preprocess_ms;  /* images added since the previous generate */
    double pending_encode_ms;
    int32_t pending_cached_images; /* of those, served by the model's image cache */

    // progress of the current add_turn or generate
    vlm_progress_fn progress;      /* NULL: none */
    void *progress_user_data;
    size_t progress_done, progress_total; /* frames or prompt tokens */
};

/* Reports progress_done / progress_total; VLM_ERR_CANCELLED if the caller's
 * callback says stop. */
static vlm_status report_progress(vlm_session *s) {
    if (s->progress == NULL) return VLM_OK;
    float f = s->progress_total > 0 ? (float)s->progress_done / (float)s->progress_total : 1.0f;
    if (f > 1.0f) f = 1.0f;
    if (!s->progress(f, s->progress_user_data))
        return vlmi_fail(VLM_ERR_CANCELLED, "cancelled by the progress callback");
    return VLM_OK;
}

// ----------------------------------------------------------------------------
// parameters

void vlm_session_params_init(vlm_session_params *params, size_t struct_size) {
    vlm_session_params defaults = { .struct_size = sizeof defaults };
    vlmi_params_defaults(params, struct_size, &defaults, sizeof defaults);
}

void vlm_generate_params_init(vlm_generate_params *params, size_t struct_size) {
    vlm_generate_params defaults = {
        .struct_size = sizeof defaults,
        .max_tokens = 256,
        .temperature = 0.0f,
        .top_p = 1.0f,
        .repeat_penalty = 1.0f,
    };
    vlmi_params_defaults(params, struct_size, &defaults, sizeof defaults);
}

// ----------------------------------------------------------------------------
// create and free

static void add_stop_id(vlm_session *s, int64_t id) {
    if (id < 0 || (size_t)id >= s->text->hp.n_vocab) return;
    for (size_t i = 0; i < s->n_stop_ids; i++) if (s->stop_ids[i] == id) return;
    s->stop_ids[s->n_stop_ids++] = (int32_t)id;
}

/* The reply ends at generation_config's eos ids (the model config's when there
 * is no generation config) and at the tokenizer config's eos_token. */
static vlm_status collect_stop_ids(vlm_session *s) {
    const vlmi_hub_config *hub = &s->model->config;
    size_t max = VLMI_GENERATION_MAX_EOS + VLMI_CONFIG_MAX_EOS + 1;
    s->stop_ids = vlmi_calloc(max, sizeof *s->stop_ids);
    if (s->stop_ids == NULL) return VLM_ERR_OUT_OF_MEMORY;
    if (hub->has_generation && hub->generation.n_eos_token_ids > 0)
        for (int32_t i = 0; i < hub->generation.n_eos_token_ids; i++)
            add_stop_id(s, hub->generation.eos_token_ids[i]);
    else
        for (int32_t i = 0; i < hub->model.text.n_eos_token_ids; i++)
            add_stop_id(s, hub->model.text.eos_token_ids[i]);
    if (hub->tokenizer.eos_token != NULL && s->model->tokenizer != NULL)
        add_stop_id(s, vlm_token_lookup(s->model->tokenizer, hub->tokenizer.eos_token));
    return VLM_OK;
}

static vlm_status session_init(vlm_session *s, const vlm_session_params *p) {
    vlm_model *model = s->model;
    const vlmi_hub_config *hub = &model->config;
    s->ops = vlmi_family_ops_of(model->family);
    s->text = s->ops->decoder(model);
    s->image_token = s->ops->image_token(model);
    s->video_token = s->ops->video_token != NULL ? s->ops->video_token(model) : s->image_token;
    if (model->tokenizer == NULL)
        return vlmi_fail(VLM_ERR_IO, "%s: no tokenizer.json (a session needs the model's "
                         "tokenizer)", model->path);
    /* the family's check asks for a processor config when the model takes images */
    s->processor = &hub->processor;
    if (s->ops->video_config != NULL) s->ops->video_config(&s->video_processor, model);
    vlm_status st = s->ops->check_session(model);
    if (st != VLM_OK) return st;

    int32_t model_ctx = hub->model.text.max_position_embeddings;
    s->n_ctx = p->n_ctx > 0 ? (size_t)p->n_ctx
               : model_ctx > 0 && model_ctx < DEFAULT_MAX_CTX ? (size_t)model_ctx : DEFAULT_MAX_CTX;
    s->image_request = (vlmi_image_request){
        .max_tiles = p->max_image_tiles,
        .pan_and_scan = p->pan_and_scan,
        .min_pixels = p->min_image_pixels,
        .max_pixels = p->max_image_pixels,
    };
    s->progress = p->progress;
    s->progress_user_data = p->progress_user_data;

    size_t dim = s->text->hp.dim, n_vocab = s->text->hp.n_vocab;
    int32_t n_threads = p->n_threads > 0 ? p->n_threads : model->n_threads;
    if (n_threads > 1 && (st = vlmi_threadpool_create((size_t)n_threads, &s->pool)) != VLM_OK)
        return st;
    /* an image block is one forward call, so a chunk holds the largest */
    size_t n_batch = s->ops->image_block_rows(model);
    if (n_batch < DEFAULT_BATCH) n_batch = DEFAULT_BATCH;
    if (n_batch > s->n_ctx) n_batch = s->n_ctx;
    vlm_dtype kv_dtype = (vlm_dtype)p->kv_cache_type; /* checked by vlm_session_create */
    if ((st = vlmi_decoder_state_create_kv(s->text, s->n_ctx, n_batch, kv_dtype,
                                           &s->decoder)) != VLM_OK)
        return st;
    s->cached_ids = vlmi_calloc(s->n_ctx, sizeof *s->cached_ids);
    s->embeddings = vlmi_calloc(s->decoder->n_batch * dim, sizeof *s->embeddings);
    s->bidirectional = vlmi_calloc(s->decoder->n_batch, 1);
    if (s->ops->rope_positions != NULL) {
        s->positions = vlmi_calloc(3 * s->n_ctx, sizeof *s->positions);
        s->chunk_positions = vlmi_calloc(3 * s->decoder->n_batch, sizeof *s->chunk_positions);
        if (s->positions == NULL || s->chunk_positions == NULL) return VLM_ERR_OUT_OF_MEMORY;
    }
    s->prompt_logits = vlmi_calloc(n_vocab, sizeof *s->prompt_logits);
    s->piece = vlmi_malloc(PIECE_CAPACITY);
    if (!s->cached_ids || !s->embeddings || !s->bidirectional || !s->prompt_logits || !s->piece)
        return VLM_ERR_OUT_OF_MEMORY;
    if ((st = vlmi_sampler_create(n_vocab, &s->sampler)) != VLM_OK) return st;
    if ((st = vlm_detokenizer_create(model->tokenizer, VLM_DETOKENIZE_SKIP_SPECIAL,
                                     &s->detokenizer)) != VLM_OK)
        return st;
    s->timings.struct_size = sizeof s->timings;
    s->timings.load_ms = model->load_ms;
    return collect_stop_ids(s);
}

vlm_status vlm_session_create(vlm_model *model, const vlm_session_params *params,
                              vlm_session **out) {
    vlmi_clear_error();
    if (out != NULL) *out = NULL;
    if (model == NULL || out == NULL)
        return vlmi_fail(VLM_ERR_INVALID_ARGUMENT, "vlm_session_create: %s is NULL",
                         model == NULL ? "model" : "out");
    if (params != NULL && params->struct_size < sizeof(size_t))
        return vlmi_fail(VLM_ERR_INVALID_ARGUMENT,
                         "vlm_session_create: params->struct_size is %zu (call vlm_session_params_init)",
                         params->struct_size);
    vlm_session_params p;
    VLMI_READ_PARAMS(p, params, vlm_session_params_init);
    if (p.n_ctx < 0 || p.n_threads < 0 || p.max_image_tiles < 0 || p.min_image_pixels < 0 ||
        p.max_image_pixels < 0)
        return vlmi_fail(VLM_ERR_INVALID_ARGUMENT, "vlm_session_create: n_ctx %d, n_threads %d, "
                         "max_image_tiles %d, min_image_pixels %lld, max_image_pixels %lld: none "
                         "may be negative", p.n_ctx, p.n_threads, p.max_image_tiles,
                         (long long)p.min_image_pixels, (long long)p.max_image_pixels);
    if (p.pan_and_scan < -1 || p.pan_and_scan > 1)
        return vlmi_fail(VLM_ERR_INVALID_ARGUMENT, "vlm_session_create: pan_and_scan %d (0, 1 "
                         "or -1)", p.pan_and_scan);
    if (p.kv_cache_type != VLM_DTYPE_F32 && p.kv_cache_type != VLM_DTYPE_F16 &&
        p.kv_cache_type != VLM_DTYPE_Q8_0)
        return vlmi_fail(VLM_ERR_INVALID_ARGUMENT, "vlm_session_create: kv_cache_type %d "
                         "(VLM_DTYPE_F32, VLM_DTYPE_F16 or VLM_DTYPE_Q8_0)",
                         (int)p.kv_cache_type);
    if (vlmi_family_ops_of(model->family) == NULL)
        return vlmi_fail(VLM_ERR_UNSUPPORTED,
                         "vlm_session_create: architecture '%s' has no decoder in this version of libvlm",
                         vlm_model_architecture(model));

    vlm_session *s = vlmi_calloc(1, sizeof *s);
    if (s == NULL) return VLM_ERR_OUT_OF_MEMORY;
    s->model = model;
    vlm_status st = session_init(s, &p);
    if (st != VLM_OK) {
        vlm_session_free(s);
        return vlmi_fail_prefix(st, "vlm_session_create");
    }
    *out = s;
    return VLM_OK;
}

/* Frees the vision buffers once a turn's images are encoded: a ViT's
 * activations (~40 MB for SmolVLM's 512-pixel frames) held through the
 * prefill would add to the peak; making them again for the next image costs
 * milliseconds against seconds of encoding. glibc keeps freed blocks under
 * its (adaptive, up to 32 MB) mmap threshold in the heap, so without the
 * trim the process would not shrink (vlm-cli photo, Q8_0 weights, q8_0 KV:
 * peak RSS 337 MB without it, 303 MB with it; 350 MB before either). */
static void release_vision_state(vlm_session *s) {
    if (s->vision_state == NULL) return;
    s->ops->vision_state_free(s->vision_state);
    s->vision_state = NULL;
#if defined(__GLIBC__)
    malloc_trim(0);
#endif
}

void vlm_session_free(vlm_session *s) {
    if (s == NULL) return;
    for (size_t i = 0; i < s->n_turns; i++) free(s->turns[i].text);
    free(s->turns);
    for (size_t i = 0; i < s->n_videos; i++) free(s->videos[i].timestamps);
    free(s->videos);
    free(s->images);
    free(s->features);
    vlmi_decoder_state_free(s->decoder);
    vlmi_threadpool_free(s->pool);
    free(s->cached_ids);
    free(s->embeddings);
    free(s->bidirectional);
    free(s->positions);
    free(s->chunk_positions);
    free(s->prompt_logits);
    release_vision_state(s);
    vlmi_sampler_free(s->sampler);
    vlm_detokenizer_free(s->detokenizer);
    free(s->piece);
    free(s->stop_ids);
    free(s->prompt_ids);
    free(s);
}

// ----------------------------------------------------------------------------
// images

static vlm_status plan_image(const vlm_session *s, const vlmi_processor_config *config,
                             bool video_frame, uint32_t width, uint32_t height,
                             vlmi_image_plan *plan) {
    vlmi_image_request req = s->image_request;
    req.video_frame = video_frame;
    return s->ops->plan_image(plan, s->model, config, &req, width, height);
}

/* The plan of a whole video (the family's plan_video), its frames width x
 * height. */
static vlm_status plan_video(const vlm_session *s, uint32_t width, uint32_t height,
                             size_t n_frames, vlmi_image_plan *plan) {
    vlmi_image_request req = s->image_request;
    req.video_frame = true;
    return s->ops->plan_video(plan, s->model, &s->video_processor, &req, width, height, n_frames);
}

vlm_status vlm_session_plan_image(const vlm_session *s, uint32_t width, uint32_t height,
                                  vlm_image_plan *out) {
    vlmi_clear_error();
    if (s == NULL || out == NULL)
        return vlmi_fail(VLM_ERR_INVALID_ARGUMENT, "vlm_session_plan_image: %s is NULL",
                         s == NULL ? "session" : "plan");
    if (out->struct_size < sizeof(size_t))
        return vlmi_fail(VLM_ERR_INVALID_ARGUMENT, "vlm_session_plan_image: plan->struct_size is %zu",
                         out->struct_size);
    vlmi_image_plan plan;
    vlm_status st = plan_image(s, s->processor, false, width, height, &plan);
    if (st != VLM_OK) return vlmi_fail_prefix(st, "vlm_session_plan_image");
    vlm_image_plan ours = { .struct_size = sizeof ours };
    ours.n_frames = plan.n_frames;
    ours.rows = plan.rows;
    ours.cols = plan.cols;
    ours.frame_width = plan.frame_width;
    ours.frame_height = plan.frame_height;
    ours.n_image_tokens = (uint32_t)plan.n_rows;
    ours.work_bytes = plan.work_bytes;
    ours.feature_bytes = (uint64_t)plan.n_rows * s->text->hp.dim * sizeof(float);
    vlmi_write_out_struct(out, &ours, sizeof ours);
    return VLM_OK;
}

vlm_status vlm_session_image_pixel_values(const vlm_session *s, const vlm_image *image,
                                          float *pixel_values, size_t capacity, size_t *n_values) {
    vlmi_clear_error();
    if (s == NULL || image == NULL || n_values == NULL || (pixel_values == NULL && capacity > 0))
        return vlmi_fail(VLM_ERR_INVALID_ARGUMENT, "vlm_session_image_pixel_values: NULL argument");
    *n_values = 0;
    vlmi_image_plan plan;
    vlm_status st = plan_image(s, s->processor, false, image->width, image->height, &plan);
    if (st != VLM_OK) return vlmi_fail_prefix(st, "vlm_session_image_pixel_values");
    *n_values = plan.n_values;
    if (capacity < plan.n_values)
        return vlmi_fail(VLM_ERR_BUFFER_TOO_SMALL, "vlm_session_image_pixel_values: %zu values, "
                         "room for %zu", plan.n_values, capacity);
    st = s->ops->pixel_values(pixel_values, s->model, s->processor, &plan, image->pixels,
                              image->width, image->height);
    return st == VLM_OK ? VLM_OK : vlmi_fail_prefix(st, "vlm_session_image_pixel_values");
}

static vlm_status reserve_features(vlm_session *s, size_t extra_rows) {
    size_t dim = s->text->hp.dim, need = s->n_feature_rows + extra_rows;
    if (need <= s->feature_rows_capacity) return VLM_OK;
    size_t capacity = s->feature_rows_capacity * 2 > need ? s->feature_rows_capacity * 2 : need, bytes;
    if (vlmi_mul_overflow(capacity, dim * sizeof(float), &bytes))
        return vlmi_fail(VLM_ERR_LIMIT, "image features of %zu rows are too large", capacity);
    float *grown = vlmi_realloc(s->features, bytes);
    if (grown == NULL) return VLM_ERR_OUT_OF_MEMORY;
    s->features = grown;
    s->feature_rows_capacity = capacity;
    return VLM_OK;
}

static vlm_status frame_done(void *user_data) {
    vlm_session *s = user_data;
    s->progress_done++;
    return report_progress(s);
}

/* Preprocesses and encodes one image (or video frame), or when whole_video
 * the n_frames frames of a video (all width x height) in one pass, into the
 * next feature rows, or takes them from the model's image cache. */
static vlm_status encode_media(vlm_session *s, const vlmi_processor_config *config,
                               bool whole_video, const uint8_t *const *frames, size_t n_frames,
                               uint32_t width, uint32_t height, session_image *out) {
    size_t dim = s->text->hp.dim;
    bool video_frame = config != s->processor;
    vlmi_image_plan plan;
    vlm_status st = whole_video ? plan_video(s, width, height, n_frames, &plan)
                                : plan_image(s, config, video_frame, width, height, &plan);
    if (st != VLM_OK) return st;
    if ((st = reserve_features(s, plan.n_rows)) != VLM_OK) return st;
    float *rows = s->features + s->n_feature_rows * dim;
    vlmi_image_key key;
    vlmi_image_key_make_frames(&key, frames, n_frames, width, height, &plan.request);
    if (vlmi_image_cache_get(s->model->image_cache, &key, rows, plan.n_rows * dim, &plan)) {
        *out = (session_image){plan, video_frame, s->n_feature_rows, plan.n_rows};
        s->n_feature_rows += plan.n_rows;
        s->pending_cached_images++;
        s->progress_done += plan.n_frames;
        return report_progress(s);
    }

    if (s->vision_state == NULL &&
        (st = s->ops->vision_state_create(s->model, &s->vision_state)) != VLM_OK)
        return st;
    double preprocess_ms = 0.0, encode_ms = 0.0;
    if (whole_video)
        st = s->ops->encode_video(rows, s->vision_state, s->model, config, &plan, frames, width,
                                  height, s->pool, frame_done, s, &preprocess_ms, &encode_ms);
    else
        st = s->ops->encode_image(rows, s->vision_state, s->model, config, &plan, frames[0],
                                  width, height, s->pool, frame_done, s, &preprocess_ms,
                                  &encode_ms);
    if (st != VLM_OK) return st;
    vlmi_image_cache_put(s->model->image_cache, &key, rows, plan.n_rows * dim, &plan);
    *out = (session_image){plan, video_frame, s->n_feature_rows, plan.n_rows};
    s->n_feature_rows += plan.n_rows;
    s->pending_preprocess_ms += preprocess_ms;
    s->pending_encode_ms += encode_ms;
    return VLM_OK;
}

static vlm_status encode_image(vlm_session *s, const vlmi_processor_config *config,
                               const vlm_image *image, session_image *out) {
    const uint8_t *frames[1] = {image->pixels};
    return encode_media(s, config, false, frames, 1, image->width, image->height, out);
}

/* A video the family encodes whole (plan_video): one entry of s->images. */
static vlm_status encode_whole_video(vlm_session *s, vlm_image *const *frames, size_t n_frames,
                                     session_image *out) {
    const uint8_t **rgb = vlmi_calloc(n_frames, sizeof *rgb);
    if (rgb == NULL) return VLM_ERR_OUT_OF_MEMORY;
    for (size_t i = 0; i < n_frames; i++) rgb[i] = frames[i]->pixels;
    vlm_status st = encode_media(s, &s->video_processor, true, rgb, n_frames, frames[0]->width,
                                 frames[0]->height, out);
    free(rgb);
    return st;
}

// ----------------------------------------------------------------------------
// turns

static vlm_status append_turn(vlm_session *s, vlm_role role, const char *text, size_t len,
                              size_t n_images, bool has_video) {
    if (s->n_turns == s->turns_capacity) {
        size_t capacity = s->turns_capacity ? s->turns_capacity * 2 : 8;
        session_turn *grown = vlmi_realloc(s->turns, capacity * sizeof *grown);
        if (grown == NULL) return VLM_ERR_OUT_OF_MEMORY;
        s->turns = grown;
        s->turns_capacity = capacity;
    }
    char *copy = vlmi_strndup(text, len);
    if (copy == NULL) return VLM_ERR_OUT_OF_MEMORY;
    s->turns[s->n_turns++] = (session_turn){role, copy, n_images, has_video};
    return VLM_OK;
}

static vlm_status reserve_images(vlm_session *s, size_t extra) {
    if (s->n_images + extra <= s->images_capacity) return VLM_OK;
    size_t capacity = s->images_capacity * 2 > s->n_images + extra ? s->images_capacity * 2
                                                                   : s->n_images + extra + 4;
    session_image *grown = vlmi_realloc(s->images, capacity * sizeof *grown);
    if (grown == NULL) return VLM_ERR_OUT_OF_MEMORY;
    s->images = grown;
    s->images_capacity = capacity;
    return VLM_OK;
}

static vlm_status check_turn(vlm_session *s, vlm_role role, const char *text,
                             vlm_image *const *images, size_t n_images, const char *what) {
    if (s == NULL || text == NULL || (n_images > 0 && images == NULL))
        return vlmi_fail(VLM_ERR_INVALID_ARGUMENT, "%s: %s is NULL", what,
                         s == NULL ? "session" : text == NULL ? "text" : "images");
    if (role != VLM_ROLE_SYSTEM && role != VLM_ROLE_USER && role != VLM_ROLE_ASSISTANT)
        return vlmi_fail(VLM_ERR_INVALID_ARGUMENT, "%s: role %d", what, (int)role);
    if (vlmi_utf8_invalid_offset(text, strlen(text)) != SIZE_MAX)
        return vlmi_fail(VLM_ERR_INVALID_UTF8, "%s: text is not valid UTF-8", what);
    for (size_t i = 0; i < n_images; i++)
        if (images[i] == NULL)
            return vlmi_fail(VLM_ERR_INVALID_ARGUMENT, "%s: image %zu is NULL", what, i);
    /* the images go where the chat format puts them; a placeholder in the
     * text would stand for an image nobody passed */
    const char *placeholders[2] = {s->ops->image_placeholder, s->ops->video_placeholder};
    for (int i = 0; i < 2; i++)
        if (placeholders[i][0] != '\0' && strstr(text, placeholders[i]) != NULL)
            return vlmi_fail(VLM_ERR_INVALID_ARGUMENT, "%s: the text holds a \"%s\" placeholder "
                             "(pass images as arguments; the chat format places them)", what,
                             placeholders[i]);
    return VLM_OK;
}

/* Encodes video_frames (then images) and appends the turn; on failure the
 * conversation is as it was. A family with plan_video encodes the frames as
 * one video (one entry of s->images), others frame by frame. */
static vlm_status add_turn(vlm_session *s, vlm_role role, const char *text,
                           vlm_image *const *video_frames, size_t n_video_frames, bool has_video,
                           vlm_image *const *images, size_t n_images) {
    bool whole_video = n_video_frames > 0 && s->ops->plan_video != NULL;
    size_t n_video_entries = whole_video ? 1 : n_video_frames;
    vlm_status st = reserve_images(s, n_video_entries + n_images);
    if (st != VLM_OK) return st;
    if (whole_video)
        for (size_t i = 1; i < n_video_frames; i++)
            if (video_frames[i]->width != video_frames[0]->width ||
                video_frames[i]->height != video_frames[0]->height)
                return vlmi_fail(VLM_ERR_INVALID_ARGUMENT, "video frame %zu is %ux%u, frame 0 "
                                 "%ux%u (a video's frames share one size)", i,
                                 video_frames[i]->width, video_frames[i]->height,
                                 video_frames[0]->width, video_frames[0]->height);
    size_t rows_before = s->n_feature_rows;
    double preprocess_before = s->pending_preprocess_ms, encode_before = s->pending_encode_ms;
    int32_t cached_before = s->pending_cached_images;
    session_image *next = s->images + s->n_images;
    /* progress counts the call's frames */
    s->progress_done = s->progress_total = 0;
    size_t n_rows = 0;
    vlmi_image_plan plan;
    if (whole_video && plan_video(s, video_frames[0]->width, video_frames[0]->height,
                                  n_video_frames, &plan) == VLM_OK) {
        s->progress_total += plan.n_frames;
        n_rows += plan.n_rows;
    }
    for (size_t i = whole_video ? n_video_frames : 0; i < n_video_frames + n_images; i++) {
        const vlm_image *im = i < n_video_frames ? video_frames[i] : images[i - n_video_frames];
        bool video_frame = i < n_video_frames;
        if (plan_image(s, video_frame ? &s->video_processor : s->processor, video_frame,
                       im->width, im->height, &plan) == VLM_OK) {
            s->progress_total += plan.n_frames;
            n_rows += plan.n_rows;
        }
    }
    vlmi_clear_error();
    /* images that cannot fit the context are refused before any encoding */
    if (s->n_feature_rows + n_rows + 1 > s->n_ctx)
        return vlmi_fail(VLM_ERR_LIMIT, "the images take %zu tokens (%zu already in the "
                         "conversation); the context holds %zu", n_rows, s->n_feature_rows,
                         s->n_ctx);
    if (n_video_frames + n_images > 0) st = report_progress(s);
    if (whole_video && st == VLM_OK) {
        st = encode_whole_video(s, video_frames, n_video_frames, next++);
        if (st != VLM_OK) vlmi_fail_prefix(st, "video");
    }
    for (size_t i = 0; !whole_video && i < n_video_frames && st == VLM_OK; i++) {
        st = encode_image(s, &s->video_processor, video_frames[i], next++);
        if (st != VLM_OK) vlmi_fail_prefix(st, "video frame");
    }
    for (size_t i = 0; i < n_images && st == VLM_OK; i++) {
        st = encode_image(s, s->processor, images[i], next++);
        if (st != VLM_OK) vlmi_fail_prefix(st, "image");
    }
    release_vision_state(s);
    if (st == VLM_OK) st = append_turn(s, role, text, strlen(text), n_images, has_video);
    if (st != VLM_OK) {
        s->n_feature_rows = rows_before;
        s->pending_preprocess_ms = preprocess_before;
        s->pending_encode_ms = encode_before;
        s->pending_cached_images = cached_before;
        return st;
    }
    s->n_images += n_video_entries + n_images;
    return VLM_OK;
}

vlm_status vlm_session_add_turn(vlm_session *s, vlm_role role, const char *text,
                                vlm_image *const *images, size_t n_images) {
    vlmi_clear_error();
    vlm_status st = check_turn(s, role, text, images, n_images, "vlm_session_add_turn");
    if (st == VLM_OK) st = add_turn(s, role, text, NULL, 0, false, images, n_images);
    return st == VLM_OK ? VLM_OK : vlmi_fail_prefix(st, "vlm_session_add_turn");
}

vlm_status vlm_session_add_video_turn(vlm_session *s, vlm_role role, const char *text,
                                      vlm_image *const *frames, const double *timestamps_s,
                                      size_t n_frames, double duration_s) {
    vlmi_clear_error();
    const char *what = "vlm_session_add_video_turn";
    vlm_status st = check_turn(s, role, text, frames, n_frames, what);
    if (st != VLM_OK) return st;
    if (s->ops->expand_video == NULL)
        return vlmi_fail(VLM_ERR_UNSUPPORTED, "%s: %s models take no video in this version of "
                         "libvlm", what, vlmi_family_name(s->model->family));
    if (n_frames == 0 || timestamps_s == NULL)
        return vlmi_fail(VLM_ERR_INVALID_ARGUMENT, "%s: %s", what,
                         n_frames == 0 ? "a video needs at least one frame" : "timestamps_s is NULL");
    for (size_t i = 0; i < n_frames; i++)
        if (!(timestamps_s[i] >= 0.0 && timestamps_s[i] < 1e9))
            return vlmi_fail(VLM_ERR_INVALID_ARGUMENT, "%s: timestamps_s[%zu] is %g", what, i,
                             timestamps_s[i]);
    if (!(duration_s < 1e9))
        return vlmi_fail(VLM_ERR_INVALID_ARGUMENT, "%s: duration_s is %g", what, duration_s);
    if (s->n_videos == s->videos_capacity) {
        size_t capacity = s->videos_capacity ? s->videos_capacity * 2 : 4;
        session_video *grown = vlmi_realloc(s->videos, capacity * sizeof *grown);
        if (grown == NULL) return vlmi_fail_prefix(VLM_ERR_OUT_OF_MEMORY, what);
        s->videos = grown;
        s->videos_capacity = capacity;
    }
    double *timestamps = vlmi_calloc(n_frames, sizeof *timestamps);
    if (timestamps == NULL) return vlmi_fail_prefix(VLM_ERR_OUT_OF_MEMORY, what);
    memcpy(timestamps, timestamps_s, n_frames * sizeof *timestamps);
    size_t first_image = s->n_images;
    st = add_turn(s, role, text, frames, n_frames, true, NULL, 0);
    if (st != VLM_OK) {
        free(timestamps);
        return vlmi_fail_prefix(st, what);
    }
    s->videos[s->n_videos++] = (session_video){first_image, timestamps, n_frames,
                                               duration_s < 0 ? -1.0 : duration_s};
    return VLM_OK;
}

vlm_status vlm_session_video_frames(const vlm_session *s, uint32_t total_frames, double video_fps,
                                    double fps, uint32_t max_frames, uint32_t *indices,
                                    size_t capacity, size_t *n_indices) {
    vlmi_clear_error();
    if (s == NULL || n_indices == NULL || (indices == NULL && capacity > 0))
        return vlmi_fail(VLM_ERR_INVALID_ARGUMENT, "vlm_session_video_frames: NULL argument");
    *n_indices = 0;
    if (total_frames == 0 || !(video_fps > 0.0) || video_fps > 1e6 || !(fps >= 0.0) || fps > 1e6)
        return vlmi_fail(VLM_ERR_INVALID_ARGUMENT, "vlm_session_video_frames: %u frames at %g fps, "
                         "sampled at %g fps", total_frames, video_fps, fps);
    const vlmi_video_sampling *vs = &s->video_processor.video_sampling;
    uint32_t *all;
    size_t n;
    if (s->ops->sample_frames != NULL) {
        size_t most = s->ops->sample_frames(NULL, s->model, &s->video_processor, total_frames,
                                            video_fps, fps, max_frames);
        if ((all = vlmi_calloc(most, sizeof *all)) == NULL) return VLM_ERR_OUT_OF_MEMORY;
        n = s->ops->sample_frames(all, s->model, &s->video_processor, total_frames, video_fps, fps,
                                  max_frames);
    } else {
        if (fps == 0.0) fps = vs->present && vs->fps > 0 ? vs->fps : 1.0;
        if (max_frames == 0)
            max_frames = vs->present && vs->max_frames > 0 ? (uint32_t)vs->max_frames : 64;
        if ((all = vlmi_calloc(max_frames, sizeof *all)) == NULL) return VLM_ERR_OUT_OF_MEMORY;
        n = vlmi_smolvlm_sample_frames(all, total_frames, video_fps, total_frames / video_fps,
                                       fps, max_frames);
    }
    *n_indices = n;
    vlm_status st = VLM_OK;
    if (capacity < n)
        st = vlmi_fail(VLM_ERR_BUFFER_TOO_SMALL, "vlm_session_video_frames: %zu indices, room for %zu",
                       n, capacity);
    else if (n > 0)
        memcpy(indices, all, n * sizeof *all);
    free(all);
    return st;
}

// ----------------------------------------------------------------------------
// the prompt

/* The conversation as text, "<image>" placeholders expanded. Caller frees. */
static vlm_status build_prompt_text(vlm_session *s, char **out) {
    *out = NULL;
    vlmi_chat_message *messages = vlmi_calloc(s->n_turns, sizeof *messages);
    if (messages == NULL) return VLM_ERR_OUT_OF_MEMORY;
    for (size_t i = 0; i < s->n_turns; i++)
        messages[i] = (vlmi_chat_message){s->turns[i].role, s->turns[i].text, s->turns[i].n_images,
                                          s->turns[i].has_video};
    size_t chat_len = s->ops->chat_render(NULL, 0, messages, s->n_turns, true);
    char *chat = vlmi_malloc(chat_len + 1);
    if (chat == NULL) { free(messages); return VLM_ERR_OUT_OF_MEMORY; }
    s->ops->chat_render(chat, chat_len + 1, messages, s->n_turns, true);
    free(messages);

    /* as the processor: the text must hold one image placeholder per image
     * and one video placeholder per video, which the caller's text can break
     * by holding them */
    const char *image_mark = s->ops->image_placeholder, *video_mark = s->ops->video_placeholder;
    size_t image_mark_len = strlen(image_mark), video_mark_len = strlen(video_mark);
    size_t n_placeholders[2], expanded_len = 0;
    for (int pass = 0; pass < 2; pass++) {
        char *text = pass == 1 ? vlmi_malloc(expanded_len + 1) : NULL;
        if (pass == 1 && text == NULL) { free(chat); return VLM_ERR_OUT_OF_MEMORY; }
        size_t at = 0, next_image = 0, next_video = 0;
        n_placeholders[0] = n_placeholders[1] = 0;
        const char *from = chat;
        for (;;) {
            const char *image = strstr(from, image_mark);
            const char *video = video_mark_len > 0 ? strstr(from, video_mark) : NULL;
            const char *p = image == NULL ? video : video == NULL || image < video ? image : video;
            size_t literal = p != NULL ? (size_t)(p - from) : strlen(from);
            if (text != NULL) memcpy(text + at, from, literal);
            at += literal;
            if (p == NULL) break;
            char *dst = text != NULL ? text + at : NULL;
            size_t room = text != NULL ? expanded_len + 1 - at : 0;
            if (p == image) {
                while (next_image < s->n_images && s->images[next_image].video_frame) next_image++;
                if (next_image < s->n_images)
                    at += s->ops->expand_image(dst, room, s->model, &s->images[next_image++].plan);
                n_placeholders[0]++;
                from = p + image_mark_len;
            } else {
                if (next_video < s->n_videos) {
                    const session_video *v = &s->videos[next_video++];
                    at += s->ops->expand_video(dst, room, s->model, &s->images[v->first_image].plan,
                                               v->timestamps, v->n_frames, v->duration_s);
                }
                n_placeholders[1]++;
                from = p + video_mark_len;
            }
        }
        if (pass == 0) {
            size_t n_video_frames = 0;
            for (size_t i = 0; i < s->n_images; i++) n_video_frames += s->images[i].video_frame;
            if (n_placeholders[0] != s->n_images - n_video_frames || n_placeholders[1] != s->n_videos) {
                free(chat);
                return vlmi_fail(VLM_ERR_INVALID_ARGUMENT, "the conversation's text holds %zu "
                                 "\"<image>\" placeholders for %zu images and %zu \"<video>\" for %zu "
                                 "videos (a turn's text may not contain them)", n_placeholders[0],
                                 s->n_images - n_video_frames, n_placeholders[1], s->n_videos);
            }
            expanded_len = at;
        } else {
            text[at] = '\0';
            *out = text;
        }
    }
    free(chat);
    return VLM_OK;
}

/* Tokenizes text (special tokens parsed) into prompt_ids. As transformers'
 * processors' apply_chat_template, a prompt that already starts with the
 * BOS token gets no second one, unless processor_call: the processor called
 * on rendered text adds the tokenizer's special tokens whatever it holds
 * (ShieldGemma 2's prompts start with two BOS). */
static vlm_status tokenize_text(vlm_session *s, const char *text, bool processor_call) {
    const char *bos = s->model->config.tokenizer.bos_token;
    bool has_bos = !processor_call && bos != NULL && bos[0] != '\0' &&
                   strncmp(text, bos, strlen(bos)) == 0;
    const uint32_t flags = VLM_TOKENIZE_PARSE_SPECIAL | (has_bos ? 0 : VLM_TOKENIZE_ADD_SPECIAL);
    size_t len = strlen(text), n = 0;
    vlm_status st = vlm_tokenize(s->model->tokenizer, text, len, flags, NULL, 0, &n);
    if (st == VLM_OK || st == VLM_ERR_BUFFER_TOO_SMALL) {
        int32_t *ids = vlmi_realloc(s->prompt_ids, (n > 0 ? n : 1) * sizeof *ids);
        if (ids == NULL) st = VLM_ERR_OUT_OF_MEMORY;
        else {
            s->prompt_ids = ids;
            st = vlm_tokenize(s->model->tokenizer, text, len, flags, ids, n, &n);
        }
    }
    s->n_prompt_ids = st == VLM_OK ? n : 0;
    return st;
}

static vlm_status tokenize_prompt(vlm_session *s) {
    char *text = NULL;
    vlm_status st = build_prompt_text(s, &text);
    if (st == VLM_OK) st = tokenize_text(s, text, false);
    free(text);
    return st;
}

/* True for the tokens that stand for a feature row (image or video). */
static bool is_feature_token(const vlm_session *s, int32_t id) {
    return id == s->image_token || id == s->video_token;
}

/* Where the prefill chunk starting at start ends: n_batch rows on, or
 * earlier so that a run of image tokens attending bidirectionally is never
 * split between two forward calls (the session's n_batch holds the longest). */
static size_t chunk_end(const vlm_session *s, size_t start) {
    size_t n = s->n_prompt_ids, end = start + s->decoder->n_batch;
    if (end >= n) return n;
    if (s->ops->image_block_rows(s->model) == 0) return end;
    const int32_t *ids = s->prompt_ids;
    if (ids[end - 1] != s->image_token || ids[end] != s->image_token) return end;
    size_t run_start = end - 1;
    while (run_start > start && ids[run_start - 1] == s->image_token) run_start--;
    return run_start > start ? run_start : end;
}

/* Runs prompt_ids[from ..) through the decoder (the cache already holds the
 * first `from`), chunk by chunk, with their image rows spliced in. */
static vlm_status prefill(vlm_session *s, size_t from) {
    size_t n = s->n_prompt_ids, dim = s->text->hp.dim;
    bool blocks = s->ops->image_block_rows(s->model) > 0;
    size_t image_row = 0;
    for (size_t i = 0; i < from; i++) image_row += is_feature_token(s, s->prompt_ids[i]);
    /* from 0 the sliding-window rings start afresh too */
    if (from == 0) vlmi_decoder_state_reset(s->decoder);
    else s->decoder->n_past = from;
    s->progress_done = 0;
    s->progress_total = n - from;
    vlm_status st = report_progress(s);
    for (size_t start = from, end; st == VLM_OK && start < n; start = end) {
        end = chunk_end(s, start);
        size_t count = end - start, rows = 0;
        for (size_t i = start; i < end; i++) rows += is_feature_token(s, s->prompt_ids[i]);
        if (image_row + rows > s->n_feature_rows)
            return vlmi_fail(VLM_ERR_INTERNAL, "prompt has more image tokens than image rows");
        st = s->ops->embed(s->embeddings, s->bidirectional, s->model, s->prompt_ids + start,
                           count, s->features + image_row * dim, rows);
        if (st == VLM_OK && s->positions != NULL) {
            for (size_t a = 0; a < 3; a++)
                memcpy(s->chunk_positions + a * count, s->positions + a * n + start,
                       count * sizeof *s->positions);
            st = vlmi_decoder_forward_positions(s->decoder, s->text, s->embeddings, count,
                                                s->chunk_positions, NULL, s->pool);
        } else if (st == VLM_OK) {
            st = vlmi_decoder_forward_blocks(s->decoder, s->text, s->embeddings, count,
                                             blocks ? s->bidirectional : NULL, NULL, s->pool);
        }
        if (st != VLM_OK) return st;
        memcpy(s->cached_ids + start, s->prompt_ids + start, count * sizeof *s->cached_ids);
        image_row += rows;
        s->progress_done += count;
        st = report_progress(s);
    }
    return st;
}

// ----------------------------------------------------------------------------
// generation

static bool is_stop_id(const vlm_session *s, int32_t id) {
    for (size_t i = 0; i < s->n_stop_ids; i++) if (s->stop_ids[i] == id) return true;
    return false;
}

/* Streams text through the stop matcher to the caller. Returns false when
 * the caller or a stop string ends generation. */
static bool stream_text(vlmi_stop_matcher *stop, const vlm_generate_params *p, int32_t token,
                        const char *text, size_t len, bool *stopped_by_string) {
    const char *out;
    size_t out_len;
    *stopped_by_string = vlmi_stop_feed(stop, text, len, &out, &out_len);
    bool go_on = true;
    if (p->on_token != NULL) go_on = p->on_token(token, out, out_len, p->user_data);
    return go_on && !*stopped_by_string;
}

/* Cuts image and video placeholders out of an answer (text of len bytes,
 * NUL-terminated; returns the new length). A model can spell one out piece
 * by piece; kept, it would stand for an image nobody passed and every later
 * prompt of the conversation would be refused. */
static size_t remove_placeholders(const vlm_session *s, char *text, size_t len) {
    const char *marks[2] = {s->ops->image_placeholder, s->ops->video_placeholder};
    for (int i = 0; i < 2; i++) {
        size_t mark_len = strlen(marks[i]);
        if (mark_len == 0) continue;
        char *at;
        while ((at = strstr(text, marks[i])) != NULL) {
            memmove(at, at + mark_len, len - (size_t)(at - text) - mark_len + 1);
            len -= mark_len;
            vlmi_log(VLM_LOG_WARN, "the answer spelled out \"%s\"; removed from the conversation",
                     marks[i]);
        }
    }
    return len;
}

/* The generated text as the assistant's turn: decoded without special
 * tokens, cut at the stop string, leading whitespace removed (the chat
 * format writes "Assistant: " itself). */
static vlm_status append_answer(vlm_session *s, const int32_t *ids, size_t n,
                                const vlm_generate_params *p, bool stopped_by_string) {
    size_t len = 0;
    vlm_status st = vlm_detokenize(s->model->tokenizer, ids, n, VLM_DETOKENIZE_SKIP_SPECIAL,
                                   NULL, 0, &len);
    if (st != VLM_OK && st != VLM_ERR_BUFFER_TOO_SMALL) return st;
    char *text = vlmi_malloc(len + 1);
    if (text == NULL) return VLM_ERR_OUT_OF_MEMORY;
    st = vlm_detokenize(s->model->tokenizer, ids, n, VLM_DETOKENIZE_SKIP_SPECIAL, text, len + 1,
                        &len);
    if (st == VLM_OK && stopped_by_string) {
        char *cut = text + len;
        for (size_t i = 0; i < p->n_stop_strings; i++) {
            char *at = strstr(text, p->stop_strings[i]);
            if (at != NULL && at < cut) cut = at;
        }
        *cut = '\0';
        len = (size_t)(cut - text);
    }
    if (st == VLM_OK) len = remove_placeholders(s, text, len);
    size_t skip = 0;
    while (skip < len && (text[skip] == ' ' || text[skip] == '\n' || text[skip] == '\t' ||
                          text[skip] == '\r'))
        skip++;
    if (st == VLM_OK) st = append_turn(s, VLM_ROLE_ASSISTANT, text + skip, len - skip, 0, false);
    free(text);
    return st;
}

/* The prompt fits the context with room for one answer token, and its
 * image tokens match the encoded rows. */
static vlm_status check_prompt(const vlm_session *s) {
    size_t n_prompt = s->n_prompt_ids;
    if (n_prompt + 1 > s->n_ctx)
        return vlmi_fail(VLM_ERR_LIMIT, "the prompt takes %zu tokens; the context holds %zu "
                         "(with room for one answer token)", n_prompt, s->n_ctx);
    size_t n_image_tokens = 0;
    for (size_t i = 0; i < n_prompt; i++) n_image_tokens += is_feature_token(s, s->prompt_ids[i]);
    if (n_image_tokens != s->n_feature_rows)
        return vlmi_fail(VLM_ERR_INVALID_ARGUMENT, "the prompt has %zu image tokens but the "
                         "images give %zu feature rows", n_image_tokens, s->n_feature_rows);
    return VLM_OK;
}

/* The M-RoPE positions of prompt_ids, from the images and videos of the
 * conversation (or the image of the safety prompt) in order. */
static vlm_status compute_positions(vlm_session *s) {
    size_t n_media = s->n_images > 0 ? s->n_images : s->n_feature_rows > 0;
    vlmi_prompt_media *media = vlmi_calloc(n_media > 0 ? n_media : 1, sizeof *media);
    if (media == NULL) return VLM_ERR_OUT_OF_MEMORY;
    for (size_t i = 0, v = 0; i < n_media; i++) {
        media[i] = (vlmi_prompt_media){&s->images[i].plan, NULL, 1, -1.0};
        while (v < s->n_videos && s->videos[v].first_image < i) v++;
        if (v < s->n_videos && s->videos[v].first_image == i) {
            media[i].timestamps = s->videos[v].timestamps;
            media[i].n_frames = s->videos[v].n_frames;
            media[i].duration_s = s->videos[v].duration_s;
        }
    }
    vlm_status st = s->ops->rope_positions(s->positions, &s->rope_delta, s->model, s->prompt_ids,
                                           s->n_prompt_ids, media, n_media);
    free(media);
    return st;
}

/* Prefills what the cache does not hold of prompt_ids (at least the last
 * token, for its logits), then starts the timings of this call: the
 * pending image work, the prefill, the token counts. On success the
 * decoder's logits are the last prompt position's, copied to prompt_logits.
 * A cancelled prefill leaves the timings and pending work as they were. */
static vlm_status prefill_prompt(vlm_session *s) {
    vlmi_decoder_state *dec = s->decoder;
    size_t n_prompt = s->n_prompt_ids;
    size_t shared = 0;
    while (shared < dec->n_past && shared < n_prompt && s->cached_ids[shared] == s->prompt_ids[shared])
        shared++;
    /* the whole prompt cached with its last logits (a prefill cancelled at
     * its last report): nothing to run, and the answer is the same to the
     * bit as the uninterrupted one */
    bool logits_ready = shared == n_prompt && dec->logits_position == n_prompt - 1 &&
                        vlmi_decoder_state_reusable(dec, shared) == shared;
    if (!logits_ready) {
        if (shared == n_prompt) shared--;
        /* an image block is prefilled whole; a sliding window's ring
         * rewinds only so far */
        while (shared > 0 && s->ops->image_block_rows(s->model) > 0 &&
               s->prompt_ids[shared] == s->image_token &&
               s->prompt_ids[shared - 1] == s->image_token)
            shared--;
        shared = vlmi_decoder_state_reusable(dec, shared);
    }
    double t0 = vlmi_now_ms();
    vlm_status st = VLM_OK;
    if (s->positions != NULL) st = compute_positions(s);
    if (st == VLM_OK) st = prefill(s, shared);
    double t1 = vlmi_now_ms();
    if (st == VLM_ERR_CANCELLED) return st;
    if (st != VLM_OK) dec->n_past = 0; /* a half-written cache is not reused */
    vlm_timings *t = &s->timings;
    memset(t, 0, sizeof *t);
    t->struct_size = sizeof *t;
    t->load_ms = s->model->load_ms;
    t->preprocess_ms = s->pending_preprocess_ms;
    t->encode_ms = s->pending_encode_ms;
    t->n_cached_images = s->pending_cached_images;
    s->pending_preprocess_ms = s->pending_encode_ms = 0.0;
    s->pending_cached_images = 0;
    t->prefill_ms = t1 - t0;
    t->n_prompt_tokens = (int32_t)n_prompt;
    t->n_prefill_tokens = (int32_t)(n_prompt - shared);
    t->n_image_tokens = (int32_t)s->n_feature_rows;
    t->prefill_tokens_per_s = t->prefill_ms > 0 ? (double)(n_prompt - shared) / (t->prefill_ms * 1e-3) : 0;
    if (st == VLM_OK) {
        memcpy(s->prompt_logits, dec->logits, s->text->hp.n_vocab * sizeof(float));
        s->has_prompt_logits = true;
    }
    return st;
}

static vlm_status generate(vlm_session *s, const vlm_generate_params *p) {
    vlmi_decoder_state *dec = s->decoder;
    vlm_timings *t = &s->timings;
    vlmi_sampler_params sp = {p->temperature, p->top_k, p->top_p, p->min_p, p->repeat_penalty,
                              p->seed};
    vlm_status st = vlmi_sampler_reset(s->sampler, &sp);
    if (st != VLM_OK) return st;
    if (p->max_tokens < 0)
        return vlmi_fail(VLM_ERR_INVALID_ARGUMENT, "max_tokens is %d", (int)p->max_tokens);
    if (s->n_turns == 0)
        return vlmi_fail(VLM_ERR_STATE, "the conversation has no turns (vlm_session_add_turn first)");

    // the prompt
    s->has_prompt_logits = false;
    if ((st = tokenize_prompt(s)) != VLM_OK) return st;
    if ((st = check_prompt(s)) != VLM_OK) return st;
    size_t n_prompt = s->n_prompt_ids;

    vlmi_stop_matcher stop;
    if ((st = vlmi_stop_init(&stop, p->stop_strings, p->n_stop_strings, PIECE_CAPACITY)) != VLM_OK)
        return st;
    int32_t *generated = vlmi_calloc(p->max_tokens > 0 ? (size_t)p->max_tokens : 1,
                                     sizeof *generated);
    if (generated == NULL) { vlmi_stop_free(&stop); return VLM_ERR_OUT_OF_MEMORY; }

    st = prefill_prompt(s);
    if (st == VLM_ERR_CANCELLED) {
        /* the chunks done are whole and their ids recorded: the next
         * generate reuses them; the conversation and pending timings stay */
        free(generated);
        vlmi_stop_free(&stop);
        return st;
    }
    double t1 = vlmi_now_ms();

    // decode token by token: nothing below allocates
    size_t n_generated = 0;
    bool stopped_by_string = false;
    if (st == VLM_OK) {
        for (size_t i = 0; i < n_prompt; i++) vlmi_sampler_observe(s->sampler, s->prompt_ids[i]);
        /* the detokenizer starts afresh for each answer */
        size_t ignored;
        vlm_detokenizer_flush(s->detokenizer, s->piece, PIECE_CAPACITY, &ignored);
    }
    int32_t token = -1;
    while (st == VLM_OK && n_generated < (size_t)p->max_tokens) {
        token = vlmi_sampler_sample(s->sampler, dec->logits);
        generated[n_generated++] = token;
        vlmi_sampler_observe(s->sampler, token);
        if (is_stop_id(s, token)) {
            /* reported, so callers see every id, but it has no text */
            if (p->on_token != NULL) p->on_token(token, "", 0, p->user_data);
            break;
        }

        size_t piece_len = 0;
        st = vlm_detokenizer_push(s->detokenizer, token, s->piece, PIECE_CAPACITY, &piece_len);
        if (st != VLM_OK) break;
        if (!stream_text(&stop, p, token, s->piece, piece_len, &stopped_by_string)) break;
        if (n_generated == (size_t)p->max_tokens || dec->n_past + 1 > s->n_ctx) break;

        // the new token into the cache, its logits out
        st = vlmi_decoder_embed(s->embeddings, s->text, &token, 1);
        if (st == VLM_OK && s->positions != NULL) {
            int64_t position = (int64_t)dec->n_past + s->rope_delta;
            for (size_t a = 0; a < 3; a++) s->chunk_positions[a] = (int32_t)position;
            st = vlmi_decoder_forward_positions(dec, s->text, s->embeddings, 1, s->chunk_positions,
                                                NULL, s->pool);
        } else if (st == VLM_OK) {
            st = vlmi_decoder_forward_pool(dec, s->text, s->embeddings, 1, NULL, s->pool);
        }
        if (st == VLM_OK) s->cached_ids[dec->n_past - 1] = token;
    }
    if (st == VLM_OK && !stopped_by_string) {
        /* what the detokenizer and then the stop matcher still hold; it
         * belongs to no new token */
        size_t detok_len = 0, released_len = 0, held_len = 0;
        const char *released = "", *held = "";
        if (vlm_detokenizer_flush(s->detokenizer, s->piece, PIECE_CAPACITY, &detok_len) == VLM_OK &&
            detok_len > 0)
            stopped_by_string = vlmi_stop_feed(&stop, s->piece, detok_len, &released, &released_len);
        if (!stopped_by_string) vlmi_stop_flush(&stop, &held, &held_len);
        if (released_len > 0 && p->on_token != NULL) p->on_token(-1, released, released_len, p->user_data);
        if (held_len > 0 && p->on_token != NULL) p->on_token(-1, held, held_len, p->user_data);
    }
    double t2 = vlmi_now_ms();
    t->decode_ms = t2 - t1;
    t->n_generated_tokens = (int32_t)n_generated;
    t->decode_tokens_per_s = t->decode_ms > 0 ? (double)n_generated / (t->decode_ms * 1e-3) : 0;

    if (st == VLM_OK) {
        size_t n_text = n_generated > 0 && is_stop_id(s, generated[n_generated - 1])
                            ? n_generated - 1 : n_generated;
        st = append_answer(s, generated, n_text, p, stopped_by_string);
    }
    free(generated);
    vlmi_stop_free(&stop);
    return st;
}

vlm_status vlm_session_generate(vlm_session *s, const vlm_generate_params *params) {
    vlmi_clear_error();
    if (s == NULL)
        return vlmi_fail(VLM_ERR_INVALID_ARGUMENT, "vlm_session_generate: session is NULL");
    if (params != NULL && params->struct_size < sizeof(size_t))
        return vlmi_fail(VLM_ERR_INVALID_ARGUMENT,
                         "vlm_session_generate: params->struct_size is %zu (call vlm_generate_params_init)",
                         params->struct_size);
    vlm_generate_params p;
    VLMI_READ_PARAMS(p, params, vlm_generate_params_init);
    vlm_status st = generate(s, &p);
    return st == VLM_OK ? VLM_OK : vlmi_fail_prefix(st, "vlm_session_generate");
}

// ----------------------------------------------------------------------------
// image safety

static vlm_status safety_score(vlm_session *s, const vlm_image *image, vlm_safety_policy policy,
                               const char *policy_text, float *probability) {
    int32_t yes, no;
    if (s->ops->safety_tokens == NULL || !s->ops->safety_tokens(s->model, &yes, &no))
        return vlmi_fail(VLM_ERR_UNSUPPORTED, "'%s' is not an image-safety classifier "
                         "(ShieldGemma 2)", vlm_model_architecture(s->model));
    if (policy != VLM_SAFETY_CUSTOM) policy_text = vlmi_shieldgemma2_policy_text(policy);
    if (policy_text == NULL)
        return vlmi_fail(VLM_ERR_INVALID_ARGUMENT, "%s", policy == VLM_SAFETY_CUSTOM
                         ? "policy_text is NULL" : "unknown policy");
    if (vlmi_utf8_invalid_offset(policy_text, strlen(policy_text)) != SIZE_MAX)
        return vlmi_fail(VLM_ERR_INVALID_UTF8, "policy_text is not valid UTF-8");
    if (s->n_turns > 0 || s->n_images > 0)
        return vlmi_fail(VLM_ERR_STATE, "the session holds a conversation (score images in a "
                         "session of their own)");

    // the image: encoded rows for this call only (the cache keeps them)
    vlm_status st = reserve_images(s, 1);
    if (st != VLM_OK) return st;
    s->progress_done = 0;
    s->progress_total = 1;
    s->has_prompt_logits = false;
    session_image *im = &s->images[0];
    st = encode_image(s, s->processor, image, im);
    release_vision_state(s);
    if (st != VLM_OK) return st;
    size_t image_len = s->ops->expand_image(NULL, 0, s->model, &im->plan);
    char *image_text = vlmi_malloc(image_len + 1), *prompt = NULL;
    if (image_text != NULL) {
        s->ops->expand_image(image_text, image_len + 1, s->model, &im->plan);
        size_t len = vlmi_shieldgemma2_prompt(NULL, 0, image_text, policy_text);
        if ((prompt = vlmi_malloc(len + 1)) != NULL)
            vlmi_shieldgemma2_prompt(prompt, len + 1, image_text, policy_text);
    }
    st = prompt == NULL ? VLM_ERR_OUT_OF_MEMORY : tokenize_text(s, prompt, true);
    free(image_text);
    free(prompt);
    if (st == VLM_OK) st = check_prompt(s);
    if (st == VLM_OK) st = prefill_prompt(s);
    if (st == VLM_OK) {
        /* softmax over the two logits */
        float l_yes = s->decoder->logits[yes], l_no = s->decoder->logits[no];
        float m = l_yes > l_no ? l_yes : l_no;
        float e_yes = expf(l_yes - m), e_no = expf(l_no - m);
        *probability = e_yes / (e_yes + e_no);
    }
    s->n_feature_rows = 0;  /* the conversation stays empty */
    return st;
}

vlm_status vlm_session_safety_score(vlm_session *s, const vlm_image *image,
                                    vlm_safety_policy policy, const char *policy_text,
                                    float *probability) {
    vlmi_clear_error();
    if (s == NULL || image == NULL || probability == NULL)
        return vlmi_fail(VLM_ERR_INVALID_ARGUMENT, "vlm_session_safety_score: %s is NULL",
                         s == NULL ? "session" : image == NULL ? "image" : "probability");
    *probability = 0.0f;
    vlm_status st = safety_score(s, image, policy, policy_text, probability);
    return st == VLM_OK ? VLM_OK : vlmi_fail_prefix(st, "vlm_session_safety_score");
}

// ----------------------------------------------------------------------------
// queries

vlm_status vlm_session_timings(const vlm_session *s, vlm_timings *out) {
    vlmi_clear_error();
    if (s == NULL || out == NULL)
        return vlmi_fail(VLM_ERR_INVALID_ARGUMENT, "vlm_session_timings: %s is NULL",
                         s == NULL ? "session" : "timings");
    if (!vlmi_write_out_struct(out, &s->timings, sizeof s->timings))
        return vlmi_fail(VLM_ERR_INVALID_ARGUMENT, "vlm_session_timings: timings->struct_size is %zu",
                         out->struct_size);
    return VLM_OK;
}

vlm_status vlm_session_prompt_tokens(const vlm_session *s, int32_t *ids, size_t capacity,
                                     size_t *n_ids) {
    vlmi_clear_error();
    if (s == NULL || n_ids == NULL || (ids == NULL && capacity > 0))
        return vlmi_fail(VLM_ERR_INVALID_ARGUMENT, "vlm_session_prompt_tokens: NULL argument");
    *n_ids = s->n_prompt_ids;
    if (capacity < s->n_prompt_ids)
        return vlmi_fail(VLM_ERR_BUFFER_TOO_SMALL, "vlm_session_prompt_tokens: %zu ids, room for %zu",
                         s->n_prompt_ids, capacity);
    if (s->n_prompt_ids > 0) memcpy(ids, s->prompt_ids, s->n_prompt_ids * sizeof *ids);
    return VLM_OK;
}

vlm_status vlm_session_prompt_logits(const vlm_session *s, float *logits, size_t capacity,
                                     size_t *n_logits) {
    vlmi_clear_error();
    if (s == NULL || n_logits == NULL || (logits == NULL && capacity > 0))
        return vlmi_fail(VLM_ERR_INVALID_ARGUMENT, "vlm_session_prompt_logits: NULL argument");
    *n_logits = 0;
    if (!s->has_prompt_logits)
        return vlmi_fail(VLM_ERR_STATE, "vlm_session_prompt_logits: no prompt has been computed");
    size_t n = s->text->hp.n_vocab;
    *n_logits = n;
    if (capacity < n)
        return vlmi_fail(VLM_ERR_BUFFER_TOO_SMALL, "vlm_session_prompt_logits: %zu logits, room for %zu",
                         n, capacity);
    memcpy(logits, s->prompt_logits, n * sizeof *logits);
    return VLM_OK;
}
