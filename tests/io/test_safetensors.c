/* safetensors reader and checkpoint sets: the fixtures written by
 * tests/gen/make_io_fixtures.py parsed exactly, then malformed headers and
 * indexes, each of which must fail with the right status and a message naming
 * the file and the field or tensor. */
#include "io/safetensors.h"
#include "io_test_util.h"

#include <sys/stat.h>

/* ---- the multi-dtype fixture ---- */

/* Element i of tensor `name`, as make_io_fixtures.py's value(). */
static volatile unsigned byte_sink;  /* keeps the reads of tensor bytes */

static double expected_value(const char *name, int i) {
    if (strcmp(name, "f32.scalar") == 0) return 42.5;
    if (strncmp(name, "f32.", 4) == 0) return i * 0.5 - 1.0;
    if (strncmp(name, "f16.", 4) == 0) return i * 0.25 - 0.5;
    if (strncmp(name, "bf16.", 5) == 0) return i * 2.0 - 3.0;
    if (strncmp(name, "f64.", 4) == 0) return i / 3.0;
    if (strncmp(name, "i8.", 3) == 0) return i * 37 - 100;
    if (strncmp(name, "u8.", 3) == 0) return (i * 31) % 256;
    if (strncmp(name, "i16.", 4) == 0) return i * 1000 - 1000;
    if (strncmp(name, "i32.", 4) == 0) return i * 100000 - 7;
    if (strncmp(name, "i64.", 4) == 0) return (double)(i * ((int64_t)1 << 40) - 1);
    return i % 3 == 0;  /* bool */
}

/* Element i of t read according to its dtype (F16 and BF16 values in the
 * fixture are exact small numbers, decoded here by hand). */
static double element(const vlmi_tensor_info *t, int i) {
    const unsigned char *p = t->data;
    switch (t->dtype) {
    case VLM_DTYPE_F32: { float v; memcpy(&v, p + 4 * i, 4); return v; }
    case VLM_DTYPE_F64: { double v; memcpy(&v, p + 8 * i, 8); return v; }
    case VLM_DTYPE_BF16: {
        uint32_t bits = (uint32_t)(p[2 * i] | p[2 * i + 1] << 8) << 16;
        float v;
        memcpy(&v, &bits, 4);
        return v;
    }
    case VLM_DTYPE_F16: {
        unsigned h = p[2 * i] | p[2 * i + 1] << 8;
        int exponent = (h >> 10) & 31;
        double mag = exponent == 0 ? ldexp(h & 1023, -24) : ldexp(1024 + (h & 1023), exponent - 25);
        return h & 0x8000 ? -mag : mag;
    }
    case VLM_DTYPE_I8: return (int8_t)p[i];
    case VLM_DTYPE_U8: case VLM_DTYPE_BOOL: return p[i];
    case VLM_DTYPE_I16: { int16_t v; memcpy(&v, p + 2 * i, 2); return v; }
    case VLM_DTYPE_I32: { int32_t v; memcpy(&v, p + 4 * i, 4); return v; }
    case VLM_DTYPE_I64: { int64_t v; memcpy(&v, p + 8 * i, 8); return (double)v; }
    default: return NAN;
    }
}

typedef struct expected_tensor {
    const char *name;
    vlm_dtype dtype;
    uint32_t n_dims;
    int64_t shape[3];
} expected_tensor;

/* In data-section order, which is name order in the fixture. */
static const expected_tensor multi_dtype[] = {
    {"bf16.matrix", VLM_DTYPE_BF16, 2, {2, 2}},
    {"bool.flags", VLM_DTYPE_BOOL, 1, {4}},
    {"f16.vector", VLM_DTYPE_F16, 1, {4}},
    {"f32.empty", VLM_DTYPE_F32, 2, {0, 3}},
    {"f32.matrix", VLM_DTYPE_F32, 2, {2, 3}},
    {"f32.scalar", VLM_DTYPE_F32, 0, {0}},
    {"f64.vector", VLM_DTYPE_F64, 1, {3}},
    {"i16.vector", VLM_DTYPE_I16, 1, {3}},
    {"i32.vector", VLM_DTYPE_I32, 1, {2}},
    {"i64.vector", VLM_DTYPE_I64, 1, {2}},
    {"i8.vector", VLM_DTYPE_I8, 1, {5}},
    {"u8.cube", VLM_DTYPE_U8, 3, {2, 2, 2}},
};
#define N_MULTI (sizeof multi_dtype / sizeof multi_dtype[0])

