/* Typed getters over cJSON that report the file and key path of every failure. */
#include "io/json_util.h"

#include <math.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

/* 2^53: beyond it a double no longer holds every integer, so a JSON integer
 * there may already have been rounded by the parser. */
#define VLMI_JSON_MAX_EXACT_INT 9007199254740992.0

// ---- parsing ----

size_t vlmi_utf8_valid_prefix(const char *text, size_t n) {
    const unsigned char *s = (const unsigned char *)text;
    size_t i = 0;
    while (i < n) {
        unsigned char c = s[i];
        if (c < 0x80) { i++; continue; }
        size_t len;
        unsigned char lo = 0x80, hi = 0xBF;
        if (c >= 0xC2 && c <= 0xDF) len = 2;
        else if (c >= 0xE0 && c <= 0xEF) {
            len = 3;
            if (c == 0xE0) lo = 0xA0;
            if (c == 0xED) hi = 0x9F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            len = 4;
            if (c == 0xF0) lo = 0x90;
            if (c == 0xF4) hi = 0x8F;
        } else {
            return i;
        }
        if (n - i < len) return i;
        if (s[i + 1] < lo || s[i + 1] > hi) return i;
        for (size_t k = 2; k < len; k++)
            if (s[i + k] < 0x80 || s[i + k] > 0xBF) return i;
        i += len;
    }
    return n;
}

static void line_column(const char *data, size_t offset, size_t *line, size_t *column) {
    *line = 1;
    *column = 1;
    for (size_t i = 0; i < offset; i++) {
        if (data[i] == '\n') { (*line)++; *column = 1; }
        else (*column)++;
    }
}

vlm_status vlmi_json_parse_object(const char *data, size_t size, const char *file,
                                  cJSON **out) {
    if (out == NULL) return vlmi_fail(VLM_ERR_INVALID_ARGUMENT, "json parse: out is NULL");
    *out = NULL;
    if (file == NULL) file = "(json)";
    if (data == NULL && size != 0)
        return vlmi_fail(VLM_ERR_INVALID_ARGUMENT, "%s: data is NULL", file);
    if (size > VLMI_JSON_MAX_FILE_SIZE)
        return vlmi_fail(VLM_ERR_LIMIT, "%s: %zu bytes, more than the %zu allowed", file,
                         size, VLMI_JSON_MAX_FILE_SIZE);
    if (size >= 3 && memcmp(data, "\xEF\xBB\xBF", 3) == 0) { data += 3; size -= 3; }

    size_t valid = vlmi_utf8_valid_prefix(data, size);
    if (valid != size) {
        size_t line, column;
        line_column(data, valid, &line, &column);
        return vlmi_fail(VLM_ERR_FORMAT, "%s:%zu:%zu: not valid UTF-8", file, line, column);
    }
    const char *nul = size ? memchr(data, '\0', size) : NULL;
    if (nul != NULL) {
        size_t line, column;
        line_column(data, (size_t)(nul - data), &line, &column);
        return vlmi_fail(VLM_ERR_FORMAT, "%s:%zu:%zu: NUL byte in JSON text", file, line,
                         column);
    }

    /* cJSON wants the terminating NUL inside the length to reject trailing
     * data, and fuzzer input has none, so parse a terminated copy. */
    char *text = vlmi_malloc(size + 1);
    if (text == NULL) return VLM_ERR_OUT_OF_MEMORY;
    if (size) memcpy(text, data, size);
    text[size] = '\0';
    const char *error_at = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(text, size + 1, &error_at, 1);
    if (root == NULL) {
        size_t offset = size;
        if (error_at != NULL && error_at >= text && error_at <= text + size)
            offset = (size_t)(error_at - text);
        size_t line, column;
        line_column(text, offset, &line, &column);
        free(text);
        if (offset >= size)
            return vlmi_fail(VLM_ERR_FORMAT, "%s:%zu:%zu: unexpected end of JSON (truncated?)",
                             file, line, column);
        return vlmi_fail(VLM_ERR_FORMAT, "%s:%zu:%zu: invalid JSON", file, line, column);
    }
    free(text);
    if (!cJSON_IsObject(root)) {
        vlm_status st = vlmi_fail(VLM_ERR_FORMAT, "%s: expected a JSON object at the top, got %s",
                                  file, vlmi_json_type_name(root));
        cJSON_Delete(root);
        return st;
    }
    *out = root;
    return VLM_OK;
}

// ---- lookup and messages ----

