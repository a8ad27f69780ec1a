/* Read-only file mapping and whole-file reads. */
#include "io/file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

vlm_status vlmi_file_map(const char *path, vlmi_mapped_file *out) {
    out->data = NULL;
    out->size = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return vlmi_fail(VLM_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return vlmi_fail(VLM_ERR_IO, "%s: not a regular file", path);
    }
    if (st.st_size == 0) { close(fd); return VLM_OK; }
    if ((uint64_t)st.st_size > SIZE_MAX) {
        close(fd);
        return vlmi_fail(VLM_ERR_LIMIT, "%s: too large to map", path);
    }
    void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    int saved = errno;
    close(fd);
    if (p == MAP_FAILED) return vlmi_fail(VLM_ERR_IO, "%s: mmap failed: %s", path, strerror(saved));
    out->data = p;
    out->size = (size_t)st.st_size;
    return VLM_OK;
}

void vlmi_file_unmap(vlmi_mapped_file *file) {
    if (file->data != NULL) munmap((void *)file->data, file->size);
    file->data = NULL;
    file->size = 0;
}

vlm_status vlmi_file_read(const char *path, size_t max_size, char **out_data,
                          size_t *out_size) {
    *out_data = NULL;
    *out_size = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return vlmi_fail(VLM_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return vlmi_fail(VLM_ERR_IO, "%s: not a regular file", path);
    }
    if ((uint64_t)st.st_size > max_size) {
        close(fd);
        return vlmi_fail(VLM_ERR_LIMIT, "%s: %lld bytes, more than the %zu allowed", path,
                         (long long)st.st_size, max_size);
    }
    size_t size = (size_t)st.st_size;
    char *buf = vlmi_malloc(size + 1);
    if (buf == NULL) { close(fd); return VLM_ERR_OUT_OF_MEMORY; }
    size_t done = 0;
    while (done < size) {
        ssize_t n = read(fd, buf + done, size - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            close(fd);
            free(buf);
            return vlmi_fail(VLM_ERR_IO, "%s: read failed", path);
        }
        done += (size_t)n;
    }
    close(fd);
    buf[size] = '\0';
    *out_data = buf;
    *out_size = size;
    return VLM_OK;
}

int vlmi_is_directory(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

int vlmi_is_regular_file(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

char *vlmi_path_join(const char *dir, const char *name) {
    size_t a = strlen(dir), b = strlen(name);
    char *p = vlmi_malloc(a + b + 2);
    if (p == NULL) return NULL;
    memcpy(p, dir, a);
    p[a] = '/';
    memcpy(p + a + 1, name, b + 1);
    return p;
}