static void check_multi_dtype(const vlmi_safetensors *st) {
    CHECK(vlmi_safetensors_n_tensors(st) == N_MULTI);
    uint64_t previous_end = 0;
    for (size_t i = 0; i < N_MULTI && i < vlmi_safetensors_n_tensors(st); i++) {
        const expected_tensor *want = &multi_dtype[i];
        const vlmi_tensor_info *t = vlmi_safetensors_tensor(st, i);
        CHECK_MSG(strcmp(t->name, want->name) == 0, "tensor %zu is '%s'", i, t->name);
        CHECK_MSG(t->dtype == want->dtype, "%s: dtype %d", want->name, (int)t->dtype);
        CHECK_MSG(t->n_dims == want->n_dims, "%s: n_dims %u", want->name, t->n_dims);
        uint64_t n = 1;
        for (uint32_t d = 0; d < want->n_dims; d++) {
            CHECK(t->shape[d] == want->shape[d]);
            n *= (uint64_t)want->shape[d];
        }
        for (uint32_t d = want->n_dims; d < VLM_MAX_DIMS; d++) CHECK(t->shape[d] == 0);
        CHECK(t->n_elements == n);
        CHECK(t->n_bytes == n * vlmi_dtype_layout_of(t->dtype)->block_bytes);
        CHECK(t->file_offset >= previous_end);
        previous_end = t->file_offset + t->n_bytes;
        for (int e = 0; e < (int)n; e++)
            CHECK_MSG(element(t, e) == expected_value(want->name, e), "%s[%d] = %g", want->name, e,
                      element(t, e));
        CHECK(vlmi_safetensors_find(st, want->name) == t);
    }
    CHECK(vlmi_safetensors_find(st, "f32") == NULL);
    CHECK(vlmi_safetensors_find(st, "zzz") == NULL);
    CHECK(vlmi_safetensors_tensor(st, N_MULTI) == NULL);

    CHECK(vlmi_safetensors_n_metadata(st) == 2);
    const char *key, *value;
    vlmi_safetensors_metadata_at(st, 0, &key, &value);
    CHECK(key && strcmp(key, "format") == 0 && strcmp(value, "pt") == 0);
    CHECK(vlmi_safetensors_metadata(st, "purpose") &&
          strcmp(vlmi_safetensors_metadata(st, "purpose"), "libvlm io test") == 0);
    CHECK(vlmi_safetensors_metadata(st, "nope") == NULL);
}

static void test_fixture(void) {
    vlmi_safetensors *st = NULL;
    CHECK_OK(vlmi_safetensors_open(fixture_path("multi_dtype.safetensors"), &st));
    if (st != NULL) {
        CHECK(strstr(vlmi_safetensors_path(st), "multi_dtype.safetensors") != NULL);
        check_multi_dtype(st);
    }
    vlmi_safetensors_close(st);
    vlmi_safetensors_close(NULL);

    size_t size;
    unsigned char *file = read_fixture("multi_dtype.safetensors", &size);
    CHECK_OK(vlmi_safetensors_open_memory(file, size, "mem.safetensors", &st));
    if (st != NULL) check_multi_dtype(st);
    vlmi_safetensors_close(st);
    free(file);
}

/* ---- sets ---- */

