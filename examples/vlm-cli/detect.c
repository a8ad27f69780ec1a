/* vlm-cli -m MODEL --image PATH --detect PHRASE [--draw OUT.png] [--json]:
 * object detection through a grounding model (Qwen2.5-VL). The model is asked
 * for every PHRASE in the image, its answer is parsed into boxes and points
 * in the original image's pixels, and those are printed, one line per item:
 *
 *     label x1 y1 x2 y2          (a point repeats its x y)
 *
 * and objects the parser had to reject are reported on stderr. --json prints
 * parse-grounding's JSON ("items", "rejected") plus "answer", "prompt",
 * "image" (the original and resized sizes), "timings" and, with --draw, each
 * item's "color". --draw OUT.png writes the decoded (EXIF-oriented) image
 * with the boxes outlined and the points crossed, one colour per item.
 * PHRASE reads after "each" in the prompt below: "car", "small cake".
 *
 * --answer TEXT / --answer-file F (- for stdin) skip generation and use that
 * answer, so that parsing, printing and drawing can be checked without a
 * model that knows how to answer; the model is still loaded, for the resized
 * size its processor gives the image. */
#include "cli.h"
#include "png_write.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- the prompt ---------------------------------------------------------- */

/* Qwen's own wording for "find every X": the Qwen2.5-VL cookbook
 * cookbooks/spatial_understanding.ipynb (QwenLM/Qwen2.5-VL), section
 * "1. Detect certain object in the image", asks "Outline the position of
 * each small cake and output all the coordinates in JSON format."; the
 * phrase takes the place of "small cake". The model answers with a ```json
 * list of {"bbox_2d": [x1, y1, x2, y2], "label": ...} in the resized image's
 * pixels. */
#define DETECT_PROMPT_HEAD "Outline the position of each "
#define DETECT_PROMPT_TAIL " and output all the coordinates in JSON format."
#define DETECT_MAX_TOKENS 512 /* a dozen boxes take about 300 tokens */

/* ---- drawing -------------------------------------------------------------- */

#define OUTLINE_PX 3   /* box outline, drawn inside the box */
#define CROSS_ARM_PX 6 /* a point's cross reaches this far from its centre */
#define CROSS_HALF_PX 1 /* and is 2 * this + 1 pixels thick */

/* After Sasha Trubetskoy's list of 20 distinct colours, the strongest first. */
static const uint8_t palette[][3] = {
    {230, 25, 75},   {60, 180, 75},   {0, 130, 200},   {245, 130, 48},  {145, 30, 180},
    {70, 240, 240},  {240, 50, 230},  {255, 225, 25},  {210, 245, 60},  {250, 190, 212},
    {0, 128, 128},   {220, 190, 255}, {170, 110, 40},  {255, 250, 200}, {128, 0, 0},
    {170, 255, 195}, {128, 128, 0},   {255, 215, 180}, {0, 0, 128},     {128, 128, 128},
};
#define N_COLORS (sizeof palette / sizeof palette[0])

typedef struct canvas {
    uint8_t *rgb; /* (height, width, 3) */
    long width, height;
} canvas;

/* Paints the pixels of columns x0..x1 and rows y0..y1 (inclusive), clipped. */
static void fill(canvas *c, long x0, long y0, long x1, long y1, const uint8_t color[3]) {
    if (x0 < 0) x0 = 0;
    if (y0 < 0) y0 = 0;
    if (x1 > c->width - 1) x1 = c->width - 1;
    if (y1 > c->height - 1) y1 = c->height - 1;
    for (long y = y0; y <= y1; y++)
        for (long x = x0; x <= x1; x++) memcpy(c->rgb + ((size_t)y * (size_t)c->width + (size_t)x) * 3, color, 3);
}

/* The pixel columns lo..hi a box edge pair [a, b) covers: those whose centres
 * lie inside it, at least one, within the image. */
static void span(float a, float b, long size, long *lo, long *hi) {
    *lo = lroundf(a);
    *hi = lroundf(b) - 1;
    if (*lo > size - 1) *lo = size - 1;
    if (*lo < 0) *lo = 0;
    if (*hi > size - 1) *hi = size - 1;
    if (*hi < *lo) *hi = *lo;
}

/* A box as a rectangle outline OUTLINE_PX wide inside its pixels. */
static void draw_box(canvas *c, const vlm_grounding_item *it, const uint8_t color[3]) {
    long x0, x1, y0, y1;
    span(it->x1, it->x2, c->width, &x0, &x1);
    span(it->y1, it->y2, c->height, &y0, &y1);
    const long t = OUTLINE_PX - 1;
    fill(c, x0, y0, x1, y0 + t, color); /* top */
    fill(c, x0, y1 - t, x1, y1, color); /* bottom */
    fill(c, x0, y0, x0 + t, y1, color); /* left */
    fill(c, x1 - t, y0, x1, y1, color); /* right */
}

