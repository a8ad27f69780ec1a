/* vlm-cli -m MODEL --image PATH -p PROMPT: ask a question about an image and
 * stream the answer; --json prints what a script or a parity check needs
 * instead (prompt ids, image-token counts, generated ids, text, timings). */
#include "cli.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_IMAGES 16
#define MAX_STOPS 8

typedef struct ask_options {
    cli_model model;
    const char *image_paths[MAX_IMAGES];
    int n_images;
    const char *prompt;
    const char *system;
    const char *stops[MAX_STOPS];
    int n_stops;
    const char *dump_logits;
    const char *dump_pixel_values; /* of the first image */
    const char *frames_dir;   /* --frames: a video as numbered image files */
    double frames_fps;        /* --fps: the rate the files were extracted at */
    bool json;
    bool chat;                /* --chat: more questions from stdin, one per line */
    vlm_session_params session;
    vlm_generate_params generate;
} ask_options;

/* What the answer callback gathers for --json. */
typedef struct answer {
    bool stream;           /* print pieces as they come */
    int32_t *ids;
    size_t n_ids, capacity;
    char *text;
    size_t text_len, text_capacity;
} answer;

static bool print_progress(float progress, void *user_data) {
    (void)user_data;
    int width = 40, filled = (int)(progress * (float)width);
    fprintf(stderr, "\rloading [%.*s%*s] %3d%%", filled,
            "########################################", width - filled, "",
            (int)(progress * 100.0f));
    if (progress >= 1.0f) fputc('\n', stderr);
    return true;
}

static bool on_piece(int32_t token, const char *piece, size_t len, void *user_data) {
    answer *a = user_data;
    if (a->stream) {
        fwrite(piece, 1, len, stdout);
        fflush(stdout);
    }
    if (token < 0) goto text; /* trailing text, no new token */
    if (a->n_ids == a->capacity) {
        size_t capacity = a->capacity ? a->capacity * 2 : 64;
        int32_t *grown = realloc(a->ids, capacity * sizeof *grown);
        if (grown == NULL) return false;
        a->ids = grown;
        a->capacity = capacity;
    }
    a->ids[a->n_ids++] = token;
text:
    if (a->text_len + len + 1 > a->text_capacity) {
        size_t capacity = (a->text_len + len + 1) * 2;
        char *grown = realloc(a->text, capacity);
        if (grown == NULL) return false;
        a->text = grown;
        a->text_capacity = capacity;
    }
    memcpy(a->text + a->text_len, piece, len);
    a->text_len += len;
    a->text[a->text_len] = '\0';
    return true;
}

static unsigned char *read_stdin(size_t *size) {
    size_t cap = 1 << 16, n = 0;
    unsigned char *buf = malloc(cap);
    while (buf != NULL) {
        size_t got = fread(buf + n, 1, cap - n, stdin);
        n += got;
        if (got == 0) break;
        if (n == cap) {
            unsigned char *grown = realloc(buf, cap * 2);
            if (grown == NULL) { free(buf); return NULL; }
            buf = grown;
            cap *= 2;
        }
    }
    *size = n;
    return buf;
}

static vlm_status load_image(const char *path, vlm_image **out) {
    if (strcmp(path, "-") != 0) return vlm_image_load_file(path, NULL, out);
    size_t size = 0;
    unsigned char *bytes = read_stdin(&size);
    vlm_status st = bytes ? vlm_image_load_memory(bytes, size, NULL, out) : VLM_ERR_OUT_OF_MEMORY;
    free(bytes);
    return st;
}

/* Parses a number option's value; false (and a message) if it is not one. */
static bool number_arg(const char *name, const char *value, double *out) {
    char *end = NULL;
    *out = strtod(value, &end);
    if (end == value || *end != '\0') {
        fprintf(stderr, "vlm-cli: %s needs a number, got '%s'\n", name, value);
        return false;
    }
    return true;
}

