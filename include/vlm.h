/*
 * vlm.h — libvlm, vision-language models on the device that holds the picture.
 *
 * The only public header. Version 0.1 (soname libvlm.so.0). Before 1.0 a
 * minor release may break the ABI; when it does, the soname changes.
 *
 * Usage (error handling shortened; every call returns a vlm_status):
 *
 *     vlm_model *model;  vlm_session *session;  vlm_image *image;
 *     vlm_model_load("SmolVLM-256M-Instruct", NULL, &model);
 *     vlm_session_create(model, NULL, &session);
 *     vlm_image_load_file("photo.jpg", NULL, &image);
 *     vlm_session_add_turn(session, VLM_ROLE_USER, "What is in this image?",
 *                          &image, 1);
 *     vlm_generate_params gp;  vlm_generate_params_init(&gp, sizeof gp);
 *     gp.on_token = print_piece;                   // streams the answer
 *     vlm_session_generate(session, &gp);
 *     vlm_image_free(image);  vlm_session_free(session);  vlm_model_free(model);
 *
 * Conventions that hold for every declaration below unless it says otherwise:
 *
 * - Status: fallible calls return vlm_status. VLM_OK is 0; errors are
 *   positive and fixed forever. After a failure, vlm_last_error() gives a
 *   message for the calling thread ("config.json: hidden_size missing").
 * - Ownership: "caller owns" means the caller releases the object with the
 *   named free function; "borrowed" pointers stay valid as long as the object
 *   they came from and must not be freed. Every free function accepts NULL.
 *   Out-pointers are set to NULL on failure.
 * - Parameters: structs whose first field is struct_size are filled by their
 *   vlm_*_params_init(&p, sizeof p), which writes the defaults into the
 *   caller's sizeof bytes only. New fields are only ever appended, so a
 *   caller compiled against an older header keeps working with a newer
 *   library. Passing NULL means the defaults. Output structs (tensor info,
 *   image plan, timings) work the same way: the caller sets struct_size and
 *   the library fills that many bytes at most.
 * - Caller buffers: functions writing text take (buf, buf_size, out_len).
 *   *out_len always receives the full length without the terminating NUL.
 *   If buf_size <= *out_len the call returns VLM_ERR_BUFFER_TOO_SMALL and
 *   writes nothing, so (NULL, 0) is a size query.
 * - Threads: a vlm_model and a vlm_image are immutable once made and may be
 *   used from any number of threads at once. A vlm_session belongs to one
 *   thread at a time. The library keeps no other mutable global state than
 *   the log callback (set it before other threads call in) and the per-thread
 *   error message.
 * - The library never prints, exits or aborts; it reports through statuses,
 *   vlm_last_error() and the log callback.
 */
#ifndef VLM_H
#define VLM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#if defined(_WIN32) && defined(VLM_SHARED)
#  ifdef VLM_BUILD
#    define VLM_API __declspec(dllexport)
#  else
#    define VLM_API __declspec(dllimport)
#  endif
#elif defined(__GNUC__) || defined(__clang__)
#  define VLM_API __attribute__((visibility("default")))
#else
#  define VLM_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ---- version --------------------------------------------------------- */

#define VLM_VERSION_MAJOR 0
#define VLM_VERSION_MINOR 1
#define VLM_VERSION_PATCH 0
#define VLM_VERSION_NUMBER \
    (VLM_VERSION_MAJOR * 10000 + VLM_VERSION_MINOR * 100 + VLM_VERSION_PATCH)

/* The library's version as MAJOR*10000 + MINOR*100 + PATCH; compare with
 * VLM_VERSION_NUMBER to detect a header/library mismatch. Since 0.1. */
VLM_API int vlm_version_number(void);
/* "0.1.0". Static storage. Since 0.1. */
VLM_API const char *vlm_version_string(void);
/* One line naming the build: version, compiler, kernels and BLAS in use,
 * image codecs. Static storage. Since 0.1. */
VLM_API const char *vlm_build_info(void);

/* ---- status and errors ------------------------------------------------ */

typedef enum vlm_status {
    VLM_OK                   = 0,
    VLM_ERR_INVALID_ARGUMENT = 1,  /* NULL or out-of-range argument */
    VLM_ERR_OUT_OF_MEMORY    = 2,
    VLM_ERR_IO               = 3,  /* file missing, unreadable, mmap failed */
    VLM_ERR_FORMAT           = 4,  /* malformed, truncated or lying file */
    VLM_ERR_UNSUPPORTED      = 5,  /* well-formed but not supported (yet) */
    VLM_ERR_BUFFER_TOO_SMALL = 6,  /* see "Caller buffers" above */
    VLM_ERR_LIMIT            = 7,  /* exceeds a limit: pixels, context, ... */
    VLM_ERR_CANCELLED        = 8,  /* a callback asked to stop */
    VLM_ERR_STATE            = 9,  /* call not valid in the object's state */
    VLM_ERR_SHAPE            = 10, /* tensor shape disagrees with the config */
    VLM_ERR_INVALID_UTF8     = 11, /* text is not valid UTF-8 */
    VLM_ERR_INTERNAL         = 12  /* a bug in libvlm: please report */
} vlm_status;

