"""Images: decodes against the Pillow references, resizes, every source kind."""
import pytest

from conftest import DATA

import vlm

IMAGE_DATA = DATA / "image"


def reference_lines(name):
    with open(IMAGE_DATA / name) as f:
        return [line.split() for line in f if line.strip() and not line.startswith("#")]


def test_decode_equals_committed_references():
    mismatches = []
    lines = reference_lines("decode.txt")
    assert len(lines) > 40
    for file_name, width, height, rgb_name in lines:
        image = vlm.Image(IMAGE_DATA / file_name)
        if image.size != (int(width), int(height)):
            mismatches.append(f"{file_name}: size {image.size}")
        elif image.tobytes() != (IMAGE_DATA / rgb_name).read_bytes():
            mismatches.append(f"{file_name}: pixels")
    assert not mismatches, "\n".join(mismatches)


def test_decode_equals_pillow():
    PIL = pytest.importorskip("PIL.Image")
    from PIL import ImageOps
    np = pytest.importorskip("numpy")

    def convert_to_rgb(im):  # transformers.image_transforms.convert_to_rgb
        if im.mode == "RGB":
            return im
        rgba = im.convert("RGBA")
        background = PIL.new("RGBA", rgba.size, (255, 255, 255))
        return PIL.alpha_composite(background, rgba).convert("RGB")

    checked = 0
    for file_name, *_ in reference_lines("decode.txt"):
        if "16" in file_name or "cmyk" in file_name:
            continue  # conversions Pillow versions disagree on; covered by the references
        with PIL.open(IMAGE_DATA / file_name) as im:
            expected = np.asarray(convert_to_rgb(ImageOps.exif_transpose(im)))
        assert np.array_equal(vlm.Image(IMAGE_DATA / file_name).to_numpy(), expected), file_name
        checked += 1
    assert checked > 20


def test_resize_equals_committed_references():
    mismatches = []
    lines = reference_lines("resize.txt")
    assert {int(line[3]) for line in lines} == set(vlm.Resample)
    sources = {}
    for src, width, height, filter_id, out_w, out_h, ref in lines:
        if src not in sources:
            sources[src] = vlm.Image.from_pixels((IMAGE_DATA / src).read_bytes(),
                                                 int(width), int(height))
        resized = sources[src].resize(int(out_w), int(out_h), vlm.Resample(int(filter_id)))
        if resized.tobytes() != vlm.Image(IMAGE_DATA / ref).tobytes():
            mismatches.append(ref)
    assert not mismatches, "\n".join(mismatches)


def test_resize_accepts_names_and_pil_filters():
    image = vlm.Image(DATA / "sample.jpg")
    by_enum = image.resize(64, 48, vlm.Resample.LANCZOS).tobytes()
    assert image.resize(64, 48, "lanczos").tobytes() == by_enum
    PIL = pytest.importorskip("PIL.Image")
    assert image.resize(64, 48, PIL.Resampling.LANCZOS).tobytes() == by_enum
    with pytest.raises(vlm.InvalidArgumentError):
        image.resize(64, 48, "sharpest")
    with pytest.raises(vlm.InvalidArgumentError):
        image.resize(0, 48)


def test_sources_agree_file_bytes_memoryview():
    path = DATA / "sample.jpg"
    data = path.read_bytes()
    from_file = vlm.Image(path)
    assert from_file.size == (320, 240)
    assert from_file.source_format == vlm.ImageFormat.JPEG
    for source in (data, bytearray(data), memoryview(data), str(path)):
        assert vlm.Image(source).tobytes() == from_file.tobytes()
    assert vlm.Image.open(path).tobytes() == vlm.Image.from_bytes(data).tobytes()


def test_numpy_round_trip_and_layouts():
    np = pytest.importorskip("numpy")
    rng = np.random.default_rng(7)
    rgb = rng.integers(0, 256, size=(23, 37, 3), dtype=np.uint8)
    image = vlm.Image(rgb)
    assert image.size == (37, 23) and image.source_format == vlm.ImageFormat.RAW
    assert np.array_equal(image.to_numpy(), rgb)
    assert np.array_equal(np.asarray(image), rgb)
    # a strided crop goes through stride_bytes without a copy; a transposed view is copied
    frame = rng.integers(0, 256, size=(50, 60, 3), dtype=np.uint8)
    crop = frame[10:30, 5:45]
    assert np.array_equal(vlm.Image(crop).to_numpy(), crop)
    transposed = frame.transpose(1, 0, 2)
    assert np.array_equal(vlm.Image(transposed).to_numpy(), transposed)
    gray = rng.integers(0, 256, size=(5, 7), dtype=np.uint8)
    assert np.array_equal(vlm.Image(gray).to_numpy(), np.repeat(gray[:, :, None], 3, axis=2))