/* A point as a cross centred on the pixel that holds it. */
static void draw_point(canvas *c, const vlm_grounding_item *it, const uint8_t color[3]) {
    long x = (long)floorf(it->x1), y = (long)floorf(it->y1);
    if (x > c->width - 1) x = c->width - 1;
    if (y > c->height - 1) y = c->height - 1;
    fill(c, x - CROSS_ARM_PX, y - CROSS_HALF_PX, x + CROSS_ARM_PX, y + CROSS_HALF_PX, color);
    fill(c, x - CROSS_HALF_PX, y - CROSS_ARM_PX, x + CROSS_HALF_PX, y + CROSS_ARM_PX, color);
}

/* The colour of the index-th usable item (rejected ones are not counted). */
static const uint8_t *item_color(size_t index) { return palette[index % N_COLORS]; }

/* Writes a copy of image with the items drawn to path as an RGB PNG. */
static bool draw_items(const vlm_image *image, const vlm_grounding_item *items, size_t n,
                       const char *path) {
    canvas c = {NULL, (long)vlm_image_width(image), (long)vlm_image_height(image)};
    size_t bytes = (size_t)c.width * (size_t)c.height * 3;
    c.rgb = malloc(bytes);
    if (c.rgb == NULL) {
        fprintf(stderr, "vlm-cli: --draw: out of memory for a %ldx%ld copy\n", c.width, c.height);
        return false;
    }
    memcpy(c.rgb, vlm_image_pixels(image), bytes);
    size_t drawn = 0;
    for (size_t i = 0; i < n; i++) {
        if (items[i].kind == VLM_GROUNDING_REJECTED) continue;
        if (items[i].kind == VLM_GROUNDING_BOX) draw_box(&c, &items[i], item_color(drawn));
        else draw_point(&c, &items[i], item_color(drawn));
        drawn++;
    }
    char err[256] = "";
    FILE *f = fopen(path, "wb");
    bool ok = f != NULL;
    if (!ok) snprintf(err, sizeof err, "%s", strerror(errno));
    if (ok) ok = png_write_rgb8(f, c.rgb, (uint32_t)c.width, (uint32_t)c.height, err, sizeof err) == 0;
    if (f != NULL && fclose(f) != 0 && ok) {
        snprintf(err, sizeof err, "%s", strerror(errno));
        ok = false;
    }
    if (!ok) {
        fprintf(stderr, "vlm-cli: --draw: cannot write %s: %s\n", path, err);
        if (f != NULL) remove(path);
    }
    free(c.rgb);
    return ok;
}

/* Fails early, before a model is loaded, if path cannot be written; leaves
 * no file behind that was not there. */
static bool check_writable(const char *path) {
    bool existed = access(path, F_OK) == 0;
    FILE *f = fopen(path, "ab");
    if (f == NULL) {
        fprintf(stderr, "vlm-cli: --draw: cannot write %s: %s\n", path, strerror(errno));
        return false;
    }
    fclose(f);
    if (!existed) remove(path);
    return true;
}

/* ---- options -------------------------------------------------------------- */

typedef struct detect_options {
    cli_model model;
    const char *image_path;
    const char *phrase;
    const char *draw_path;
    const char *answer;       /* --answer: use this instead of generating */
    const char *answer_file;  /* --answer-file: read it from here (- = stdin) */
    bool json;
    vlm_session_params session;
    vlm_generate_params generate;
} detect_options;

static bool count_arg(const char *name, const char *value, long min, long max, long *out) {
    char *end = NULL;
    errno = 0;
    long v = strtol(value, &end, 10);
    if (end == value || *end != '\0' || errno != 0 || v < min || v > max) {
        fprintf(stderr, "vlm-cli: %s needs a whole number from %ld to %ld, got '%s'\n", name, min,
                max, value);
        return false;
    }
    *out = v;
    return true;
}

static bool is_blank(const char *s) {
    for (; *s; s++)
        if (*s != ' ' && *s != '\t' && *s != '\n' && *s != '\r') return false;
    return true;
}

