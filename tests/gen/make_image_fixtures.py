#!/usr/bin/env python3
"""Makes the image test fixtures in tests/data/image/ and Pillow's answers.

Run from anywhere: python3 tests/gen/make_image_fixtures.py
Needs Pillow and numpy. The files are deterministic for a given Pillow build;
the manifests record the Pillow and libjpeg-turbo versions used.

What it writes:
  *.jpg, *.png        small inputs covering the decoder's cases
  *.rgb               Pillow's pixels for each input: Image.open, then
                      ImageOps.exif_transpose, then transformers'
                      convert_to_rgb (RGB as is; else RGBA, alpha_composite
                      over white, RGB). Raw RGB8, rows top to bottom.
  decode.txt          <input> <width> <height> <reference.rgb>
  truncate.txt        <input> <length> ok|error : does Pillow decode the
                      first <length> bytes of <input>?
  resize_src_*.rgb    resize sources (raw RGB8)
  resize_*.png        Pillow's Image.resize of a source (RGB PNG, exact)
  resize.txt          <source.rgb> <sw> <sh> <filter> <dw> <dh> <reference.png>
  limit_*.png/.jpg    headers claiming huge sizes (the decoder must refuse
                      them from the header alone)
and the seed corpus of fuzz/fuzz_image_decode.c in fuzz/corpus/image_decode/.
"""
import io
import os
import struct
import sys
import zlib

import numpy as np
import PIL
from PIL import Image, ImageOps, features

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "image")


# ---- helpers ---------------------------------------------------------------

def convert_to_rgb(im):
    """transformers.image_transforms.convert_to_rgb on a PIL image."""
    if im.mode == "RGB":
        return im
    rgba = im.convert("RGBA")
    background = Image.new("RGBA", rgba.size, (255, 255, 255))
    return Image.alpha_composite(background, rgba).convert("RGB")


def pillow_reference(data):
    im = Image.open(io.BytesIO(data))
    im = ImageOps.exif_transpose(im)
    return convert_to_rgb(im)


def png_chunk(kind, payload):
    crc = zlib.crc32(kind + payload) & 0xFFFFFFFF
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)


ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2),
         (0, 1, 1, 2)]


def make_png(samples, bit_depth, color_type, plte=None, trns=None, interlace=False,
             extra_chunks=b""):
    """A PNG from an (h, w, channels) integer array; Pillow cannot write
    16-bit color, sub-byte gray with tRNS, or interlaced files."""
    h, w, channels = samples.shape

    def pack_row(row):  # row: (n, channels)
        flat = [int(v) for v in row.reshape(-1)]
        if bit_depth == 16:
            return b"".join(struct.pack(">H", v) for v in flat)
        if bit_depth == 8:
            return bytes(flat)
        per_byte = 8 // bit_depth
        out = bytearray()
        for i in range(0, len(flat), per_byte):
            byte = 0
            for j in range(per_byte):
                v = flat[i + j] if i + j < len(flat) else 0
                byte |= v << (8 - bit_depth * (j + 1))
            out.append(byte)
        return bytes(out)

    raw = bytearray()
    if interlace:
        for x0, y0, dx, dy in ADAM7:
            if x0 >= w:
                continue
            for y in range(y0, h, dy):
                raw += b"\0" + pack_row(samples[y, x0::dx])
    else:
        for y in range(h):
            raw += b"\0" + pack_row(samples[y])
    ihdr = struct.pack(">IIBBBBB", w, h, bit_depth, color_type, 0, 0, 1 if interlace else 0)
    out = b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + extra_chunks
    if plte is not None:
        out += png_chunk(b"PLTE", plte)
    if trns is not None:
        out += png_chunk(b"tRNS", trns)
    return out + png_chunk(b"IDAT", zlib.compress(bytes(raw), 9)) + png_chunk(b"IEND", b"")


def pillow_bytes(im, fmt, **kw):
    buf = io.BytesIO()
    im.save(buf, fmt, **kw)
    return buf.getvalue()


