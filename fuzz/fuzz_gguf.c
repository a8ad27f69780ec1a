/* Fuzz target: a GGUF file parsed from memory, then every metadata value
 * (nested arrays walked to the bottom), every tensor's bytes, and the
 * dequantization of every tensor that has a dequantizer. Any input must end
 * in VLM_OK or a status with a message: never a crash, leak or over-read. */
#include "io/gguf.h"
#include "kernels.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile uint64_t sink;

static void touch_value(const vlmi_gguf_value *v) {
    int64_t i;
    uint64_t u;
    double f;
    bool b;
    const char *s;
    size_t len;
    if (vlmi_gguf_value_int(v, &i)) sink += (uint64_t)i;
    if (vlmi_gguf_value_uint(v, &u)) sink += u;
    if (vlmi_gguf_value_float(v, &f)) sink += f == f;
    if (vlmi_gguf_value_bool(v, &b)) sink += b;
    if (vlmi_gguf_value_string(v, &s, &len) && len > 0) sink += (uint8_t)s[0] + (uint8_t)s[len - 1];
    if (v->type != VLMI_GGUF_ARRAY) return;
    vlmi_gguf_cursor cursor = {0, 0};
    vlmi_gguf_value elem;
    uint64_t n = 0;
    while (vlmi_gguf_array_next(v, &cursor, &elem)) {
        touch_value(&elem);
        n++;
    }
    if (n != v->n_elems || cursor.offset != v->size) abort();  /* validated at open */
    if (n > 0 && !vlmi_gguf_array_get(v, n - 1, &elem)) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    vlmi_gguf *g = NULL;
    if (vlmi_gguf_open_memory(data, size, "fuzz.gguf", &g) != VLM_OK) {
        if (vlm_last_error()[0] == '\0') abort();  /* failures must say why */
        return 0;
    }
    for (size_t i = 0; i < vlmi_gguf_n_kv(g); i++) {
        const vlmi_gguf_kv *kv = vlmi_gguf_kv_at(g, i);
        if (vlmi_gguf_find_kv(g, kv->key) != kv) abort();
        touch_value(&kv->value);
    }
    for (size_t i = 0; i < vlmi_gguf_n_tensors(g); i++) {
        const vlmi_tensor_info *t = vlmi_gguf_tensor(g, i);
        const uint8_t *bytes = t->data;
        for (uint64_t j = 0; j < t->n_bytes; j++) sink += bytes[j];
        if (vlmi_gguf_find_tensor(g, t->name) != t) abort();
        vlmi_dequant_fn dequant = vlmi_dequant_fn_for(t->dtype);
        if (dequant == NULL || t->n_elements == 0 || t->n_elements > (1u << 20)) continue;
        float *y = malloc((size_t)t->n_elements * sizeof *y);
        if (y == NULL) continue;
        dequant(y, t->data, (size_t)t->n_elements);
        sink += (uint64_t)(y[0] == y[0]);
        free(y);
    }
    vlmi_gguf_close(g);
    return 0;
}
