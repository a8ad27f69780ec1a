"""Raw ctypes bindings of include/vlm.h, one for one.

Each C declaration is copied as a comment above its binding (llama-cpp-python
style) so a reviewer can compare them line by line; tests/test_abi.py parses
vlm.h and fails when a signature, struct or enum value here disagrees with it.
Opaque handles are distinct empty ctypes.Structure types, so passing a model
where an image is expected is a ctypes.ArgumentError instead of a crash.

The Pythonic API lives in the other modules; this one is for power users who
want the C API as it is.
"""
import ctypes
import ctypes.util
import os
import sys
from ctypes import (CFUNCTYPE, POINTER, Structure, c_bool, c_char, c_char_p,
                    c_double, c_float, c_int, c_int32, c_int64, c_size_t, c_uint8,
                    c_uint32, c_uint64, c_void_p)

# The vlm.h this module mirrors; the library must agree on MAJOR.MINOR
# (before 1.0 a minor release may break the ABI).
VLM_VERSION_MAJOR = 0
VLM_VERSION_MINOR = 1
VLM_VERSION_PATCH = 0
VLM_VERSION_NUMBER = VLM_VERSION_MAJOR * 10000 + VLM_VERSION_MINOR * 100 + VLM_VERSION_PATCH

# ---- loading the shared library --------------------------------------------


def _library_names():
    if sys.platform == "darwin":
        return ["libvlm.dylib", "libvlm.0.dylib"]
    if sys.platform == "win32":
        return ["vlm.dll", "libvlm.dll", "vlm-0.dll"]
    return ["libvlm.so", "libvlm.so.0"]


def _candidate_paths():
    """Where libvlm is looked for, in order: $VLM_LIBRARY, next to this
    package (a wheel may bundle it), then the system's search path."""
    override = os.environ.get("VLM_LIBRARY")
    if override:
        return [override], True
    here = os.path.dirname(os.path.abspath(__file__))
    candidates = [os.path.join(here, name) for name in _library_names()]
    candidates = [c for c in candidates if os.path.exists(c)]
    found = ctypes.util.find_library("vlm")
    if found:
        candidates.append(found)
    candidates.extend(_library_names())  # plain names: the dynamic loader's own search
    return candidates, False


def _load_library():
    candidates, from_env = _candidate_paths()
    errors = []
    for candidate in candidates:
        try:
            return ctypes.CDLL(candidate)
        except OSError as e:
            errors.append(f"{candidate}: {e}")
    if from_env:
        raise ImportError(f"vlm: cannot load VLM_LIBRARY={candidates[0]}: {errors[-1]}")
    raise ImportError("vlm: libvlm not found (set VLM_LIBRARY to the path of libvlm.so, "
                      "or install it where the dynamic loader finds it); tried: "
                      + "; ".join(errors))


lib = _load_library()


def _bind(name, argtypes, restype):
    try:
        function = getattr(lib, name)
    except AttributeError:
        raise ImportError(f"vlm: {lib._name} has no symbol {name}; it is older than the "
                          f"vlm.h {VLM_VERSION_MAJOR}.{VLM_VERSION_MINOR} these bindings mirror") from None
    function.argtypes = argtypes
    function.restype = restype
    return function


# ---- version ---------------------------------------------------------------

# VLM_API int vlm_version_number(void);
vlm_version_number = _bind("vlm_version_number", [], c_int)
# VLM_API const char *vlm_version_string(void);
vlm_version_string = _bind("vlm_version_string", [], c_char_p)
# VLM_API const char *vlm_build_info(void);
vlm_build_info = _bind("vlm_build_info", [], c_char_p)


def _check_version():
    found = vlm_version_number()
    if found // 100 != VLM_VERSION_NUMBER // 100:
        raise ImportError(
            f"vlm: {lib._name} is libvlm {found // 10000}.{found // 100 % 100}.{found % 100}, "
            f"but these bindings were written for {VLM_VERSION_MAJOR}.{VLM_VERSION_MINOR}.x "
            "(before 1.0 every minor release may change the ABI); install matching versions")


_check_version()

# ---- status and errors -----------------------------------------------------

