/* Reference conversions and dequantization (kernels/ref/dequant.c) against
 * independent implementations: exhaustive f16/bf16 checks, numpy's and
 * ggml's f32 rounding (fixtures), and gguf.quants' dequantization of every
 * quantized tensor in all_types.gguf, which must match bit for bit. */
#include "io/gguf.h"
#include "io_test_util.h"
#include "kernels.h"

#include <math.h>

static uint32_t bits_of(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static float float_of(uint32_t u) {
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/* Every f16 against the textbook formula; and back again unchanged. */
static void test_f16_exhaustive(void) {
    int wrong = 0;
    for (uint32_t h = 0; h < 65536; h++) {
        int exponent = (h >> 10) & 31, mantissa = h & 1023;
        float f = vlmi_f16_to_f32((uint16_t)h);
        if (exponent == 31 && mantissa != 0) {
            wrong += !isnan(f) || (bits_of(f) >> 31) != (h >> 15);
            uint16_t back = vlmi_f32_to_f16(f);
            wrong += (back & 0x7c00) != 0x7c00 || (back & 0x3ff) == 0 || (back >> 15) != (h >> 15);
            continue;
        }
        double want = exponent == 31 ? INFINITY
                      : exponent == 0 ? ldexp(mantissa, -24)
                                      : ldexp(1024 + mantissa, exponent - 25);
        if (h & 0x8000) want = -want;
        if ((double)f != want || (signbit(f) != 0) != ((h >> 15) != 0)) wrong++;
        if (vlmi_f32_to_f16(f) != h) wrong++;
    }
    CHECK_MSG(wrong == 0, "%d f16 values wrong", wrong);
}

static void test_bf16_exhaustive(void) {
    int wrong = 0;
    for (uint32_t b = 0; b < 65536; b++) {
        float f = vlmi_bf16_to_f32((uint16_t)b);
        if (bits_of(f) != b << 16) wrong++;
        uint16_t back = vlmi_f32_to_bf16(f);
        bool nan = (b & 0x7f80) == 0x7f80 && (b & 0x7f) != 0;
        if (nan ? back != (b | 0x40) : back != b) wrong++;
    }
    CHECK_MSG(wrong == 0, "%d bf16 values wrong", wrong);
}

/* f32 -> f16 (numpy) and -> bf16 (ggml), boundary cases and random bits. */
static void test_rounding_fixtures(void) {
    size_t n_in, n_f16, n_bf16;
    unsigned char *in = read_fixture("convert_in.f32", &n_in);
    unsigned char *f16 = read_fixture("convert_f16.u16", &n_f16);
    unsigned char *bf16 = read_fixture("convert_bf16.u16", &n_bf16);
    size_t n = n_in / 4;
    CHECK(n > 2000 && n_f16 == 2 * n && n_bf16 == 2 * n);
    float *x = malloc(n * sizeof *x);
    uint16_t *y = malloc(n * sizeof *y);
    memcpy(x, in, n * 4);
    vlmi_convert_f32_to_f16(y, x, n);
    int wrong = 0;
    for (size_t i = 0; i < n; i++) {
        uint16_t want = (uint16_t)(f16[2 * i] | f16[2 * i + 1] << 8);
        if (y[i] != want && wrong++ < 5)
            fprintf(stderr, "f16(%a) = %04x, numpy %04x\n", x[i], y[i], want);
    }
    CHECK_MSG(wrong == 0, "%d f16 roundings differ from numpy", wrong);
    vlmi_convert_f32_to_bf16(y, x, n);
    wrong = 0;
    for (size_t i = 0; i < n; i++) {
        uint16_t want = (uint16_t)(bf16[2 * i] | bf16[2 * i + 1] << 8);
        if (y[i] != want && wrong++ < 5)
            fprintf(stderr, "bf16(%a) = %04x, ggml %04x\n", x[i], y[i], want);
    }
    CHECK_MSG(wrong == 0, "%d bf16 roundings differ from ggml", wrong);

    /* NaN stays NaN (quiet), sign kept. */
    float nan_in = float_of(0xff800001u);  /* signalling, negative */
    CHECK((vlmi_f32_to_f16(nan_in) & 0xfe00) == 0xfe00);
    CHECK(isnan(vlmi_f16_to_f32(vlmi_f32_to_f16(nan_in))));
    CHECK(vlmi_f32_to_bf16(nan_in) == 0xffc0);
    CHECK(vlmi_f32_to_bf16(float_of(0x7fc00000u)) == 0x7fc0);
    free(x);
    free(y);
    free(in);
    free(f16);
    free(bf16);
}

/* Hand-computed blocks, independent of any fixture. */
static void test_known_blocks(void) {
    /* Q8_0: d = 0.5, qs = -128, 127, 0, ... */
    unsigned char q8[34] = {0x00, 0x38, 0x80, 0x7f};
    float y[256];
    vlmi_dequant_q8_0(y, q8, 32);
    CHECK(y[0] == -64.0f && y[1] == 63.5f && y[2] == 0.0f && y[31] == 0.0f);
    /* Q4_0: d = 1, qs[0] = 0x2f: element 0 = 15 - 8, element 16 = 2 - 8. */
    unsigned char q4[18] = {0x00, 0x3c, 0x2f};
    vlmi_dequant_q4_0(y, q4, 32);
    CHECK(y[0] == 7.0f && y[16] == -6.0f && y[1] == -8.0f);
    /* Q5_1: d = 2, m = -1, qh bit 17 set, qs[1] = 0x30: element 17 = (3 | 16) * 2 - 1. */
    unsigned char q5[24] = {0x00, 0x40, 0x00, 0xbc, 0x00, 0x00, 0x02, 0x00, 0x00, 0x30};
    vlmi_dequant_q5_1(y, q5, 32);
    CHECK(y[17] == 37.0f && y[1] == -1.0f && y[0] == -1.0f);
    /* Q4_K: d = 1, dmin = 1, group 0 scale 2 min 3, group 5 (packed high
     * bits) scale 17 min 33; qs[0] = 0x75. */
    unsigned char q4k[144] = {0x00, 0x3c, 0x00, 0x3c};
    unsigned char *packed = q4k + 4;
    packed[0] = 2;
    packed[4] = 3;
    packed[9] = 0x11;             /* group 5: scale low 1, min low 1 */
    packed[1] |= 1 << 6;          /* group 5 scale top bits: 1 -> +16 */
    packed[5] |= 2 << 6;          /* group 5 min top bits: 2 -> +32 */
    q4k[16] = 0x75;
    q4k[16 + 64] = 0x90;          /* groups 4/5 read qs[64..95] */
    vlmi_dequant_q4_k(y, q4k, 256);
    CHECK(y[0] == 2.0f * 5 - 3);
    CHECK(y[32] == 0.0f * 7 - 0.0f);  /* group 1: scale 0 (byte 1 low bits), min 0 */
    CHECK_MSG(y[160] == 17.0f * 9 - 33, "%g", y[160]);
    /* Q6_K: d = 1, scale[0] = -2, ql[0] = 0x0f, qh[0] = 0x03: q = 63 - 32. */
    unsigned char q6k[210] = {0};
    q6k[0] = 0x0f;
    q6k[128] = 0x03;
    q6k[192] = 0xfe;
    q6k[209] = 0x3c;
    vlmi_dequant_q6_k(y, q6k, 256);
    CHECK(y[0] == -62.0f && y[1] == 64.0f);

    CHECK(vlmi_dequant_fn_for(VLM_DTYPE_Q4_K) == vlmi_dequant_q4_k);
    CHECK(vlmi_dequant_fn_for(VLM_DTYPE_Q8_K) == NULL);
    CHECK(vlmi_dequant_fn_for(VLM_DTYPE_I32) == NULL);
    CHECK(vlmi_dequant_fn_for(VLMI_DTYPE_Q8_1) == NULL);
}

/* Each deq.* tensor of all_types.gguf against gguf.quants' output. */
static void test_against_gguf_package(void) {
    vlmi_gguf *g = NULL;
    CHECK_OK(vlmi_gguf_open(fixture_path("all_types.gguf"), &g));
    if (g == NULL) return;
    int n_checked = 0;
    for (size_t i = 0; i < vlmi_gguf_n_tensors(g); i++) {
        const vlmi_tensor_info *t = vlmi_gguf_tensor(g, i);
        if (strncmp(t->name, "deq.", 4) != 0) continue;
        char expected_name[64];
        snprintf(expected_name, sizeof expected_name, "dequant_%s.f32", t->name + 4);
        size_t expected_size;
        unsigned char *expected = read_fixture(expected_name, &expected_size);
        size_t n = (size_t)t->n_elements;
        CHECK_MSG(expected_size == 4 * n, "%s: %zu bytes", expected_name, expected_size);
        vlmi_dequant_fn dequant = vlmi_dequant_fn_for(t->dtype);
        CHECK_MSG(dequant != NULL, "%s has no dequantizer", t->name);
        if (dequant == NULL || expected_size != 4 * n) { free(expected); continue; }

        float *y = malloc(4 * n);
        dequant(y, t->data, n);
        /* The same through an odd address and row by row. */
        unsigned char *shifted = malloc(t->n_bytes + 1);
        memcpy(shifted + 1, t->data, t->n_bytes);
        float *y_rows = malloc(4 * n);
        size_t row = (size_t)t->shape[t->n_dims - 1];
        size_t row_bytes = (size_t)t->n_bytes / (n / row);
        for (size_t r = 0; r < n / row; r++) dequant(y_rows + r * row, shifted + 1 + r * row_bytes, row);

        int differ = 0;
        double worst = 0;
        for (size_t j = 0; j < n; j++) {
            float want;
            memcpy(&want, expected + 4 * j, 4);
            if (bits_of(y[j]) != bits_of(want) || bits_of(y_rows[j]) != bits_of(want)) differ++;
            double rel = fabs((double)y[j] - want) / fmax(fabs(want), 1e-30);
            if (rel > worst) worst = rel;
        }
        CHECK_MSG(differ == 0, "%s: %d of %zu values differ from gguf.quants (worst relative %g)",
                  t->name, differ, n, worst);
        n_checked++;
        free(y);
        free(y_rows);
        free(shifted);
        free(expected);
    }
    CHECK(n_checked == 12);
    vlmi_gguf_close(g);
}

int main(void) {
    test_f16_exhaustive();
    test_bf16_exhaustive();
    test_rounding_fixtures();
    test_known_blocks();
    test_against_gguf_package();
    return test_finish("test_dequant");
}
