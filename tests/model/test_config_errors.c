/* Failure paths and forms of the hub-config parsers: every error carries the
 * right status and a message naming the file and the key. */
#include "test.h"

#include "io/json_util.h"
#include "model/hub_config.h"

#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

/* Checks the status and that vlm_last_error() contains every given piece. */
#define CHECK_ERR(expected, call, ...)                                            \
    do {                                                                          \
        vlm_status st_ = (call);                                                  \
        CHECK_MSG(st_ == (expected), "%s returned %s (%s), expected %s", #call,   \
                  vlm_status_string(st_), vlm_last_error(),                       \
                  vlm_status_string(expected));                                   \
        const char *pieces_[] = {__VA_ARGS__};                                    \
        for (size_t i_ = 0; i_ < sizeof pieces_ / sizeof pieces_[0]; i_++)        \
            CHECK_MSG(strstr(vlm_last_error(), pieces_[i_]) != NULL,              \
                      "message \"%s\" lacks \"%s\"", vlm_last_error(), pieces_[i_]); \
    } while (0)

static vlm_status parse_model(const char *json, vlmi_model_config *out) {
    vlmi_clear_error();
    return vlmi_model_config_parse(json, strlen(json), "config.json", out);
}

/* A minimal Idefics3 config whose text model family has no defaults (so
 * every text key is required); %s is spliced into text_config. */
static vlm_status parse_idefics3_with_text(const char *text_members, vlmi_model_config *out) {
    char json[4096];
    snprintf(json, sizeof json,
             "{\"model_type\": \"idefics3\", \"architectures\": [\"Idefics3ForConditionalGeneration\"],"
             " \"image_token_id\": 100, \"scale_factor\": 4,"
             " \"vision_config\": {\"hidden_size\": 768, \"intermediate_size\": 3072,"
             "   \"num_hidden_layers\": 12, \"num_attention_heads\": 12, \"image_size\": 512,"
             "   \"patch_size\": 16},"
             " \"text_config\": {\"model_type\": \"mistral\" %s}}",
             text_members);
    return parse_model(json, out);
}

#define GOOD_TEXT \
    ", \"vocab_size\": 1000, \"hidden_size\": 576, \"intermediate_size\": 1536," \
    " \"num_hidden_layers\": 4, \"num_attention_heads\": 9, \"num_key_value_heads\": 3," \
    " \"rms_norm_eps\": 1e-5, \"rope_theta\": 100000, \"max_position_embeddings\": 8192"

