/* GGUF reader: the all_types.gguf fixture (tests/gen/make_io_fixtures.py)
 * parsed exactly, then malformed files, each of which must fail with the
 * right status and a message naming the file and the field. */
#include "io/gguf.h"
#include "io_test_util.h"

#include <math.h>

/* ---- the fixture ---- */

static volatile unsigned byte_sink;  /* keeps the reads of touch_all */

static bool str_eq(const vlmi_gguf_value *v, const char *expected) {
    const char *data;
    size_t len;
    return vlmi_gguf_value_string(v, &data, &len) && len == strlen(expected) &&
           memcmp(data, expected, len) == 0;
}

static int64_t kv_int(const vlmi_gguf *g, const char *key) {
    int64_t v = INT64_MIN;
    CHECK_OK(vlmi_gguf_get_int(g, key, &v));
    return v;
}

static void check_scalars(const vlmi_gguf *g) {
    const char *data;
    size_t len;
    CHECK_OK(vlmi_gguf_get_string(g, "general.architecture", &data, &len));
    CHECK(len == 8 && memcmp(data, "testarch", 8) == 0);
    CHECK(kv_int(g, "test.u8") == 200);
    CHECK(kv_int(g, "test.i8") == -100);
    CHECK(kv_int(g, "test.u16") == 60000);
    CHECK(kv_int(g, "test.i16") == -30000);
    CHECK(kv_int(g, "test.u32") == 4000000000);
    CHECK(kv_int(g, "test.i32") == -2000000000);
    CHECK(kv_int(g, "test.i64") == -((int64_t)1 << 62));
    uint64_t u = 0;
    CHECK_OK(vlmi_gguf_get_uint(g, "test.u64", &u));
    CHECK(u == ((uint64_t)1 << 63) + 5);
    int64_t too_big;
    CHECK_FAILS(VLM_ERR_FORMAT, "all_types.gguf", "test.u64",
                vlmi_gguf_get_int(g, "test.u64", &too_big));
    CHECK_FAILS(VLM_ERR_FORMAT, "all_types.gguf", "test.i8",
                vlmi_gguf_get_uint(g, "test.i8", &u));
    double f = 0;
    CHECK_OK(vlmi_gguf_get_float(g, "test.f32", &f));
    CHECK(f == 3.25);
    CHECK_OK(vlmi_gguf_get_float(g, "test.f64", &f));
    CHECK(f == 2.718281828459045);
    bool b = false;
    CHECK_OK(vlmi_gguf_get_bool(g, "test.bool", &b));
    CHECK(b);
    CHECK_OK(vlmi_gguf_get_string(g, "test.string", &data, &len));
    CHECK(len == strlen("h\xc3\xa9llo w\xc3\xb6rld") &&
          memcmp(data, "h\xc3\xa9llo w\xc3\xb6rld", len) == 0);
    CHECK_OK(vlmi_gguf_get_uint(g, "general.alignment", &u));
    CHECK(u == 64);

    /* Wrong type and missing keys name the file and the key. */
    CHECK_FAILS(VLM_ERR_FORMAT, "all_types.gguf", "'test.u8' is uint8, expected string",
                vlmi_gguf_get_string(g, "test.u8", &data, &len));
    CHECK_FAILS(VLM_ERR_FORMAT, "all_types.gguf", "'no.such.key' missing",
                vlmi_gguf_get_int(g, "no.such.key", &too_big));
    CHECK_FAILS(VLM_ERR_FORMAT, "all_types.gguf", "test.string",
                vlmi_gguf_get_bool(g, "test.string", &b));
    CHECK(vlmi_gguf_find_kv(g, "test") == NULL);
}

/* Checks array `key` has n elements of elem_type whose integer values are
 * `values` (via both array_get and array_next). */
static void check_int_array(const vlmi_gguf *g, const char *key, vlmi_gguf_type elem_type,
                            const int64_t *values, uint64_t n) {
    const vlmi_gguf_value *array = NULL;
    CHECK_OK(vlmi_gguf_get_array(g, key, elem_type, &array));
    if (array == NULL) return;
    CHECK_MSG(array->n_elems == n, "%s: %llu elements", key, (unsigned long long)array->n_elems);
    vlmi_gguf_cursor cursor = {0, 0};
    vlmi_gguf_value elem;
    for (uint64_t i = 0; i < n; i++) {
        int64_t v = 0;
        CHECK(vlmi_gguf_array_get(array, i, &elem) && vlmi_gguf_value_int(&elem, &v) &&
              v == values[i]);
        CHECK(vlmi_gguf_array_next(array, &cursor, &elem) && vlmi_gguf_value_int(&elem, &v) &&
              v == values[i]);
    }
    CHECK(!vlmi_gguf_array_next(array, &cursor, &elem));
    CHECK(!vlmi_gguf_array_get(array, n, &elem));
}