/* Returns 0 on success, 2 on a usage error. */
static int parse_args(int argc, char **argv, detect_options *o) {
    memset(o, 0, sizeof *o);
    cli_model_init(&o->model);
    vlm_session_params_init(&o->session, sizeof o->session);
    vlm_generate_params_init(&o->generate, sizeof o->generate);
    o->generate.max_tokens = DETECT_MAX_TOKENS;
    o->generate.temperature = 0.0f; /* greedy: the same image gives the same boxes */
    bool have_detect = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *value = i + 1 < argc ? argv[i + 1] : NULL;
        long n = 0;
        bool ok = value != NULL, counted = true;
        if (strcmp(a, "--json") == 0) { o->json = true; continue; }
        if (strcmp(a, "--detect") == 0) {
            /* the phrase may be anything but a following option */
            ok = value != NULL && strncmp(value, "--", 2) != 0;
            if (ok) { o->phrase = value; have_detect = true; }
        } else if (cli_model_option(&o->model, a, value)) {
        } else if (strcmp(a, "--image") == 0 && ok) o->image_path = value;
        else if (strcmp(a, "--draw") == 0 && ok) o->draw_path = value;
        else if (strcmp(a, "--answer") == 0 && ok) o->answer = value;
        else if (strcmp(a, "--answer-file") == 0 && ok) o->answer_file = value;
        else if (strcmp(a, "--max-tokens") == 0 && ok) {
            counted = count_arg(a, value, 1, INT32_MAX, &n);
            o->generate.max_tokens = (int32_t)n;
        } else if (strcmp(a, "--ctx") == 0 && ok) {
            counted = count_arg(a, value, 0, INT32_MAX, &n);
            o->session.n_ctx = (int32_t)n;
        } else if (strcmp(a, "--min-pixels") == 0 && ok) {
            counted = count_arg(a, value, 0, INT32_MAX, &n);
            o->session.min_image_pixels = n;
        } else if (strcmp(a, "--max-pixels") == 0 && ok) {
            counted = count_arg(a, value, 0, INT32_MAX, &n);
            o->session.max_image_pixels = n;
        } else ok = false;
        if (!counted) return 2;
        if (!ok) {
            fprintf(stderr, "vlm-cli: unknown or incomplete argument '%s'\n", a);
            return 2;
        }
        i++;
    }
    if (!have_detect || is_blank(o->phrase)) {
        fprintf(stderr, "vlm-cli: --detect needs a non-empty object phrase, such as --detect \"car\"\n");
        return 2;
    }
    if (o->model.path == NULL || o->image_path == NULL) {
        fprintf(stderr, "vlm-cli: --detect needs -m MODEL (or VLM_MODEL) and --image PATH\n");
        return 2;
    }
    if (o->answer != NULL && o->answer_file != NULL) {
        fprintf(stderr, "vlm-cli: give --answer or --answer-file, not both\n");
        return 2;
    }
    return 0;
}

/* ---- the answer ------------------------------------------------------------ */

typedef struct text_buffer {
    char *text;
    size_t len, capacity;
    bool echo;  /* show the answer on stderr as it comes */
    bool failed;
} text_buffer;

static bool append(text_buffer *b, const char *s, size_t len) {
    if (b->len + len + 1 > b->capacity) {
        size_t capacity = (b->len + len + 1) * 2;
        char *grown = realloc(b->text, capacity);
        if (grown == NULL) { b->failed = true; return false; }
        b->text = grown;
        b->capacity = capacity;
    }
    memcpy(b->text + b->len, s, len);
    b->len += len;
    b->text[b->len] = '\0';
    return true;
}

static bool on_piece(int32_t token, const char *piece, size_t len, void *user_data) {
    (void)token;
    text_buffer *b = user_data;
    if (b->echo) fwrite(piece, 1, len, stderr);
    return append(b, piece, len);
}

/* Reads all of path (- = stdin) into b. */
static bool read_all(const char *path, text_buffer *b) {
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "vlm-cli: --answer-file: cannot read %s: %s\n", path, strerror(errno));
        return false;
    }
    char chunk[4096];
    size_t got;
    bool ok = append(b, "", 0);
    while (ok && (got = fread(chunk, 1, sizeof chunk, f)) > 0) ok = append(b, chunk, got);
    if (ok && ferror(f)) {
        fprintf(stderr, "vlm-cli: --answer-file: cannot read %s\n", path);
        ok = false;
    }
    if (f != stdin) fclose(f);
    return ok;
}

/* The model's prompt for phrase; caller frees. */
static char *make_prompt(const char *phrase) {
    size_t len = strlen(DETECT_PROMPT_HEAD) + strlen(phrase) + strlen(DETECT_PROMPT_TAIL) + 1;
    char *prompt = malloc(len);
    if (prompt != NULL) snprintf(prompt, len, "%s%s%s", DETECT_PROMPT_HEAD, phrase, DETECT_PROMPT_TAIL);
    return prompt;
}

