/* Typed getters over cJSON for the hub's JSON files, with errors that name the
 * file and the full key path ("config.json: text_config.hidden_size: expected
 * an integer, got a string").
 *
 * Conventions shared by every getter:
 * - obj is the object to look in (NULL behaves as an empty object); key is
 *   looked up case-sensitively and, as Python's json module does, the LAST of
 *   duplicate keys wins.
 * - A key that is absent or null is "missing": with required false the getter
 *   returns VLM_OK and leaves *out untouched (so the caller pre-fills the
 *   default); with required true it fails with VLM_ERR_FORMAT
 *   "<file>: <prefix>.<key> missing".
 * - prefix is the dotted path of obj inside the file ("" or NULL for the
 *   root), used only in messages. */
#ifndef VLM_IO_JSON_UTIL_H
#define VLM_IO_JSON_UTIL_H

#include "vlm-impl.h"

#include <cjson/cJSON.h>
#include <stdbool.h>

/* Largest JSON file any hub-config parser accepts (VLM_ERR_LIMIT above). */
#define VLMI_JSON_MAX_FILE_SIZE ((size_t)16 << 20)

/* Parses size bytes (need not be NUL-terminated) as one JSON document whose
 * root must be an object. Rejects, with the file name and line:column,
 * invalid UTF-8, NUL bytes, trailing data, truncation and bad syntax. A UTF-8
 * byte-order mark is skipped. Caller owns *out (cJSON_Delete). */
vlm_status vlmi_json_parse_object(const char *data, size_t size, const char *file,
                                  cJSON **out);

/* Length of the valid UTF-8 prefix of text (strict: no overlong forms, no
 * surrogates, nothing above U+10FFFF), as Python's utf-8 codec decodes;
 * == n when all of it is valid. */
size_t vlmi_utf8_valid_prefix(const char *text, size_t n);

/* The member named key (last duplicate wins), or NULL if absent or null. */
const cJSON *vlmi_json_find(const cJSON *obj, const char *key);

/* "an object", "a string", "an integer", "a number", "a boolean", "null", ... */
const char *vlmi_json_type_name(const cJSON *item);

/* Writes "prefix.key" (or "key" when prefix is empty) into buf. */
void vlmi_json_path(char *buf, size_t buf_size, const char *prefix, const char *key);

/* Failure helpers: "<file>: <path> missing" and
 * "<file>: <path>: expected <expected>, got <type of item>". */
vlm_status vlmi_json_fail_missing(const char *file, const char *prefix, const char *key);
vlm_status vlmi_json_fail_type(const char *file, const char *prefix, const char *key,
                               const char *expected, const cJSON *item);

/* An integral JSON number in [-2^53, 2^53] (the range a double holds exactly;
 * 8.0 is accepted as 8, 8.5 is not). */
vlm_status vlmi_json_get_int(const cJSON *obj, const char *key, const char *file,
                             const char *prefix, int64_t *out, bool required);
/* A finite JSON number. */
vlm_status vlmi_json_get_double(const cJSON *obj, const char *key, const char *file,
                                const char *prefix, double *out, bool required);
vlm_status vlmi_json_get_bool(const cJSON *obj, const char *key, const char *file,
                              const char *prefix, bool *out, bool required);
/* A string copied into buf; longer than buf_size - 1 bytes is VLM_ERR_FORMAT
 * (these are identifiers such as model_type, never free text). */
vlm_status vlmi_json_get_name(const cJSON *obj, const char *key, const char *file,
                              const char *prefix, char *buf, size_t buf_size,
                              bool required);
/* A string duplicated into *out (malloc'd; a previous *out is freed first). */
vlm_status vlmi_json_get_string(const cJSON *obj, const char *key, const char *file,
                                const char *prefix, char **out, bool required);
/* An object member; *out is NULL when absent and not required. */
vlm_status vlmi_json_get_object(const cJSON *obj, const char *key, const char *file,
                                const char *prefix, const cJSON **out, bool required);

/* An array of integers (or, with allow_scalar, a single integer taken as a
 * one-element list, the form HF uses for eos_token_id). More than capacity
 * elements is VLM_ERR_LIMIT. *count is set only when the key is present. */
vlm_status vlmi_json_get_int_list(const cJSON *obj, const char *key, const char *file,
                                  const char *prefix, int64_t *out, size_t capacity,
                                  size_t *count, bool allow_scalar, bool required);
/* The same for finite numbers (image_mean, image_std). */
vlm_status vlmi_json_get_double_list(const cJSON *obj, const char *key, const char *file,
                                     const char *prefix, double *out, size_t capacity,
                                     size_t *count, bool allow_scalar, bool required);

#endif