/* Returns 0 on success, 2 on a usage error. */
static int parse_args(int argc, char **argv, ask_options *o) {
    memset(o, 0, sizeof *o);
    cli_model_init(&o->model);
    vlm_session_params_init(&o->session, sizeof o->session);
    vlm_generate_params_init(&o->generate, sizeof o->generate);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *value = i + 1 < argc ? argv[i + 1] : NULL;
        double x = 0.0;
        bool takes_value = true;
        if (cli_model_option(&o->model, a, value)) {
        } else if (strcmp(a, "--image") == 0 && value) {
            if (o->n_images == MAX_IMAGES) { fprintf(stderr, "vlm-cli: at most %d images\n", MAX_IMAGES); return 2; }
            o->image_paths[o->n_images++] = value;
        } else if ((strcmp(a, "-p") == 0 || strcmp(a, "--prompt") == 0) && value) o->prompt = value;
        else if (strcmp(a, "--system") == 0 && value) o->system = value;
        else if (strcmp(a, "--stop") == 0 && value) {
            if (o->n_stops == MAX_STOPS) { fprintf(stderr, "vlm-cli: at most %d --stop\n", MAX_STOPS); return 2; }
            o->stops[o->n_stops++] = value;
        } else if (strcmp(a, "--dump-logits") == 0 && value) o->dump_logits = value;
        else if (strcmp(a, "--dump-pixel-values") == 0 && value) o->dump_pixel_values = value;
        else if (strcmp(a, "--max-tokens") == 0 && value && number_arg(a, value, &x)) o->generate.max_tokens = (int32_t)x;
        else if (strcmp(a, "--temp") == 0 && value && number_arg(a, value, &x)) o->generate.temperature = (float)x;
        else if (strcmp(a, "--top-k") == 0 && value && number_arg(a, value, &x)) o->generate.top_k = (int32_t)x;
        else if (strcmp(a, "--top-p") == 0 && value && number_arg(a, value, &x)) o->generate.top_p = (float)x;
        else if (strcmp(a, "--min-p") == 0 && value && number_arg(a, value, &x)) o->generate.min_p = (float)x;
        else if (strcmp(a, "--repeat-penalty") == 0 && value && number_arg(a, value, &x)) o->generate.repeat_penalty = (float)x;
        else if (strcmp(a, "--seed") == 0 && value && number_arg(a, value, &x)) o->generate.seed = (uint64_t)x;
        else if (strcmp(a, "--max-tiles") == 0 && value && number_arg(a, value, &x)) o->session.max_image_tiles = (int32_t)x;
        else if (strcmp(a, "--ctx") == 0 && value && number_arg(a, value, &x)) o->session.n_ctx = (int32_t)x;
        else if (strcmp(a, "--kv-type") == 0 && value) {
            if (strcmp(value, "f32") == 0) o->session.kv_cache_type = VLM_DTYPE_F32;
            else if (strcmp(value, "f16") == 0) o->session.kv_cache_type = VLM_DTYPE_F16;
            else if (strcmp(value, "q8_0") == 0) o->session.kv_cache_type = VLM_DTYPE_Q8_0;
            else { fprintf(stderr, "vlm-cli: --kv-type %s (f32, f16 or q8_0)\n", value); return 2; }
        }
        else if (strcmp(a, "--min-pixels") == 0 && value && number_arg(a, value, &x)) o->session.min_image_pixels = (int64_t)x;
        else if (strcmp(a, "--max-pixels") == 0 && value && number_arg(a, value, &x)) o->session.max_image_pixels = (int64_t)x;
        else if (strcmp(a, "--pan-and-scan") == 0) { o->session.pan_and_scan = 1; takes_value = false; }
        else if (strcmp(a, "--no-pan-and-scan") == 0) { o->session.pan_and_scan = -1; takes_value = false; }
        else if (strcmp(a, "--frames") == 0 && value) o->frames_dir = value;
        else if (strcmp(a, "--fps") == 0 && value && number_arg(a, value, &x)) o->frames_fps = x;
        else if (strcmp(a, "--json") == 0) { o->json = true; takes_value = false; }
        else if (strcmp(a, "--chat") == 0) { o->chat = true; takes_value = false; }
        else {
            fprintf(stderr, "vlm-cli: unknown or incomplete argument '%s'\n", a);
            return 2;
        }
        if (takes_value) i++;
    }
    if (o->model.path == NULL || (o->prompt == NULL && !o->chat)) {
        fprintf(stderr, "vlm-cli: need -m MODEL (or VLM_MODEL) and -p PROMPT (or --chat)\n");
        return 2;
    }
    if (o->frames_dir != NULL && !(o->frames_fps > 0.0)) {
        fprintf(stderr, "vlm-cli: --frames needs --fps F, the rate the frames were taken at\n");
        return 2;
    }
    if (o->dump_pixel_values != NULL && o->n_images == 0) {
        fprintf(stderr, "vlm-cli: --dump-pixel-values needs an --image\n");
        return 2;
    }
    if (o->chat && o->json) {
        fprintf(stderr, "vlm-cli: --chat and --json do not go together\n");
        return 2;
    }
    o->generate.stop_strings = o->stops;
    o->generate.n_stop_strings = (size_t)o->n_stops;
    return 0;
}

