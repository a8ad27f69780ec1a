/* Fuzz target: a safetensors file parsed from memory, then every tensor's
 * bytes, every name lookup and the metadata read back. Any input must end in
 * VLM_OK or a status with a message: never a crash, leak or over-read. */
#include "io/safetensors.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile uint8_t sink;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    vlmi_safetensors *st = NULL;
    if (vlmi_safetensors_open_memory(data, size, "fuzz.safetensors", &st) != VLM_OK) {
        if (vlm_last_error()[0] == '\0') abort();  /* failures must say why */
        return 0;
    }
    for (size_t i = 0; i < vlmi_safetensors_n_tensors(st); i++) {
        const vlmi_tensor_info *t = vlmi_safetensors_tensor(st, i);
        const uint8_t *bytes = t->data;
        for (uint64_t j = 0; j < t->n_bytes; j++) sink ^= bytes[j];
        if (vlmi_safetensors_find(st, t->name) != t) abort();
    }
    for (size_t i = 0; i < vlmi_safetensors_n_metadata(st); i++) {
        const char *key, *value;
        vlmi_safetensors_metadata_at(st, i, &key, &value);
        sink ^= (uint8_t)(strlen(key) + strlen(value));
    }
    vlmi_safetensors_close(st);
    return 0;
}
