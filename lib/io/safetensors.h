/* safetensors reader: maps a file, validates its JSON header against the
 * file, and describes each tensor without copying it. A "set" opens a whole
 * checkpoint: one model.safetensors or every shard a
 * model.safetensors.index.json names.
 *
 * Format: u64 little-endian header length N, N bytes of JSON
 * {"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]},
 *  "__metadata__": {"key": "value"}}, then the data section; offsets are
 * relative to the data section (byte 8 + N). */
#ifndef VLM_IO_SAFETENSORS_H
#define VLM_IO_SAFETENSORS_H

#include "io/dtype.h"

/* Headers larger than this are refused (the safetensors crate's limit). */
#define VLMI_SAFETENSORS_MAX_HEADER 100000000u

typedef struct vlmi_safetensors vlmi_safetensors;

/* Maps and validates path. Caller owns *out (vlmi_safetensors_close).
 * VLM_ERR_IO if the file cannot be opened, VLM_ERR_FORMAT if malformed,
 * VLM_ERR_UNSUPPORTED for a dtype or rank we do not handle; messages start
 * with path. */
vlm_status vlmi_safetensors_open(const char *path, vlmi_safetensors **out);
/* The same over size bytes in memory, which the caller keeps alive and
 * unchanged until close. display_name stands for the file in messages. */
vlm_status vlmi_safetensors_open_memory(const void *data, size_t size,
                                        const char *display_name,
                                        vlmi_safetensors **out);
void vlmi_safetensors_close(vlmi_safetensors *st);  /* NULL is fine */

/* The path (or display name) it was opened with. Borrowed. */
const char *vlmi_safetensors_path(const vlmi_safetensors *st);

/* Tensors in data-section order. Borrowed from st. */
size_t vlmi_safetensors_n_tensors(const vlmi_safetensors *st);
const vlmi_tensor_info *vlmi_safetensors_tensor(const vlmi_safetensors *st,
                                                size_t index);
/* The tensor called name, or NULL. O(log n). */
const vlmi_tensor_info *vlmi_safetensors_find(const vlmi_safetensors *st,
                                              const char *name);

/* The "__metadata__" string map, in header order. Borrowed from st. */
size_t vlmi_safetensors_n_metadata(const vlmi_safetensors *st);
void vlmi_safetensors_metadata_at(const vlmi_safetensors *st, size_t index,
                                  const char **key, const char **value);
/* The value of key, or NULL. */
const char *vlmi_safetensors_metadata(const vlmi_safetensors *st,
                                      const char *key);

/* ---- checkpoint sets ---- */

typedef struct vlmi_safetensors_set vlmi_safetensors_set;

/* path is a model directory (model.safetensors.index.json if present, else
 * model.safetensors), an index .json file, or a single .safetensors file.
 * Each shard is opened once; tensor names must be unique across shards and
 * every weight_map entry must be in the shard it names. Caller owns *out
 * (vlmi_safetensors_set_close). */
vlm_status vlmi_safetensors_set_open(const char *path,
                                     vlmi_safetensors_set **out);
void vlmi_safetensors_set_close(vlmi_safetensors_set *set);  /* NULL is fine */

/* A set over tensors another reader maps (a GGUF file's, described the same
 * way), so code that binds from a set reads them unchanged. The n infos are
 * copied; the names and data they point to are borrowed and must outlive
 * the set, which has no files. Names must be unique (VLM_ERR_FORMAT naming
 * the first repeated one, prefixed with display_name). Caller owns *out
 * (vlmi_safetensors_set_close). */
vlm_status vlmi_safetensors_set_view(const vlmi_tensor_info *tensors, size_t n,
                                     const char *display_name,
                                     vlmi_safetensors_set **out);

/* Shards in file-name order. Borrowed from set. */
size_t vlmi_safetensors_set_n_files(const vlmi_safetensors_set *set);
const vlmi_safetensors *vlmi_safetensors_set_file(const vlmi_safetensors_set *set,
                                                  size_t index);
/* All tensors: shard by shard, each in data-section order. Borrowed. */
size_t vlmi_safetensors_set_n_tensors(const vlmi_safetensors_set *set);
const vlmi_tensor_info *vlmi_safetensors_set_tensor(const vlmi_safetensors_set *set,
                                                    size_t index);
const vlmi_tensor_info *vlmi_safetensors_set_find(const vlmi_safetensors_set *set,
                                                  const char *name);

#endif