/* Short constant name of a status ("VLM_ERR_FORMAT"); "VLM_ERR_UNKNOWN" for
 * values this version does not know. Static storage. Since 0.1. */
VLM_API const char *vlm_status_string(vlm_status status);

/* The calling thread's message about its last failed call, or "" if none.
 * Borrowed: valid until the thread's next libvlm call. Since 0.1. */
VLM_API const char *vlm_last_error(void);

/* Releases memory the library allocated for the caller (where a declaration
 * says "free with vlm_free"). NULL is fine. Since 0.1. */
VLM_API void vlm_free(void *ptr);

/* ---- logging ---------------------------------------------------------- */

typedef enum vlm_log_level {
    VLM_LOG_DEBUG = 0,
    VLM_LOG_INFO  = 1,
    VLM_LOG_WARN  = 2,
    VLM_LOG_ERROR = 3
} vlm_log_level;

/* message is NUL-terminated, without a trailing newline, borrowed for the
 * duration of the call. Called on whichever thread logs; must not call back
 * into libvlm. */
typedef void (*vlm_log_fn)(vlm_log_level level, const char *message,
                           void *user_data);

/* Sets the process-wide log callback (NULL: discard, the default) and the
 * lowest level passed to it. Set it before other threads use the library.
 * Since 0.1. */
VLM_API void vlm_log_set(vlm_log_fn fn, vlm_log_level min_level,
                         void *user_data);

/* Load and encode progress in [0, 1]. Return false to cancel: the call then
 * fails with VLM_ERR_CANCELLED. Runs on the calling thread. */
typedef bool (*vlm_progress_fn)(float progress, void *user_data);

/* ---- images ----------------------------------------------------------- */

/* An image is 8-bit RGB in memory, rows top to bottom, tightly packed.
 * Decoding gives exactly what the Hugging Face processors see after Pillow's
 * Image.open + convert_to_rgb (tested byte for byte against Pillow 13):
 * - orientation as PIL.ImageOps.exif_transpose (EXIF Orientation of JPEG
 *   APP1 or PNG eXIf, else XMP tiff:Orientation), if enabled;
 * - any alpha channel (RGBA, gray+alpha, palette or gray tRNS) composited
 *   over white; the tRNS of an RGB PNG is ignored, as Pillow's RGB is;
 * - gray replicated to RGB; 16-bit RGB(A) keeps each sample's high byte,
 *   16-bit gray is clipped to 255 (Pillow's I;16 conversion);
 * - CMYK JPEGs converted as Pillow converts CMYK.
 * Processors that resize before converting (SmolVLM) see palette and RGBA
 * inputs resized in their own mode by Pillow; libvlm converts first, so
 * those two kinds of input may differ slightly for those families. */
typedef struct vlm_image vlm_image;

typedef enum vlm_pixel_format {
    VLM_PIXEL_RGB8  = 0,
    VLM_PIXEL_RGBA8 = 1,
    VLM_PIXEL_BGRA8 = 2,
    VLM_PIXEL_BGR8  = 3,
    VLM_PIXEL_GRAY8 = 4
} vlm_pixel_format;

typedef enum vlm_image_format {
    VLM_IMAGE_FORMAT_RAW  = 0,   /* made from a caller's pixel buffer */
    VLM_IMAGE_FORMAT_JPEG = 1,
    VLM_IMAGE_FORMAT_PNG  = 2
} vlm_image_format;

/* Resampling filters, numbered as PIL's Image.Resampling so that a
 * preprocessor_config.json "resample" value can be passed as it is. */
typedef enum vlm_resample {
    VLM_RESAMPLE_NEAREST  = 0,
    VLM_RESAMPLE_LANCZOS  = 1,
    VLM_RESAMPLE_BILINEAR = 2,
    VLM_RESAMPLE_BICUBIC  = 3,
    VLM_RESAMPLE_BOX      = 4,
    VLM_RESAMPLE_HAMMING  = 5
} vlm_resample;

typedef struct vlm_image_params {
    size_t   struct_size;
    uint64_t max_pixels;       /* refuse larger images from their header,
                                  before decoding (VLM_ERR_LIMIT);
                                  0 = the default, 64 Mi pixels */
    bool     apply_exif_orientation; /* default true */
} vlm_image_params;