static void test_model_config_errors(void) {
    vlmi_model_config c;

    CHECK_OK(parse_idefics3_with_text(GOOD_TEXT, &c));
    CHECK(c.text.head_dim == 64 && c.text.num_key_value_heads == 3);
    CHECK(strcmp(c.text.model_type, "mistral") == 0);
    vlmi_model_config_free(&c);

    /* required key with no class default */
    CHECK_ERR(VLM_ERR_FORMAT,
              parse_idefics3_with_text(", \"vocab_size\": 1000, \"intermediate_size\": 1536,"
                                       " \"num_hidden_layers\": 4, \"num_attention_heads\": 9,"
                                       " \"rms_norm_eps\": 1e-5, \"rope_theta\": 1e5,"
                                       " \"max_position_embeddings\": 8192", &c),
              "config.json: text_config.hidden_size missing");
    CHECK(c.text.layer_is_sliding == NULL);  /* emptied on failure */
    CHECK_ERR(VLM_ERR_FORMAT, parse_model("{\"architectures\": [\"X\"]}", &c),
              "config.json: model_type missing");
    /* null counts as missing */
    CHECK_ERR(VLM_ERR_FORMAT, parse_idefics3_with_text(GOOD_TEXT ", \"rms_norm_eps\": null", &c),
              "config.json: text_config.rms_norm_eps missing");

    /* wrong types */
    CHECK_ERR(VLM_ERR_FORMAT, parse_idefics3_with_text(GOOD_TEXT ", \"hidden_size\": \"576\"", &c),
              "config.json: text_config.hidden_size: expected an integer, got a string");
    CHECK_ERR(VLM_ERR_FORMAT, parse_idefics3_with_text(GOOD_TEXT ", \"hidden_size\": 576.5", &c),
              "text_config.hidden_size: expected an integer, got a number");
    CHECK_ERR(VLM_ERR_FORMAT,
              parse_idefics3_with_text(GOOD_TEXT ", \"tie_word_embeddings\": 1", &c),
              "text_config.tie_word_embeddings: expected a boolean, got an integer");
    CHECK_ERR(VLM_ERR_FORMAT, parse_idefics3_with_text(GOOD_TEXT ", \"eos_token_id\": [2, \"x\"]", &c),
              "text_config.eos_token_id[1]: expected an integer, got a string");
    CHECK_ERR(VLM_ERR_FORMAT, parse_model("{\"model_type\": \"idefics3\", \"text_config\": 3}", &c),
              "config.json: text_config: expected an object, got an integer");
    CHECK_ERR(VLM_ERR_FORMAT, parse_model("{\"model_type\": 7}", &c),
              "config.json: model_type: expected a string, got an integer");

    /* ranges */
    CHECK_ERR(VLM_ERR_FORMAT, parse_idefics3_with_text(GOOD_TEXT ", \"hidden_size\": -576", &c),
              "config.json: text_config.hidden_size must be positive");
    CHECK_ERR(VLM_ERR_FORMAT, parse_idefics3_with_text(GOOD_TEXT ", \"vocab_size\": 0", &c),
              "text_config.vocab_size must be positive");
    CHECK_ERR(VLM_ERR_FORMAT,
              parse_idefics3_with_text(GOOD_TEXT ", \"num_attention_heads\": 7, \"num_key_value_heads\": 7", &c),
              "text_config.num_attention_heads (7) does not divide text_config.hidden_size (576)");
    CHECK_ERR(VLM_ERR_FORMAT, parse_idefics3_with_text(GOOD_TEXT ", \"num_key_value_heads\": 4", &c),
              "text_config.num_key_value_heads (4) does not divide");
    CHECK_ERR(VLM_ERR_FORMAT, parse_idefics3_with_text(GOOD_TEXT ", \"rms_norm_eps\": 0", &c),
              "text_config.rms_norm_eps must be positive");
    CHECK_ERR(VLM_ERR_FORMAT, parse_idefics3_with_text(GOOD_TEXT ", \"hidden_size\": 3000000000", &c),
              "text_config.hidden_size: 3000000000 out of range");
    CHECK_ERR(VLM_ERR_LIMIT, parse_idefics3_with_text(GOOD_TEXT ", \"num_hidden_layers\": 100000", &c),
              "num_hidden_layers 100000 exceeds");
    /* head_dim given explicitly need not divide (Gemma does this) */
    CHECK_OK(parse_idefics3_with_text(GOOD_TEXT ", \"num_attention_heads\": 7, \"num_key_value_heads\": 7,"
                                      " \"head_dim\": 80", &c));
    CHECK(c.text.head_dim == 80);
    vlmi_model_config_free(&c);
    CHECK_ERR(VLM_ERR_FORMAT, parse_idefics3_with_text(GOOD_TEXT ", \"bos_token_id\": 1000", &c),
              "bos_token_id 1000 outside the vocabulary");

    /* image token outside the vocabulary, vision sizes */
    CHECK_ERR(VLM_ERR_FORMAT,
              parse_model("{\"model_type\": \"idefics3\", \"image_token_id\": 60000,"
                          " \"text_config\": {\"vocab_size\": 49280}}", &c),
              "config.json: image_token_id 60000 outside the vocabulary (vocab_size 49280)");
    CHECK_ERR(VLM_ERR_FORMAT,
              parse_model("{\"model_type\": \"idefics3\", \"image_token_id\": 1,"
                          " \"vision_config\": {\"hidden_size\": -768}}", &c),
              "config.json: vision_config.hidden_size must be positive, got -768");
    CHECK_ERR(VLM_ERR_FORMAT,
              parse_model("{\"model_type\": \"idefics3\", \"image_token_id\": 1,"
                          " \"vision_config\": {\"num_attention_heads\": 7}}", &c),
              "vision_config.num_attention_heads (7) does not divide vision_config.hidden_size");
    CHECK_ERR(VLM_ERR_FORMAT,
              parse_model("{\"model_type\": \"idefics3\", \"image_token_id\": 1,"
                          " \"vision_config\": {\"layer_norm_eps\": -1e-6}}", &c),
              "vision_config.layer_norm_eps must be positive");
    CHECK_ERR(VLM_ERR_FORMAT,
              parse_model("{\"model_type\": \"idefics3\", \"image_token_id\": 1,"
                          " \"scale_factor\": 5}", &c),
              "scale_factor 5 does not divide");

    /* the class defaults alone are inconsistent (Idefics3Config's image token
     * 128257 is outside LlamaConfig's 32000 vocabulary; Idefics3VisionConfig's
     * 224/32 = 7 patches per side cannot be pixel-shuffled by scale 2) */
    CHECK_ERR(VLM_ERR_FORMAT, parse_model("{\"model_type\": \"idefics3\"}", &c),
              "config.json: image_token_id 128257 outside the vocabulary (vocab_size 32000)");
    /* class defaults fill a near-empty config (LlamaConfig, Idefics3VisionConfig) */
    CHECK_OK(parse_model("{\"model_type\": \"idefics3\", \"image_token_id\": 1,"
                         " \"vision_config\": {\"image_size\": 256},"
                         " \"text_config\": {}, \"unknown_key\": {\"x\": [1, 2]}}", &c));
    CHECK(c.text.hidden_size == 4096 && c.text.vocab_size == 32000 && c.text.head_dim == 128);
    CHECK(c.vision.present && c.vision.hidden_size == 1152 && c.vision.patch_size == 32);
    CHECK(c.scale_factor == 2 && c.text.rope.theta == 10000.0);
    vlmi_model_config_free(&c);

    /* Qwen2.5-VL: text_config wins over the top level, fields missing there
     * come from the top level; mrope must match head_dim */
    CHECK_OK(parse_model("{\"model_type\": \"qwen2_5_vl\", \"hidden_size\": 999,"
                         " \"vocab_size\": 151936, \"rms_norm_eps\": 1e-6,"
                         " \"text_config\": {\"hidden_size\": 2048, \"num_attention_heads\": 16,"
                         "   \"num_key_value_heads\": 2, \"num_hidden_layers\": 2,"
                         "   \"rope_scaling\": {\"type\": \"mrope\", \"mrope_section\": [16, 24, 24]}},"
                         " \"vision_config\": {\"out_hidden_size\": 2048, \"depth\": 8,"
                         "   \"fullatt_block_indexes\": [1, 7]}}", &c));
    CHECK(c.text.hidden_size == 2048 && c.text.vocab_size == 151936);
    CHECK(c.text.rms_norm_eps == 1e-6 && c.text.rope.n_mrope_section == 3);
    CHECK(c.vision.num_hidden_layers == 8 && c.vision.n_fullatt_block_indexes == 2);
    CHECK(c.video_token_id == 151656 && c.vision_start_token_id == 151652);
    vlmi_model_config_free(&c);
    CHECK_ERR(VLM_ERR_FORMAT,
              parse_model("{\"model_type\": \"qwen2_5_vl\", \"hidden_size\": 2048,"
                          " \"num_attention_heads\": 16, \"num_key_value_heads\": 2,"
                          " \"vocab_size\": 151936, \"num_hidden_layers\": 2,"
                          " \"rope_scaling\": {\"type\": \"mrope\", \"mrope_section\": [16, 24, 20]},"
                          " \"vision_config\": {\"out_hidden_size\": 2048}}", &c),
              "mrope_section sums to 60 pairs, head_dim 128 needs 64");
    CHECK_ERR(VLM_ERR_FORMAT,
              parse_model("{\"model_type\": \"qwen2_5_vl\", \"hidden_size\": 2048,"
                          " \"num_attention_heads\": 16, \"num_key_value_heads\": 2,"
                          " \"vocab_size\": 151936, \"num_hidden_layers\": 2,"
                          " \"vision_config\": {\"out_hidden_size\": 2048, \"depth\": 8,"
                          "   \"fullatt_block_indexes\": [8]}}", &c),
              "vision_config.fullatt_block_indexes[0] = 8 is not a block");
    CHECK_ERR(VLM_ERR_FORMAT,
              parse_model("{\"model_type\": \"qwen2_5_vl\", \"hidden_size\": 2048,"
                          " \"num_attention_heads\": 16, \"num_hidden_layers\": 2,"
                          " \"vocab_size\": 151936}", &c),
              "vision_config.out_hidden_size 3584 differs from the text hidden_size 2048");

    /* Gemma 3: layer_types, rope_parameters per layer type (transformers 5) */
    CHECK_OK(parse_model("{\"model_type\": \"gemma3\", \"text_config\": {\"num_hidden_layers\": 3,"
                         "  \"layer_types\": [\"sliding_attention\", \"full_attention\","
                         "  \"sliding_attention\"], \"rope_parameters\": {"
                         "  \"full_attention\": {\"rope_type\": \"linear\", \"factor\": 8.0,"
                         "  \"rope_theta\": 1000000.0}, \"sliding_attention\": {"
                         "  \"rope_type\": \"default\", \"rope_theta\": 10000.0}}},"
                         " \"vision_config\": {\"image_size\": 896, \"patch_size\": 14},"
                         " \"dtype\": \"bfloat16\"}", &c));
    CHECK(c.text.layer_is_sliding != NULL);
    if (c.text.layer_is_sliding != NULL)
        CHECK(c.text.layer_is_sliding[0] == 1 && c.text.layer_is_sliding[1] == 0 &&
          c.text.layer_is_sliding[2] == 1);
    CHECK(c.text.rope.factor == 8.0 && strcmp(c.text.rope.type, "linear") == 0);
    CHECK(c.text.rope.theta == 1e6 && c.text.rope_local_base_freq == 1e4);
    CHECK(strcmp(c.dtype, "bfloat16") == 0 && c.text.sliding_window == 4096);
    vlmi_model_config_free(&c);
    CHECK_ERR(VLM_ERR_FORMAT,
              parse_model("{\"model_type\": \"gemma3\", \"text_config\": {\"num_hidden_layers\": 3,"
                          "  \"layer_types\": [\"full_attention\"]}}", &c),
              "text_config.layer_types has 1 entries, num_hidden_layers is 3");
    CHECK_ERR(VLM_ERR_FORMAT,
              parse_model("{\"model_type\": \"gemma3\", \"text_config\": {\"num_hidden_layers\": 1,"
                          "  \"layer_types\": [\"chunked\"]}}", &c),
              "text_config.layer_types[0]: expected \"full_attention\" or \"sliding_attention\"");
    CHECK_ERR(VLM_ERR_FORMAT,
              parse_model("{\"model_type\": \"gemma3\", \"mm_tokens_per_image\": 200,"
                          " \"vision_config\": {\"image_size\": 896, \"patch_size\": 14}}", &c),
              "mm_tokens_per_image 200 is not a square");

    /* duplicate keys: the last wins, as in Python's json */
    CHECK_OK(parse_model("{\"model_type\": \"idefics3\", \"image_token_id\": 5,"
                         " \"image_token_id\": 7, \"vision_config\": {\"image_size\": 256}}", &c));
    CHECK(c.image_token_id == 7);
    vlmi_model_config_free(&c);
}