static void check_arrays(const vlmi_gguf *g) {
    check_int_array(g, "test.array.uint8", VLMI_GGUF_UINT8, (int64_t[]){1, 2, 255}, 3);
    check_int_array(g, "test.array.int8", VLMI_GGUF_INT8, (int64_t[]){-128, 0, 127}, 3);
    check_int_array(g, "test.array.uint16", VLMI_GGUF_UINT16, (int64_t[]){0, 65535}, 2);
    check_int_array(g, "test.array.int16", VLMI_GGUF_INT16, (int64_t[]){-32768, 32767}, 2);
    check_int_array(g, "test.array.uint32", VLMI_GGUF_UINT32, (int64_t[]){7, 4294967295}, 2);
    check_int_array(g, "test.array.int32", VLMI_GGUF_INT32, (int64_t[]){-5, 5}, 2);
    check_int_array(g, "test.array.int64", VLMI_GGUF_INT64, (int64_t[]){INT64_MIN}, 1);

    const vlmi_gguf_value *a = NULL;
    vlmi_gguf_value e;
    uint64_t u;
    double f;
    bool b;
    CHECK_OK(vlmi_gguf_get_array(g, "test.array.uint64", VLMI_GGUF_UINT64, &a));
    CHECK(a && a->n_elems == 1 && vlmi_gguf_array_get(a, 0, &e) && vlmi_gguf_value_uint(&e, &u) &&
          u == (uint64_t)1 << 63);
    CHECK_OK(vlmi_gguf_get_array(g, "test.array.float32", VLMI_GGUF_FLOAT32, &a));
    CHECK(a && vlmi_gguf_array_get(a, 1, &e) && vlmi_gguf_value_float(&e, &f) && f == -1.5);
    CHECK_OK(vlmi_gguf_get_array(g, "test.array.float64", VLMI_GGUF_FLOAT64, &a));
    CHECK(a && vlmi_gguf_array_get(a, 0, &e) && vlmi_gguf_value_float(&e, &f) && f == 1e300);
    CHECK_OK(vlmi_gguf_get_array(g, "test.array.bool", VLMI_GGUF_BOOL, &a));
    CHECK(a && a->n_elems == 3 && vlmi_gguf_array_get(a, 1, &e) && vlmi_gguf_value_bool(&e, &b) &&
          !b && vlmi_gguf_array_get(a, 2, &e) && vlmi_gguf_value_bool(&e, &b) && b);

    CHECK_OK(vlmi_gguf_get_array(g, "test.array.string", VLMI_GGUF_STRING, &a));
    CHECK(a && a->n_elems == 3);
    const char *strings[] = {"alpha", "", "gamma"};
    vlmi_gguf_cursor cursor = {0, 0};
    for (int i = 0; a && i < 3; i++) {
        CHECK(vlmi_gguf_array_next(a, &cursor, &e) && str_eq(&e, strings[i]));
        vlmi_gguf_value by_index;
        CHECK(vlmi_gguf_array_get(a, (uint64_t)i, &by_index) && str_eq(&by_index, strings[i]));
    }
    CHECK_FAILS(VLM_ERR_FORMAT, "all_types.gguf", "expected array of int32",
                vlmi_gguf_get_array(g, "test.array.string", VLMI_GGUF_INT32, &a));

    /* [[1, 2], [3, 4, 5]] */
    CHECK_OK(vlmi_gguf_get_array(g, "test.array.nested", VLMI_GGUF_ARRAY, &a));
    CHECK(a && a->n_elems == 2);
    vlmi_gguf_value inner;
    int64_t v;
    CHECK(a && vlmi_gguf_array_get(a, 1, &inner) && inner.type == VLMI_GGUF_ARRAY &&
          inner.elem_type == VLMI_GGUF_INT32 && inner.n_elems == 3 &&
          vlmi_gguf_array_get(&inner, 2, &e) && vlmi_gguf_value_int(&e, &v) && v == 5);
    CHECK(a && vlmi_gguf_array_get(a, 0, &inner) && inner.n_elems == 2 &&
          vlmi_gguf_array_get(&inner, 1, &e) && vlmi_gguf_value_int(&e, &v) && v == 2);

    /* [["a", "bc"], ["def"]] */
    CHECK_OK(vlmi_gguf_get_array(g, "test.array.nested_strings", VLMI_GGUF_ARRAY, &a));
    CHECK(a && vlmi_gguf_array_get(a, 0, &inner) && inner.elem_type == VLMI_GGUF_STRING &&
          vlmi_gguf_array_get(&inner, 1, &e) && str_eq(&e, "bc"));
    CHECK(a && vlmi_gguf_array_get(a, 1, &inner) && inner.n_elems == 1 &&
          vlmi_gguf_array_get(&inner, 0, &e) && str_eq(&e, "def"));

    /* [[[1], [2, 3]], [[4]]] */
    CHECK_OK(vlmi_gguf_get_array(g, "test.array.nested3", VLMI_GGUF_ARRAY, &a));
    vlmi_gguf_value middle;
    CHECK(a && vlmi_gguf_array_get(a, 0, &middle) && middle.elem_type == VLMI_GGUF_ARRAY &&
          vlmi_gguf_array_get(&middle, 1, &inner) && inner.n_elems == 2 &&
          vlmi_gguf_array_get(&inner, 1, &e) && vlmi_gguf_value_int(&e, &v) && v == 3);
    CHECK(a && vlmi_gguf_array_get(a, 1, &middle) && middle.n_elems == 1 &&
          vlmi_gguf_array_get(&middle, 0, &inner) && vlmi_gguf_array_get(&inner, 0, &e) &&
          vlmi_gguf_value_int(&e, &v) && v == 4);
}