VLM_API void vlm_image_params_init(vlm_image_params *params,
                                   size_t struct_size);

/* Decodes a JPEG or PNG file. Caller owns *out (vlm_image_free). Any thread.
 * Since 0.1. */
VLM_API vlm_status vlm_image_load_file(const char *path,
                                       const vlm_image_params *params,
                                       vlm_image **out);
/* Decodes JPEG or PNG bytes; data is only read during the call. Since 0.1. */
VLM_API vlm_status vlm_image_load_memory(const void *data, size_t size,
                                         const vlm_image_params *params,
                                         vlm_image **out);
/* Copies a caller's frame (camera buffer) of pixels_size bytes, which must
 * hold stride_bytes * (height - 1) + one row. stride_bytes is the distance
 * between rows (0: tightly packed). Alpha is composited over white.
 * Since 0.1. */
VLM_API vlm_status vlm_image_from_pixels(const void *pixels, size_t pixels_size,
                                         uint32_t width, uint32_t height,
                                         size_t stride_bytes,
                                         vlm_pixel_format format,
                                         vlm_image **out);
VLM_API uint32_t vlm_image_width(const vlm_image *image);   /* 0 if NULL */
VLM_API uint32_t vlm_image_height(const vlm_image *image);  /* 0 if NULL */
/* width*height*3 bytes of RGB. Borrowed from image. Since 0.1. */
VLM_API const uint8_t *vlm_image_pixels(const vlm_image *image);
VLM_API vlm_image_format vlm_image_source_format(const vlm_image *image);
/* A new image resized exactly as PIL's Image.resize((width, height), filter)
 * on an RGB image (antialiased when downscaling). Caller owns *out.
 * Since 0.1. */
VLM_API vlm_status vlm_image_resize(const vlm_image *image, uint32_t width,
                                    uint32_t height, vlm_resample filter,
                                    vlm_image **out);
VLM_API void vlm_image_free(vlm_image *image);

/* ---- inspection -------------------------------------------------------- */

/* Describes as JSON what PATH holds: a model directory (config summary and
 * tensors), a .safetensors or .gguf file (tensors with dtype, shape and byte
 * range; GGUF metadata), or an image (format, size). A malformed input fails
 * with a message naming the file and field. Buffer convention as above.
 * Any thread. Since 0.1. */
VLM_API vlm_status vlm_inspect(const char *path, char *buf, size_t buf_size,
                               size_t *out_len);

/* ---- models ------------------------------------------------------------ */

typedef struct vlm_model vlm_model;

typedef struct vlm_model_params {
    size_t          struct_size;
    int32_t         n_threads;          /* 0 = number of cores (default) */
    vlm_progress_fn progress;           /* may be NULL (default) */
    void           *progress_user_data;
    /* Since 0.1: bytes of encoded image features the model keeps for all its
     * sessions, so that adding the same picture again (a follow-up in a new
     * turn or a new session, same tile cap) skips preprocessing and the
     * vision encoder. Keyed by a hash of the decoded pixels and the
     * processing settings; least recently used entries go first. Default
     * 64 MiB (a 4x4-tile SmolVLM-256M image takes 2.5 MB); 0 disables. */
    uint64_t        image_cache_bytes;
    /* Since 0.1: with a GGUF model, the llama.cpp multimodal projector file
     * (mmproj) that holds its vision tower; NULL: none (the default). Only
     * read during vlm_model_load. A hub directory takes none
     * (VLM_ERR_INVALID_ARGUMENT); a projector other than Gemma 3's is
     * VLM_ERR_UNSUPPORTED. */
    const char     *mmproj_path;
} vlm_model_params;

VLM_API void vlm_model_params_init(vlm_model_params *params,
                                   size_t struct_size);

/* Loads a Hugging Face hub directory (config.json, *.safetensors, tokenizer
 * and processor files) or a GGUF file. Weights are memory-mapped. Caller owns
 * *out (vlm_model_free). Any thread. Since 0.1. */
VLM_API vlm_status vlm_model_load(const char *path,
                                  const vlm_model_params *params,
                                  vlm_model **out);
/* Frees the model. All its sessions must have been freed. Since 0.1. */
VLM_API void vlm_model_free(vlm_model *model);

/* The architecture the model declares ("Idefics3ForConditionalGeneration",
 * or GGUF general.architecture). Borrowed from model. Since 0.1. */
VLM_API const char *vlm_model_architecture(const vlm_model *model);