const cJSON *vlmi_json_find(const cJSON *obj, const char *key) {
    if (obj == NULL || !cJSON_IsObject(obj) || key == NULL) return NULL;
    const cJSON *found = NULL;
    for (const cJSON *child = obj->child; child != NULL; child = child->next)
        if (child->string != NULL && strcmp(child->string, key) == 0) found = child;
    if (found != NULL && cJSON_IsNull(found)) return NULL;
    return found;
}

const char *vlmi_json_type_name(const cJSON *item) {
    if (item == NULL || cJSON_IsNull(item)) return "null";
    if (cJSON_IsBool(item)) return "a boolean";
    if (cJSON_IsString(item)) return "a string";
    if (cJSON_IsArray(item)) return "an array";
    if (cJSON_IsObject(item)) return "an object";
    if (cJSON_IsNumber(item)) {
        double v = item->valuedouble;
        return (isfinite(v) && v == floor(v)) ? "an integer" : "a number";
    }
    return "an invalid value";
}

void vlmi_json_path(char *buf, size_t buf_size, const char *prefix, const char *key) {
    if (buf_size == 0) return;
    if (prefix == NULL || prefix[0] == '\0') snprintf(buf, buf_size, "%s", key);
    else snprintf(buf, buf_size, "%s.%s", prefix, key);
}

vlm_status vlmi_json_fail_missing(const char *file, const char *prefix, const char *key) {
    char path[256];
    vlmi_json_path(path, sizeof path, prefix, key);
    return vlmi_fail(VLM_ERR_FORMAT, "%s: %s missing", file, path);
}

vlm_status vlmi_json_fail_type(const char *file, const char *prefix, const char *key,
                               const char *expected, const cJSON *item) {
    char path[256];
    vlmi_json_path(path, sizeof path, prefix, key);
    return vlmi_fail(VLM_ERR_FORMAT, "%s: %s: expected %s, got %s", file, path, expected,
                     vlmi_json_type_name(item));
}

// ---- scalar getters ----

/* Checks one array element or member value; path_key names it in messages. */
static vlm_status int_from_item(const cJSON *item, const char *file, const char *prefix,
                                const char *path_key, int64_t *out) {
    if (!cJSON_IsNumber(item) || !isfinite(item->valuedouble) ||
        item->valuedouble != floor(item->valuedouble))
        return vlmi_json_fail_type(file, prefix, path_key, "an integer", item);
    double v = item->valuedouble;
    if (v > VLMI_JSON_MAX_EXACT_INT || v < -VLMI_JSON_MAX_EXACT_INT) {
        char path[256];
        vlmi_json_path(path, sizeof path, prefix, path_key);
        return vlmi_fail(VLM_ERR_FORMAT, "%s: %s: integer %.17g out of range", file, path, v);
    }
    *out = (int64_t)v;
    return VLM_OK;
}

static vlm_status double_from_item(const cJSON *item, const char *file, const char *prefix,
                                   const char *path_key, double *out) {
    if (!cJSON_IsNumber(item) || !isfinite(item->valuedouble))
        return vlmi_json_fail_type(file, prefix, path_key, "a number", item);
    *out = item->valuedouble;
    return VLM_OK;
}

vlm_status vlmi_json_get_int(const cJSON *obj, const char *key, const char *file,
                             const char *prefix, int64_t *out, bool required) {
    const cJSON *item = vlmi_json_find(obj, key);
    if (item == NULL)
        return required ? vlmi_json_fail_missing(file, prefix, key) : VLM_OK;
    return int_from_item(item, file, prefix, key, out);
}

vlm_status vlmi_json_get_double(const cJSON *obj, const char *key, const char *file,
                                const char *prefix, double *out, bool required) {
    const cJSON *item = vlmi_json_find(obj, key);
    if (item == NULL)
        return required ? vlmi_json_fail_missing(file, prefix, key) : VLM_OK;
    return double_from_item(item, file, prefix, key, out);
}

vlm_status vlmi_json_get_bool(const cJSON *obj, const char *key, const char *file,
                              const char *prefix, bool *out, bool required) {
    const cJSON *item = vlmi_json_find(obj, key);
    if (item == NULL)
        return required ? vlmi_json_fail_missing(file, prefix, key) : VLM_OK;
    if (!cJSON_IsBool(item)) return vlmi_json_fail_type(file, prefix, key, "a boolean", item);
    *out = cJSON_IsTrue(item);
    return VLM_OK;
}