typedef struct expected_tensor {
    const char *name;
    vlm_dtype dtype;
    uint32_t n_dims;
    int64_t shape[4];  /* outermost first */
    uint64_t n_bytes;
} expected_tensor;

static const expected_tensor expected_tensors[] = {
    {"plain.f32", VLM_DTYPE_F32, 4, {2, 3, 4, 5}, 480},
    {"plain.f64", VLM_DTYPE_F64, 2, {2, 3}, 48},
    {"plain.i8", VLM_DTYPE_I8, 2, {3, 2}, 6},
    {"plain.i16", VLM_DTYPE_I16, 1, {6}, 12},
    {"plain.i32", VLM_DTYPE_I32, 2, {1, 6}, 24},
    {"plain.i64", VLM_DTYPE_I64, 2, {6, 1}, 48},
    {"deq.f16", VLM_DTYPE_F16, 2, {4, 8}, 64},
    {"deq.bf16", VLM_DTYPE_BF16, 2, {2, 16}, 64},
    {"deq.q8_0", VLM_DTYPE_Q8_0, 2, {2, 256}, 544},
    {"deq.q4_0", VLM_DTYPE_Q4_0, 2, {2, 256}, 288},
    {"deq.q4_1", VLM_DTYPE_Q4_1, 2, {2, 256}, 320},
    {"deq.q5_0", VLM_DTYPE_Q5_0, 2, {2, 256}, 352},
    {"deq.q5_1", VLM_DTYPE_Q5_1, 2, {2, 256}, 384},
    {"deq.q2_k", VLM_DTYPE_Q2_K, 2, {2, 512}, 336},
    {"deq.q3_k", VLM_DTYPE_Q3_K, 2, {2, 512}, 440},
    {"deq.q4_k", VLM_DTYPE_Q4_K, 2, {2, 512}, 576},
    {"deq.q5_k", VLM_DTYPE_Q5_K, 2, {2, 512}, 704},
    {"deq.q6_k", VLM_DTYPE_Q6_K, 2, {2, 512}, 840},
    {"raw.q8_k", VLM_DTYPE_Q8_K, 2, {1, 256}, 292},
};
#define N_EXPECTED_TENSORS (sizeof expected_tensors / sizeof expected_tensors[0])