def test_alpha_is_composited_over_white():
    np = pytest.importorskip("numpy")
    rgba = np.zeros((2, 2, 4), dtype=np.uint8)
    rgba[..., 0] = 200           # red, fully transparent except one pixel
    rgba[0, 0, 3] = 255
    out = vlm.Image(rgba).to_numpy()
    assert out[0, 0].tolist() == [200, 0, 0]
    assert out[1, 1].tolist() == [255, 255, 255]


def test_from_pixels_formats_and_stride():
    # one 2x2 frame in each format, rows padded to 16 bytes as a camera does
    red, green = (255, 0, 0), (0, 255, 0)
    expected = bytes(red + green + green + red)
    layouts = {
        vlm.PixelFormat.RGB8: lambda p: bytes(p),
        vlm.PixelFormat.BGR8: lambda p: bytes(p[::-1]),
        vlm.PixelFormat.RGBA8: lambda p: bytes(p) + b"\xff",
        vlm.PixelFormat.BGRA8: lambda p: bytes(p[::-1]) + b"\xff",
    }
    for pixel_format, encode in layouts.items():
        rows = [encode(red) + encode(green), encode(green) + encode(red)]
        padded = b"".join(row.ljust(16, b"\0") for row in rows)
        image = vlm.Image.from_pixels(padded, 2, 2, pixel_format, stride=16)
        assert image.tobytes() == expected, pixel_format
        packed = vlm.Image.from_pixels(b"".join(rows), 2, 2, pixel_format)
        assert packed.tobytes() == expected, pixel_format


def test_from_pixels_checks_the_buffer_size():
    with pytest.raises(vlm.InvalidArgumentError, match="needs 12 bytes"):
        vlm.Image.from_pixels(b"\0" * 11, 2, 2, vlm.PixelFormat.RGB8)
    with pytest.raises(vlm.InvalidArgumentError, match="stride"):
        vlm.Image.from_pixels(b"\0" * 64, 2, 2, vlm.PixelFormat.RGBA8, stride=4)


def test_pil_round_trip():
    PIL = pytest.importorskip("PIL.Image")
    np = pytest.importorskip("numpy")
    with PIL.open(DATA / "sample.jpg") as im:
        im.load()
        image = vlm.Image(im)
        assert image.tobytes() == im.convert("RGB").tobytes()
        back = image.to_pil()
        assert back.mode == "RGB" and back.size == im.size
        assert back.tobytes() == im.tobytes()
    palette = PIL.new("P", (4, 3), 5)
    assert np.array_equal(vlm.Image(palette).to_numpy(), np.asarray(palette.convert("RGB")))
    gray = PIL.new("L", (4, 3), 77)
    assert vlm.Image(gray).tobytes() == bytes([77]) * 36


def test_copy_constructor():
    original = vlm.Image(DATA / "sample.jpg")
    copy = vlm.Image(original)
    assert copy.tobytes() == original.tobytes()
    original.close()
    assert copy.size == (320, 240)


def test_decode_errors():
    with pytest.raises(vlm.FormatError) as info:
        vlm.Image(b"this is not an image at all")
    assert info.value.status == vlm.capi.VLM_ERR_FORMAT and info.value.message
    truncated = (DATA / "sample.jpg").read_bytes()[:300]
    with pytest.raises(vlm.FormatError):
        vlm.Image(truncated)
    with pytest.raises(vlm.VLMIOError) as info:
        vlm.Image(DATA / "no-such-picture.jpg")
    assert "no-such-picture.jpg" in info.value.message
    assert isinstance(info.value, OSError)
    with pytest.raises(vlm.LimitError) as info:
        vlm.Image(IMAGE_DATA / "limit_60000x60000.jpg")
    assert info.value.message
    with pytest.raises(vlm.LimitError):
        vlm.Image(DATA / "sample.jpg", max_pixels=1000)
    with pytest.raises(TypeError):
        vlm.Image(12345)


def test_exif_orientation_can_be_disabled():
    path = IMAGE_DATA / "exif_orientation_6_13x7.jpg"
    assert vlm.Image(path).size == (7, 13)
    assert vlm.Image(path, apply_exif_orientation=False).size == (13, 7)


def test_numpy_errors():
    np = pytest.importorskip("numpy")
    with pytest.raises(vlm.InvalidArgumentError, match="uint8"):
        vlm.Image(np.zeros((2, 2, 3), dtype=np.float32))
    with pytest.raises(vlm.InvalidArgumentError, match="HxW"):
        vlm.Image(np.zeros((2, 2, 5), dtype=np.uint8))