typedef enum vlm_dtype {
    VLM_DTYPE_F32  = 0,  VLM_DTYPE_F16  = 1,  VLM_DTYPE_BF16 = 2,
    VLM_DTYPE_Q8_0 = 3,  VLM_DTYPE_Q4_0 = 4,  VLM_DTYPE_Q4_1 = 5,
    VLM_DTYPE_Q5_0 = 6,  VLM_DTYPE_Q5_1 = 7,  VLM_DTYPE_Q2_K = 8,
    VLM_DTYPE_Q3_K = 9,  VLM_DTYPE_Q4_K = 10, VLM_DTYPE_Q5_K = 11,
    VLM_DTYPE_Q6_K = 12, VLM_DTYPE_Q8_K = 13,
    VLM_DTYPE_I8   = 14, VLM_DTYPE_U8   = 15, VLM_DTYPE_I16  = 16,
    VLM_DTYPE_I32  = 17, VLM_DTYPE_I64  = 18, VLM_DTYPE_F64  = 19,
    VLM_DTYPE_BOOL = 20
} vlm_dtype;

#define VLM_MAX_DIMS 8

typedef struct vlm_tensor_info {
    size_t      struct_size;
    const char *name;               /* borrowed from the model */
    vlm_dtype   dtype;
    uint32_t    n_dims;
    int64_t     shape[VLM_MAX_DIMS]; /* outermost first, as in safetensors */
    uint64_t    n_bytes;
} vlm_tensor_info;

/* Number of weight tensors. Since 0.1. */
VLM_API size_t vlm_model_n_tensors(const vlm_model *model);
/* Describes tensor `index` (< vlm_model_n_tensors). The caller sets
 * info->struct_size. Since 0.1. */
VLM_API vlm_status vlm_model_tensor_info(const vlm_model *model, size_t index,
                                         vlm_tensor_info *info);

/* ---- tokenizer ----------------------------------------------------------- */

/* A tokenizer.json, loaded with a model or on its own. Immutable: any number
 * of threads may use one at once. */
typedef struct vlm_tokenizer vlm_tokenizer;

/* Loads a tokenizer.json file, or the one in a model directory. Caller owns
 * *out (vlm_tokenizer_free). Since 0.1. */
VLM_API vlm_status vlm_tokenizer_load(const char *path, vlm_tokenizer **out);
VLM_API void vlm_tokenizer_free(vlm_tokenizer *tokenizer);
/* The model's tokenizer. Borrowed from model; NULL if it has none. */
VLM_API const vlm_tokenizer *vlm_model_tokenizer(const vlm_model *model);
/* Number of ids, added tokens included. */
VLM_API size_t vlm_tokenizer_n_vocab(const vlm_tokenizer *tokenizer);

enum {
    VLM_TOKENIZE_ADD_SPECIAL   = 1u << 0, /* run the post-processor (BOS..) */
    VLM_TOKENIZE_PARSE_SPECIAL = 1u << 1  /* "<image>" in text is the token */
};

/* Encodes text_len bytes of UTF-8 (invalid UTF-8: VLM_ERR_INVALID_UTF8).
 * Writes up to ids_capacity ids; *n_ids receives the full count (if it
 * exceeds ids_capacity: VLM_ERR_BUFFER_TOO_SMALL and nothing written).
 * Since 0.1. */
VLM_API vlm_status vlm_tokenize(const vlm_tokenizer *tokenizer,
                                const char *text, size_t text_len,
                                uint32_t flags, int32_t *ids,
                                size_t ids_capacity, size_t *n_ids);

enum { VLM_DETOKENIZE_SKIP_SPECIAL = 1u << 0 };

/* Decodes ids to text as the tokenizer's decoder does. Buffer convention.
 * Since 0.1. */
VLM_API vlm_status vlm_detokenize(const vlm_tokenizer *tokenizer,
                                  const int32_t *ids, size_t n_ids,
                                  uint32_t flags, char *buf, size_t buf_size,
                                  size_t *out_len);
/* The vocabulary string of one id (before decoding). Buffer convention. */
VLM_API vlm_status vlm_token_to_piece(const vlm_tokenizer *tokenizer,
                                      int32_t id, char *buf, size_t buf_size,
                                      size_t *out_len);
/* The id whose vocabulary string is `text` (e.g. "<image>"), or -1. */
VLM_API int32_t vlm_token_lookup(const vlm_tokenizer *tokenizer,
                                 const char *text);

/* Streaming detokenizer: feed ids one at a time, get text that never ends in
 * a partial UTF-8 sequence; the pieces concatenate to vlm_detokenize of all
 * ids. One thread at a time. */
typedef struct vlm_detokenizer vlm_detokenizer;
VLM_API vlm_status vlm_detokenizer_create(const vlm_tokenizer *tokenizer,
                                          uint32_t flags,
                                          vlm_detokenizer **out);