static void check_tensors(const vlmi_gguf *g, const unsigned char *file) {
    CHECK(vlmi_gguf_n_tensors(g) == N_EXPECTED_TENSORS);
    CHECK(vlmi_gguf_data_offset(g) % 64 == 0);
    for (size_t i = 0; i < N_EXPECTED_TENSORS && i < vlmi_gguf_n_tensors(g); i++) {
        const expected_tensor *want = &expected_tensors[i];
        const vlmi_tensor_info *t = vlmi_gguf_tensor(g, i);
        CHECK_MSG(strcmp(t->name, want->name) == 0, "tensor %zu is '%s'", i, t->name);
        CHECK_MSG(t->dtype == want->dtype, "%s: dtype %d", want->name, (int)t->dtype);
        CHECK_MSG(t->n_dims == want->n_dims, "%s: n_dims %u", want->name, t->n_dims);
        uint64_t n_elements = 1;
        for (uint32_t d = 0; d < want->n_dims; d++) {
            CHECK_MSG(t->shape[d] == want->shape[d], "%s: shape[%u] = %lld", want->name, d,
                      (long long)t->shape[d]);
            n_elements *= (uint64_t)want->shape[d];
        }
        for (uint32_t d = want->n_dims; d < VLM_MAX_DIMS; d++) CHECK(t->shape[d] == 0);
        CHECK(t->n_elements == n_elements);
        CHECK_MSG(t->n_bytes == want->n_bytes, "%s: %llu bytes", want->name,
                  (unsigned long long)t->n_bytes);
        CHECK(t->file_offset % 64 == 0);
        CHECK(t->file_offset >= vlmi_gguf_data_offset(g));
        CHECK(vlmi_gguf_find_tensor(g, want->name) == t);
    }
    CHECK(vlmi_gguf_find_tensor(g, "deq") == NULL);
    CHECK(vlmi_gguf_find_tensor(g, "zzz") == NULL);
    CHECK(vlmi_gguf_tensor(g, N_EXPECTED_TENSORS) == NULL);

    /* Plain values: element i is i * 0.5 - 3 (floats) or i - 3 (integers). */
    const vlmi_tensor_info *t = vlmi_gguf_find_tensor(g, "plain.f32");
    /* data points at file_offset: same bytes as a plain read of the file. */
    for (size_t i = 0; i < vlmi_gguf_n_tensors(g); i++) {
        const vlmi_tensor_info *ti = vlmi_gguf_tensor(g, i);
        CHECK(memcmp(ti->data, file + ti->file_offset, ti->n_bytes) == 0);
    }
    for (int i = 0; i < 120; i++) {
        float v;
        memcpy(&v, (const unsigned char *)t->data + 4 * i, 4);
        CHECK(v == (float)(i * 0.5 - 3));
    }
    t = vlmi_gguf_find_tensor(g, "plain.f64");
    for (int i = 0; i < 6; i++) {
        double v;
        memcpy(&v, (const unsigned char *)t->data + 8 * i, 8);
        CHECK(v == i * 0.5 - 3);
    }
    t = vlmi_gguf_find_tensor(g, "plain.i8");
    for (int i = 0; i < 6; i++) CHECK(((const int8_t *)t->data)[i] == i - 3);
    t = vlmi_gguf_find_tensor(g, "plain.i64");
    for (int i = 0; i < 6; i++) {
        int64_t v;
        memcpy(&v, (const unsigned char *)t->data + 8 * i, 8);
        CHECK(v == i - 3);
    }
    t = vlmi_gguf_find_tensor(g, "plain.i16");
    for (int i = 0; i < 6; i++) {
        int16_t v;
        memcpy(&v, (const unsigned char *)t->data + 2 * i, 2);
        CHECK(v == i - 3);
    }
}

static void test_fixture(void) {
    vlmi_gguf *g = NULL;
    CHECK_OK(vlmi_gguf_open(fixture_path("all_types.gguf"), &g));
    if (g == NULL) return;
    CHECK(vlmi_gguf_version(g) == 3);
    CHECK(vlmi_gguf_alignment(g) == 64);
    CHECK(vlmi_gguf_n_kv(g) == 29);
    CHECK(strcmp(vlmi_gguf_kv_at(g, 0)->key, "general.architecture") == 0);
    CHECK(strcmp(vlmi_gguf_kv_at(g, 28)->key, "test.array.nested3") == 0);
    CHECK(vlmi_gguf_kv_at(g, 29) == NULL);
    CHECK(strstr(vlmi_gguf_path(g), "all_types.gguf") != NULL);
    check_scalars(g);
    check_arrays(g);
    size_t size;
    unsigned char *file = read_fixture("all_types.gguf", &size);
    check_tensors(g, file);
    free(file);
    vlmi_gguf_close(g);
    vlmi_gguf_close(NULL);
}

/* ---- every value and tensor, as the fuzz target does ---- */

static void touch_value(const vlmi_gguf_value *v, int depth) {
    int64_t i;
    uint64_t u;
    double f;
    bool b;
    const char *s;
    size_t len;
    (void)vlmi_gguf_value_int(v, &i);
    (void)vlmi_gguf_value_uint(v, &u);
    (void)vlmi_gguf_value_float(v, &f);
    (void)vlmi_gguf_value_bool(v, &b);
    if (vlmi_gguf_value_string(v, &s, &len) && len > 0) {
        volatile char first = s[0], last = s[len - 1];  /* in bounds: ASan checks */
        (void)first;
        (void)last;
    }
    if (v->type != VLMI_GGUF_ARRAY) return;
    vlmi_gguf_cursor cursor = {0, 0};
    vlmi_gguf_value elem;
    uint64_t n = 0;
    while (vlmi_gguf_array_next(v, &cursor, &elem)) {
        touch_value(&elem, depth + 1);
        n++;
    }
    CHECK(n == v->n_elems && cursor.offset == v->size);
}