def scene(w, h, seed, channels=3):
    """Smooth gradients, a few hard edges and some noise: exercises both the
    DCT and the resampling filters' negative lobes."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    planes = []
    for c in range(channels):
        v = 127 + 90 * np.sin(x / (3.0 + c) + y / (5.0 + 2 * c) + seed)
        v += np.where((x // 7 + y // 5 + c) % 3 == 0, 60, -30)
        v += rng.normal(0, 12, size=(h, w))
        planes.append(v)
    return np.clip(np.stack(planes, axis=-1), 0, 255).astype(np.uint8)


def write(name, data):
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(data)


# ---- decoding fixtures -----------------------------------------------------

def decode_inputs():
    """(name, bytes) of every decoder input."""
    inputs = []
    rgb = Image.fromarray(scene(37, 23, 1))
    gray = Image.fromarray(scene(29, 19, 2, 1)[:, :, 0])

    # JPEG: default Pillow settings are 4:2:0 subsampling, quality 75.
    inputs.append(("rgb_420_37x23.jpg", pillow_bytes(rgb, "JPEG", quality=90)))
    inputs.append(("rgb_444_37x23.jpg", pillow_bytes(rgb, "JPEG", quality=90, subsampling=0)))
    inputs.append(("rgb_422_37x23.jpg", pillow_bytes(rgb, "JPEG", quality=80, subsampling=1)))
    inputs.append(("rgb_progressive_37x23.jpg",
                   pillow_bytes(rgb, "JPEG", quality=85, progressive=True)))
    inputs.append(("rgb_optimized_2x97.jpg",
                   pillow_bytes(Image.fromarray(scene(2, 97, 3)), "JPEG", optimize=True)))
    inputs.append(("rgb_1x1.jpg", pillow_bytes(Image.new("RGB", (1, 1), (200, 30, 90)), "JPEG")))
    inputs.append(("gray_29x19.jpg", pillow_bytes(gray, "JPEG", quality=90)))
    cmyk = Image.fromarray(scene(21, 13, 4, 4), "CMYK")
    inputs.append(("cmyk_21x13.jpg", pillow_bytes(cmyk, "JPEG", quality=90)))
    small = Image.fromarray(scene(13, 7, 5))
    for orientation in range(1, 10):
        exif = Image.Exif()
        exif[0x0112] = orientation
        inputs.append((f"exif_orientation_{orientation}_13x7.jpg",
                       pillow_bytes(small, "JPEG", quality=90, exif=exif.tobytes())))
    xmp = (b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/'
           b'02/22-rdf-syntax-ns#"><rdf:Description xmlns:tiff="http://ns.adobe.com/tiff/1.0/" '
           b'tiff:Orientation="6"/></rdf:RDF></x:xmpmeta>')
    inputs.append(("xmp_orientation_6_13x7.jpg",
                   pillow_bytes(small, "JPEG", quality=90, xmp=xmp)))

    # PNG written by Pillow.
    inputs.append(("rgb_37x23.png", pillow_bytes(rgb, "PNG")))
    rgba = scene(37, 23, 6, 4)
    rgba[:, :, 3] = np.linspace(0, 255, 37 * 23).reshape(23, 37).astype(np.uint8)
    inputs.append(("rgba_37x23.png", pillow_bytes(Image.fromarray(rgba, "RGBA"), "PNG")))
    inputs.append(("gray_29x19.png", pillow_bytes(gray, "PNG")))
    la = np.stack([scene(29, 19, 7, 1)[:, :, 0], scene(29, 19, 8, 1)[:, :, 0]], axis=-1)
    inputs.append(("gray_alpha_29x19.png", pillow_bytes(Image.fromarray(la, "LA"), "PNG")))
    palette_im = rgb.quantize(colors=50)
    inputs.append(("palette_37x23.png", pillow_bytes(palette_im, "PNG")))
    inputs.append(("exif_orientation_6_13x7.png",
                   pillow_bytes(small, "PNG", exif=_exif_bytes(6))))

    # PNG written by hand: 16-bit, sub-byte, tRNS variants, interlaced.
    rng = np.random.default_rng(9)
    s16 = rng.integers(0, 65536, size=(19, 23, 3))
    s16[0, :5, 0] = [0, 255, 256, 0x1234, 0xFFFF]
    inputs.append(("rgb16_23x19.png", make_png(s16, 16, 2)))
    inputs.append(("rgb16_trns_23x19.png",
                   make_png(s16, 16, 2, trns=struct.pack(">HHH", *s16[1, 1]))))
    s16a = rng.integers(0, 65536, size=(19, 23, 4))
    inputs.append(("rgba16_23x19.png", make_png(s16a, 16, 6)))
    g16 = rng.integers(0, 700, size=(17, 11, 1))  # mostly above 255: Pillow clips
    g16[0, :6, 0] = [0, 1, 255, 256, 0x8000, 0xFFFF]
    inputs.append(("gray16_11x17.png", make_png(g16, 16, 0)))
    inputs.append(("gray16_trns_11x17.png", make_png(g16, 16, 0, trns=struct.pack(">H", 1))))
    la16 = rng.integers(0, 65536, size=(17, 11, 2))
    inputs.append(("gray_alpha16_11x17.png", make_png(la16, 16, 4)))
    g8 = rng.integers(0, 256, size=(9, 10, 1))
    g8[0, :3, 0] = 77
    inputs.append(("gray_trns_10x9.png", make_png(g8, 8, 0, trns=struct.pack(">H", 77))))
    rgb8 = rng.integers(0, 256, size=(9, 10, 3))
    rgb8[0, 0] = [1, 2, 3]
    inputs.append(("rgb_trns_10x9.png", make_png(rgb8, 8, 2, trns=struct.pack(">HHH", 1, 2, 3))))
    for depth in (1, 2, 4):
        g = rng.integers(0, 1 << depth, size=(7, 13, 1))
        inputs.append((f"gray{depth}_13x7.png", make_png(g, depth, 0)))
        inputs.append((f"gray{depth}_trns_13x7.png",
                       make_png(g, depth, 0, trns=struct.pack(">H", (1 << depth) - 1))))
    plte = bytes(rng.integers(0, 256, size=14 * 3).astype(np.uint8))
    p4 = rng.integers(0, 16, size=(7, 13, 1))  # indices 14, 15 lie past the palette
    inputs.append(("palette4_13x7.png", make_png(p4, 4, 3, plte=plte)))
    alphas = bytes([0, 128, 255, 7, 200])
    inputs.append(("palette4_trns_13x7.png", make_png(p4, 4, 3, plte=plte, trns=alphas)))
    inputs.append(("palette4_trns1_13x7.png",
                   make_png(p4, 4, 3, plte=plte, trns=b"\xff\xff\x00")))
    p8 = rng.integers(0, 256, size=(11, 17, 1))
    plte256 = bytes(rng.integers(0, 256, size=256 * 3).astype(np.uint8))
    trns256 = bytes(rng.integers(0, 256, size=256).astype(np.uint8))
    inputs.append(("palette8_trns_17x11.png", make_png(p8, 8, 3, plte=plte256, trns=trns256)))
    inter = scene(37, 23, 10)
    inputs.append(("rgb_interlaced_37x23.png", make_png(inter, 8, 2, interlace=True)))
    inputs.append(("rgba16_interlaced_11x17.png", make_png(s16a[:17, :11], 16, 6,
                                                            interlace=True)))
    inputs.append(("gray2_interlaced_13x7.png",
                   make_png(rng.integers(0, 4, size=(7, 13, 1)), 2, 0, interlace=True)))
    inputs.append(("palette4_interlaced_13x7.png",
                   make_png(p4, 4, 3, plte=plte, trns=alphas, interlace=True)))
    # Every (value, alpha) pair once: the composite over white, exhaustively.
    y, x = np.mgrid[0:256, 0:256]
    all_alpha = np.stack([x, 255 - x, np.full_like(x, 128), y], axis=-1)
    inputs.append(("rgba_every_alpha_256x256.png", make_png(all_alpha, 8, 6)))
    inputs.append(("rgb_1x1.png", make_png(np.array([[[9, 99, 199]]]), 8, 2)))
    inputs.append(("rgb_2x97.png", make_png(scene(2, 97, 11), 8, 2)))
    inputs.append(("rgb_interlaced_1x1.png", make_png(np.array([[[9, 99, 199]]]), 8, 2,
                                                      interlace=True)))
    return inputs


def _exif_bytes(orientation):
    exif = Image.Exif()
    exif[0x0112] = orientation
    return exif.tobytes()


def truncation_cases(inputs):
    """Pillow's verdict on prefixes of a few inputs."""
    chosen = ["rgb_420_37x23.jpg", "rgb_progressive_37x23.jpg", "gray_29x19.jpg",
              "rgb_37x23.png", "rgb_interlaced_37x23.png", "palette4_trns_13x7.png"]
    data = dict(inputs)
    cases = []
    for name in chosen:
        full = data[name]
        n = len(full)
        for length in sorted({0, 1, 2, 3, 8, 20, 33, 100, n // 3, n // 2, n - 40, n - 12, n - 3,
                              n - 2, n - 1}):
            if length < 0 or length >= n:
                continue
            try:
                pillow_reference(full[:length]).tobytes()
                verdict = "ok"
            except Exception:
                verdict = "error"
            cases.append((name, length, verdict))
    return cases