/* Adds one id; writes the newly completed text (possibly empty). Buffer
 * convention; on VLM_ERR_BUFFER_TOO_SMALL the id is not consumed. */
VLM_API vlm_status vlm_detokenizer_push(vlm_detokenizer *detok, int32_t id,
                                        char *buf, size_t buf_size,
                                        size_t *out_len);
/* Ends the stream: writes what is still held back (a character the ids left
 * incomplete comes out as U+FFFD, as vlm_detokenize renders it) and starts a
 * new stream. Buffer convention. */
VLM_API vlm_status vlm_detokenizer_flush(vlm_detokenizer *detok, char *buf,
                                         size_t buf_size, size_t *out_len);
VLM_API void vlm_detokenizer_free(vlm_detokenizer *detok);

/* ---- sessions and generation ------------------------------------------- */

typedef struct vlm_session vlm_session;

typedef struct vlm_session_params {
    size_t  struct_size;
    /* Context length in tokens: the KV cache is allocated for this many at
     * create (SmolVLM-256M: 46 KB per token in f32). 0 = the default,
     * min(the model's max_position_embeddings, 4096): room for three 4x4-tile
     * images and their conversation, while a 256M model's 8192 would take
     * 377 MB. Set it to the model's length for longer conversations. */
    int32_t n_ctx;
    int32_t n_threads;     /* 0 = the model's */
    int32_t max_image_tiles; /* token budget per image; 0 = the model's */
    /* Since 0.1: called on the calling thread while vlm_session_add_turn and
     * vlm_session_add_video_turn preprocess and encode images (fraction of
     * the call's frames done) and while vlm_session_generate prefills the
     * prompt (fraction of its tokens done), starting at 0. Returning false
     * cancels: the call fails with VLM_ERR_CANCELLED and the conversation is
     * as before it (what was already prefilled stays cached and is reused).
     * Default NULL. */
    vlm_progress_fn progress;
    void   *progress_user_data;
    /* Since 0.1: Gemma 3's pan & scan (extra crops of elongated images):
     * 0 = the processor config's setting (off in the reference), 1 = on,
     * -1 = off. Other families ignore it. */
    int32_t pan_and_scan;
    /* Since 0.1: the pixel budget of Qwen2-VL-style dynamic resolution (an
     * image, or each frame of a video, is resized so that its area lies
     * within it; the token count follows): 0 = the processor config's
     * min_pixels / max_pixels (the video processor's for videos). Other
     * families ignore them. */
    int64_t min_image_pixels;
    int64_t max_image_pixels;
    /* Since 0.1: the element type of the KV cache, a vlm_dtype:
     * VLM_DTYPE_F32 (0, the default), VLM_DTYPE_F16 (1) or VLM_DTYPE_Q8_0
     * (3). f16 halves the cache's memory per token (SmolVLM-256M: 23 KB
     * instead of 46 KB) and the memory traffic of every decoded token; keys
     * and values are rounded to f16 as they are stored, which moves the
     * logits by about 1e-3 of the largest logit (in the tests, at most
     * 2.2e-3 of it, greedy tokens unchanged). Q8_0 stores them as ggml's
     * blocks of 32 values with one f16 scale, 0.27x the f32 memory (12 KB
     * per token), for models whose attention heads have a multiple of 32
     * dims (else vlm_session_create fails with VLM_ERR_INVALID_ARGUMENT,
     * naming them); its answers are transformers' with every key and value
     * rounded the same way. Any other value is VLM_ERR_INVALID_ARGUMENT. */
    int32_t kv_cache_type;
} vlm_session_params;

VLM_API void vlm_session_params_init(vlm_session_params *params,
                                     size_t struct_size);

/* Opens a conversation on model (which must outlive it). Caller owns *out
 * (vlm_session_free). Any thread; the session then belongs to one thread
 * at a time. Since 0.1. */
VLM_API vlm_status vlm_session_create(vlm_model *model,
                                      const vlm_session_params *params,
                                      vlm_session **out);
VLM_API void vlm_session_free(vlm_session *session);

typedef enum vlm_role {
    VLM_ROLE_SYSTEM    = 0,
    VLM_ROLE_USER      = 1,
    VLM_ROLE_ASSISTANT = 2
} vlm_role;

/* Appends a turn: text (UTF-8, NUL-terminated) and n_images images placed
 * before the text, as the model's chat template places them. The images are
 * borrowed for the duration of the call only. A text holding "<image>" or
 * "<video>" is VLM_ERR_INVALID_ARGUMENT (images are passed, not typed);
 * images whose tokens cannot fit the session's context are VLM_ERR_LIMIT,
 * before anything is encoded. On failure the conversation is unchanged.
 * Since 0.1. */
