/* Read-only file mapping and whole-file reads. */
#ifndef VLM_IO_FILE_H
#define VLM_IO_FILE_H

#include "vlm-impl.h"

typedef struct vlmi_mapped_file {
    const uint8_t *data;  /* (size) read-only bytes; NULL when size == 0 */
    size_t size;
} vlmi_mapped_file;

/* Maps path read-only. Errors name the path. */
vlm_status vlmi_file_map(const char *path, vlmi_mapped_file *out);
void vlmi_file_unmap(vlmi_mapped_file *file);

/* Reads a whole (small) file into a NUL-terminated buffer the caller frees
 * with free(); refuses files larger than max_size with VLM_ERR_LIMIT. */
vlm_status vlmi_file_read(const char *path, size_t max_size, char **out_data,
                          size_t *out_size);

/* True if path exists and is a directory / a regular file. */
int vlmi_is_directory(const char *path);
int vlmi_is_regular_file(const char *path);

/* Joins dir and name with '/' into a malloc'd string (NULL + error on OOM). */
char *vlmi_path_join(const char *dir, const char *name);

#endif