/* Parses answer into *items (caller frees); see vlm_parse_grounding. */
static vlm_status parse_answer(const text_buffer *answer, const vlm_image *image,
                               const vlm_image_plan *plan, vlm_grounding_item **items,
                               size_t *n, size_t *n_rejected) {
    uint32_t w = vlm_image_width(image), h = vlm_image_height(image);
    *items = NULL;
    vlm_status st = vlm_parse_grounding(answer->text, answer->len, w, h, plan->frame_width,
                                        plan->frame_height, NULL, sizeof **items, 0, n, n_rejected);
    if (st != VLM_ERR_BUFFER_TOO_SMALL) return st; /* VLM_OK: no items */
    *items = calloc(*n, sizeof **items);
    if (*items == NULL) return VLM_ERR_OUT_OF_MEMORY;
    return vlm_parse_grounding(answer->text, answer->len, w, h, plan->frame_width,
                               plan->frame_height, *items, sizeof **items, *n, n, n_rejected);
}

/* ---- output ---------------------------------------------------------------- */

/* Two decimals, as parse-grounding prints them. */
static double round2(float x) { return round((double)x * 100.0) / 100.0; }

/* One line per item: the label (control characters as spaces, "-" if none),
 * then x1 y1 x2 y2. */
static void print_text(const vlm_grounding_item *items, size_t n) {
    for (size_t i = 0; i < n; i++) {
        const vlm_grounding_item *it = &items[i];
        if (it->kind == VLM_GROUNDING_REJECTED) continue;
        if (it->label[0] == '\0') fputc('-', stdout);
        for (const char *s = it->label; *s; s++) fputc((unsigned char)*s < 0x20 ? ' ' : *s, stdout);
        printf(" %.2f %.2f %.2f %.2f\n", round2(it->x1), round2(it->y1), round2(it->x2), round2(it->y2));
    }
}

static void report_rejected(const vlm_grounding_item *items, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (items[i].kind == VLM_GROUNDING_REJECTED)
            fprintf(stderr, "vlm-cli: rejected the object at byte %zu%s%s%s: %s\n", items[i].offset,
                    items[i].label[0] ? " (label \"" : "", items[i].label,
                    items[i].label[0] ? "\")" : "", cli_grounding_reason(items[i].reason));
}

static bool print_json(const vlm_session *session, const vlm_image *image,
                       const vlm_image_plan *plan, const detect_options *o, const char *prompt,
                       const text_buffer *answer, const vlm_grounding_item *items, size_t n) {
    cJSON *out = cJSON_CreateObject();
    cJSON *list = cJSON_AddArrayToObject(out, "items");
    size_t drawn = 0;
    for (size_t i = 0; i < n; i++) {
        const vlm_grounding_item *it = &items[i];
        if (it->kind == VLM_GROUNDING_REJECTED) continue;
        cJSON *item = cJSON_CreateObject();
        bool box = it->kind == VLM_GROUNDING_BOX;
        cJSON_AddStringToObject(item, "kind", box ? "box" : "point");
        const double coords[4] = {round2(it->x1), round2(it->y1), round2(it->x2), round2(it->y2)};
        cJSON_AddItemToObject(item, box ? "bbox" : "point", cJSON_CreateDoubleArray(coords, box ? 4 : 2));
        cJSON_AddStringToObject(item, "label", it->label);
        if (o->draw_path != NULL) {
            const uint8_t *c = item_color(drawn);
            char hex[8];
            snprintf(hex, sizeof hex, "#%02x%02x%02x", c[0], c[1], c[2]);
            cJSON_AddStringToObject(item, "color", hex);
        }
        cJSON_AddItemToArray(list, item);
        drawn++;
    }
    cJSON *rejected = cJSON_AddArrayToObject(out, "rejected");
    for (size_t i = 0; i < n; i++) {
        if (items[i].kind != VLM_GROUNDING_REJECTED) continue;
        cJSON *r = cJSON_CreateObject();
        cJSON_AddStringToObject(r, "reason", cli_grounding_reason(items[i].reason));
        cJSON_AddNumberToObject(r, "offset", (double)items[i].offset);
        cJSON_AddStringToObject(r, "label", items[i].label);
        cJSON_AddItemToArray(rejected, r);
    }
    cJSON_AddStringToObject(out, "answer", answer->text != NULL ? answer->text : "");
    cJSON_AddStringToObject(out, "prompt", prompt);
    cJSON *size = cJSON_AddObjectToObject(out, "image");
    cJSON_AddNumberToObject(size, "width", vlm_image_width(image));
    cJSON_AddNumberToObject(size, "height", vlm_image_height(image));
    cJSON_AddNumberToObject(size, "resized_width", plan->frame_width);
    cJSON_AddNumberToObject(size, "resized_height", plan->frame_height);
    if (o->draw_path != NULL) cJSON_AddStringToObject(out, "draw", o->draw_path);
    cli_json_add_timings(out, session); /* only load_ms when the answer was given */
    bool printed = cli_json_print(out);
    cJSON_Delete(out);
    return printed;
}