VLM_API vlm_status vlm_session_add_turn(vlm_session *session, vlm_role role,
                                        const char *text,
                                        vlm_image *const *images,
                                        size_t n_images);

/* Receives each new piece of the answer (UTF-8, never a partial character;
 * borrowed for the call). Return false to stop generating (not an error).
 * Runs on the thread that called vlm_session_generate; must not call the
 * same session. */
typedef bool (*vlm_token_fn)(int32_t token, const char *piece,
                             size_t piece_len, void *user_data);

typedef struct vlm_generate_params {
    size_t       struct_size;
    int32_t      max_tokens;     /* default 256 */
    float        temperature;    /* 0 = greedy (default) */
    int32_t      top_k;          /* 0 = off (default) */
    float        top_p;          /* 1 = off (default) */
    float        min_p;          /* 0 = off (default) */
    float        repeat_penalty; /* 1 = off (default) */
    uint64_t     seed;           /* default 0 */
    vlm_token_fn on_token;       /* may be NULL */
    void        *user_data;
    /* Since 0.1: generation also ends where the answer's text first contains
     * one of these (UTF-8, non-empty); the stop string and what follows are
     * neither streamed nor kept in the conversation. Borrowed for the call.
     * Default NULL, 0. */
    const char *const *stop_strings;
    size_t       n_stop_strings;
} vlm_generate_params;

VLM_API void vlm_generate_params_init(vlm_generate_params *params,
                                      size_t struct_size);

/* Generates the assistant's answer to the turns so far, streaming it through
 * params->on_token, and appends it to the conversation. Since 0.1. */
VLM_API vlm_status vlm_session_generate(vlm_session *session,
                                        const vlm_generate_params *params);

/* Appends a turn about a video (SmolVLM2, Qwen2.5-VL): n_frames frames the
 * caller decoded, at timestamps_s[i] seconds from the start of a video
 * lasting duration_s seconds (< 0: unknown; the last timestamp stands for
 * it), then text. SmolVLM2: each frame becomes one frame for the vision
 * encoder; the prompt reads as SmolVLM2's processor writes it (frame count
 * in words, a "Frame from MM:SS:" line per frame). Qwen2.5-VL: the frames,
 * which must share one size, are encoded together as one video (pairs of
 * frames per temporal patch, the last frame repeated when the count is odd),
 * each within the session's pixel budget; its frame rate, which spaces the
 * video in rotary time, is n_frames / duration_s, or with no duration the
 * rate the timestamps show (24 fps for one frame), as transformers derives
 * it from the video's metadata. Frames and timestamps are borrowed for the
 * call only. Since 0.1. */
VLM_API vlm_status vlm_session_add_video_turn(vlm_session *session, vlm_role role,
                                              const char *text, vlm_image *const *frames,
                                              const double *timestamps_s, size_t n_frames,
                                              double duration_s);

/* Which of a video's total_frames frames (at video_fps frames per second)
 * to decode for vlm_session_add_video_turn, chosen as the model's video
 * processor chooses them. SmolVLM2: fps frames per second (0: the model's
 * video_sampling.fps, else 1), at most max_frames (0: the model's, else 64),
 * evenly spaced, skipping a second at each end of long videos. Qwen2.5-VL:
 * Qwen2VLVideoProcessor.sample_frames with fps (0: 2, qwen-vl-utils' rate),
 * at least 4 and at most max_frames (0: 768) frames, an even count (pairs of
 * frames make its temporal patches). Writes increasing indices;
 * *n_indices receives their count (more than capacity:
 * VLM_ERR_BUFFER_TOO_SMALL, nothing written). Since 0.1. */
VLM_API vlm_status vlm_session_video_frames(const vlm_session *session, uint32_t total_frames,
                                            double video_fps, double fps, uint32_t max_frames,
                                            uint32_t *indices, size_t capacity,
                                            size_t *n_indices);

/* Since 0.1, how vlm_session_generate calls on_token: once per generated
 * token in order, an end token included (with an empty piece); the piece is
 * the text that token completed, less anything a stop string may still
 * claim. Text still held back when generation ends comes in a last call (or
 * two) with token -1. */

/* What an image of width x height will cost in this session (its tile cap
 * applied), known before anything is decoded or encoded. */