vlm_status vlmi_json_get_name(const cJSON *obj, const char *key, const char *file,
                              const char *prefix, char *buf, size_t buf_size,
                              bool required) {
    const cJSON *item = vlmi_json_find(obj, key);
    if (item == NULL)
        return required ? vlmi_json_fail_missing(file, prefix, key) : VLM_OK;
    if (!cJSON_IsString(item) || item->valuestring == NULL)
        return vlmi_json_fail_type(file, prefix, key, "a string", item);
    size_t n = strlen(item->valuestring);
    if (n >= buf_size) {
        char path[256];
        vlmi_json_path(path, sizeof path, prefix, key);
        return vlmi_fail(VLM_ERR_FORMAT, "%s: %s: name of %zu bytes, longer than %zu", file,
                         path, n, buf_size - 1);
    }
    memcpy(buf, item->valuestring, n + 1);
    return VLM_OK;
}

vlm_status vlmi_json_get_string(const cJSON *obj, const char *key, const char *file,
                                const char *prefix, char **out, bool required) {
    const cJSON *item = vlmi_json_find(obj, key);
    if (item == NULL)
        return required ? vlmi_json_fail_missing(file, prefix, key) : VLM_OK;
    if (!cJSON_IsString(item) || item->valuestring == NULL)
        return vlmi_json_fail_type(file, prefix, key, "a string", item);
    char *copy = vlmi_strdup(item->valuestring);
    if (copy == NULL) return VLM_ERR_OUT_OF_MEMORY;
    free(*out);
    *out = copy;
    return VLM_OK;
}

vlm_status vlmi_json_get_object(const cJSON *obj, const char *key, const char *file,
                                const char *prefix, const cJSON **out, bool required) {
    *out = NULL;
    const cJSON *item = vlmi_json_find(obj, key);
    if (item == NULL)
        return required ? vlmi_json_fail_missing(file, prefix, key) : VLM_OK;
    if (!cJSON_IsObject(item)) return vlmi_json_fail_type(file, prefix, key, "an object", item);
    *out = item;
    return VLM_OK;
}

// ---- list getters ----

/* Shared walk of an int or double list; exactly one of ints/doubles is set. */
static vlm_status get_list(const cJSON *obj, const char *key, const char *file,
                           const char *prefix, int64_t *ints, double *doubles,
                           size_t capacity, size_t *count, bool allow_scalar, bool required) {
    const cJSON *item = vlmi_json_find(obj, key);
    if (item == NULL)
        return required ? vlmi_json_fail_missing(file, prefix, key) : VLM_OK;
    const char *expected = ints ? (allow_scalar ? "an integer or a list of integers"
                                                : "a list of integers")
                                : (allow_scalar ? "a number or a list of numbers"
                                                : "a list of numbers");
    if (cJSON_IsNumber(item) && allow_scalar) {
        if (capacity == 0) return vlmi_fail(VLM_ERR_LIMIT, "%s: %s: no room", file, key);
        vlm_status st = ints ? int_from_item(item, file, prefix, key, &ints[0])
                             : double_from_item(item, file, prefix, key, &doubles[0]);
        if (st != VLM_OK) return st;
        *count = 1;
        return VLM_OK;
    }
    if (!cJSON_IsArray(item)) return vlmi_json_fail_type(file, prefix, key, expected, item);
    size_t n = 0;
    for (const cJSON *e = item->child; e != NULL; e = e->next, n++) {
        char element[96];
        snprintf(element, sizeof element, "%s[%zu]", key, n);
        if (n >= capacity) {
            char path[256];
            vlmi_json_path(path, sizeof path, prefix, key);
            return vlmi_fail(VLM_ERR_LIMIT, "%s: %s: more than %zu elements", file, path,
                             capacity);
        }
        vlm_status st = ints ? int_from_item(e, file, prefix, element, &ints[n])
                             : double_from_item(e, file, prefix, element, &doubles[n]);
        if (st != VLM_OK) return st;
    }
    *count = n;
    return VLM_OK;
}

vlm_status vlmi_json_get_int_list(const cJSON *obj, const char *key, const char *file,
                                  const char *prefix, int64_t *out, size_t capacity,
                                  size_t *count, bool allow_scalar, bool required) {
    return get_list(obj, key, file, prefix, out, NULL, capacity, count, allow_scalar, required);
}

vlm_status vlmi_json_get_double_list(const cJSON *obj, const char *key, const char *file,
                                     const char *prefix, double *out, size_t capacity,
                                     size_t *count, bool allow_scalar, bool required) {
    return get_list(obj, key, file, prefix, NULL, out, capacity, count, allow_scalar, required);
}