/* ---- the subcommand ---------------------------------------------------------- */

/* Boxes are read as Qwen2.5-VL writes them (absolute pixels of one resized
 * frame); other families answer in other conventions. */
static bool answers_like_qwen2_5_vl(const char *architecture) {
    return architecture != NULL &&
           (strstr(architecture, "Qwen2_5_VL") != NULL || strstr(architecture, "qwen2") != NULL);
}

int cli_detect(int argc, char **argv) {
    detect_options o;
    int usage_rc = parse_args(argc, argv, &o);
    if (usage_rc != 0) return usage_rc;
    if (o.draw_path != NULL && !check_writable(o.draw_path)) return 1;

    bool given = o.answer != NULL || o.answer_file != NULL;
    text_buffer answer = {.echo = !o.json && !given && isatty(STDERR_FILENO)};
    if (o.answer != NULL && !append(&answer, o.answer, strlen(o.answer))) {
        fprintf(stderr, "vlm-cli: out of memory\n");
        return 1;
    }
    if (o.answer_file != NULL && !read_all(o.answer_file, &answer)) {
        free(answer.text);
        return 1;
    }

    char *prompt = make_prompt(o.phrase);
    vlm_image *image = NULL;
    vlm_model *model = NULL;
    vlm_session *session = NULL;
    vlm_grounding_item *items = NULL;
    size_t n_items = 0, n_rejected = 0;
    const char *stage = o.image_path;
    vlm_status st = prompt != NULL ? vlm_image_load_file(o.image_path, NULL, &image)
                                   : VLM_ERR_OUT_OF_MEMORY;
    if (st == VLM_OK) {
        stage = o.model.path;
        st = cli_model_load(&o.model, NULL, &model);
    }
    if (st == VLM_OK) {
        if (!answers_like_qwen2_5_vl(vlm_model_architecture(model)))
            fprintf(stderr, "vlm-cli: warning: %s is not Qwen2.5-VL; its boxes may be read wrongly\n",
                    vlm_model_architecture(model));
        stage = "cannot open a session";
        st = vlm_session_create(model, &o.session, &session);
    }
    vlm_image_plan plan = {.struct_size = sizeof plan};
    if (st == VLM_OK) {
        stage = "cannot plan the image";
        st = vlm_session_plan_image(session, vlm_image_width(image), vlm_image_height(image), &plan);
    }
    if (st == VLM_OK && !given) {
        stage = "cannot add the question";
        st = vlm_session_add_turn(session, VLM_ROLE_USER, prompt, &image, 1);
    }
    if (st == VLM_OK && !given) {
        stage = "cannot answer";
        o.generate.on_token = on_piece;
        o.generate.user_data = &answer;
        st = vlm_session_generate(session, &o.generate);
        if (answer.echo) fputc('\n', stderr);
        if (st == VLM_OK && answer.failed) st = VLM_ERR_OUT_OF_MEMORY;
        if (st == VLM_OK && answer.text == NULL && !append(&answer, "", 0)) st = VLM_ERR_OUT_OF_MEMORY;
    }
    if (st == VLM_OK) {
        stage = "cannot read the answer";
        st = parse_answer(&answer, image, &plan, &items, &n_items, &n_rejected);
    }
    int rc = st == VLM_OK ? 0 : cli_report(stage, st);
    if (rc == 0 && o.draw_path != NULL && !draw_items(image, items, n_items, o.draw_path)) rc = 1;
    if (rc == 0 && o.json &&
        !print_json(session, image, &plan, &o, prompt, &answer, items, n_items))
        rc = 1;
    if (rc == 0 && !o.json) {
        print_text(items, n_items);
        report_rejected(items, n_items);
        if (n_items == n_rejected)
            fprintf(stderr, "vlm-cli: no boxes or points in the answer: %s\n", answer.text);
    }
    free(items);
    free(answer.text);
    free(prompt);
    vlm_session_free(session);
    vlm_model_free(model);
    vlm_image_free(image);
    return rc;
}