typedef struct vlm_image_plan {
    size_t   struct_size;
    uint32_t n_frames;        /* frames the vision encoder runs: tiles + 1
                                 global image, or 1 when not split */
    uint32_t rows, cols;      /* tile grid; 0, 0 when not split */
    uint32_t frame_width;     /* pixels of each frame */
    uint32_t frame_height;
    uint32_t n_image_tokens;  /* image placeholder tokens in the prompt */
    uint64_t work_bytes;      /* memory needed while preprocessing and
                                 encoding it (resized copies, one frame) */
    uint64_t feature_bytes;   /* memory its encoded features keep in the
                                 session */
} vlm_image_plan;

/* Fills *plan (the caller sets plan->struct_size). Since 0.1. */
VLM_API vlm_status vlm_session_plan_image(const vlm_session *session, uint32_t width,
                                          uint32_t height, vlm_image_plan *plan);

/* The pixel values the vision encoder would see for image in this session
 * (its tile cap applied): n_frames frames of 3 x frame_height x frame_width
 * f32, channels first, tiles row-major then the global image, as the
 * model's Hugging Face processor makes pixel_values. Fills up to capacity
 * floats; *n_values receives the count (more than capacity:
 * VLM_ERR_BUFFER_TOO_SMALL, nothing written; vlm_session_plan_image gives
 * the shape). For parity checks; nothing is encoded. Since 0.1. */
VLM_API vlm_status vlm_session_image_pixel_values(const vlm_session *session,
                                                  const vlm_image *image, float *pixel_values,
                                                  size_t capacity, size_t *n_values);

/* ---- image safety (ShieldGemma 2) ---- */

/* The policies ShieldGemma 2 was trained on, and a caller's own. */
typedef enum vlm_safety_policy {
    VLM_SAFETY_DANGEROUS = 0,  /* dangerous content */
    VLM_SAFETY_SEXUAL    = 1,  /* sexually explicit content */
    VLM_SAFETY_VIOLENCE  = 2,  /* violence and gore */
    VLM_SAFETY_CUSTOM    = 3   /* the definition in policy_text */
} vlm_safety_policy;

/* The probability (0..1) that image violates the policy, as ShieldGemma 2
 * defines it: its prompt (the image, then the policy's definition), one
 * forward pass, and the softmax over the logits of its "Yes" and "No"
 * tokens at the last position; P(Yes) is returned. policy_text (UTF-8) is
 * the definition for VLM_SAFETY_CUSTOM and ignored otherwise. The session's
 * model must be a ShieldGemma 2 checkpoint (VLM_ERR_UNSUPPORTED otherwise)
 * and its conversation empty (VLM_ERR_STATE); it stays empty, and scoring
 * the same image against several policies reuses the image's encoding and
 * cached prompt. Timings and prompt tokens/logits are readable afterwards as
 * after a generate. Since 0.1. */
VLM_API vlm_status vlm_session_safety_score(vlm_session *session, const vlm_image *image,
                                            vlm_safety_policy policy,
                                            const char *policy_text, float *probability);

/* Timings and counts of the latest vlm_session_generate. */
typedef struct vlm_timings {
    size_t  struct_size;
    double  load_ms;            /* vlm_model_load of the session's model */
    double  preprocess_ms;      /* resize, tiles, normalize: images added since
                                   the previous generate */
    double  encode_ms;          /* vision encoder and connector, same images */
    double  prefill_ms;         /* prompt tokens through the decoder */
    double  decode_ms;          /* generating, after the prefill */
    int32_t n_prompt_tokens;    /* the whole conversation as the model sees it */
    int32_t n_prefill_tokens;   /* of those, computed (the rest was cached) */
    int32_t n_image_tokens;     /* image placeholders in the prompt */
    int32_t n_generated_tokens; /* stop token included */
    double  prefill_tokens_per_s;
    double  decode_tokens_per_s;
    /* Since 0.1: of the images and video frames added since the previous
     * generate, those whose features came from the model's image cache
     * (no preprocessing or encoding; see image_cache_bytes). */
    int32_t n_cached_images;
} vlm_timings;

/* Fills *timings (the caller sets timings->struct_size; zeros before the
 * first generate). Since 0.1. */
VLM_API vlm_status vlm_session_timings(const vlm_session *session, vlm_timings *timings);

/* The prompt ids of the latest vlm_session_generate: the whole conversation,
 * chat-formatted and with the image placeholders expanded. Fills up to
 * capacity ids; *n_ids receives the count (more than capacity:
 * VLM_ERR_BUFFER_TOO_SMALL, nothing written). Since 0.1. */
VLM_API vlm_status vlm_session_prompt_tokens(const vlm_session *session, int32_t *ids,
                                             size_t capacity, size_t *n_ids);

/* The logits (vocabulary size of them) the latest vlm_session_generate
 * computed at the last prompt position, before any penalty. Same buffer
 * convention as vlm_session_prompt_tokens. Since 0.1. */