static void test_json_syntax_errors(void) {
    vlmi_model_config c;
    CHECK_ERR(VLM_ERR_FORMAT, parse_model("{\"model_type\": }", &c),
              "config.json:1:16: invalid JSON");
    CHECK_ERR(VLM_ERR_FORMAT, parse_model("{\n  \"model_type\": \"idefics3\",\n  \"x\": [1, 2", &c),
              "config.json:3:", "truncated");
    CHECK_ERR(VLM_ERR_FORMAT, parse_model("", &c), "config.json", "truncated");
    CHECK_ERR(VLM_ERR_FORMAT, parse_model("{} trailing", &c), "config.json:1:4: invalid JSON");
    CHECK_ERR(VLM_ERR_FORMAT, parse_model("[1, 2]", &c),
              "config.json: expected a JSON object at the top, got an array");
    CHECK_ERR(VLM_ERR_FORMAT, parse_model("{\"model_type\": \"\xC3\x28\"}", &c),
              "config.json:1:17: not valid UTF-8");
    CHECK_ERR(VLM_ERR_FORMAT, parse_model("{\"a\": NaN}", &c), "invalid JSON");
    const char with_nul[] = "{\"model_type\": \"idefics3\"}\0{";
    vlmi_clear_error();
    CHECK_ERR(VLM_ERR_FORMAT,
              vlmi_model_config_parse(with_nul, sizeof with_nul - 1, "config.json", &c),
              "NUL byte");

    /* the real SmolVLM config cut in half */
    char path[4096];
    snprintf(path, sizeof path, "%s/model/smolvlm-256m/config.json", getenv("VLM_TEST_DATA"));
    size_t size = 0;
    unsigned char *real = test_read_file(path, &size);
    CHECK(real != NULL && size > 1000);
    if (real != NULL) {
        vlmi_clear_error();
        CHECK_OK(vlmi_model_config_parse((const char *)real, size, "config.json", &c));
        vlmi_model_config_free(&c);
        for (size_t cut = 1; cut < size - 2; cut += size / 7) {
            vlmi_clear_error();
            CHECK_ERR(VLM_ERR_FORMAT,
                      vlmi_model_config_parse((const char *)real, cut, "config.json", &c),
                      "config.json:");
        }
        free(real);
    }

    /* 20 MB: refused before parsing */
    size_t big = (size_t)20 << 20;
    char *huge = malloc(big);
    CHECK(huge != NULL);
    if (huge != NULL) {
        memset(huge, ' ', big);
        huge[0] = '{';
        huge[big - 1] = '}';
        vlmi_clear_error();
        CHECK_ERR(VLM_ERR_LIMIT, vlmi_model_config_parse(huge, big, "config.json", &c),
                  "config.json: 20971520 bytes, more than the 16777216 allowed");
        free(huge);
    }
}

