/* Grounding answers (Qwen2.5-VL "bbox_2d" / "point_2d" JSON) as items in the
 * original image's pixels. Not a JSON parser: a forgiving reader that finds
 * objects wherever they are and takes from each what it can, because model
 * output is JSON only most of the time (fences, trailing commas, Python
 * quotes, answers cut off at max_tokens). No allocation; recursion bounded
 * by VLMI_GROUNDING_MAX_DEPTH; every loop advances or ends. */
#include "generate/grounding.h"
#include "io/json_util.h"

#include <math.h>
#include <stddef.h>
#include <string.h>

// ---- reading ----

typedef struct reader {
    const char *s;
    size_t pos, end;
    const vlmi_grounding_frame *frame;
    vlmi_grounding_emit_fn emit;
    void *user_data;
} reader;

static bool at_end(const reader *r) { return r->pos >= r->end; }
static int peek(const reader *r) { return r->pos < r->end ? (unsigned char)r->s[r->pos] : -1; }

static bool is_space(int c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
static bool is_word(int c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_' || c == '-' || c == '+' || c == '.';
}

static void skip_space(reader *r) {
    while (!at_end(r) && is_space(peek(r))) r->pos++;
}

/* Bytes of the UTF-8 sequence led by b (the text is valid UTF-8). */
static size_t sequence_length(unsigned char b) {
    return b < 0x80 ? 1 : b < 0xE0 ? 2 : b < 0xF0 ? 3 : 4;
}

/* A NUL-terminated text of at most cap - 1 bytes that stops growing at the
 * first character that does not fit, so it is always cut at a boundary. */
typedef struct text_out {
    char *buf;
    size_t cap, len;
    bool full;
} text_out;

static void text_put(text_out *t, const char *bytes, size_t n) {
    if (t->buf == NULL || t->full) return;
    if (t->len + n >= t->cap) { t->full = true; return; }
    memcpy(t->buf + t->len, bytes, n);
    t->len += n;
    t->buf[t->len] = '\0';
}

static void text_put_code_point(text_out *t, uint32_t cp) {
    char b[4];
    size_t n;
    if (cp >= 0xD800 && cp <= 0xDFFF) cp = 0xFFFD; /* a lone surrogate */
    if (cp < 0x80) { b[0] = (char)cp; n = 1; }
    else if (cp < 0x800) { b[0] = (char)(0xC0 | cp >> 6); b[1] = (char)(0x80 | (cp & 0x3F)); n = 2; }
    else if (cp < 0x10000) {
        b[0] = (char)(0xE0 | cp >> 12); b[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        b[2] = (char)(0x80 | (cp & 0x3F)); n = 3;
    } else {
        b[0] = (char)(0xF0 | cp >> 18); b[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        b[2] = (char)(0x80 | ((cp >> 6) & 0x3F)); b[3] = (char)(0x80 | (cp & 0x3F)); n = 4;
    }
    text_put(t, b, n);
}

/* Four hex digits at r->pos, or -1 (nothing consumed). */
static long read_hex4(reader *r) {
    if (r->end - r->pos < 4) return -1;
    long v = 0;
    for (int i = 0; i < 4; i++) {
        int c = (unsigned char)r->s[r->pos + (size_t)i], d;
        if (c >= '0' && c <= '9') d = c - '0';
        else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
        else return -1;
        v = v * 16 + d;
    }
    r->pos += 4;
    return v;
}

/* A string quoted with the quote at r->pos (" or '), JSON escapes decoded,
 * into out (may have a NULL buf). Returns false if the text ends first. */
static bool read_string(reader *r, text_out *out) {
    int quote = peek(r);
    r->pos++;
    while (!at_end(r)) {
        unsigned char c = (unsigned char)r->s[r->pos];
        if (c == quote) { r->pos++; return true; }
        if (c != '\\') {
            size_t n = sequence_length(c);
            if (n > r->end - r->pos) n = r->end - r->pos;
            text_put(out, r->s + r->pos, n);
            r->pos += n;
            continue;
        }
        r->pos++;
        if (at_end(r)) return false;
        char e = r->s[r->pos++];
        switch (e) {
        case 'n': text_put(out, "\n", 1); break;
        case 't': text_put(out, "\t", 1); break;
        case 'r': text_put(out, "\r", 1); break;
        case 'b': text_put(out, "\b", 1); break;
        case 'f': text_put(out, "\f", 1); break;
        case 'u': {
            long cp = read_hex4(r);
            if (cp < 0) { text_put_code_point(out, 0xFFFD); break; }
            if (cp >= 0xD800 && cp <= 0xDBFF && r->end - r->pos >= 6 && r->s[r->pos] == '\\' &&
                r->s[r->pos + 1] == 'u') {
                size_t save = r->pos;
                r->pos += 2;
                long low = read_hex4(r);
                if (low >= 0xDC00 && low <= 0xDFFF) cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
                else r->pos = save;
            }
            text_put_code_point(out, (uint32_t)cp);
            break;
        }
        default: { /* \" \' \\ \/ and unknown escapes: the character itself */
            size_t n = sequence_length((unsigned char)e);
            r->pos--;
            if (n > r->end - r->pos) n = r->end - r->pos;
            text_put(out, r->s + r->pos, n);
            r->pos += n;
        }
        }
    }
    return false;
}

/* A number in C locale-free form ([+-] digits [. digits] [e[+-]digits]) at
 * s[0..n); returns the bytes it takes, 0 if none. */
static size_t parse_number(const char *s, size_t n, double *out) {
    size_t i = 0;
    bool negative = false;
    if (i < n && (s[i] == '+' || s[i] == '-')) negative = s[i++] == '-';
    double mantissa = 0.0;
    int digits = 0, fraction_digits = 0;
    while (i < n && s[i] >= '0' && s[i] <= '9') { mantissa = mantissa * 10.0 + (s[i++] - '0'); digits++; }
    if (i < n && s[i] == '.') {
        i++;
        while (i < n && s[i] >= '0' && s[i] <= '9') {
            mantissa = mantissa * 10.0 + (s[i++] - '0');
            digits++;
            fraction_digits++;
        }
    }
    if (digits == 0) return 0;
    long exponent = 0;
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        size_t j = i + 1;
        bool exp_negative = false;
        if (j < n && (s[j] == '+' || s[j] == '-')) exp_negative = s[j++] == '-';
        if (j < n && s[j] >= '0' && s[j] <= '9') {
            while (j < n && s[j] >= '0' && s[j] <= '9') {
                if (exponent < 100000) exponent = exponent * 10 + (s[j] - '0');
                j++;
            }
            if (exp_negative) exponent = -exponent;
            i = j;
        }
    }
    double value = mantissa * pow(10.0, (double)(exponent - fraction_digits));
    *out = negative ? -value : value;
    return i;
}

/* Skips a scalar: a quoted string, or bytes up to , } ] or a line end.
 * Advances at least one byte unless at one of those. */
static void skip_scalar(reader *r) {
    int c = peek(r);
    if (c == '"' || c == '\'') {
        text_out none = {0};
        read_string(r, &none);
        return;
    }
    while (!at_end(r)) {
        c = peek(r);
        if (c == ',' || c == '}' || c == ']' || c == '\n') return;
        r->pos++;
    }
}

/* Skips any value, nested ones by counting brackets (no recursion). */
static void skip_value(reader *r) {
    int c = peek(r);
    if (c != '{' && c != '[') { skip_scalar(r); return; }
    size_t depth = 0;
    while (!at_end(r)) {
        c = peek(r);
        if (c == '"' || c == '\'') { skip_scalar(r); continue; }
        r->pos++;
        if (c == '{' || c == '[') depth++;
        else if ((c == '}' || c == ']') && --depth == 0) return;
    }
}

// ---- coordinates ----

typedef struct coords {
    double v[4];
    int n;            /* numbers seen, also past 4 */
    bool not_number;  /* an element was not a finite number */
    bool truncated;   /* the text ended inside the list */
    bool too_deep;
} coords;

static void coords_add(coords *c, double x) {
    if (!isfinite(x)) { c->not_number = true; return; }
    if (c->n < 4) c->v[c->n] = x;
    if (c->n < 1000) c->n++;
}

/* The list at r->pos ('['), nested lists flattened ([[x1, y1], [x2, y2]]). */
static void read_coord_list(reader *r, coords *c, int depth) {
    r->pos++;
    for (;;) {
        skip_space(r);
        if (at_end(r)) { c->truncated = true; return; }
        size_t start = r->pos;
        int ch = peek(r);
        if (ch == ']') { r->pos++; return; }
        if (ch == '}') return; /* "[1, 2, 3, 4}": the object closes the list */
        if (ch == ',') { r->pos++; continue; }
        if (ch == '[') {
            if (depth >= VLMI_GROUNDING_MAX_DEPTH) { c->too_deep = true; skip_value(r); }
            else read_coord_list(r, c, depth + 1);
            if (c->truncated) return;
        } else if (ch == '"' || ch == '\'') {
            char buf[64];
            text_out t = {buf, sizeof buf, 0, false};
            buf[0] = '\0';
            if (!read_string(r, &t)) { c->truncated = true; return; }
            /* "123" or " 12.5 ": a number written as a string */
            size_t a = 0, b = t.len;
            while (a < b && is_space((unsigned char)buf[a])) a++;
            while (b > a && is_space((unsigned char)buf[b - 1])) b--;
            double x;
            if (!t.full && b > a && parse_number(buf + a, b - a, &x) == b - a) coords_add(c, x);
            else c->not_number = true;
        } else {
            double x;
            size_t n = parse_number(r->s + r->pos, r->end - r->pos, &x);
            if (n > 0 && (r->pos + n == r->end || !is_word((unsigned char)r->s[r->pos + n]))) {
                r->pos += n;
                coords_add(c, x);
            } else {
                c->not_number = true; /* null, NaN, {...}, "12px" */
                skip_value(r);
            }
        }
        if (r->pos == start) r->pos++; /* never stall */
    }
}

// ---- objects and items ----

static float clampf(double x, double hi) {
    return (float)(x < 0.0 ? 0.0 : x > hi ? hi : x);
}

static void emit_item(reader *r, int32_t kind, int32_t reason, const coords *c, size_t offset,
                      const char *label) {
    vlm_grounding_item item;
    memset(&item, 0, sizeof item);
    item.kind = kind;
    item.reason = reason;
    item.offset = offset;
    memcpy(item.label, label, strlen(label) + 1);
    const vlmi_grounding_frame *f = r->frame;
    if (kind == VLM_GROUNDING_BOX) {
        double ax = c->v[0] * f->scale_x, ay = c->v[1] * f->scale_y;
        double bx = c->v[2] * f->scale_x, by = c->v[3] * f->scale_y;
        item.x1 = clampf(ax < bx ? ax : bx, f->width);
        item.x2 = clampf(ax < bx ? bx : ax, f->width);
        item.y1 = clampf(ay < by ? ay : by, f->height);
        item.y2 = clampf(ay < by ? by : ay, f->height);
    } else if (kind == VLM_GROUNDING_POINT) {
        item.x1 = item.x2 = clampf(c->v[0] * f->scale_x, f->width);
        item.y1 = item.y2 = clampf(c->v[1] * f->scale_y, f->height);
    }
    r->emit(&item, r->user_data);
}

static void emit_reject(reader *r, int32_t reason, size_t offset, const char *label) {
    emit_item(r, VLM_GROUNDING_REJECTED, reason, NULL, offset, label);
}

/* Emits the coordinates under a bbox_2d or point_2d key as an item. */
static void emit_coords(reader *r, const coords *c, int32_t kind, int expected, size_t offset,
                        const char *label) {
    int32_t reason = c->too_deep ? VLM_GROUNDING_TOO_DEEP
                   : c->truncated ? VLM_GROUNDING_TRUNCATED
                   : c->not_number ? VLM_GROUNDING_NOT_A_NUMBER
                   : c->n != expected ? VLM_GROUNDING_WRONG_ARITY
                   : VLM_GROUNDING_OK;
    if (reason == VLM_GROUNDING_OK) emit_item(r, kind, reason, c, offset, label);
    else emit_reject(r, reason, offset, label);
}

enum key_kind { KEY_OTHER, KEY_BOX, KEY_POINT, KEY_LABEL };

static enum key_kind classify_key(const char *key) {
    if (strcmp(key, "bbox_2d") == 0 || strcmp(key, "bbox") == 0) return KEY_BOX;
    if (strcmp(key, "point_2d") == 0 || strcmp(key, "point") == 0) return KEY_POINT;
    if (strcmp(key, "label") == 0) return KEY_LABEL;
    return KEY_OTHER;
}

/* A bare (unquoted) label: up to , } ] or a line end, spaces trimmed. */
static void read_bare_label(reader *r, text_out *label) {
    size_t start = r->pos;
    skip_scalar(r);
    size_t a = start, b = r->pos;
    while (b > a && is_space((unsigned char)r->s[b - 1])) b--;
    while (a < b) {
        size_t n = sequence_length((unsigned char)r->s[a]);
        if (n > b - a) n = b - a;
        text_put(label, r->s + a, n);
        a += n;
    }
}

/* The object at r->pos ('{'): its items, or a rejection saying why not. */
static void read_object(reader *r) {
    size_t offset = r->pos;
    r->pos++;
    coords box = {0}, point = {0};
    bool has_box = false, has_point = false, closed = false;
    char label_buf[VLM_GROUNDING_LABEL_MAX] = "";
    for (;;) {
        skip_space(r);
        if (at_end(r)) break;
        size_t start = r->pos;
        int ch = peek(r);
        if (ch == '}') { r->pos++; closed = true; break; }
        if (ch == ']') break; /* the list closes first: a '}' is missing */
        if (ch == ',') { r->pos++; continue; }
        char key_buf[32] = "";
        text_out key = {key_buf, sizeof key_buf, 0, false};
        if (ch == '"' || ch == '\'') {
            if (!read_string(r, &key)) break;
        } else if (is_word(ch)) {
            while (!at_end(r) && is_word(peek(r))) {
                text_put(&key, r->s + r->pos, 1);
                r->pos++;
            }
        } else {
            r->pos++; /* stray byte between members */
            continue;
        }
        skip_space(r);
        if (peek(r) != ':') continue; /* a key without a value */
        r->pos++;
        skip_space(r);
        if (at_end(r)) break;
        ch = peek(r);
        switch (classify_key(key.full ? "" : key_buf)) {
        case KEY_BOX:
        case KEY_POINT: {
            bool is_box = classify_key(key_buf) == KEY_BOX;
            coords *c = is_box ? &box : &point;
            memset(c, 0, sizeof *c); /* the last duplicate key wins, as in JSON */
            if (is_box) has_box = true; else has_point = true;
            if (ch == '[') read_coord_list(r, c, 1);
            else { c->not_number = true; skip_value(r); }
            break;
        }
        case KEY_LABEL: {
            text_out label = {label_buf, sizeof label_buf, 0, false};
            label_buf[0] = '\0';
            if (ch == '"' || ch == '\'') read_string(r, &label);
            else if (ch == '{' || ch == '[') skip_value(r);
            else read_bare_label(r, &label);
            break;
        }
        default:
            skip_value(r);
        }
        if (r->pos == start) r->pos++;
    }
    if (!has_box && !has_point)
        emit_reject(r, closed ? VLM_GROUNDING_NO_COORDINATES : VLM_GROUNDING_TRUNCATED, offset,
                    label_buf);
    if (has_box) emit_coords(r, &box, VLM_GROUNDING_BOX, 4, offset, label_buf);
    if (has_point) emit_coords(r, &point, VLM_GROUNDING_POINT, 2, offset, label_buf);
}

static int next_non_space(const reader *r, size_t from) {
    while (from < r->end && is_space((unsigned char)r->s[from])) from++;
    return from < r->end ? (unsigned char)r->s[from] : -1;
}

/* A list at r->pos ('[') whose elements should be objects (or lists of them). */
static void read_item_list(reader *r, int depth) {
    r->pos++;
    for (;;) {
        skip_space(r);
        if (at_end(r)) return;
        size_t start = r->pos;
        int ch = peek(r);
        if (ch == ']') { r->pos++; return; }
        if (ch == ',' || ch == '}') { r->pos++; continue; }
        if (ch == '{') read_object(r);
        else if (ch == '[' && depth < VLMI_GROUNDING_MAX_DEPTH) read_item_list(r, depth + 1);
        else {
            skip_value(r);
            emit_reject(r, ch == '[' ? VLM_GROUNDING_TOO_DEEP : VLM_GROUNDING_NOT_AN_OBJECT, start, "");
        }
        if (r->pos == start) r->pos++;
    }
}

/* Prose with JSON somewhere in it: objects anywhere, and lists that start
 * with an object or a list (so "[1]" in a sentence is left alone). */
static void scan_region(reader *r) {
    while (!at_end(r)) {
        int ch = peek(r);
        if (ch == '{') read_object(r);
        else if (ch == '[' && (next_non_space(r, r->pos + 1) == '{' || next_non_space(r, r->pos + 1) == '['))
            read_item_list(r, 1);
        else r->pos++;
    }
}

static size_t find_fence(const char *s, size_t from, size_t len) {
    for (size_t i = from; i + 3 <= len; i++)
        if (s[i] == '`' && s[i + 1] == '`' && s[i + 2] == '`') return i;
    return SIZE_MAX;
}

void vlmi_grounding_scan(const char *text, size_t len, const vlmi_grounding_frame *frame,
                         vlmi_grounding_emit_fn emit, void *user_data) {
    reader r = {text, 0, len, frame, emit, user_data};
    size_t fence = find_fence(text, 0, len);
    if (fence == SIZE_MAX) { scan_region(&r); return; }
    /* fenced answers: only what is inside the fences (```json ... ```), the
     * last one possibly unclosed */
    while (fence != SIZE_MAX) {
        size_t start = fence + 3;
        while (start < len && text[start] != '\n' && text[start] != '{' && text[start] != '[') start++;
        size_t close = find_fence(text, start, len);
        r.pos = start;
        r.end = close == SIZE_MAX ? len : close;
        scan_region(&r);
        fence = close == SIZE_MAX ? SIZE_MAX : find_fence(text, close + 3, len);
    }
}

// ---- public entry point ----

typedef struct item_sink {
    vlm_grounding_item *items; /* NULL: count only */
    size_t item_size;
    size_t count, rejected;
} item_sink;

static void sink_item(const vlm_grounding_item *item, void *user_data) {
    item_sink *sink = user_data;
    if (sink->items != NULL) {
        size_t n = sink->item_size < sizeof *item ? sink->item_size : sizeof *item;
        memcpy((char *)sink->items + sink->count * sink->item_size, item, n);
    }
    sink->count++;
    if (item->kind == VLM_GROUNDING_REJECTED) sink->rejected++;
}

vlm_status vlm_parse_grounding(const char *answer, size_t answer_len, uint32_t image_width,
                               uint32_t image_height, uint32_t resized_width,
                               uint32_t resized_height, vlm_grounding_item *items,
                               size_t item_size, size_t capacity, size_t *n_items,
                               size_t *n_rejected) {
    vlmi_clear_error();
    if (n_items != NULL) *n_items = 0;
    if (n_rejected != NULL) *n_rejected = 0;
    if (n_items == NULL || (answer == NULL && answer_len > 0) || (items == NULL && capacity > 0))
        return vlmi_fail(VLM_ERR_INVALID_ARGUMENT, "vlm_parse_grounding: NULL argument");
    if (image_width == 0 || image_height == 0)
        return vlmi_fail(VLM_ERR_INVALID_ARGUMENT, "vlm_parse_grounding: image size %ux%u",
                         image_width, image_height);
    if (capacity > 0 && item_size < offsetof(vlm_grounding_item, offset))
        return vlmi_fail(VLM_ERR_INVALID_ARGUMENT,
                         "vlm_parse_grounding: item_size %zu is smaller than any vlm_grounding_item",
                         item_size);
    if (answer_len > VLMI_GROUNDING_MAX_ANSWER)
        return vlmi_fail(VLM_ERR_LIMIT, "vlm_parse_grounding: answer of %zu bytes exceeds %u",
                         answer_len, VLMI_GROUNDING_MAX_ANSWER);
    size_t valid = answer_len > 0 ? vlmi_utf8_valid_prefix(answer, answer_len) : 0;
    if (valid != answer_len)
        return vlmi_fail(VLM_ERR_INVALID_UTF8, "vlm_parse_grounding: invalid UTF-8 at byte %zu",
                         valid);
    vlmi_grounding_frame frame = {
        .scale_x = resized_width > 0 ? (double)image_width / resized_width : 1.0,
        .scale_y = resized_height > 0 ? (double)image_height / resized_height : 1.0,
        .width = image_width,
        .height = image_height,
    };
    /* count first, so a too-small buffer is left untouched */
    item_sink count = {NULL, item_size, 0, 0};
    if (answer_len > 0) vlmi_grounding_scan(answer, answer_len, &frame, sink_item, &count);
    *n_items = count.count;
    if (n_rejected != NULL) *n_rejected = count.rejected;
    if (count.count > capacity)
        return vlmi_fail(VLM_ERR_BUFFER_TOO_SMALL,
                         "vlm_parse_grounding: %zu items for a capacity of %zu", count.count,
                         capacity);
    if (count.count == 0) return VLM_OK;
    item_sink fill = {items, item_size, 0, 0};
    vlmi_grounding_scan(answer, answer_len, &frame, sink_item, &fill);
    return VLM_OK;
}