# ---- resize fixtures -------------------------------------------------------

FILTERS = {0: "nearest", 1: "lanczos", 2: "bilinear", 3: "bicubic", 4: "box", 5: "hamming"}


def resize_cases():
    sources = {"resize_src_37x23.rgb": scene(37, 23, 20),
               "resize_src_101x77.rgb": scene(101, 77, 21)}
    targets = {"resize_src_37x23.rgb": [(64, 64), (5, 3), (37, 50), (80, 23), (1, 1), (36, 22),
                                        (113, 7)],
               "resize_src_101x77.rgb": [(37, 29), (181, 139), (3, 200), (50, 38),
                                          # Pillow 13 goes vertical first when the
                                          # height drops by more than 2x the width's
                                          # drop: just below, at, and above the tie
                                          (80, 35), (81, 36), (90, 10)]}
    cases = []
    for src_name, pixels in sources.items():
        write(src_name, pixels.tobytes())
        h, w, _ = pixels.shape
        im = Image.fromarray(pixels)
        for (dw, dh) in targets[src_name]:
            for f, fname in FILTERS.items():
                out = im.resize((dw, dh), f)
                ref = f"resize_{w}x{h}_to_{dw}x{dh}_{fname}.png"
                write(ref, pillow_bytes(out, "PNG", optimize=True))
                cases.append((src_name, w, h, f, dw, dh, ref))
    return cases


