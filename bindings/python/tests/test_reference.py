"""Sessions on the tiny SmolVLM fixture against what transformers does with
it (tests/data/smolvlm-e2e, made by tests/gen/make_smolvlm_e2e.py): prompt
ids, prefill logits, greedy answers, video prompts and frame choice, pixel
values, and the grounding table of tests/data/qwen2_5_vl. Every expected
value comes from those reference files, never from libvlm itself."""
import json
import threading

import numpy as np
import pytest

import vlm

from conftest import DATA

E2E = DATA / "smolvlm-e2e"
LOGITS_TOLERANCE = 1e-3   # as tests/smolvlm/test_e2e.c
PIXEL_TOLERANCE = 1e-5    # as tests/smolvlm/test_processor.c


def reference(name):
    with open(E2E / name, encoding="utf-8") as f:
        return json.load(f)


def reference_logits(name):
    return np.fromfile(E2E / name, dtype="<f4")


def pattern_image(width, height):
    """The generator's synthetic image: (x*x + 3*y*y + 7*x*y + 50*c + (x ^ y)) mod 256."""
    x = np.arange(width, dtype=np.int64)[None, :, None]
    y = np.arange(height, dtype=np.int64)[:, None, None]
    c = np.arange(3, dtype=np.int64)[None, None, :]
    rgb = ((x * x + 3 * y * y + 7 * x * y + 50 * c + (x ^ y)) % 256).astype(np.uint8)
    return vlm.Image.from_pixels(rgb.tobytes(), width, height)


@pytest.fixture(scope="module")
def model(model_dir):
    with vlm.Model(model_dir) as model:
        yield model


@pytest.fixture(scope="module")
def expected():
    return reference("expected.json")


@pytest.fixture(scope="module")
def sample(data_dir):
    return vlm.Image(data_dir / "sample.jpg")


def assert_matches(session, case, text):
    assert session.prompt_tokens() == case["prompt_ids"]
    logits = session.prompt_logits()
    want = reference_logits(case["logits"])
    assert logits.shape == want.shape
    assert np.max(np.abs(logits - want)) <= LOGITS_TOLERANCE
    assert text.lstrip(" ") == case["answer"]


def test_one_image_then_a_follow_up_match_transformers(model, expected, sample):
    session = model.session(max_image_tiles=expected["max_image_tiles"])
    max_tokens = expected["max_new_tokens"]
    text = "".join(session.generate(expected["question"], images=[sample], max_tokens=max_tokens))
    assert_matches(session, expected["one_image"], text)
    t = session.timings
    assert t.n_prompt_tokens == len(expected["one_image"]["prompt_ids"])
    assert t.n_generated_tokens == len(expected["one_image"]["generated_ids"])
    assert t.n_image_tokens == expected["one_image"]["n_frames"] * reference("processor.json")["image_seq_len"]

    text = session.generate(expected["follow_up"], stream=False, max_tokens=max_tokens)
    assert_matches(session, expected["two_turns"], text)
    t = session.timings
    assert 0 < t.n_prefill_tokens < t.n_prompt_tokens  # the first turn came from the KV cache
    session.close()


def test_stop_string_cuts_the_reference_answer(model, expected, sample):
    answer = expected["one_image"]["answer"]
    stop = "medal"
    with model.session(max_image_tiles=expected["max_image_tiles"]) as session:
        text = session.generate(expected["question"], images=[sample], stream=False,
                                max_tokens=expected["max_new_tokens"], stop=[stop, "never said"])
    assert text.lstrip(" ") == answer[:answer.index(stop)]


def test_image_cache_serves_a_second_session(model_dir, expected, sample):
    case = expected["one_image"]
    for cache_bytes, cached in ((None, 1), (0, 0)):
        with vlm.Model(model_dir, image_cache_bytes=cache_bytes) as model:
            for round_ in range(2):
                session = model.session(max_image_tiles=expected["max_image_tiles"])
                session.generate(expected["question"], images=[sample], stream=False, max_tokens=1)
                t = session.timings
                assert t.n_cached_images == (cached if round_ else 0), (cache_bytes, round_)
                assert (t.encode_ms == 0) == bool(t.n_cached_images)
                # cached or not, the model sees the same thing
                assert session.prompt_tokens() == case["prompt_ids"]
                assert np.max(np.abs(session.prompt_logits() - reference_logits(case["logits"]))) \
                    <= LOGITS_TOLERANCE
                session.close()
    with pytest.raises(vlm.InvalidArgumentError):
        vlm.Model(model_dir, image_cache_bytes=-1)


def test_video_turn_matches_transformers(model):
    video = reference("video.json")
    frames = [pattern_image(w, h) for w, h in video["frame_sizes"]]
    with model.session() as session:
        session.add_video_turn("user", video["question"], frames, video["timestamps"],
                               video["duration"])
        text = session.generate(stream=False, max_tokens=len(video["generated_ids"]))
        assert session.prompt_tokens() == video["prompt_ids"]
        logits = session.prompt_logits()
        assert np.max(np.abs(logits - reference_logits(video["logits"]))) <= LOGITS_TOLERANCE
        assert session.timings.n_generated_tokens == len(video["generated_ids"])
        # the text of the reference's greedy ids
        want = model.tokenizer.decode(video["generated_ids"], skip_special=True)
        assert text.lstrip(" ") == want.lstrip(" ")
        with pytest.raises(vlm.InvalidArgumentError):
            session.add_video_turn("user", "x", frames, [0.0, 1.0])  # one timestamp short
        with pytest.raises(vlm.InvalidArgumentError):
            session.add_video_turn("user", "x", frames, [0.0, -1.0, 2.0])  # not increasing
        with pytest.raises(vlm.InvalidArgumentError):
            session.add_video_turn("user", "x", [], [])


