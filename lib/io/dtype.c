/* The dtype table: one row per vlm_dtype, plus the two file formats' names
 * for them. Block layouts are ggml's (ggml-common.h), so GGUF files written
 * by llama.cpp load as they are. */
#include "io/dtype.h"

#include <string.h>

/* QK_K: elements per k-quant super-block. */
#define QK_K 256

static const vlmi_dtype_layout public_layouts[] = {
    [VLM_DTYPE_F32]  = {"F32", 1, 4},
    [VLM_DTYPE_F16]  = {"F16", 1, 2},
    [VLM_DTYPE_BF16] = {"BF16", 1, 2},
    [VLM_DTYPE_Q8_0] = {"Q8_0", 32, 2 + 32},              /* d, qs[32] */
    [VLM_DTYPE_Q4_0] = {"Q4_0", 32, 2 + 16},              /* d, qs[16] */
    [VLM_DTYPE_Q4_1] = {"Q4_1", 32, 2 + 2 + 16},          /* d, m, qs[16] */
    [VLM_DTYPE_Q5_0] = {"Q5_0", 32, 2 + 4 + 16},          /* d, qh[4], qs[16] */
    [VLM_DTYPE_Q5_1] = {"Q5_1", 32, 2 + 2 + 4 + 16},      /* d, m, qh[4], qs[16] */
    /* scales[16], qs[64], d, dmin */
    [VLM_DTYPE_Q2_K] = {"Q2_K", QK_K, QK_K / 16 + QK_K / 4 + 2 + 2},
    /* hmask[32], qs[64], scales[12], d */
    [VLM_DTYPE_Q3_K] = {"Q3_K", QK_K, QK_K / 8 + QK_K / 4 + 12 + 2},
    /* d, dmin, scales[12], qs[128] */
    [VLM_DTYPE_Q4_K] = {"Q4_K", QK_K, 2 + 2 + 12 + QK_K / 2},
    /* d, dmin, scales[12], qh[32], qs[128] */
    [VLM_DTYPE_Q5_K] = {"Q5_K", QK_K, 2 + 2 + 12 + QK_K / 8 + QK_K / 2},
    /* ql[128], qh[64], scales[16], d */
    [VLM_DTYPE_Q6_K] = {"Q6_K", QK_K, QK_K / 2 + QK_K / 4 + QK_K / 16 + 2},
    /* float d, qs[256], int16 bsums[16] */
    [VLM_DTYPE_Q8_K] = {"Q8_K", QK_K, 4 + QK_K + QK_K / 16 * 2},
    [VLM_DTYPE_I8]   = {"I8", 1, 1},
    [VLM_DTYPE_U8]   = {"U8", 1, 1},
    [VLM_DTYPE_I16]  = {"I16", 1, 2},
    [VLM_DTYPE_I32]  = {"I32", 1, 4},
    [VLM_DTYPE_I64]  = {"I64", 1, 8},
    [VLM_DTYPE_F64]  = {"F64", 1, 8},
    [VLM_DTYPE_BOOL] = {"BOOL", 1, 1},
};

/* d, s (f16 each), qs[32] */
static const vlmi_dtype_layout q8_1_layout = {"Q8_1", 32, 2 + 2 + 32};

const vlmi_dtype_layout *vlmi_dtype_layout_of(vlm_dtype dtype) {
    if (dtype == VLMI_DTYPE_Q8_1) return &q8_1_layout;
    if ((unsigned)dtype >= sizeof public_layouts / sizeof public_layouts[0]) return NULL;
    return &public_layouts[dtype];
}

const char *vlmi_dtype_name(vlm_dtype dtype) {
    const vlmi_dtype_layout *layout = vlmi_dtype_layout_of(dtype);
    return layout != NULL ? layout->name : "?";
}

bool vlmi_dtype_row_bytes(vlm_dtype dtype, uint64_t n_cols, uint64_t *out) {
    const vlmi_dtype_layout *layout = vlmi_dtype_layout_of(dtype);
    if (layout == NULL || n_cols % layout->block_size != 0) return false;
    return !__builtin_mul_overflow(n_cols / layout->block_size,
                                   (uint64_t)layout->block_bytes, out);
}