static cJSON *ids_array(const int32_t *ids, size_t n) {
    cJSON *array = cJSON_CreateArray();
    for (size_t i = 0; i < n; i++) cJSON_AddItemToArray(array, cJSON_CreateNumber(ids[i]));
    return array;
}

/* --dump-logits: the last prompt position's logits, little-endian f32. */
static vlm_status dump_logits(const vlm_session *s, const char *path, size_t *n_logits) {
    vlm_status st = vlm_session_prompt_logits(s, NULL, 0, n_logits);
    if (st != VLM_ERR_BUFFER_TOO_SMALL) return st;
    float *logits = malloc(*n_logits * sizeof *logits);
    if (logits == NULL) return VLM_ERR_OUT_OF_MEMORY;
    st = vlm_session_prompt_logits(s, logits, *n_logits, n_logits);
    FILE *f = st == VLM_OK ? fopen(path, "wb") : NULL;
    if (st == VLM_OK && (f == NULL || fwrite(logits, sizeof *logits, *n_logits, f) != *n_logits)) {
        fprintf(stderr, "vlm-cli: cannot write %s\n", path);
        st = VLM_ERR_IO;
    }
    if (f != NULL) fclose(f);
    free(logits);
    return st;
}

/* --dump-pixel-values: the first image's processor output, little-endian f32
 * (n_frames, 3, height, width). */
static vlm_status dump_pixel_values(const vlm_session *s, const vlm_image *image, const char *path,
                                    size_t *n_values) {
    vlm_status st = vlm_session_image_pixel_values(s, image, NULL, 0, n_values);
    if (st != VLM_ERR_BUFFER_TOO_SMALL) return st;
    float *values = malloc(*n_values * sizeof *values);
    if (values == NULL) return VLM_ERR_OUT_OF_MEMORY;
    st = vlm_session_image_pixel_values(s, image, values, *n_values, n_values);
    FILE *f = st == VLM_OK ? fopen(path, "wb") : NULL;
    if (st == VLM_OK && (f == NULL || fwrite(values, sizeof *values, *n_values, f) != *n_values)) {
        fprintf(stderr, "vlm-cli: cannot write %s\n", path);
        st = VLM_ERR_IO;
    }
    if (f != NULL) fclose(f);
    free(values);
    return st;
}