# typedef enum vlm_status { ... } vlm_status;
vlm_status = c_int
VLM_OK = 0
VLM_ERR_INVALID_ARGUMENT = 1
VLM_ERR_OUT_OF_MEMORY = 2
VLM_ERR_IO = 3
VLM_ERR_FORMAT = 4
VLM_ERR_UNSUPPORTED = 5
VLM_ERR_BUFFER_TOO_SMALL = 6
VLM_ERR_LIMIT = 7
VLM_ERR_CANCELLED = 8
VLM_ERR_STATE = 9
VLM_ERR_SHAPE = 10
VLM_ERR_INVALID_UTF8 = 11
VLM_ERR_INTERNAL = 12

# VLM_API const char *vlm_status_string(vlm_status status);
vlm_status_string = _bind("vlm_status_string", [vlm_status], c_char_p)
# VLM_API const char *vlm_last_error(void);
vlm_last_error = _bind("vlm_last_error", [], c_char_p)
# VLM_API void vlm_free(void *ptr);
vlm_free = _bind("vlm_free", [c_void_p], None)

# ---- logging ---------------------------------------------------------------

# typedef enum vlm_log_level { ... } vlm_log_level;
vlm_log_level = c_int
VLM_LOG_DEBUG = 0
VLM_LOG_INFO = 1
VLM_LOG_WARN = 2
VLM_LOG_ERROR = 3

# typedef void (*vlm_log_fn)(vlm_log_level level, const char *message,
#                            void *user_data);
vlm_log_fn = CFUNCTYPE(None, vlm_log_level, c_char_p, c_void_p)

# VLM_API void vlm_log_set(vlm_log_fn fn, vlm_log_level min_level,
#                          void *user_data);
vlm_log_set = _bind("vlm_log_set", [vlm_log_fn, vlm_log_level, c_void_p], None)

# typedef bool (*vlm_progress_fn)(float progress, void *user_data);
vlm_progress_fn = CFUNCTYPE(c_bool, c_float, c_void_p)

# ---- images ----------------------------------------------------------------


# typedef struct vlm_image vlm_image;
class vlm_image(Structure):
    pass


# typedef enum vlm_pixel_format { ... } vlm_pixel_format;
vlm_pixel_format = c_int
VLM_PIXEL_RGB8 = 0
VLM_PIXEL_RGBA8 = 1
VLM_PIXEL_BGRA8 = 2
VLM_PIXEL_BGR8 = 3
VLM_PIXEL_GRAY8 = 4

# typedef enum vlm_image_format { ... } vlm_image_format;
vlm_image_format = c_int
VLM_IMAGE_FORMAT_RAW = 0
VLM_IMAGE_FORMAT_JPEG = 1
VLM_IMAGE_FORMAT_PNG = 2

# typedef enum vlm_resample { ... } vlm_resample;
vlm_resample = c_int
VLM_RESAMPLE_NEAREST = 0
VLM_RESAMPLE_LANCZOS = 1
VLM_RESAMPLE_BILINEAR = 2
VLM_RESAMPLE_BICUBIC = 3
VLM_RESAMPLE_BOX = 4
VLM_RESAMPLE_HAMMING = 5


# typedef struct vlm_image_params {
#     size_t   struct_size;
#     uint64_t max_pixels;
#     bool     apply_exif_orientation;
# } vlm_image_params;
class vlm_image_params(Structure):
    _fields_ = [
        ("struct_size", c_size_t),
        ("max_pixels", c_uint64),
        ("apply_exif_orientation", c_bool),
    ]


# VLM_API void vlm_image_params_init(vlm_image_params *params,
#                                 size_t struct_size);
vlm_image_params_init = _bind("vlm_image_params_init",
                             [POINTER(vlm_image_params), c_size_t], None)
# VLM_API vlm_status vlm_image_load_file(const char *path,
#                                        const vlm_image_params *params,
#                                        vlm_image **out);
vlm_image_load_file = _bind("vlm_image_load_file",
                            [c_char_p, POINTER(vlm_image_params), POINTER(POINTER(vlm_image))],
                            vlm_status)
# VLM_API vlm_status vlm_image_load_memory(const void *data, size_t size,
#                                          const vlm_image_params *params,
#                                          vlm_image **out);
vlm_image_load_memory = _bind("vlm_image_load_memory",
                              [c_void_p, c_size_t, POINTER(vlm_image_params),
                               POINTER(POINTER(vlm_image))],
                              vlm_status)