VLM_API vlm_status vlm_session_prompt_logits(const vlm_session *session, float *logits,
                                             size_t capacity, size_t *n_logits);

/* ---- grounding: boxes and points as data ----------------------------- */

/* Qwen2.5-VL answers "where is X" with JSON such as
 *   ```json
 *   [{"bbox_2d": [x1, y1, x2, y2], "label": "cat"}, {"point_2d": [x, y], "label": "dog"}]
 *   ```
 * in the absolute pixel coordinates of the RESIZED image the model saw
 * (smart_resize; vlm_session_plan_image gives its size). vlm_parse_grounding
 * turns such an answer into items in the ORIGINAL image's pixels. */

typedef enum vlm_grounding_kind {
    VLM_GROUNDING_BOX      = 0,  /* (x1, y1) top-left, (x2, y2) bottom-right */
    VLM_GROUNDING_POINT    = 1,  /* (x1, y1); x2, y2 repeat it */
    VLM_GROUNDING_REJECTED = 2   /* an object that could not be used: see reason */
} vlm_grounding_kind;

typedef enum vlm_grounding_reason {
    VLM_GROUNDING_OK             = 0,  /* a box or point */
    VLM_GROUNDING_NO_COORDINATES = 1,  /* an object without bbox_2d or point_2d */
    VLM_GROUNDING_WRONG_ARITY    = 2,  /* bbox_2d not 4 numbers, point_2d not 2 */
    VLM_GROUNDING_NOT_A_NUMBER   = 3,  /* a coordinate that is not a finite number */
    VLM_GROUNDING_TRUNCATED      = 4,  /* the answer ends before the coordinates do */
    VLM_GROUNDING_NOT_AN_OBJECT  = 5,  /* a list element that is not an object */
    VLM_GROUNDING_TOO_DEEP       = 6   /* nested deeper than the parser follows */
} vlm_grounding_reason;

#define VLM_GROUNDING_LABEL_MAX 64

typedef struct vlm_grounding_item {
    int32_t kind;          /* vlm_grounding_kind */
    int32_t reason;        /* vlm_grounding_reason: VLM_GROUNDING_OK unless rejected */
    float   x1, y1;        /* original-image pixels, clamped to [0, width] x [0, height] */
    float   x2, y2;        /* box: x2 >= x1, y2 >= y1 (corners given swapped are
                              put in order); point: equal to x1, y1; rejected: 0 */
    size_t  offset;        /* byte offset of the object in the answer */
    char    label[VLM_GROUNDING_LABEL_MAX]; /* UTF-8, NUL-terminated, cut at a
                              character boundary if longer; "" if none */
} vlm_grounding_item;

/* Parses a grounding answer of answer_len bytes (valid UTF-8; NUL bytes are
 * not special) into items, in the order the objects appear.
 *
 * Tolerated: a ```json fence (or none; prose around the JSON is skipped),
 * one object or a list of them or objects one per line, trailing commas,
 * single-quoted or unquoted keys and strings, numbers written as strings,
 * nested lists ([[x1, y1], [x2, y2]]), a missing closing bracket or brace at
 * the end (a cut-off answer), keys "bbox"/"point" for "bbox_2d"/"point_2d".
 * An object with both a box and a point gives two items. Objects that cannot
 * be used become VLM_GROUNDING_REJECTED items with a reason, so the caller
 * can tell what was lost and where; an answer without JSON gives no items.
 *
 * Coordinates are scaled per axis: x * image_width / resized_width and
 * y * image_height / resized_height (resized 0: same as the image, for
 * answers already in image pixels), then clamped to the image.
 *
 * items holds capacity structs of item_size bytes each (pass
 * sizeof(vlm_grounding_item); an older, shorter struct gets its own size
 * filled). *n_items receives the number of items and *n_rejected (may be
 * NULL) how many of them are rejected. More than capacity:
 * VLM_ERR_BUFFER_TOO_SMALL and nothing written, so (NULL, 0) is a size
 * query. Errors: VLM_ERR_INVALID_ARGUMENT (NULL answer with a length, zero
 * image size, item_size too small), VLM_ERR_INVALID_UTF8, VLM_ERR_LIMIT
 * (answers over 16 MiB). Pure function, any thread. Since 0.1. */
VLM_API vlm_status vlm_parse_grounding(const char *answer, size_t answer_len,
                                       uint32_t image_width, uint32_t image_height,
                                       uint32_t resized_width, uint32_t resized_height,
                                       vlm_grounding_item *items, size_t item_size,
                                       size_t capacity, size_t *n_items, size_t *n_rejected);

#ifdef __cplusplus
}
#endif

#endif /* VLM_H */
