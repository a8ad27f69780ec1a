/* Reads the orientation the way Pillow's Image.getexif() does: the TIFF
 * structure inside an EXIF blob (IFD0 only), falling back to the XMP
 * tiff:Orientation property when IFD0 has no Orientation entry. Every read
 * is bounds-checked against the blob; anything malformed means "absent". */
#include "image/image.h"

#include <string.h>

#define TAG_ORIENTATION 0x0112

typedef struct tiff_reader {
    const uint8_t *data;
    size_t size;
    bool big_endian;
} tiff_reader;

static bool read_u16(const tiff_reader *t, size_t at, uint32_t *out) {
    if (at > t->size || t->size - at < 2) return false;
    const uint8_t *p = t->data + at;
    *out = t->big_endian ? (uint32_t)(p[0] << 8 | p[1]) : (uint32_t)(p[1] << 8 | p[0]);
    return true;
}

static bool read_u32(const tiff_reader *t, size_t at, uint32_t *out) {
    if (at > t->size || t->size - at < 4) return false;
    const uint8_t *p = t->data + at;
    *out = t->big_endian
               ? (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]
               : (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
    return true;
}

/* Integer value of a count-1 entry whose value sits in the entry itself;
 * 0 for a type Pillow would not turn into a plain int (the orientation is
 * then present but matches no transposition). */
static int entry_value(const tiff_reader *t, size_t value_at, uint32_t type, uint32_t count) {
    uint32_t v;
    if (count != 1) return 0;  /* Pillow keeps a tuple: no transposition */
    switch (type) {
    case 1: /* BYTE */
        return t->data[value_at];
    case 6: /* SBYTE */
        return (int8_t)t->data[value_at];
    case 3: /* SHORT */
        return read_u16(t, value_at, &v) ? (int)v : 0;
    case 8: /* SSHORT */
        return read_u16(t, value_at, &v) ? (int16_t)v : 0;
    case 4: /* LONG */
    case 9: /* SLONG */
        return read_u32(t, value_at, &v) && v <= 8 ? (int)v : 0;
    default:
        return 0;
    }
}

/* Returns the orientation value, 0 if present but unusable, -1 if absent. */
static int tiff_orientation(const uint8_t *data, size_t size) {
    if (size >= 6 && memcmp(data, "Exif\0\0", 6) == 0) {
        data += 6;
        size -= 6;
    }
    if (size < 8) return -1;
    tiff_reader t = {data, size, false};
    /* Pillow accepts both byte orders with either magic byte order. */
    if (memcmp(data, "MM", 2) == 0) t.big_endian = true;
    else if (memcmp(data, "II", 2) != 0) return -1;
    if (!((data[2] == 0x2a && data[3] == 0) || (data[2] == 0 && data[3] == 0x2a))) return -1;
    uint32_t ifd, n_entries;
    if (!read_u32(&t, 4, &ifd) || !read_u16(&t, ifd, &n_entries)) return -1;
    int orientation = -1;
    for (uint32_t i = 0; i < n_entries; i++) {
        size_t at = (size_t)ifd + 2 + (size_t)i * 12;
        uint32_t tag, type, count;
        /* A truncated directory keeps the entries read so far, as Pillow. */
        if (!read_u16(&t, at, &tag) || !read_u16(&t, at + 2, &type) ||
            !read_u32(&t, at + 4, &count) || at + 12 > size)
            break;
        if (tag != TAG_ORIENTATION) continue;
        if (type < 1 || type > 13) continue;  /* unknown types are skipped */
        orientation = entry_value(&t, at + 8, type, count);  /* the last one wins */
    }
    return orientation;
}

int vlmi_exif_orientation(const uint8_t *data, size_t size) {
    if (data == NULL) return -1;
    return tiff_orientation(data, size);
}

int vlmi_xmp_orientation(const uint8_t *data, size_t size) {
    static const char key[] = "tiff:Orientation";
    const size_t key_len = sizeof key - 1;
    if (data == NULL) return 0;
    for (size_t i = 0; i + key_len + 1 < size; i++) {
        if (memcmp(data + i, key, key_len) != 0) continue;
        size_t at = i + key_len;
        if (data[at] == '=' && at + 2 < size && data[at + 1] == '"') at += 2;
        else if (data[at] == '>') at += 1;
        else continue;
        if (at < size && data[at] >= '0' && data[at] <= '9') return data[at] - '0';
    }
    return 0;
}