# VLM_API vlm_status vlm_image_from_pixels(const void *pixels, size_t pixels_size,
#                                          uint32_t width, uint32_t height,
#                                          size_t stride_bytes,
#                                          vlm_pixel_format format,
#                                          vlm_image **out);
vlm_image_from_pixels = _bind("vlm_image_from_pixels",
                              [c_void_p, c_size_t, c_uint32, c_uint32, c_size_t, vlm_pixel_format,
                               POINTER(POINTER(vlm_image))],
                              vlm_status)
# VLM_API uint32_t vlm_image_width(const vlm_image *image);
vlm_image_width = _bind("vlm_image_width", [POINTER(vlm_image)], c_uint32)
# VLM_API uint32_t vlm_image_height(const vlm_image *image);
vlm_image_height = _bind("vlm_image_height", [POINTER(vlm_image)], c_uint32)
# VLM_API const uint8_t *vlm_image_pixels(const vlm_image *image);
vlm_image_pixels = _bind("vlm_image_pixels", [POINTER(vlm_image)], POINTER(c_uint8))
# VLM_API vlm_image_format vlm_image_source_format(const vlm_image *image);
vlm_image_source_format = _bind("vlm_image_source_format", [POINTER(vlm_image)], vlm_image_format)
# VLM_API vlm_status vlm_image_resize(const vlm_image *image, uint32_t width,
#                                     uint32_t height, vlm_resample filter,
#                                     vlm_image **out);
vlm_image_resize = _bind("vlm_image_resize",
                         [POINTER(vlm_image), c_uint32, c_uint32, vlm_resample,
                          POINTER(POINTER(vlm_image))],
                         vlm_status)
# VLM_API void vlm_image_free(vlm_image *image);
vlm_image_free = _bind("vlm_image_free", [POINTER(vlm_image)], None)

# ---- inspection ------------------------------------------------------------

# VLM_API vlm_status vlm_inspect(const char *path, char *buf, size_t buf_size,
#                                size_t *out_len);
vlm_inspect = _bind("vlm_inspect", [c_char_p, c_char_p, c_size_t, POINTER(c_size_t)], vlm_status)

# ---- models ----------------------------------------------------------------


# typedef struct vlm_model vlm_model;
class vlm_model(Structure):
    pass


# typedef struct vlm_model_params {
#     size_t          struct_size;
#     int32_t         n_threads;
#     vlm_progress_fn progress;
#     void           *progress_user_data;
#     uint64_t        image_cache_bytes;
#     const char     *mmproj_path;
# } vlm_model_params;
class vlm_model_params(Structure):
    _fields_ = [
        ("struct_size", c_size_t),
        ("n_threads", c_int32),
        ("progress", vlm_progress_fn),
        ("progress_user_data", c_void_p),
        ("image_cache_bytes", c_uint64),
        ("mmproj_path", c_char_p),
    ]


# VLM_API void vlm_model_params_init(vlm_model_params *params,
#                                 size_t struct_size);
vlm_model_params_init = _bind("vlm_model_params_init",
                             [POINTER(vlm_model_params), c_size_t], None)
# VLM_API vlm_status vlm_model_load(const char *path,
#                                   const vlm_model_params *params,
#                                   vlm_model **out);
vlm_model_load = _bind("vlm_model_load",
                       [c_char_p, POINTER(vlm_model_params), POINTER(POINTER(vlm_model))],
                       vlm_status)
# VLM_API void vlm_model_free(vlm_model *model);
vlm_model_free = _bind("vlm_model_free", [POINTER(vlm_model)], None)
# VLM_API const char *vlm_model_architecture(const vlm_model *model);
vlm_model_architecture = _bind("vlm_model_architecture", [POINTER(vlm_model)], c_char_p)