/* ---- safetensors ---- */

bool vlmi_dtype_from_safetensors(const char *name, vlm_dtype *out) {
    /* Exactly the dtypes safetensors writes for tensors we can use; F8_*,
     * U16/U32/U64 and the like are left out on purpose. */
    static const vlm_dtype supported[] = {
        VLM_DTYPE_F32, VLM_DTYPE_F16, VLM_DTYPE_BF16, VLM_DTYPE_F64,
        VLM_DTYPE_I8,  VLM_DTYPE_U8,  VLM_DTYPE_I16,  VLM_DTYPE_I32,
        VLM_DTYPE_I64, VLM_DTYPE_BOOL,
    };
    for (size_t i = 0; i < sizeof supported / sizeof supported[0]; i++) {
        if (strcmp(name, public_layouts[supported[i]].name) == 0) {
            *out = supported[i];
            return true;
        }
    }
    return false;
}

/* ---- ggml ---- */

/* Indexed by ggml type id (ggml.h enum ggml_type). Empty entries are ids
 * ggml never assigned or retired. */
static const char *const ggml_type_names[] = {
    [0] = "F32",      [1] = "F16",      [2] = "Q4_0",     [3] = "Q4_1",
    [4] = "Q4_2",     [5] = "Q4_3",     [6] = "Q5_0",     [7] = "Q5_1",
    [8] = "Q8_0",     [9] = "Q8_1",     [10] = "Q2_K",    [11] = "Q3_K",
    [12] = "Q4_K",    [13] = "Q5_K",    [14] = "Q6_K",    [15] = "Q8_K",
    [16] = "IQ2_XXS", [17] = "IQ2_XS",  [18] = "IQ3_XXS", [19] = "IQ1_S",
    [20] = "IQ4_NL",  [21] = "IQ3_S",   [22] = "IQ2_S",   [23] = "IQ4_XS",
    [24] = "I8",      [25] = "I16",     [26] = "I32",     [27] = "I64",
    [28] = "F64",     [29] = "IQ1_M",   [30] = "BF16",    [31] = "Q4_0_4_4",
    [32] = "Q4_0_4_8", [33] = "Q4_0_8_8", [34] = "TQ1_0", [35] = "TQ2_0",
    [36] = "IQ4_NL_4_4", [37] = "IQ4_NL_4_8", [38] = "IQ4_NL_8_8",
    [39] = "MXFP4",   [40] = "NVFP4",   [41] = "Q1_0",
};

const char *vlmi_ggml_type_name(uint32_t ggml_type) {
    if (ggml_type >= sizeof ggml_type_names / sizeof ggml_type_names[0] ||
        ggml_type_names[ggml_type] == NULL)
        return "unknown";
    return ggml_type_names[ggml_type];
}

bool vlmi_dtype_from_ggml(uint32_t ggml_type, vlm_dtype *out) {
    static const struct { uint32_t ggml_type; vlm_dtype dtype; } table[] = {
        {0, VLM_DTYPE_F32},   {1, VLM_DTYPE_F16},   {2, VLM_DTYPE_Q4_0},
        {3, VLM_DTYPE_Q4_1},  {6, VLM_DTYPE_Q5_0},  {7, VLM_DTYPE_Q5_1},
        {8, VLM_DTYPE_Q8_0},  {9, VLMI_DTYPE_Q8_1}, {10, VLM_DTYPE_Q2_K},
        {11, VLM_DTYPE_Q3_K}, {12, VLM_DTYPE_Q4_K}, {13, VLM_DTYPE_Q5_K},
        {14, VLM_DTYPE_Q6_K}, {15, VLM_DTYPE_Q8_K}, {24, VLM_DTYPE_I8},
        {25, VLM_DTYPE_I16},  {26, VLM_DTYPE_I32},  {27, VLM_DTYPE_I64},
        {28, VLM_DTYPE_F64},  {30, VLM_DTYPE_BF16},
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        if (table[i].ggml_type == ggml_type) {
            *out = table[i].dtype;
            return true;
        }
    }
    return false;
}