def test_video_frames_match_sample_frames(model):
    video = reference("video.json")
    with model.session() as session:
        for case in video["sampling"]:
            got = session.video_frames(case["total_frames"], case["video_fps"], case["fps"],
                                       case["max_frames"])
            assert got == case["indices"], case
        with pytest.raises(vlm.InvalidArgumentError):
            session.video_frames(0, 30.0, 1.0, 8)


def test_pixel_values_match_the_processor(model, sample):
    cases = {c["name"]: c for c in reference("processor.json")["cases"]}
    for name in ("sample_jpg_capped", "sample_jpg"):
        case = cases[name]
        with model.session(max_image_tiles=case["max_tiles"]) as session:
            plan = session.plan_image(sample.width, sample.height)
            assert (plan.n_frames, plan.rows, plan.cols) == (case["n_frames"], case["rows"], case["cols"])
            assert (plan.frame_width, plan.frame_height) == (case["tile"], case["tile"])
            values = session.image_pixel_values(sample)
        assert values.dtype == np.float32
        assert values.shape == (case["n_frames"], 3, case["tile"], case["tile"])
        frames = values.reshape(case["n_frames"], -1).astype(np.float64)
        per_frame = frames.shape[1]
        assert np.all(np.abs(frames.sum(axis=1) - case["frame_sums"]) <= 1e-6 * per_frame), name
        assert np.all(np.abs(np.abs(frames).sum(axis=1) - case["frame_abs_sums"]) <= 1e-6 * per_frame)
        flat = values.reshape(-1)
        assert np.max(np.abs(flat[case["sample_index"]] - case["sample_value"])) <= PIXEL_TOLERANCE
    with model.session() as session:
        with pytest.raises(vlm.StateError):
            closed = vlm.Image.from_pixels(b"\0" * 3, 1, 1)
            closed.close()
            session.image_pixel_values(closed)


def test_session_progress_reports_and_cancels(model, expected, sample):
    seen = []
    session = model.session(max_image_tiles=expected["max_image_tiles"],
                            progress=lambda f: seen.append(f))
    session.add_turn("user", expected["question"], [sample])
    assert seen and seen[0] == 0.0 and seen[-1] == 1.0
    assert all(0.0 <= f <= 1.0 for f in seen) and seen == sorted(seen)
    session.close()

    cancel = threading.Event()
    session = model.session(max_image_tiles=expected["max_image_tiles"],
                            progress=lambda f: not cancel.is_set())
    cancel.set()
    with pytest.raises(vlm.CancelledError):
        session.add_turn("user", "a turn that never happened", [sample])
    cancel.clear()
    # the cancelled turn left nothing behind: the prompt is the reference's
    session.add_turn("user", expected["question"], [sample])
    cancel.set()
    with pytest.raises(vlm.CancelledError):  # during the prefill
        session.generate(stream=False, max_tokens=4)
    cancel.clear()
    session.generate(stream=False, max_tokens=1)
    assert session.prompt_tokens() == expected["one_image"]["prompt_ids"]

    def raising(fraction):
        if fraction > 0:
            raise KeyError("from progress")
        return True
    with model.session(max_image_tiles=1, progress=raising) as failing:
        with pytest.raises(KeyError, match="from progress"):
            failing.add_turn("user", "x", [sample])
        failing.add_turn("user", "text only")  # no images: no progress, no error
        with pytest.raises(KeyError, match="from progress"):
            list(failing.generate(max_tokens=2))  # raised on the worker, carried to the reader
    session.close()


def test_parse_grounding_matches_the_table(data_dir):
    with open(data_dir / "qwen2_5_vl" / "grounding.json", encoding="utf-8") as f:
        cases = json.load(f)["cases"]
    assert len(cases) > 20
    for i, case in enumerate(cases):
        items = vlm.parse_grounding(case["answer"], case["width"], case["height"],
                                    case["resized_width"], case["resized_height"])
        assert len(items) == len(case["items"]), (i, case["answer"])
        for item, want in zip(items, case["items"]):
            assert item.kind.name.lower() == want["kind"], (i, item)
            assert item.reason.name.lower() == want["reason"], (i, item)
            assert item.label == want["label"], (i, item)
            coords = (item.x1, item.y1, item.x2, item.y2)
            for got, expect in zip(coords, want["coords"]):
                assert abs(got - expect) <= 1e-3 + 1e-6 * abs(expect), (i, coords, want["coords"])
            assert 0 <= item.offset < len(case["answer"].encode("utf-8"))
    assert vlm.parse_grounding("no JSON here", 10, 10) == []
    assert vlm.parse_grounding(b'[{"point_2d": [5, 5]}]', 10, 10)[0].kind == vlm.GroundingKind.POINT
    with pytest.raises(vlm.InvalidArgumentError):
        vlm.parse_grounding("[]", 0, 10)
    with pytest.raises(vlm.InvalidUTF8Error):
        vlm.parse_grounding(b"\xc3(", 10, 10)