# typedef enum vlm_dtype { ... } vlm_dtype;
vlm_dtype = c_int
VLM_DTYPE_F32 = 0
VLM_DTYPE_F16 = 1
VLM_DTYPE_BF16 = 2
VLM_DTYPE_Q8_0 = 3
VLM_DTYPE_Q4_0 = 4
VLM_DTYPE_Q4_1 = 5
VLM_DTYPE_Q5_0 = 6
VLM_DTYPE_Q5_1 = 7
VLM_DTYPE_Q2_K = 8
VLM_DTYPE_Q3_K = 9
VLM_DTYPE_Q4_K = 10
VLM_DTYPE_Q5_K = 11
VLM_DTYPE_Q6_K = 12
VLM_DTYPE_Q8_K = 13
VLM_DTYPE_I8 = 14
VLM_DTYPE_U8 = 15
VLM_DTYPE_I16 = 16
VLM_DTYPE_I32 = 17
VLM_DTYPE_I64 = 18
VLM_DTYPE_F64 = 19
VLM_DTYPE_BOOL = 20

# #define VLM_MAX_DIMS 8
VLM_MAX_DIMS = 8


# typedef struct vlm_tensor_info {
#     size_t      struct_size;
#     const char *name;
#     vlm_dtype   dtype;
#     uint32_t    n_dims;
#     int64_t     shape[VLM_MAX_DIMS];
#     uint64_t    n_bytes;
# } vlm_tensor_info;
class vlm_tensor_info(Structure):
    _fields_ = [
        ("struct_size", c_size_t),
        ("name", c_char_p),
        ("dtype", vlm_dtype),
        ("n_dims", c_uint32),
        ("shape", c_int64 * VLM_MAX_DIMS),
        ("n_bytes", c_uint64),
    ]


# VLM_API size_t vlm_model_n_tensors(const vlm_model *model);
vlm_model_n_tensors = _bind("vlm_model_n_tensors", [POINTER(vlm_model)], c_size_t)
# VLM_API vlm_status vlm_model_tensor_info(const vlm_model *model, size_t index,
#                                          vlm_tensor_info *info);
vlm_model_tensor_info = _bind("vlm_model_tensor_info",
                              [POINTER(vlm_model), c_size_t, POINTER(vlm_tensor_info)],
                              vlm_status)

# ---- tokenizer -------------------------------------------------------------


# typedef struct vlm_tokenizer vlm_tokenizer;
class vlm_tokenizer(Structure):
    pass


# VLM_API vlm_status vlm_tokenizer_load(const char *path, vlm_tokenizer **out);
vlm_tokenizer_load = _bind("vlm_tokenizer_load", [c_char_p, POINTER(POINTER(vlm_tokenizer))],
                           vlm_status)
# VLM_API void vlm_tokenizer_free(vlm_tokenizer *tokenizer);
vlm_tokenizer_free = _bind("vlm_tokenizer_free", [POINTER(vlm_tokenizer)], None)
# VLM_API const vlm_tokenizer *vlm_model_tokenizer(const vlm_model *model);
vlm_model_tokenizer = _bind("vlm_model_tokenizer", [POINTER(vlm_model)], POINTER(vlm_tokenizer))
# VLM_API size_t vlm_tokenizer_n_vocab(const vlm_tokenizer *tokenizer);
vlm_tokenizer_n_vocab = _bind("vlm_tokenizer_n_vocab", [POINTER(vlm_tokenizer)], c_size_t)

# enum { VLM_TOKENIZE_ADD_SPECIAL = 1u << 0, VLM_TOKENIZE_PARSE_SPECIAL = 1u << 1 };
VLM_TOKENIZE_ADD_SPECIAL = 1 << 0
VLM_TOKENIZE_PARSE_SPECIAL = 1 << 1

# VLM_API vlm_status vlm_tokenize(const vlm_tokenizer *tokenizer,
#                                 const char *text, size_t text_len,
#                                 uint32_t flags, int32_t *ids,
#                                 size_t ids_capacity, size_t *n_ids);
vlm_tokenize = _bind("vlm_tokenize",
                     [POINTER(vlm_tokenizer), c_char_p, c_size_t, c_uint32, POINTER(c_int32),
                      c_size_t, POINTER(c_size_t)],
                     vlm_status)

# enum { VLM_DETOKENIZE_SKIP_SPECIAL = 1u << 0 };
VLM_DETOKENIZE_SKIP_SPECIAL = 1 << 0