static void check_sharded(const vlmi_safetensors_set *set) {
    CHECK(vlmi_safetensors_set_n_files(set) == 2);
    CHECK(vlmi_safetensors_set_n_tensors(set) == 3);
    CHECK(strstr(vlmi_safetensors_path(vlmi_safetensors_set_file(set, 0)), "model-00001-of-00002") != NULL);
    CHECK(vlmi_safetensors_set_file(set, 2) == NULL);
    const char *order[] = {"a.weight", "b.bias", "c.weight"};
    for (size_t i = 0; i < 3; i++) {
        const vlmi_tensor_info *t = vlmi_safetensors_set_tensor(set, i);
        CHECK(t && strcmp(t->name, order[i]) == 0);
        CHECK(vlmi_safetensors_set_find(set, order[i]) == t);
    }
    CHECK(vlmi_safetensors_set_tensor(set, 3) == NULL);
    const vlmi_tensor_info *c = vlmi_safetensors_set_find(set, "c.weight");
    CHECK(c && c->dtype == VLM_DTYPE_I32 && c->n_dims == 2 && c->shape[0] == 2 && c->shape[1] == 3);
    for (int i = 0; c && i < 6; i++) CHECK(element(c, i) == i);
    const vlmi_tensor_info *b = vlmi_safetensors_set_find(set, "b.bias");
    CHECK(b && b->dtype == VLM_DTYPE_F16 && element(b, 2) == 2.0);
    CHECK(vlmi_safetensors_set_find(set, "d") == NULL);
}

static void test_sets(void) {
    vlmi_safetensors_set *set = NULL;
    CHECK_OK(vlmi_safetensors_set_open(fixture_path("sharded"), &set));
    if (set) check_sharded(set);
    vlmi_safetensors_set_close(set);
    CHECK_OK(vlmi_safetensors_set_open(fixture_path("sharded/model.safetensors.index.json"), &set));
    if (set) check_sharded(set);
    vlmi_safetensors_set_close(set);
    vlmi_safetensors_set_close(NULL);

    CHECK_OK(vlmi_safetensors_set_open(fixture_path("multi_dtype.safetensors"), &set));
    CHECK(set && vlmi_safetensors_set_n_files(set) == 1 &&
          vlmi_safetensors_set_n_tensors(set) == N_MULTI &&
          vlmi_safetensors_set_find(set, "u8.cube") != NULL);
    vlmi_safetensors_set_close(set);

    /* A directory with a single model.safetensors; then with nothing. */
    size_t size, size1, size2;
    unsigned char *file = read_fixture("multi_dtype.safetensors", &size);
    unsigned char *shard1 = read_fixture("sharded/model-00001-of-00002.safetensors", &size1);
    unsigned char *shard2 = read_fixture("sharded/model-00002-of-00002.safetensors", &size2);
    const char *dir = scratch_init();
    CHECK_FAILS(VLM_ERR_IO, dir, "has neither", vlmi_safetensors_set_open(dir, &set));
    CHECK(set == NULL);
    scratch_write("model.safetensors", file, size);
    CHECK_OK(vlmi_safetensors_set_open(dir, &set));
    CHECK(set && vlmi_safetensors_set_n_tensors(set) == N_MULTI);
    vlmi_safetensors_set_close(set);

    /* Indexes that lie. The index takes precedence over model.safetensors. */
    scratch_write("s1.safetensors", shard1, size1);
    scratch_write("s2.safetensors", shard2, size2);
    const char *index_path;
    const char *good = "{\"weight_map\": {\"a.weight\": \"s1.safetensors\", \"c.weight\": \"s2.safetensors\"}}";
    scratch_write("model.safetensors.index.json", good, strlen(good));
    CHECK_OK(vlmi_safetensors_set_open(dir, &set));
    CHECK(set && vlmi_safetensors_set_n_files(set) == 2 && vlmi_safetensors_set_n_tensors(set) == 3);
    vlmi_safetensors_set_close(set);

    const char *missing_shard = "{\"weight_map\": {\"a.weight\": \"s1.safetensors\", \"x.weight\": \"gone.safetensors\"}}";
    index_path = scratch_write("model.safetensors.index.json", missing_shard, strlen(missing_shard));
    CHECK_FAILS(VLM_ERR_IO, "model.safetensors.index.json", "shard 'gone.safetensors' (of tensor 'x.weight')",
                vlmi_safetensors_set_open(dir, &set));
    CHECK(set == NULL);
    const char *absent = "{\"weight_map\": {\"a.weight\": \"s1.safetensors\", \"c.weight\": \"s1.safetensors\"}}";
    index_path = scratch_write("model.safetensors.index.json", absent, strlen(absent));
    CHECK_FAILS(VLM_ERR_FORMAT, index_path, "tensor 'c.weight' is not in", vlmi_safetensors_set_open(index_path, &set));
    CHECK(strstr(vlm_last_error(), "s1.safetensors") != NULL);
    const char *escape = "{\"weight_map\": {\"a.weight\": \"../s1.safetensors\"}}";
    index_path = scratch_write("model.safetensors.index.json", escape, strlen(escape));
    CHECK_FAILS(VLM_ERR_FORMAT, index_path, "tensor 'a.weight' does not name a shard file",
                vlmi_safetensors_set_open(dir, &set));
    const char *not_string = "{\"weight_map\": {\"a.weight\": 3}}";
    index_path = scratch_write("model.safetensors.index.json", not_string, strlen(not_string));
    CHECK_FAILS(VLM_ERR_FORMAT, index_path, "a.weight", vlmi_safetensors_set_open(dir, &set));
    const char *empty_map = "{\"weight_map\": {}}";
    index_path = scratch_write("model.safetensors.index.json", empty_map, strlen(empty_map));
    CHECK_FAILS(VLM_ERR_FORMAT, index_path, "weight_map is empty", vlmi_safetensors_set_open(dir, &set));
    const char *no_map = "{\"metadata\": {}}";
    index_path = scratch_write("model.safetensors.index.json", no_map, strlen(no_map));
    CHECK_FAILS(VLM_ERR_FORMAT, index_path, "weight_map missing", vlmi_safetensors_set_open(dir, &set));
    index_path = scratch_write("model.safetensors.index.json", "{\"weight_map\": ", 15);
    CHECK_FAILS(VLM_ERR_FORMAT, index_path, "not valid JSON", vlmi_safetensors_set_open(dir, &set));
    /* The same tensor in two shards. */
    scratch_write("s3.safetensors", shard1, size1);
    const char *dup = "{\"weight_map\": {\"a.weight\": \"s1.safetensors\", \"b.bias\": \"s3.safetensors\"}}";
    index_path = scratch_write("model.safetensors.index.json", dup, strlen(dup));
    CHECK_FAILS(VLM_ERR_FORMAT, "s1.safetensors", "tensor 'a.weight' is in both",
                vlmi_safetensors_set_open(dir, &set));
    CHECK(strstr(vlm_last_error(), "s3.safetensors") != NULL);
    /* A broken shard: the message names the index, the shard and its problem. */
    scratch_write("s1.safetensors", shard1, 20);
    const char *ok = "{\"weight_map\": {\"a.weight\": \"s1.safetensors\"}}";
    index_path = scratch_write("model.safetensors.index.json", ok, strlen(ok));
    CHECK_FAILS(VLM_ERR_FORMAT, index_path, "s1.safetensors: header length",
                vlmi_safetensors_set_open(dir, &set));

    CHECK_FAILS(VLM_ERR_IO, "nothing.safetensors", "cannot open",
                vlmi_safetensors_set_open(fixture_path("nothing.safetensors"), &set));
    scratch_cleanup();
    free(file);
    free(shard1);
    free(shard2);
}