static void test_null_arguments(void) {
    vlmi_model_config c;
    vlmi_processor_config p;
    vlmi_generation_config g;
    vlmi_tokenizer_config t;
    vlmi_hub_config h;
    CHECK_ERR(VLM_ERR_INVALID_ARGUMENT, vlmi_model_config_parse(NULL, 3, "config.json", &c),
              "config.json: data is NULL");
    CHECK_ERR(VLM_ERR_INVALID_ARGUMENT, vlmi_model_config_parse("{}", 2, "config.json", NULL),
              "out is NULL");
    CHECK_ERR(VLM_ERR_INVALID_ARGUMENT, vlmi_processor_config_parse(NULL, 0, NULL, &p),
              "preprocessor_config.json: data is NULL");
    CHECK_ERR(VLM_ERR_INVALID_ARGUMENT, vlmi_generation_config_parse(NULL, 0, NULL, &g),
              "generation_config.json: data is NULL");
    CHECK_ERR(VLM_ERR_INVALID_ARGUMENT, vlmi_tokenizer_config_parse(NULL, 0, NULL, &t),
              "tokenizer_config.json: data is NULL");
    CHECK_ERR(VLM_ERR_INVALID_ARGUMENT,
              vlmi_processor_config_apply_processor_json("{}", 2, NULL, NULL), "NULL");
    CHECK_ERR(VLM_ERR_INVALID_ARGUMENT, vlmi_chat_template_parse_json("{}", 2, NULL, NULL),
              "NULL");
    CHECK_ERR(VLM_ERR_INVALID_ARGUMENT, vlmi_hub_config_load(NULL, &h),
              "model directory is NULL");
    CHECK_ERR(VLM_ERR_INVALID_ARGUMENT, vlmi_hub_config_load(".", NULL), "out is NULL");
    CHECK_ERR(VLM_ERR_INVALID_ARGUMENT, vlmi_json_parse_object("{}", 2, "x.json", NULL), "NULL");
    vlmi_model_config_free(NULL);
    vlmi_tokenizer_config_free(NULL);
    vlmi_hub_config_free(NULL);
}