# VLM_API vlm_status vlm_detokenize(const vlm_tokenizer *tokenizer,
#                                   const int32_t *ids, size_t n_ids,
#                                   uint32_t flags, char *buf, size_t buf_size,
#                                   size_t *out_len);
vlm_detokenize = _bind("vlm_detokenize",
                       [POINTER(vlm_tokenizer), POINTER(c_int32), c_size_t, c_uint32, c_char_p,
                        c_size_t, POINTER(c_size_t)],
                       vlm_status)
# VLM_API vlm_status vlm_token_to_piece(const vlm_tokenizer *tokenizer,
#                                       int32_t id, char *buf, size_t buf_size,
#                                       size_t *out_len);
vlm_token_to_piece = _bind("vlm_token_to_piece",
                           [POINTER(vlm_tokenizer), c_int32, c_char_p, c_size_t, POINTER(c_size_t)],
                           vlm_status)
# VLM_API int32_t vlm_token_lookup(const vlm_tokenizer *tokenizer,
#                                  const char *text);
vlm_token_lookup = _bind("vlm_token_lookup", [POINTER(vlm_tokenizer), c_char_p], c_int32)


# typedef struct vlm_detokenizer vlm_detokenizer;
class vlm_detokenizer(Structure):
    pass


# VLM_API vlm_status vlm_detokenizer_create(const vlm_tokenizer *tokenizer,
#                                           uint32_t flags,
#                                           vlm_detokenizer **out);
vlm_detokenizer_create = _bind("vlm_detokenizer_create",
                               [POINTER(vlm_tokenizer), c_uint32, POINTER(POINTER(vlm_detokenizer))],
                               vlm_status)
# VLM_API vlm_status vlm_detokenizer_push(vlm_detokenizer *detok, int32_t id,
#                                         char *buf, size_t buf_size,
#                                         size_t *out_len);
vlm_detokenizer_push = _bind("vlm_detokenizer_push",
                             [POINTER(vlm_detokenizer), c_int32, c_char_p, c_size_t,
                              POINTER(c_size_t)],
                             vlm_status)
# VLM_API vlm_status vlm_detokenizer_flush(vlm_detokenizer *detok, char *buf,
#                                          size_t buf_size, size_t *out_len);
vlm_detokenizer_flush = _bind("vlm_detokenizer_flush",
                              [POINTER(vlm_detokenizer), c_char_p, c_size_t, POINTER(c_size_t)],
                              vlm_status)
# VLM_API void vlm_detokenizer_free(vlm_detokenizer *detok);
vlm_detokenizer_free = _bind("vlm_detokenizer_free", [POINTER(vlm_detokenizer)], None)

# ---- sessions and generation -----------------------------------------------


# typedef struct vlm_session vlm_session;
class vlm_session(Structure):
    pass


# typedef struct vlm_session_params {
#     size_t  struct_size;
#     int32_t n_ctx;
#     int32_t n_threads;
#     int32_t max_image_tiles;
#     vlm_progress_fn progress;
#     void   *progress_user_data;
#     int32_t pan_and_scan;
#     int64_t min_image_pixels;
#     int64_t max_image_pixels;
#     int32_t kv_cache_type;
# } vlm_session_params;
class vlm_session_params(Structure):
    _fields_ = [
        ("struct_size", c_size_t),
        ("n_ctx", c_int32),
        ("n_threads", c_int32),
        ("max_image_tiles", c_int32),
        ("progress", vlm_progress_fn),
        ("progress_user_data", c_void_p),
        ("pan_and_scan", c_int32),
        ("min_image_pixels", c_int64),
        ("max_image_pixels", c_int64),
        ("kv_cache_type", c_int32),
    ]


# VLM_API void vlm_session_params_init(vlm_session_params *params,
#                                 size_t struct_size);
vlm_session_params_init = _bind("vlm_session_params_init",
                               [POINTER(vlm_session_params), c_size_t], None)
# VLM_API vlm_status vlm_session_create(vlm_model *model,
#                                       const vlm_session_params *params,
#                                       vlm_session **out);
vlm_session_create = _bind("vlm_session_create",
                           [POINTER(vlm_model), POINTER(vlm_session_params),
                            POINTER(POINTER(vlm_session))],
                           vlm_status)