/* ---- malformed files ---- */

/* A file from a header text and data_size zero bytes of data. */
static bytes make_file(const char *header, size_t data_size) {
    bytes b = {0};
    put_u64(&b, strlen(header));
    put(&b, header, strlen(header));
    put_zeros(&b, data_size);
    return b;
}

static void expect(bytes *b, vlm_status status, const char *fragment) {
    vlmi_safetensors *st = NULL;
    if (status == VLM_OK) {
        CHECK_OK(vlmi_safetensors_open_memory(b->data, b->size, "model.safetensors", &st));
    } else {
        CHECK_FAILS(status, "model.safetensors", fragment,
                    vlmi_safetensors_open_memory(b->data, b->size, "model.safetensors", &st));
        CHECK(st == NULL);
    }
    vlmi_safetensors_close(st);
    free(b->data);
}

static void expect_header(const char *header, size_t data_size, vlm_status status,
                          const char *fragment) {
    bytes b = make_file(header, data_size);
    expect(&b, status, fragment);
}

static void test_malformed(void) {
    /* Valid edge cases: padding, empty header, an empty tensor anywhere. */
    expect_header("{}", 0, VLM_OK, "");
    expect_header("{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}   \n", 8, VLM_OK, "");
    expect_header("{\"e\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[4,4]},"
                  "\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, VLM_OK, "");

    bytes b = {0};
    put_u32(&b, 2);
    expect(&b, VLM_ERR_FORMAT, "too short");
    b = make_file("{}", 0);
    b.data[0] = 3;  /* header length 3 > the 2 bytes there */
    expect(&b, VLM_ERR_FORMAT, "header length 3 runs past the end");
    b = make_file("{}", 0);
    b.data[5] = 1;  /* 2^40 + 2 */
    expect(&b, VLM_ERR_FORMAT, "exceeds the 100000000-byte limit");
    expect_header("[1, 2]", 0, VLM_ERR_FORMAT, "header is not a JSON object");
    expect_header("{\"x\": tru}", 0, VLM_ERR_FORMAT, "not valid JSON");
    expect_header("{} x", 0, VLM_ERR_FORMAT, "junk after");
    b = (bytes){0};
    put_u64(&b, 4);
    put(&b, "{}\0\0", 4);  /* NUL padding is not JSON whitespace */
    expect(&b, VLM_ERR_FORMAT, "junk after");
    expect_header("{\"x\": 5}", 0, VLM_ERR_FORMAT, "tensor 'x': entry is not an object");
    expect_header("{\"x\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4, VLM_ERR_FORMAT,
                  "tensor 'x': dtype missing");
    expect_header("{\"x\":{\"dtype\":\"F8_E4M3\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1,
                  VLM_ERR_UNSUPPORTED, "tensor 'x': dtype 'F8_E4M3' is not supported");
    expect_header("{\"x\":{\"dtype\":\"WAT\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1,
                  VLM_ERR_UNSUPPORTED, "dtype 'WAT'");
    expect_header("{\"x\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", 4, VLM_ERR_FORMAT,
                  "tensor 'x': shape missing");
    expect_header("{\"x\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4,
                  VLM_ERR_FORMAT, "tensor 'x': shape[0] is not a non-negative integer");
    expect_header("{\"x\":{\"dtype\":\"F32\",\"shape\":[1, 1.5],\"data_offsets\":[0,4]}}", 4,
                  VLM_ERR_FORMAT, "shape[1]");
    expect_header("{\"x\":{\"dtype\":\"F32\",\"shape\":[\"1\"],\"data_offsets\":[0,4]}}", 4,
                  VLM_ERR_FORMAT, "shape[0]");
    expect_header("{\"x\":{\"dtype\":\"F32\",\"shape\":[1e300],\"data_offsets\":[0,4]}}", 4,
                  VLM_ERR_FORMAT, "shape[0]");
    expect_header("{\"x\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,4]}}", 4,
                  VLM_ERR_UNSUPPORTED, "tensor 'x': 9 dimensions");
    expect_header("{\"x\":{\"dtype\":\"U8\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,4]}}",
                  4, VLM_ERR_FORMAT, "tensor 'x': element count overflows");
    expect_header("{\"x\":{\"dtype\":\"F64\",\"shape\":[4294967296,536870912],\"data_offsets\":[0,4]}}",
                  4, VLM_ERR_FORMAT, "tensor 'x': byte size overflows");
    expect_header("{\"x\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4, VLM_ERR_FORMAT,
                  "tensor 'x': data_offsets is not");
    expect_header("{\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}}", 4,
                  VLM_ERR_FORMAT, "data_offsets is not");
    expect_header("{\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4,8]}}", 8,
                  VLM_ERR_FORMAT, "data_offsets is not");
    expect_header("{\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,1e20]}}", 4,
                  VLM_ERR_FORMAT, "data_offsets is not");
    expect_header("{\"x.weight\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[10,5]}}", 16,
                  VLM_ERR_FORMAT, "tensor 'x.weight': data_offsets [10, 5] end before they begin");
    expect_header("{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 8,
                  VLM_ERR_FORMAT, "tensor 'x': data_offsets [4, 12] run past the 8-byte data section");
    expect_header("{\"x\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8,
                  VLM_ERR_FORMAT, "tensor 'x': data_offsets [0, 8] hold 8 bytes, but F32 x 3 elements take 12");
    expect_header("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                  "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12,
                  VLM_ERR_FORMAT, "tensors 'a' and 'b' overlap");
    expect_header("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                  "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8,
                  VLM_ERR_FORMAT, "tensor 'a' appears twice");
    expect_header("{\"__metadata__\":{\"k\":1}}", 0, VLM_ERR_FORMAT, "__metadata__ 'k' is not a string");
    expect_header("{\"__metadata__\":[]}", 0, VLM_ERR_FORMAT, "__metadata__ is not an object");
    expect_header("{\"__metadata__\":{},\"__metadata__\":{}}", 0, VLM_ERR_FORMAT,
                  "__metadata__ appears twice");

    /* Every prefix of the fixture fails (its last tensor ends the file). */
    size_t size;
    unsigned char *file = read_fixture("multi_dtype.safetensors", &size);
    int wrong = 0;
    for (size_t n = 0; n < size; n++) {
        unsigned char *copy = malloc(n ? n : 1);
        memcpy(copy, file, n);
        vlmi_safetensors *st = NULL;
        vlm_status status = vlmi_safetensors_open_memory(copy, n, "cut.safetensors", &st);
        if (status != VLM_ERR_FORMAT || st != NULL || strstr(vlm_last_error(), "cut.safetensors") == NULL)
            if (wrong++ < 5)
                fprintf(stderr, "prefix %zu: %s (%s)\n", n, vlm_status_string(status), vlm_last_error());
        vlmi_safetensors_close(st);
        free(copy);
    }
    CHECK_MSG(wrong == 0, "%d prefixes misjudged", wrong);

    /* Random byte changes in the header: any status, never a crash. */
    unsigned char *copy = malloc(size);
    uint32_t state = 777;
    int opened = 0;
    for (int round = 0; round < 3000; round++) {
        memcpy(copy, file, size);
        for (int c = 0; c <= round % 3; c++) {
            state = state * 1664525u + 1013904223u;
            size_t at = (state >> 8) % 700;
            state = state * 1664525u + 1013904223u;
            copy[at] = round % 2 ? (unsigned char)(state >> 24) : "0123456789[]{},\":-.e"[(state >> 24) % 20];
        }
        vlmi_safetensors *st = NULL;
        vlm_status status = vlmi_safetensors_open_memory(copy, size, "flip.safetensors", &st);
        if (status == VLM_OK) {
            opened++;
            for (size_t i = 0; i < vlmi_safetensors_n_tensors(st); i++) {
                const vlmi_tensor_info *t = vlmi_safetensors_tensor(st, i);
                for (uint64_t j = 0; j < t->n_bytes; j++) byte_sink += ((const unsigned char *)t->data)[j];
            }
        } else {
            CHECK_MSG(strstr(vlm_last_error(), "flip.safetensors") != NULL, "%s", vlm_last_error());
        }
        vlmi_safetensors_close(st);
    }
    printf("corruptions: %d of 3000 still parse\n", opened);
    free(copy);
    free(file);

    /* Through real files: the message names the path. */
    scratch_init();
    vlmi_safetensors *st = NULL;
    const char *empty = scratch_write("empty.safetensors", "", 0);
    CHECK_FAILS(VLM_ERR_FORMAT, empty, "too short", vlmi_safetensors_open(empty, &st));
    b = make_file("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 2);
    const char *short_data = scratch_write("short.safetensors", b.data, b.size);
    free(b.data);
    CHECK_FAILS(VLM_ERR_FORMAT, short_data, "tensor 'w'", vlmi_safetensors_open(short_data, &st));
    CHECK_FAILS(VLM_ERR_IO, "missing.safetensors", "cannot open",
                vlmi_safetensors_open(fixture_path("missing.safetensors"), &st));
    CHECK(st == NULL);
    scratch_cleanup();
}

int main(void) {
    test_fixture();
    test_sets();
    test_malformed();
    return test_finish("test_safetensors");
}