static vlm_status parse_processor(const char *json, vlmi_processor_config *out) {
    vlmi_clear_error();
    return vlmi_processor_config_parse(json, strlen(json), "preprocessor_config.json", out);
}

static void test_processor_config(void) {
    vlmi_processor_config p;
    CHECK_ERR(VLM_ERR_FORMAT, parse_processor("{\"resample\": 9}", &p),
              "preprocessor_config.json: resample 9 is not a PIL filter");
    CHECK_ERR(VLM_ERR_FORMAT, parse_processor("{\"do_resize\": \"yes\"}", &p),
              "preprocessor_config.json: do_resize: expected a boolean, got a string");
    CHECK_ERR(VLM_ERR_FORMAT, parse_processor("{\"size\": {}}", &p),
              "preprocessor_config.json: size: needs longest_edge, shortest_edge or height and width");
    CHECK_ERR(VLM_ERR_FORMAT, parse_processor("{\"size\": {\"height\": 896}}", &p),
              "size: height and width come together");
    CHECK_ERR(VLM_ERR_FORMAT, parse_processor("{\"size\": {\"longest_edge\": -5}}", &p),
              "preprocessor_config.json: size.longest_edge must be positive");
    CHECK_ERR(VLM_ERR_FORMAT,
              parse_processor("{\"image_mean\": [0.5, 0.5, 0.5], \"image_std\": [0.5, 0, 0.5]}", &p),
              "image_std[1] must be positive");
    CHECK_ERR(VLM_ERR_FORMAT,
              parse_processor("{\"image_mean\": [0.5, 0.5, 0.5], \"image_std\": [0.5, 0.5]}", &p),
              "image_mean has 3 values, image_std 2");
    CHECK_ERR(VLM_ERR_FORMAT, parse_processor("{\"rescale_factor\": 0}", &p),
              "rescale_factor must be positive");
    CHECK_ERR(VLM_ERR_FORMAT,
              parse_processor("{\"image_processor_type\": \"Qwen2VLImageProcessor\","
                              " \"min_pixels\": 5000, \"max_pixels\": 4000}", &p),
              "min_pixels 5000 exceeds max_pixels 4000");
    CHECK_ERR(VLM_ERR_FORMAT,
              parse_processor("{\"video_sampling\": {\"max_frames\": 0}}", &p),
              "video_sampling.max_frames must be positive");

    /* Qwen: size gives min/max pixels when the keys are absent */
    CHECK_OK(parse_processor("{\"image_processor_type\": \"Qwen2VLImageProcessorFast\","
                             " \"size\": {\"shortest_edge\": 3136, \"longest_edge\": 1003520}}", &p));
    CHECK(p.min_pixels == 3136 && p.max_pixels == 1003520 && p.merge_size == 2);
    /* Gemma: null means the class default; SmolVLM2 video sampling */
    CHECK_OK(parse_processor("{\"image_processor_type\": \"Gemma3ImageProcessor\","
                             " \"do_pan_and_scan\": null, \"pan_and_scan_max_num_crops\": null,"
                             " \"do_convert_rgb\": null, \"image_mean\": 0.25}", &p));
    CHECK(!p.do_pan_and_scan && p.pan_and_scan_max_num_crops == 4 && p.do_convert_rgb);
    CHECK(p.n_channels == 3 && p.image_mean[2] == 0.25 && p.image_std[0] == 0.5);
    CHECK(p.size.height == 224 && p.image_seq_len == 256);
    CHECK_OK(parse_processor("{\"image_processor_type\": \"SmolVLMImageProcessor\","
                             " \"video_sampling\": {\"max_frames\": 64, \"fps\": 1,"
                             " \"video_size\": {\"longest_edge\": 512}}}", &p));
    CHECK(p.video_sampling.present && p.video_sampling.max_frames == 64);
    CHECK(p.video_sampling.fps == 1.0 && p.video_sampling.video_size.longest_edge == 512);
    CHECK(p.resample == 1 && p.max_image_size.longest_edge == 364);

    vlmi_clear_error();
    CHECK_ERR(VLM_ERR_FORMAT,
              vlmi_processor_config_apply_processor_json("{\"image_seq_len\": -64}", 22,
                                                         "processor_config.json", &p),
              "processor_config.json: image_seq_len must be positive");
    CHECK(p.image_seq_len == 169);  /* unchanged on failure */
}