# VLM_API void vlm_session_free(vlm_session *session);
vlm_session_free = _bind("vlm_session_free", [POINTER(vlm_session)], None)

# typedef enum vlm_role { ... } vlm_role;
vlm_role = c_int
VLM_ROLE_SYSTEM = 0
VLM_ROLE_USER = 1
VLM_ROLE_ASSISTANT = 2

# VLM_API vlm_status vlm_session_add_turn(vlm_session *session, vlm_role role,
#                                         const char *text,
#                                         vlm_image *const *images,
#                                         size_t n_images);
vlm_session_add_turn = _bind("vlm_session_add_turn",
                             [POINTER(vlm_session), vlm_role, c_char_p,
                              POINTER(POINTER(vlm_image)), c_size_t],
                             vlm_status)

# typedef bool (*vlm_token_fn)(int32_t token, const char *piece,
#                              size_t piece_len, void *user_data);
# (piece as POINTER(c_char): it is length-delimited, c_char_p would stop at a NUL)
vlm_token_fn = CFUNCTYPE(c_bool, c_int32, POINTER(c_char), c_size_t, c_void_p)


# typedef struct vlm_generate_params {
#     size_t       struct_size;
#     int32_t      max_tokens;
#     float        temperature;
#     int32_t      top_k;
#     float        top_p;
#     float        min_p;
#     float        repeat_penalty;
#     uint64_t     seed;
#     vlm_token_fn on_token;
#     void        *user_data;
#     const char *const *stop_strings;
#     size_t       n_stop_strings;
# } vlm_generate_params;
class vlm_generate_params(Structure):
    _fields_ = [
        ("struct_size", c_size_t),
        ("max_tokens", c_int32),
        ("temperature", c_float),
        ("top_k", c_int32),
        ("top_p", c_float),
        ("min_p", c_float),
        ("repeat_penalty", c_float),
        ("seed", c_uint64),
        ("on_token", vlm_token_fn),
        ("user_data", c_void_p),
        ("stop_strings", POINTER(c_char_p)),
        ("n_stop_strings", c_size_t),
    ]


# VLM_API void vlm_generate_params_init(vlm_generate_params *params,
#                                 size_t struct_size);
vlm_generate_params_init = _bind("vlm_generate_params_init",
                                [POINTER(vlm_generate_params), c_size_t], None)
# VLM_API vlm_status vlm_session_generate(vlm_session *session,
#                                         const vlm_generate_params *params);
vlm_session_generate = _bind("vlm_session_generate",
                             [POINTER(vlm_session), POINTER(vlm_generate_params)], vlm_status)


# typedef struct vlm_image_plan {
#     size_t   struct_size;
#     uint32_t n_frames;
#     uint32_t rows, cols;
#     uint32_t frame_width;
#     uint32_t frame_height;
#     uint32_t n_image_tokens;
#     uint64_t work_bytes;
#     uint64_t feature_bytes;
# } vlm_image_plan;
class vlm_image_plan(Structure):
    _fields_ = [
        ("struct_size", c_size_t),
        ("n_frames", c_uint32),
        ("rows", c_uint32),
        ("cols", c_uint32),
        ("frame_width", c_uint32),
        ("frame_height", c_uint32),
        ("n_image_tokens", c_uint32),
        ("work_bytes", c_uint64),
        ("feature_bytes", c_uint64),
    ]


# VLM_API vlm_status vlm_session_plan_image(const vlm_session *session, uint32_t width,
#                                           uint32_t height, vlm_image_plan *plan);
vlm_session_plan_image = _bind("vlm_session_plan_image",
                               [POINTER(vlm_session), c_uint32, c_uint32, POINTER(vlm_image_plan)],
                               vlm_status)


# ---- image safety (ShieldGemma 2) ----

# typedef enum vlm_safety_policy { ... } vlm_safety_policy;
vlm_safety_policy = c_int
VLM_SAFETY_DANGEROUS = 0
VLM_SAFETY_SEXUAL = 1
VLM_SAFETY_VIOLENCE = 2
VLM_SAFETY_CUSTOM = 3