static vlm_status print_json(const vlm_session *s, vlm_image *const *images, int n_images,
                             const answer *a, const ask_options *o, size_t n_logits) {
    size_t n_prompt = 0;
    vlm_status st = vlm_session_prompt_tokens(s, NULL, 0, &n_prompt);
    int32_t *prompt = malloc((n_prompt ? n_prompt : 1) * sizeof *prompt);
    if (prompt == NULL) return VLM_ERR_OUT_OF_MEMORY;
    st = vlm_session_prompt_tokens(s, prompt, n_prompt, &n_prompt);
    cJSON *out = cJSON_CreateObject();
    cJSON_AddItemToObject(out, "prompt_ids", ids_array(prompt, n_prompt));
    cJSON *image_array = cJSON_AddArrayToObject(out, "images");
    for (int i = 0; st == VLM_OK && i < n_images; i++) {
        vlm_image_plan plan = {.struct_size = sizeof plan};
        st = vlm_session_plan_image(s, vlm_image_width(images[i]), vlm_image_height(images[i]), &plan);
        cJSON *image = cJSON_CreateObject();
        cJSON_AddNumberToObject(image, "width", vlm_image_width(images[i]));
        cJSON_AddNumberToObject(image, "height", vlm_image_height(images[i]));
        cJSON_AddNumberToObject(image, "rows", plan.rows);
        cJSON_AddNumberToObject(image, "cols", plan.cols);
        cJSON_AddNumberToObject(image, "n_frames", plan.n_frames);
        cJSON_AddNumberToObject(image, "n_image_tokens", plan.n_image_tokens);
        if (i == 0 && o->dump_pixel_values != NULL) {
            cJSON *dump = cJSON_AddObjectToObject(image, "pixel_values");
            cJSON_AddStringToObject(dump, "file", o->dump_pixel_values);
            cJSON *shape = cJSON_AddArrayToObject(dump, "shape");
            const double dims[4] = {plan.n_frames, 3, plan.frame_height, plan.frame_width};
            for (int d = 0; d < 4; d++) cJSON_AddItemToArray(shape, cJSON_CreateNumber(dims[d]));
            cJSON_AddStringToObject(dump, "dtype", "f32le");
        }
        cJSON_AddItemToArray(image_array, image);
    }
    cJSON_AddItemToObject(out, "generated_ids", ids_array(a->ids, a->n_ids));
    cJSON_AddStringToObject(out, "text", a->text ? a->text : "");
    cli_json_add_timings(out, s);
    if (o->dump_logits != NULL) {
        cJSON *dump = cJSON_AddObjectToObject(out, "logits");
        cJSON_AddStringToObject(dump, "file", o->dump_logits);
        cJSON *shape = cJSON_AddArrayToObject(dump, "shape");
        cJSON_AddItemToArray(shape, cJSON_CreateNumber((double)n_logits));
        cJSON_AddStringToObject(dump, "dtype", "f32le");
    }
    if (st == VLM_OK && !cli_json_print(out)) st = VLM_ERR_OUT_OF_MEMORY;
    cJSON_Delete(out);
    free(prompt);
    return st;
}