static vlm_status parse_generation(const char *json, vlmi_generation_config *out) {
    vlmi_clear_error();
    return vlmi_generation_config_parse(json, strlen(json), "generation_config.json", out);
}

static void test_generation_config(void) {
    vlmi_generation_config g;
    CHECK_ERR(VLM_ERR_FORMAT, parse_generation("{\"eos_token_id\": [1, \"106\"]}", &g),
              "generation_config.json: eos_token_id[1]: expected an integer, got a string");
    CHECK_ERR(VLM_ERR_FORMAT, parse_generation("{\"top_p\": 1.5}", &g),
              "generation_config.json: top_p must be in (0, 1]");
    CHECK_ERR(VLM_ERR_FORMAT, parse_generation("{\"temperature\": -1}", &g),
              "temperature must not be negative");
    CHECK_ERR(VLM_ERR_FORMAT, parse_generation("{\"max_length\": 0}", &g),
              "max_length must be positive");
    CHECK_ERR(VLM_ERR_FORMAT, parse_generation("{\"do_sample\": \"true\"}", &g),
              "do_sample: expected a boolean, got a string");
    CHECK_ERR(VLM_ERR_LIMIT, parse_generation("{\"eos_token_id\": [1,2,3,4,5,6,7,8,9,10,11,"
                                              "12,13,14,15,16,17]}", &g),
              "eos_token_id: more than 16 elements");
    CHECK_OK(parse_generation("{\"eos_token_id\": 7, \"top_k\": 64}", &g));
    CHECK(g.n_eos_token_ids == 1 && g.eos_token_ids[0] == 7 && g.top_k == 64);
    CHECK(g.temperature == 1.0 && g.max_length == 20 && !g.do_sample && g.bos_token_id == -1);
}