# VLM_API vlm_status vlm_session_safety_score(vlm_session *session, const vlm_image *image,
#                                             vlm_safety_policy policy,
#                                             const char *policy_text, float *probability);
vlm_session_safety_score = _bind("vlm_session_safety_score",
                                 [POINTER(vlm_session), POINTER(vlm_image), vlm_safety_policy,
                                  c_char_p, POINTER(c_float)],
                                 vlm_status)


# typedef struct vlm_timings {
#     size_t  struct_size;
#     double  load_ms;
#     double  preprocess_ms;
#     double  encode_ms;
#     double  prefill_ms;
#     double  decode_ms;
#     int32_t n_prompt_tokens;
#     int32_t n_prefill_tokens;
#     int32_t n_image_tokens;
#     int32_t n_generated_tokens;
#     double  prefill_tokens_per_s;
#     double  decode_tokens_per_s;
#     int32_t n_cached_images;
# } vlm_timings;
class vlm_timings(Structure):
    _fields_ = [
        ("struct_size", c_size_t),
        ("load_ms", c_double),
        ("preprocess_ms", c_double),
        ("encode_ms", c_double),
        ("prefill_ms", c_double),
        ("decode_ms", c_double),
        ("n_prompt_tokens", c_int32),
        ("n_prefill_tokens", c_int32),
        ("n_image_tokens", c_int32),
        ("n_generated_tokens", c_int32),
        ("prefill_tokens_per_s", c_double),
        ("decode_tokens_per_s", c_double),
        ("n_cached_images", c_int32),
    ]


# VLM_API vlm_status vlm_session_timings(const vlm_session *session, vlm_timings *timings);
vlm_session_timings = _bind("vlm_session_timings",
                            [POINTER(vlm_session), POINTER(vlm_timings)], vlm_status)
# VLM_API vlm_status vlm_session_prompt_tokens(const vlm_session *session, int32_t *ids,
#                                              size_t capacity, size_t *n_ids);
vlm_session_prompt_tokens = _bind("vlm_session_prompt_tokens",
                                  [POINTER(vlm_session), POINTER(c_int32), c_size_t,
                                   POINTER(c_size_t)],
                                  vlm_status)
# VLM_API vlm_status vlm_session_prompt_logits(const vlm_session *session, float *logits,
#                                              size_t capacity, size_t *n_logits);
vlm_session_prompt_logits = _bind("vlm_session_prompt_logits",
                                  [POINTER(vlm_session), POINTER(c_float), c_size_t,
                                   POINTER(c_size_t)],
                                  vlm_status)



def new_params(struct_type, init_function):
    """A params struct filled with the library's defaults; the library writes
    only the sizeof(struct_type) bytes we know of."""
    params = struct_type()
    init_function(ctypes.byref(params), ctypes.sizeof(struct_type))
    return params


# VLM_API vlm_status vlm_session_image_pixel_values(const vlm_session *session,
#                                                   const vlm_image *image, float *pixel_values,
#                                                   size_t capacity, size_t *n_values);
vlm_session_image_pixel_values = _bind("vlm_session_image_pixel_values",
                                       [POINTER(vlm_session), POINTER(vlm_image),
                                        POINTER(c_float), c_size_t, POINTER(c_size_t)],
                                       vlm_status)
# VLM_API vlm_status vlm_session_add_video_turn(vlm_session *session, vlm_role role,
#                                               const char *text, vlm_image *const *frames,
#                                               const double *timestamps_s, size_t n_frames,
#                                               double duration_s);
vlm_session_add_video_turn = _bind("vlm_session_add_video_turn",
                                   [POINTER(vlm_session), vlm_role, c_char_p,
                                    POINTER(POINTER(vlm_image)), POINTER(c_double), c_size_t,
                                    c_double],
                                   vlm_status)
# VLM_API vlm_status vlm_session_video_frames(const vlm_session *session, uint32_t total_frames,
#                                             double video_fps, double fps, uint32_t max_frames,
#                                             uint32_t *indices, size_t capacity,
#                                             size_t *n_indices);
vlm_session_video_frames = _bind("vlm_session_video_frames",
                                 [POINTER(vlm_session), c_uint32, c_double, c_double, c_uint32,
                                  POINTER(c_uint32), c_size_t, POINTER(c_size_t)],
                                 vlm_status)