static void touch_all(const vlmi_gguf *g) {
    for (size_t i = 0; i < vlmi_gguf_n_kv(g); i++) touch_value(&vlmi_gguf_kv_at(g, i)->value, 0);
    for (size_t i = 0; i < vlmi_gguf_n_tensors(g); i++) {
        const vlmi_tensor_info *t = vlmi_gguf_tensor(g, i);
        const unsigned char *p = t->data;
        for (uint64_t j = 0; j < t->n_bytes; j++) byte_sink += p[j];
    }
}

/* ---- malformed files ---- */

/* Every prefix of the fixture: all fail with VLM_ERR_FORMAT until the last
 * tensor's bytes are complete. Exact-size copies let ASan catch over-reads. */
static void test_truncations(void) {
    size_t size;
    unsigned char *file = read_fixture("all_types.gguf", &size);
    vlmi_gguf *full = NULL;
    CHECK_OK(vlmi_gguf_open_memory(file, size, "all_types.gguf", &full));
    if (full == NULL) { free(file); return; }
    uint64_t end = 0;
    for (size_t i = 0; i < vlmi_gguf_n_tensors(full); i++) {
        const vlmi_tensor_info *t = vlmi_gguf_tensor(full, i);
        if (t->file_offset + t->n_bytes > end) end = t->file_offset + t->n_bytes;
    }
    vlmi_gguf_close(full);
    int wrong = 0;
    for (size_t n = 0; n < size; n++) {
        unsigned char *copy = malloc(n ? n : 1);
        memcpy(copy, file, n);
        vlmi_gguf *g = NULL;
        vlm_status st = vlmi_gguf_open_memory(copy, n, "cut.gguf", &g);
        vlm_status want = n < end ? VLM_ERR_FORMAT : VLM_OK;
        if (st != want || (st != VLM_OK && strstr(vlm_last_error(), "cut.gguf") == NULL) ||
            (st != VLM_OK) != (g == NULL)) {
            if (wrong++ < 5)
                fprintf(stderr, "prefix %zu: %s (%s), expected %s\n", n, vlm_status_string(st),
                        vlm_last_error(), vlm_status_string(want));
        }
        if (g != NULL) touch_all(g);
        vlmi_gguf_close(g);
        free(copy);
    }
    CHECK_MSG(wrong == 0, "%d prefixes misjudged", wrong);
    free(file);
}

/* Random byte changes in the header region: any status, never a crash. */
static void test_corruptions(void) {
    size_t size;
    unsigned char *file = read_fixture("all_types.gguf", &size);
    unsigned char *copy = malloc(size);
    uint32_t state = 12345;
    int opened = 0;
    for (int round = 0; round < 3000; round++) {
        memcpy(copy, file, size);
        int n_changes = 1 + round % 4;
        for (int c = 0; c < n_changes; c++) {
            state = state * 1664525u + 1013904223u;
            size_t at = (state >> 8) % 2300;  /* header and tensor infos */
            state = state * 1664525u + 1013904223u;
            copy[at] = round % 3 == 0 ? (unsigned char)(state >> 24) : copy[at] ^ (1u << (state >> 29));
        }
        vlmi_gguf *g = NULL;
        vlm_status st = vlmi_gguf_open_memory(copy, size, "flip.gguf", &g);
        if (st == VLM_OK) {
            opened++;
            touch_all(g);
        } else {
            CHECK_MSG(strstr(vlm_last_error(), "flip.gguf") != NULL, "message '%s'", vlm_last_error());
            CHECK(st == VLM_ERR_FORMAT || st == VLM_ERR_UNSUPPORTED);
        }
        vlmi_gguf_close(g);
    }
    printf("corruptions: %d of 3000 still parse\n", opened);
    free(copy);
    free(file);
}

/* A hand-made GGUF: header, then the caller appends kvs and infos. */
static bytes header(uint32_t version, uint64_t n_tensors, uint64_t n_kv) {
    bytes b = {0};
    put(&b, "GGUF", 4);
    put_u32(&b, version);
    put_u64(&b, n_tensors);
    put_u64(&b, n_kv);
    return b;
}

static void put_tensor_info(bytes *b, const char *name, uint32_t n_dims, const uint64_t *ne,
                            uint32_t type, uint64_t offset) {
    put_str(b, name);
    put_u32(b, n_dims);
    for (uint32_t i = 0; i < n_dims; i++) put_u64(b, ne[i]);
    put_u32(b, type);
    put_u64(b, offset);
}