# ---- limits ----------------------------------------------------------------

def limit_inputs():
    huge_png = (b"\x89PNG\r\n\x1a\n" +
                png_chunk(b"IHDR", struct.pack(">IIBBBBB", 100000, 100000, 8, 2, 0, 0, 0)) +
                png_chunk(b"IDAT", zlib.compress(b"\0" * 64)) + png_chunk(b"IEND", b""))
    jpg = bytearray(pillow_bytes(Image.new("RGB", (8, 8), (1, 2, 3)), "JPEG"))
    sof = jpg.index(b"\xff\xc0")
    jpg[sof + 5:sof + 9] = struct.pack(">HH", 60000, 60000)  # height, width
    return [("limit_100000x100000.png", huge_png), ("limit_60000x60000.jpg", bytes(jpg))]


CORPUS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "fuzz", "corpus",
                      "image_decode")


def write_fuzz_corpus():
    """Tiny seeds for fuzz/fuzz_image_decode.c: one per decoder path."""
    os.makedirs(CORPUS, exist_ok=True)
    for f in os.listdir(CORPUS):
        os.remove(os.path.join(CORPUS, f))
    rgb = Image.fromarray(scene(5, 3, 30))
    rng = np.random.default_rng(31)
    seeds = {
        "baseline.jpg": pillow_bytes(rgb, "JPEG", quality=50),
        "progressive.jpg": pillow_bytes(rgb, "JPEG", quality=50, progressive=True),
        "gray.jpg": pillow_bytes(rgb.convert("L"), "JPEG", quality=50),
        "cmyk.jpg": pillow_bytes(rgb.convert("CMYK"), "JPEG", quality=50),
        "exif6.jpg": pillow_bytes(rgb, "JPEG", quality=50, exif=_exif_bytes(6)),
        "rgba.png": pillow_bytes(rgb.convert("RGBA"), "PNG"),
        "exif8.png": pillow_bytes(rgb, "PNG", exif=_exif_bytes(8)),
        "palette_trns.png": make_png(rng.integers(0, 4, (3, 5, 1)), 2, 3,
                                     plte=bytes(range(12)), trns=b"\x00\x80"),
        "gray16_trns_interlaced.png": make_png(rng.integers(0, 300, (3, 5, 1)), 16, 0,
                                               trns=b"\x00\x07", interlace=True),
        "rgba16.png": make_png(rng.integers(0, 65536, (3, 5, 4)), 16, 6),
        "gray1.png": make_png(rng.integers(0, 2, (3, 5, 1)), 1, 0),
    }
    for name, data in seeds.items():
        with open(os.path.join(CORPUS, name), "wb") as f:
            f.write(data)


def main():
    os.makedirs(OUT, exist_ok=True)
    for f in os.listdir(OUT):
        if f.endswith((".jpg", ".png", ".rgb", ".txt")):
            os.remove(os.path.join(OUT, f))
    versions = (f"# Pillow {PIL.__version__}, libjpeg-turbo "
                f"{features.version('libjpeg_turbo')}, numpy {np.__version__}\n")

    inputs = decode_inputs()
    lines = [versions]
    for name, data in inputs:
        write(name, data)
        ref = pillow_reference(data)
        ref_name = name.rsplit(".", 1)[0] + "." + name.rsplit(".", 1)[1] + ".rgb"
        write(ref_name, ref.tobytes())
        lines.append(f"{name} {ref.width} {ref.height} {ref_name}\n")
    with open(os.path.join(OUT, "decode.txt"), "w") as f:
        f.writelines(lines)

    with open(os.path.join(OUT, "truncate.txt"), "w") as f:
        f.write(versions)
        for name, length, verdict in truncation_cases(inputs):
            f.write(f"{name} {length} {verdict}\n")

    with open(os.path.join(OUT, "resize.txt"), "w") as f:
        f.write(versions)
        for case in resize_cases():
            f.write(" ".join(str(v) for v in case) + "\n")

    for name, data in limit_inputs():
        write(name, data)

    write_fuzz_corpus()

    total = sum(os.path.getsize(os.path.join(OUT, f)) for f in os.listdir(OUT))
    print(f"wrote {len(os.listdir(OUT))} files, {total} bytes, to tests/data/image")
    return 0


if __name__ == "__main__":
    sys.exit(main())