static vlm_status parse_tokenizer(const char *json, vlmi_tokenizer_config *out) {
    vlmi_clear_error();
    return vlmi_tokenizer_config_parse(json, strlen(json), "tokenizer_config.json", out);
}

static void test_tokenizer_config(void) {
    vlmi_tokenizer_config t;
    CHECK_ERR(VLM_ERR_FORMAT, parse_tokenizer("{\"bos_token\": 5}", &t),
              "tokenizer_config.json: bos_token: expected a string or an AddedToken object");
    CHECK_ERR(VLM_ERR_FORMAT, parse_tokenizer("{\"eos_token\": {\"lstrip\": false}}", &t),
              "tokenizer_config.json: eos_token.content missing");
    CHECK_ERR(VLM_ERR_FORMAT, parse_tokenizer("{\"chat_template\": 3}", &t),
              "chat_template: expected a string or a list of named templates");
    CHECK_ERR(VLM_ERR_FORMAT, parse_tokenizer("{\"chat_template\": [{\"name\": \"default\"}]}", &t),
              "tokenizer_config.json: chat_template[0].template missing");
    CHECK_ERR(VLM_ERR_FORMAT, parse_tokenizer("{\"chat_template\": [\"x\"]}", &t),
              "chat_template[0]: expected an object {name, template}, got a string");
    CHECK_ERR(VLM_ERR_FORMAT, parse_tokenizer("{\"model_max_length\": -1}", &t),
              "model_max_length must be positive");
    CHECK_ERR(VLM_ERR_FORMAT, parse_tokenizer("{\"add_bos_token\": \"no\"}", &t),
              "add_bos_token: expected a boolean");

    CHECK_OK(parse_tokenizer("{\"bos_token\": {\"content\": \"<bos>\", \"lstrip\": false},"
                             " \"eos_token\": \"<eos>\", \"pad_token\": null,"
                             " \"model_max_length\": 1000000000000000019884624838656,"
                             " \"add_bos_token\": true,"
                             " \"chat_template\": [{\"name\": \"tool_use\", \"template\": \"T\"},"
                             "   {\"name\": \"default\", \"template\": \"D\"}]}", &t));
    CHECK(t.bos_token && strcmp(t.bos_token, "<bos>") == 0);
    CHECK(t.eos_token && strcmp(t.eos_token, "<eos>") == 0 && t.pad_token == NULL);
    CHECK(t.model_max_length == INT64_MAX && t.add_bos_token == 1 && t.add_eos_token == -1);
    CHECK(t.chat_template && strcmp(t.chat_template, "D") == 0 && t.n_chat_templates == 2);
    CHECK(strcmp(t.chat_template_source, "tokenizer_config.json") == 0);

    /* chat_template.json replaces it; a bad one leaves it alone */
    const char *json = "{\"chat_template\": \"{{ messages }}\"}";
    CHECK_OK(vlmi_chat_template_parse_json(json, strlen(json), "dir/chat_template.json", &t));
    CHECK(strcmp(t.chat_template, "{{ messages }}") == 0 && t.n_chat_templates == 0);
    CHECK(strcmp(t.chat_template_source, "chat_template.json") == 0);
    json = "{\"template\": \"x\"}";
    vlmi_clear_error();
    CHECK_ERR(VLM_ERR_FORMAT, vlmi_chat_template_parse_json(json, strlen(json),
                                                            "chat_template.json", &t),
              "chat_template.json: chat_template missing");
    CHECK(strcmp(t.chat_template, "{{ messages }}") == 0);
    vlmi_clear_error();
    CHECK_ERR(VLM_ERR_FORMAT, vlmi_chat_template_set_jinja("\xFF", 1, "chat_template.jinja", &t),
              "chat_template.jinja: not UTF-8 text");
    CHECK_OK(vlmi_chat_template_set_jinja("{{ x }}\n", 8, "m/chat_template.jinja", &t));
    CHECK(strcmp(t.chat_template, "{{ x }}\n") == 0);
    CHECK(strcmp(t.chat_template_source, "chat_template.jinja") == 0);
    vlmi_tokenizer_config_free(&t);
}

