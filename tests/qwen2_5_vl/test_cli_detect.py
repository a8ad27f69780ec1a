#!/usr/bin/env python3
"""vlm-cli --detect on the tiny Qwen2.5-VL (tests/data/qwen2_5_vl-model).

With --answer (the tiny model only answers nonsense) the parse, print and
draw paths are checked exactly: the printed boxes against coordinates scaled
by hand from the resized size (Qwen's smart_resize, recomputed here), and the
--draw PNG pixel by pixel (outlines in each item's colour, everything else
the original image's decoded pixels), read with Pillow when it is there and
always with the small zlib reader below. One real --detect on the tiny model
checks the generation path end to end, and bad input must fail clearly.

    test_cli_detect.py VLM_CLI"""
import json
import math
import os
import struct
import subprocess
import sys
import tempfile
import zlib

DATA = os.environ.get("VLM_TEST_DATA",
                      os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data"))
MODEL = os.path.join(DATA, "qwen2_5_vl-model")

OUTLINE_PX = 3      # detect.c: box outline width, inside the box
CROSS_ARM_PX = 6    # detect.c: a point's cross reaches this far from its pixel
CROSS_HALF_PX = 1   # detect.c: and is 2 * this + 1 pixels thick

# A Qwen2.5-VL answer in the resized image's pixels: two boxes, a point and an
# object without coordinates.
ANSWER = """```json
[
\t{"bbox_2d": [20, 15, 90, 70], "label": "car"},
\t{"bbox_2d": [110, 30, 180, 100], "label": "red car"},
\t{"point_2d": [150, 10], "label": "wheel"},
\t{"label": "ghost"}
]
```"""
WANT = [("box", "car", [20, 15, 90, 70]), ("box", "red car", [110, 30, 180, 100]),
        ("point", "wheel", [150, 10])]


# ---- PNG without Pillow -------------------------------------------------------

def write_png(path, width, height, rgb):
    def chunk(tag, data):
        return (struct.pack(">I", len(data)) + tag + data
                + struct.pack(">I", zlib.crc32(tag + data) & 0xffffffff))
    raw = b"".join(b"\0" + rgb[y * width * 3:(y + 1) * width * 3] for y in range(height))
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
                + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def read_png(path):
    """(width, height, RGB bytes) of an 8-bit RGB, non-interlaced PNG."""
    data = open(path, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, header = 8, b"", None
    while pos < len(data):
        length, tag = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if tag == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif tag == b"IDAT":
            idat += body
        pos += 12 + length
    width, height, depth, color, _, _, interlace = header
    assert (depth, color, interlace) == (8, 2, 0), f"want 8-bit RGB, got {header}"
    raw, stride, bpp = zlib.decompress(idat), width * 3, 3
    out, prev = bytearray(), bytearray(stride)
    for y in range(height):
        kind, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b, c = prev[i], prev[i - bpp] if i >= bpp else 0
            if kind == 1:
                line[i] = (line[i] + a) & 255
            elif kind == 2:
                line[i] = (line[i] + b) & 255
            elif kind == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
            else:
                assert kind == 0, f"filter {kind}"
        out += line
        prev = line
    return width, height, bytes(out)


def read_drawn(path):
    """The PNG through the zlib reader, and through Pillow too when it is installed."""
    width, height, rgb = read_png(path)
    try:
        from PIL import Image
    except ImportError:
        return width, height, rgb
    with Image.open(path) as im:
        assert im.mode == "RGB" and im.size == (width, height), (im.mode, im.size)
        assert im.tobytes() == rgb, "Pillow and the zlib reader disagree"
    return width, height, rgb


# ---- what the CLI should do ---------------------------------------------------

def smart_resize(height, width, factor=28):
    """qwen_vl_utils / transformers smart_resize with the model's pixel budget."""
    cfg = json.load(open(os.path.join(MODEL, "preprocessor_config.json")))
    lo, hi = cfg["min_pixels"], cfg["max_pixels"]
    h = max(factor, round(height / factor) * factor)
    w = max(factor, round(width / factor) * factor)
    if h * w > hi:
        beta = math.sqrt(height * width / hi)
        h = max(factor, math.floor(height / beta / factor) * factor)
        w = max(factor, math.floor(width / beta / factor) * factor)
    elif h * w < lo:
        beta = math.sqrt(lo / (height * width))
        h = math.ceil(height * beta / factor) * factor
        w = math.ceil(width * beta / factor) * factor
    return w, h


def span(a, b, size):
    """Pixels lo..hi whose centres lie in [a, b) (detect.c's span)."""
    for v in (a, b):
        assert abs(v - math.floor(v) - 0.5) > 0.02, f"{v} too close to a rounding tie"
    lo = min(max(math.floor(a + 0.5), 0), size - 1)
    hi = min(math.floor(b + 0.5) - 1, size - 1)
    return lo, max(hi, lo)


def expected_drawing(width, height, items):
    """{(x, y): colour} of every pixel --draw paints, later items on top."""
    painted = {}

    def fill(x0, y0, x1, y1, color):
        for y in range(max(y0, 0), min(y1, height - 1) + 1):
            for x in range(max(x0, 0), min(x1, width - 1) + 1):
                painted[(x, y)] = color

    for item in items:
        color = bytes.fromhex(item["color"][1:])
        if item["kind"] == "box":
            x1, y1, x2, y2 = item["exact"]
            (l, r), (t, b) = span(x1, x2, width), span(y1, y2, height)
            k = OUTLINE_PX - 1
            fill(l, t, r, t + k, color)
            fill(l, b - k, r, b, color)
            fill(l, t, l + k, b, color)
            fill(r - k, t, r, b, color)
        else:
            x, y = (min(math.floor(v), size - 1) for v, size in zip(item["exact"], (width, height)))
            fill(x - CROSS_ARM_PX, y - CROSS_HALF_PX, x + CROSS_ARM_PX, y + CROSS_HALF_PX, color)
            fill(x - CROSS_HALF_PX, y - CROSS_ARM_PX, x + CROSS_HALF_PX, y + CROSS_ARM_PX, color)
    return painted


def check_drawing(path, width, height, original, items):
    got_w, got_h, got = read_drawn(path)
    assert (got_w, got_h) == (width, height), f"drawn {got_w}x{got_h}, image {width}x{height}"
    painted = expected_drawing(width, height, items)
    outline = interior = 0
    for y in range(height):
        for x in range(width):
            i = (y * width + x) * 3
            want = painted.get((x, y), original[i:i + 3])
            assert got[i:i + 3] == want, (
                f"pixel ({x}, {y}) is {tuple(got[i:i + 3])}, want {tuple(want)} "
                f"({'outline' if (x, y) in painted else 'untouched'})")
            outline += (x, y) in painted
            interior += (x, y) not in painted
    assert outline > 0 and interior > 0
    return outline


def run(cli, *args, stdin=None):
    return subprocess.run([cli, *args], input=stdin, capture_output=True)


# ---- the checks ---------------------------------------------------------------

def test_answer(cli, tmp):
    """--answer: printed boxes and the drawn PNG, exactly."""
    width, height = 200, 120
    original = bytes(v for y in range(height) for x in range(width) for v in (x, y + 60, (x * y) % 256))
    image = os.path.join(tmp, "pattern.png")
    write_png(image, width, height, original)
    out_png = os.path.join(tmp, "drawn.png")
    res = run(cli, "-m", MODEL, "--image", image, "--detect", "car", "--answer", ANSWER,
              "--draw", out_png, "--json")
    assert res.returncode == 0, res.stderr.decode()
    result = json.loads(res.stdout)

    # the resized size is the plan's, which is Qwen's smart_resize
    rw, rh = smart_resize(height, width)
    assert result["image"] == {"width": width, "height": height, "resized_width": rw,
                               "resized_height": rh}, result["image"]
    assert (rw, rh) == (196, 112)
    assert result["answer"] == ANSWER
    assert result["prompt"] == ("Outline the position of each car and output all the "
                                "coordinates in JSON format."), result["prompt"]
    items = result["items"]
    assert [(i["kind"], i["label"]) for i in items] == [(k, l) for k, l, _ in WANT], items
    for item, (kind, _, coords) in zip(items, WANT):
        exact = [v * (width / rw if k % 2 == 0 else height / rh) for k, v in enumerate(coords)]
        got = item["bbox"] if kind == "box" else item["point"]
        assert all(abs(a - b) < 0.006 for a, b in zip(got, exact)), (got, exact)
        item["exact"] = exact
    assert len({i["color"] for i in items}) == len(items), "colours repeat"
    assert [(r["reason"], r["label"]) for r in result["rejected"]] == [("no_coordinates", "ghost")]
    painted = check_drawing(out_png, width, height, original, items)

    # text: one line per item, label then x1 y1 x2 y2; rejected objects on stderr
    res = run(cli, "-m", MODEL, "--image", image, "--detect", "car", "--answer", ANSWER)
    assert res.returncode == 0, res.stderr.decode()
    lines = res.stdout.decode().splitlines()
    assert len(lines) == len(WANT), lines
    for line, item in zip(lines, items):
        label, *numbers = line.rsplit(" ", 4)
        want = item["exact"] if item["kind"] == "box" else item["exact"] * 2
        assert label == item["label"] and all(abs(float(a) - b) < 0.006 for a, b in zip(numbers, want)), line
    assert b"ghost" in res.stderr and b"no_coordinates" in res.stderr, res.stderr

    # --answer-file, from a file and from stdin, reads the same
    answer_file = os.path.join(tmp, "answer.txt")
    open(answer_file, "w").write(ANSWER)
    for source, stdin in ((answer_file, None), ("-", ANSWER.encode())):
        res = run(cli, "-m", MODEL, "--image", image, "--detect", "car", "--answer-file", source,
                  "--json", stdin=stdin)
        assert res.returncode == 0, res.stderr.decode()
        again = json.loads(res.stdout)
        assert [i["bbox" if i["kind"] == "box" else "point"] for i in again["items"]] == \
               [i["bbox" if i["kind"] == "box" else "point"] for i in items], again
    print(f"--answer: {len(items)} items, {painted} pixels drawn: ok")


def test_exif(cli, tmp):
    """Boxes are drawn on the EXIF-oriented image, in its pixels."""
    name = "exif_orientation_6_13x7.png"  # 13x7 stored, 7x13 shown
    image = os.path.join(DATA, "image", name)
    original = open(image + ".rgb", "rb").read()
    width, height = 7, 13
    rw, rh = smart_resize(height, width)
    out_png = os.path.join(tmp, "exif.png")
    answer = '[{"bbox_2d": [0, 0, %d, %d], "label": "all"}]' % (rw, rh)
    res = run(cli, "-m", MODEL, "--image", image, "--detect", "thing", "--answer", answer,
              "--draw", out_png, "--json")
    assert res.returncode == 0, res.stderr.decode()
    result = json.loads(res.stdout)
    assert result["image"]["resized_width"] == rw and result["image"]["resized_height"] == rh
    items = result["items"]
    assert items[0]["bbox"] == [0, 0, width, height], items
    items[0]["exact"] = [0.0, 0.0, float(width), float(height)]
    check_drawing(out_png, width, height, original, items)
    print("EXIF orientation: ok")


def test_model(cli, tmp):
    """A real --detect on the tiny model: any answer, well-formed output."""
    image = os.path.join(tmp, "pattern.png")
    out_png = os.path.join(tmp, "real.png")
    res = run(cli, "-m", MODEL, "--image", image, "--detect", "cars", "--json",
              "--max-tokens", "12", "--draw", out_png)
    assert res.returncode == 0, res.stderr.decode()
    result = json.loads(res.stdout)
    assert isinstance(result["answer"], str) and "items" in result and "rejected" in result
    t = result["timings"]
    assert 1 <= t["n_generated_tokens"] <= 12 and t["n_image_tokens"] > 0, t
    assert read_drawn(out_png)[:2] == (200, 120)
    print(f"tiny model: answered {result['answer']!r}: ok")


def test_bad_input(cli, tmp):
    image = os.path.join(tmp, "pattern.png")
    missing = os.path.join(tmp, "no-such-image.png")
    res = run(cli, "-m", MODEL, "--image", missing, "--detect", "car", "--answer", "[]")
    assert res.returncode != 0 and b"no-such-image.png" in res.stderr, res

    unwritable = os.path.join(tmp, "no-such-dir", "out.png")
    res = run(cli, "-m", MODEL, "--image", image, "--detect", "car", "--draw", unwritable)
    assert res.returncode != 0 and b"--draw" in res.stderr and b"out.png" in res.stderr, res
    assert not os.path.exists(unwritable)

    keep = os.path.join(tmp, "keep.png")
    open(keep, "wb").write(b"keep")  # a failed run leaves an existing --draw file alone
    res = run(cli, "-m", MODEL, "--image", missing, "--detect", "car", "--draw", keep)
    assert res.returncode != 0 and open(keep, "rb").read() == b"keep", res

    for phrase in ("", "  "):
        res = run(cli, "-m", MODEL, "--image", image, "--detect", phrase)
        assert res.returncode == 2 and b"phrase" in res.stderr, res
    res = run(cli, "-m", MODEL, "--image", image, "--detect", "--json")
    assert res.returncode == 2, res

    bad_utf8 = os.path.join(tmp, "bad.txt")
    open(bad_utf8, "wb").write(b'[{"bbox_2d": [1, 2, 3, 4], "label": "\xff"}]')
    res = run(cli, "-m", MODEL, "--image", image, "--detect", "car", "--answer-file", bad_utf8)
    assert res.returncode != 0 and b"VLM_ERR_INVALID_UTF8" in res.stderr, res
    print("bad input: ok")


def main():
    cli = sys.argv[1]
    with tempfile.TemporaryDirectory() as tmp:
        test_answer(cli, tmp)
        test_exif(cli, tmp)
        test_model(cli, tmp)
        test_bad_input(cli, tmp)
    print("--detect: ok")


if __name__ == "__main__":
    main()