/* Opens b from memory and checks status and message; frees b. */
static void expect(bytes *b, vlm_status status, const char *fragment) {
    vlmi_gguf *g = NULL;
    if (status == VLM_OK) {
        CHECK_OK(vlmi_gguf_open_memory(b->data, b->size, "hand.gguf", &g));
        if (g != NULL) touch_all(g);
    } else {
        CHECK_FAILS(status, "hand.gguf", fragment, vlmi_gguf_open_memory(b->data, b->size, "hand.gguf", &g));
        CHECK(g == NULL);
    }
    vlmi_gguf_close(g);
    free(b->data);
}

/* One F32 tensor of ne0 elements at offset 0, with its data. */
static bytes one_tensor_file(uint32_t type, uint64_t ne0, uint64_t offset, size_t data_bytes) {
    bytes b = header(3, 1, 0);
    put_tensor_info(&b, "w", 1, (uint64_t[]){ne0}, type, offset);
    pad_to(&b, 32);
    put_zeros(&b, data_bytes);
    return b;
}

static void test_handmade(void) {
    bytes b;

    /* Valid edge cases. */
    b = one_tensor_file(0, 4, 0, 16);
    expect(&b, VLM_OK, "");
    b = header(2, 0, 0);
    expect(&b, VLM_OK, "");  /* v2, nothing in it */
    b = header(3, 0, 1);
    put_str(&b, "empty");
    put_u32(&b, VLMI_GGUF_ARRAY);
    put_u32(&b, VLMI_GGUF_STRING);
    put_u64(&b, 0);
    expect(&b, VLM_OK, "");  /* an empty array */
    b = one_tensor_file(0, 0, 0, 0);
    expect(&b, VLM_OK, "");  /* an empty tensor */
    b = one_tensor_file(9, 64, 0, 72);  /* Q8_1: 2 blocks of 36 bytes */
    vlmi_gguf *q8_1 = NULL;
    CHECK_OK(vlmi_gguf_open_memory(b.data, b.size, "q8_1.gguf", &q8_1));
    CHECK(q8_1 && vlmi_gguf_tensor(q8_1, 0)->dtype == VLMI_DTYPE_Q8_1 &&
          vlmi_gguf_tensor(q8_1, 0)->n_bytes == 72);
    vlmi_gguf_close(q8_1);
    free(b.data);

    /* Header. */
    b = header(3, 0, 0);
    b.data[3] = 'X';
    expect(&b, VLM_ERR_FORMAT, "magic");
    b = header(1, 0, 0);
    expect(&b, VLM_ERR_UNSUPPORTED, "version 1");
    b = header(4, 0, 0);
    expect(&b, VLM_ERR_UNSUPPORTED, "version 4");
    b = header(0x03000000, 0, 0);
    expect(&b, VLM_ERR_UNSUPPORTED, "big-endian");
    b = header(3, (uint64_t)1 << 60, 0);
    expect(&b, VLM_ERR_FORMAT, "tensor infos cannot fit");
    b = header(3, 0, UINT64_MAX);
    expect(&b, VLM_ERR_FORMAT, "metadata entries cannot fit");
    b = header(3, 1, 0);
    b.size -= 3;
    expect(&b, VLM_ERR_FORMAT, "header runs past");

    /* Metadata. */
    b = header(3, 0, 1);
    put_u64(&b, (uint64_t)1 << 63);  /* key length */
    put_zeros(&b, 16);
    expect(&b, VLM_ERR_FORMAT, "key 0 of 1");
    b = header(3, 0, 1);
    put_str(&b, "k");
    put_u32(&b, 13);
    put_zeros(&b, 8);
    expect(&b, VLM_ERR_FORMAT, "metadata 'k': unknown value type 13");
    b = header(3, 0, 1);
    put_str(&b, "k");
    put_u32(&b, VLMI_GGUF_STRING);
    put_u64(&b, 1000);
    put(&b, "short", 5);
    expect(&b, VLM_ERR_FORMAT, "metadata 'k': string value runs past");
    b = header(3, 0, 1);
    put_str(&b, "k");
    put_u32(&b, VLMI_GGUF_UINT64);
    put_zeros(&b, 7);
    expect(&b, VLM_ERR_FORMAT, "metadata 'k': uint64 value runs past");
    b = header(3, 0, 1);
    put_str(&b, "k");
    put_u32(&b, VLMI_GGUF_ARRAY);
    put_u32(&b, VLMI_GGUF_UINT32);
    put_u64(&b, (uint64_t)1 << 62);  /* 2^64 bytes: the multiply overflows */
    put_zeros(&b, 64);
    expect(&b, VLM_ERR_FORMAT, "array of 4611686018427387904 uint32");
    b = header(3, 0, 1);
    put_str(&b, "k");
    put_u32(&b, VLMI_GGUF_ARRAY);
    put_u32(&b, VLMI_GGUF_STRING);
    put_u64(&b, (uint64_t)1 << 40);
    put_zeros(&b, 64);
    expect(&b, VLM_ERR_FORMAT, "array of 1099511627776 string");
    b = header(3, 0, 1);
    put_str(&b, "k");
    put_u32(&b, VLMI_GGUF_ARRAY);
    put_u32(&b, 77);
    put_u64(&b, 1);
    expect(&b, VLM_ERR_FORMAT, "array of unknown value type 77");
    b = header(3, 0, 1);
    put_str(&b, "deep");
    put_u32(&b, VLMI_GGUF_ARRAY);
    for (int i = 0; i < 12; i++) {
        put_u32(&b, VLMI_GGUF_ARRAY);
        put_u64(&b, 1);
    }
    put_u32(&b, VLMI_GGUF_UINT8);
    put_u64(&b, 0);
    expect(&b, VLM_ERR_FORMAT, "metadata 'deep': arrays nested more than 8 deep");
    b = header(3, 0, 2);
    for (int i = 0; i < 2; i++) {
        put_str(&b, "twice");
        put_u32(&b, VLMI_GGUF_UINT8);
        put_u8(&b, 1);
    }
    expect(&b, VLM_ERR_FORMAT, "metadata 'twice' appears twice");
    b = header(3, 0, 1);
    put_u64(&b, 3);
    put(&b, "a\0b", 3);
    put_u32(&b, VLMI_GGUF_UINT8);
    put_u8(&b, 1);
    expect(&b, VLM_ERR_FORMAT, "NUL");

    /* Alignment. */
    uint32_t bad_alignments[] = {0, 48};
    for (int i = 0; i < 2; i++) {
        b = header(3, 0, 1);
        put_str(&b, "general.alignment");
        put_u32(&b, VLMI_GGUF_UINT32);
        put_u32(&b, bad_alignments[i]);
        expect(&b, VLM_ERR_FORMAT, "not a power of two");
    }
    b = header(3, 0, 1);
    put_str(&b, "general.alignment");
    put_u32(&b, VLMI_GGUF_UINT64);
    put_u64(&b, 32);
    expect(&b, VLM_ERR_FORMAT, "general.alignment is uint64, expected uint32");
    b = header(3, 1, 1);
    put_str(&b, "general.alignment");
    put_u32(&b, VLMI_GGUF_UINT32);
    put_u32(&b, 256);
    put_tensor_info(&b, "w", 1, (uint64_t[]){4}, 0, 128);
    pad_to(&b, 256);
    put_zeros(&b, 512);
    expect(&b, VLM_ERR_FORMAT, "tensor 'w': offset 128 is not a multiple of the alignment 256");

    /* Tensor infos. */
    b = header(3, 1, 0);
    put_tensor_info(&b, "w5", 5, (uint64_t[]){1, 1, 1, 1, 1}, 0, 0);
    pad_to(&b, 32);
    put_zeros(&b, 64);
    expect(&b, VLM_ERR_FORMAT, "tensor 'w5': n_dims 5");
    b = header(3, 1, 0);
    put_tensor_info(&b, "w0", 0, NULL, 0, 0);  /* a scalar, as ggml allows */
    pad_to(&b, 32);
    put_zeros(&b, 4);
    vlmi_gguf *scalar = NULL;
    CHECK_OK(vlmi_gguf_open_memory(b.data, b.size, "scalar.gguf", &scalar));
    CHECK(scalar && vlmi_gguf_tensor(scalar, 0)->n_dims == 0 &&
          vlmi_gguf_tensor(scalar, 0)->n_elements == 1 && vlmi_gguf_tensor(scalar, 0)->n_bytes == 4);
    vlmi_gguf_close(scalar);
    free(b.data);
    b = header(3, 1, 0);
    put_tensor_info(&b, "q0", 0, NULL, 2, 0);  /* a Q4_0 scalar cannot be */
    pad_to(&b, 32);
    put_zeros(&b, 64);
    expect(&b, VLM_ERR_FORMAT, "tensor 'q0': rows of 1 elements");
    b = header(3, 1, 0);
    put_tensor_info(&b, "neg", 2, (uint64_t[]){4, (uint64_t)1 << 63}, 0, 0);
    put_zeros(&b, 64);
    expect(&b, VLM_ERR_FORMAT, "tensor 'neg': ne[1]");
    b = header(3, 1, 0);
    put_tensor_info(&b, "big", 3, (uint64_t[]){(uint64_t)1 << 30, (uint64_t)1 << 30, (uint64_t)1 << 30}, 0, 0);
    put_zeros(&b, 64);
    expect(&b, VLM_ERR_FORMAT, "tensor 'big': element count overflows");
    b = header(3, 1, 0);
    put_tensor_info(&b, "bytes", 2, (uint64_t[]){(uint64_t)1 << 32, (uint64_t)1 << 30}, 0, 0);
    put_zeros(&b, 64);
    expect(&b, VLM_ERR_FORMAT, "tensor 'bytes': byte size overflows");
    b = one_tensor_file(16, 256, 0, 64);
    expect(&b, VLM_ERR_UNSUPPORTED, "tensor 'w': ggml type 16 (IQ2_XXS) is not supported");
    b = one_tensor_file(99, 4, 0, 64);
    expect(&b, VLM_ERR_UNSUPPORTED, "tensor 'w': ggml type 99 (unknown)");
    b = one_tensor_file(2, 20, 0, 64);  /* Q4_0 rows must be multiples of 32 */
    expect(&b, VLM_ERR_FORMAT, "tensor 'w': rows of 20 elements are not a multiple of the Q4_0 block size 32");
    b = one_tensor_file(0, 4, 8, 64);
    expect(&b, VLM_ERR_FORMAT, "tensor 'w': offset 8 is not a multiple of the alignment 32");
    b = one_tensor_file(0, 8, 0, 31);
    expect(&b, VLM_ERR_FORMAT, "tensor 'w': 32 bytes at offset 0 run past the end");
    b = one_tensor_file(0, 8, 64, 64);
    expect(&b, VLM_ERR_FORMAT, "tensor 'w': 32 bytes at offset 64 run past the end");
    b = one_tensor_file(0, 8, UINT64_MAX - 31, 64);  /* offset + start overflows */
    expect(&b, VLM_ERR_FORMAT, "run past the end");
    b = header(3, 1, 0);
    put_tensor_info(&b, "w", 1, (uint64_t[]){8}, 0, 0);  /* no padding, no data */
    expect(&b, VLM_ERR_FORMAT, "data section at 64 starts past the end");
    b = header(3, 2, 0);
    put_tensor_info(&b, "a", 1, (uint64_t[]){16}, 0, 0);
    put_tensor_info(&b, "b", 1, (uint64_t[]){8}, 0, 32);
    pad_to(&b, 32);
    put_zeros(&b, 64);
    expect(&b, VLM_ERR_FORMAT, "tensors 'a' and 'b' overlap");
    b = header(3, 2, 0);
    put_tensor_info(&b, "same", 1, (uint64_t[]){8}, 0, 0);
    put_tensor_info(&b, "same", 1, (uint64_t[]){8}, 0, 32);
    pad_to(&b, 32);
    put_zeros(&b, 64);
    expect(&b, VLM_ERR_FORMAT, "tensor 'same' appears twice");
    b = header(3, 2, 0);
    put_tensor_info(&b, "a", 1, (uint64_t[]){8}, 0, 0);
    put_u64(&b, 1000);  /* the second info's name is cut short */
    put_zeros(&b, 40);
    expect(&b, VLM_ERR_FORMAT, "tensor info 1 runs past");
}

static void test_files(void) {
    scratch_init();
    vlmi_gguf *g = NULL;
    const char *missing = fixture_path("no-such-file.gguf");
    CHECK_FAILS(VLM_ERR_IO, "no-such-file.gguf", "cannot open", vlmi_gguf_open(missing, &g));
    CHECK(g == NULL);
    const char *empty = scratch_write("empty.gguf", "", 0);
    CHECK_FAILS(VLM_ERR_FORMAT, empty, "magic", vlmi_gguf_open(empty, &g));
    bytes b = one_tensor_file(0, 4, 8, 64);
    const char *bad = scratch_write("misaligned.gguf", b.data, b.size);
    free(b.data);
    CHECK_FAILS(VLM_ERR_FORMAT, bad, "alignment", vlmi_gguf_open(bad, &g));
    CHECK_FAILS(VLM_ERR_IO, scratch_dir, "not a regular file", vlmi_gguf_open(scratch_dir, &g));
    scratch_cleanup();
}

int main(void) {
    test_fixture();
    test_truncations();
    test_corruptions();
    test_handmade();
    test_files();
    return test_finish("test_gguf");
}