# ---- grounding: boxes and points as data ----

# typedef enum vlm_grounding_kind { ... } vlm_grounding_kind;
vlm_grounding_kind = c_int
VLM_GROUNDING_BOX = 0
VLM_GROUNDING_POINT = 1
VLM_GROUNDING_REJECTED = 2
# typedef enum vlm_grounding_reason { ... } vlm_grounding_reason;
vlm_grounding_reason = c_int
VLM_GROUNDING_OK = 0
VLM_GROUNDING_NO_COORDINATES = 1
VLM_GROUNDING_WRONG_ARITY = 2
VLM_GROUNDING_NOT_A_NUMBER = 3
VLM_GROUNDING_TRUNCATED = 4
VLM_GROUNDING_NOT_AN_OBJECT = 5
VLM_GROUNDING_TOO_DEEP = 6
VLM_GROUNDING_LABEL_MAX = 64


# typedef struct vlm_grounding_item { ... } vlm_grounding_item;
class vlm_grounding_item(Structure):
    _fields_ = [
        ("kind", c_int32),
        ("reason", c_int32),
        ("x1", c_float),
        ("y1", c_float),
        ("x2", c_float),
        ("y2", c_float),
        ("offset", c_size_t),
        ("label", c_char * VLM_GROUNDING_LABEL_MAX),
    ]


# VLM_API vlm_status vlm_parse_grounding(const char *answer, size_t answer_len,
#                                        uint32_t image_width, uint32_t image_height,
#                                        uint32_t resized_width, uint32_t resized_height,
#                                        vlm_grounding_item *items, size_t item_size,
#                                        size_t capacity, size_t *n_items, size_t *n_rejected);
vlm_parse_grounding = _bind("vlm_parse_grounding",
                            [c_char_p, c_size_t, c_uint32, c_uint32, c_uint32, c_uint32,
                             POINTER(vlm_grounding_item), c_size_t, c_size_t, POINTER(c_size_t),
                             POINTER(c_size_t)],
                            vlm_status)


def library_struct_size(struct_type, init_function):
    """The library's sizeof(struct_type): how many bytes its *_params_init
    writes when told the caller's struct is larger (found with two fill
    patterns, so a default equal to one fill byte cannot hide)."""
    written = 0
    for fill in (0xAB, 0xCD):
        scratch = (c_uint8 * 4096)(*([fill] * 4096))
        init_function(ctypes.cast(scratch, POINTER(struct_type)), 4096)
        changed = [i for i in range(4096) if scratch[i] != fill]
        written = max(written, changed[-1] + 1 if changed else 0)
    return written


# Every function bound above, by C name (the ABI test walks this).
FUNCTIONS = {name: obj for name, obj in list(globals().items())
             if name.startswith("vlm_") and isinstance(obj, ctypes._CFuncPtr)}
# Every struct mirrored above, by C name.
STRUCTS = {"vlm_image_params": vlm_image_params, "vlm_model_params": vlm_model_params,
           "vlm_tensor_info": vlm_tensor_info, "vlm_session_params": vlm_session_params,
           "vlm_generate_params": vlm_generate_params, "vlm_image_plan": vlm_image_plan,
           "vlm_timings": vlm_timings, "vlm_grounding_item": vlm_grounding_item}
# Opaque handle types and callback types, by C name.
OPAQUE = {"vlm_image": vlm_image, "vlm_model": vlm_model, "vlm_tokenizer": vlm_tokenizer,
          "vlm_detokenizer": vlm_detokenizer, "vlm_session": vlm_session}
CALLBACKS = {"vlm_log_fn": vlm_log_fn, "vlm_progress_fn": vlm_progress_fn,
             "vlm_token_fn": vlm_token_fn}
ENUMS = {"vlm_status": vlm_status, "vlm_log_level": vlm_log_level,
         "vlm_pixel_format": vlm_pixel_format, "vlm_image_format": vlm_image_format,
         "vlm_resample": vlm_resample, "vlm_dtype": vlm_dtype, "vlm_role": vlm_role,
         "vlm_grounding_kind": vlm_grounding_kind, "vlm_grounding_reason": vlm_grounding_reason,
         "vlm_safety_policy": vlm_safety_policy}