static int compare_names(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* --frames DIR --fps F: the files of DIR in name order are the video's frames
 * at F per second; the model's sampling picks which to use. */
static vlm_status add_video(vlm_session *session, const ask_options *o, const char *question) {
    DIR *dir = opendir(o->frames_dir);
    if (dir == NULL) {
        fprintf(stderr, "vlm-cli: cannot open the frames directory %s\n", o->frames_dir);
        return VLM_ERR_IO;
    }
    char **names = NULL;
    size_t n_names = 0;
    struct dirent *entry;
    while ((entry = readdir(dir)) != NULL) {
        if (entry->d_name[0] == '.') continue;
        char **grown = realloc(names, (n_names + 1) * sizeof *names);
        if (grown == NULL) break;
        names = grown;
        names[n_names++] = strdup(entry->d_name);
    }
    closedir(dir);
    qsort(names, n_names, sizeof *names, compare_names);
    vlm_status st = n_names > 0 ? VLM_OK : VLM_ERR_IO;
    if (n_names == 0) fprintf(stderr, "vlm-cli: no frames in %s\n", o->frames_dir);
    size_t n_chosen = 0;
    uint32_t *chosen = n_names ? malloc(n_names * sizeof *chosen) : NULL;
    if (st == VLM_OK)
        st = vlm_session_video_frames(session, (uint32_t)n_names, o->frames_fps, 0.0, 0, chosen,
                                      n_names, &n_chosen);
    vlm_image **frames = calloc(n_chosen ? n_chosen : 1, sizeof *frames);
    double *timestamps = calloc(n_chosen ? n_chosen : 1, sizeof *timestamps);
    for (size_t i = 0; st == VLM_OK && i < n_chosen; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", o->frames_dir, names[chosen[i]]);
        st = vlm_image_load_file(path, NULL, &frames[i]);
        if (st != VLM_OK) cli_report(path, st);
        timestamps[i] = chosen[i] / o->frames_fps;
    }
    if (st == VLM_OK)
        st = vlm_session_add_video_turn(session, VLM_ROLE_USER, question, frames, timestamps,
                                        n_chosen, n_names / o->frames_fps);
    for (size_t i = 0; i < n_chosen; i++) vlm_image_free(frames[i]);
    for (size_t i = 0; i < n_names; i++) free(names[i]);
    free(names);
    free(frames);
    free(timestamps);
    free(chosen);
    return st;
}

/* --chat: each further line of stdin is a question in the same conversation. */
static vlm_status chat_loop(vlm_session *session, vlm_generate_params *gp) {
    char line[8192];
    vlm_status st = VLM_OK;
    while (st == VLM_OK) {
        fputs("> ", stderr);
        if (fgets(line, sizeof line, stdin) == NULL) break;
        line[strcspn(line, "\n")] = '\0';
        if (line[0] == '\0') continue;
        st = vlm_session_add_turn(session, VLM_ROLE_USER, line, NULL, 0);
        if (st == VLM_OK) st = vlm_session_generate(session, gp);
        fputc('\n', stdout);
    }
    return st;
}

int cli_ask(int argc, char **argv) {
    ask_options o;
    int usage_rc = parse_args(argc, argv, &o);
    if (usage_rc != 0) return usage_rc;

    vlm_model *model = NULL;
    vlm_status st = cli_model_load(&o.model, isatty(STDERR_FILENO) && !o.json ? print_progress : NULL,
                                   &model);
    if (st != VLM_OK) return cli_report(o.model.path, st);

    vlm_image *images[MAX_IMAGES] = {0};
    for (int i = 0; i < o.n_images; i++)
        if ((st = load_image(o.image_paths[i], &images[i])) != VLM_OK) {
            for (int k = 0; k < i; k++) vlm_image_free(images[k]);
            vlm_model_free(model);
            return cli_report(o.image_paths[i], st);
        }

    answer a = {.stream = !o.json};
    o.generate.on_token = on_piece;
    o.generate.user_data = &a;
    const char *stage = "cannot open a session";
    vlm_session *session = NULL;
    st = vlm_session_create(model, &o.session, &session);
    if (st == VLM_OK && o.system != NULL) {
        stage = "system prompt";
        st = vlm_session_add_turn(session, VLM_ROLE_SYSTEM, o.system, NULL, 0);
    }
    if (st == VLM_OK && o.frames_dir != NULL) {
        stage = "cannot add the video";
        st = add_video(session, &o, o.prompt != NULL ? o.prompt : "");
    }
    if (st == VLM_OK && (o.prompt != NULL || o.n_images > 0) && o.frames_dir == NULL) {
        stage = "cannot add the question";
        st = vlm_session_add_turn(session, VLM_ROLE_USER, o.prompt != NULL ? o.prompt : "",
                                  images, (size_t)o.n_images);
    }
    if (st == VLM_OK && (o.prompt != NULL || o.n_images > 0 || o.frames_dir != NULL)) {
        stage = "cannot answer";
        st = vlm_session_generate(session, &o.generate);
        if (!o.json) fputc('\n', stdout);
    }
    if (st == VLM_OK && o.chat) {
        stage = "chat";
        st = chat_loop(session, &o.generate);
    }
    size_t n_logits = 0;
    if (st == VLM_OK && o.dump_logits != NULL) {
        stage = "--dump-logits";
        st = dump_logits(session, o.dump_logits, &n_logits);
    }
    if (st == VLM_OK && o.dump_pixel_values != NULL) {
        stage = "--dump-pixel-values";
        size_t n_values = 0;
        st = dump_pixel_values(session, images[0], o.dump_pixel_values, &n_values);
    }
    if (st == VLM_OK && o.json) {
        stage = "--json";
        st = print_json(session, images, o.n_images, &a, &o, n_logits);
    }
    int rc = 0;
    if (st != VLM_OK) {
        /* say how far the pipeline got */
        fprintf(stderr, "vlm-cli: loaded %s (%s, %zu tensors)", o.model.path,
                vlm_model_architecture(model), vlm_model_n_tensors(model));
        for (int i = 0; i < o.n_images; i++)
            fprintf(stderr, "; image %ux%u", vlm_image_width(images[i]), vlm_image_height(images[i]));
        fputc('\n', stderr);
        rc = cli_report(stage, st);
    }
    free(a.ids);
    free(a.text);
    vlm_session_free(session);
    for (int i = 0; i < o.n_images; i++) vlm_image_free(images[i]);
    vlm_model_free(model);
    return rc;
}