// ---- the directory loader ----

static void write_file(const char *dir, const char *name, const char *text, size_t size) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    if (f == NULL) return;
    CHECK(fwrite(text, 1, size, f) == size);
    fclose(f);
}

static void remove_file(const char *dir, const char *name) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    unlink(path);
}

static void test_hub_loader(void) {
    const char *tmp = getenv("TMPDIR");
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/vlm_test_hub_XXXXXX", tmp && tmp[0] ? tmp : "/tmp");
    CHECK(mkdtemp(dir) != NULL);
    vlmi_hub_config h;

    CHECK_ERR(VLM_ERR_IO, (vlmi_clear_error(), vlmi_hub_config_load(dir, &h)),
              "config.json: cannot open");
    const char *config = "{\"model_type\": \"idefics3\", \"image_token_id\": 1,"
                         " \"vision_config\": {\"image_size\": 256}}";
    write_file(dir, "config.json", config, strlen(config));
    CHECK_OK(vlmi_hub_config_load(dir, &h));
    CHECK(!h.has_processor && !h.has_generation && !h.has_tokenizer);
    CHECK(h.generation.max_length == 20 && h.tokenizer.add_bos_token == -1);
    vlmi_hub_config_free(&h);

    /* an optional file that is broken fails the load and is named */
    write_file(dir, "generation_config.json", "{\"top_k\": \"5\"}", 14);
    CHECK_ERR(VLM_ERR_FORMAT, (vlmi_clear_error(), vlmi_hub_config_load(dir, &h)),
              "generation_config.json: top_k: expected an integer, got a string");
    CHECK(h.model.text.layer_is_sliding == NULL);
    remove_file(dir, "generation_config.json");

    /* chat template precedence: .jinja over chat_template.json over tokenizer_config */
    const char *tok = "{\"chat_template\": \"A\", \"eos_token\": \"</s>\"}";
    write_file(dir, "tokenizer_config.json", tok, strlen(tok));
    const char *tmpl = "{\"chat_template\": \"B\"}";
    write_file(dir, "chat_template.json", tmpl, strlen(tmpl));
    CHECK_OK(vlmi_hub_config_load(dir, &h));
    CHECK(h.tokenizer.chat_template && strcmp(h.tokenizer.chat_template, "B") == 0);
    CHECK(h.tokenizer.eos_token && strcmp(h.tokenizer.eos_token, "</s>") == 0);
    vlmi_hub_config_free(&h);
    write_file(dir, "chat_template.jinja", "C", 1);
    const char *proc = "{\"image_seq_len\": 81}";
    write_file(dir, "processor_config.json", proc, strlen(proc));
    CHECK_OK(vlmi_hub_config_load(dir, &h));
    CHECK(h.tokenizer.chat_template && strcmp(h.tokenizer.chat_template, "C") == 0);
    CHECK(strcmp(h.tokenizer.chat_template_source, "chat_template.jinja") == 0);
    CHECK(h.has_processor && h.processor.image_seq_len == 81);
    vlmi_hub_config_free(&h);

    /* a 20 MB config.json is refused by size, before it is read */
    char path[4096];
    snprintf(path, sizeof path, "%s/config.json", dir);
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    if (f != NULL) {
        CHECK(fseek(f, (20L << 20) - 1, SEEK_SET) == 0);
        fputc(' ', f);
        fclose(f);
    }
    CHECK_ERR(VLM_ERR_LIMIT, (vlmi_clear_error(), vlmi_hub_config_load(dir, &h)),
              "config.json: 20971520 bytes, more than the 16777216 allowed");

    const char *names[] = {"config.json", "tokenizer_config.json", "chat_template.json",
                           "chat_template.jinja", "processor_config.json"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) remove_file(dir, names[i]);
    rmdir(dir);
    CHECK_ERR(VLM_ERR_IO, (vlmi_clear_error(), vlmi_hub_config_load(dir, &h)), "not a directory");
}

int main(void) {
    test_model_config_errors();
    test_json_syntax_errors();
    test_null_arguments();
    test_processor_config();
    test_generation_config();
    test_tokenizer_config();
    test_hub_loader();
    return test_finish("model-config-errors");
}
