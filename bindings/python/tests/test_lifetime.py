"""Finalizers and leaks: handles are freed by close(), by `with`, and by the
garbage collector; 1,000 create/free loops must not grow memory."""
import gc
import json
import tracemalloc

import pytest

from conftest import DATA, rss_bytes

import vlm

LOOPS = 1000


def small_tokenizer_json(tmp_path):
    # a trained byte-level BPE from the unit fixtures: loads in microseconds
    units = json.loads((DATA / "text" / "units.json").read_text(encoding="utf-8"))
    path = tmp_path / "tokenizer.json"
    path.write_text(json.dumps(units["bases"]["bytelevel"]), encoding="utf-8")
    return path


def grows(make, loops=LOOPS):
    """(RSS growth in bytes, Python-side growth in bytes) over loops calls
    of make(), after a warm-up so allocator caches are already filled."""
    for _ in range(50):
        make()
    gc.collect()
    tracemalloc.start()
    rss_before = rss_bytes()
    python_before = tracemalloc.get_traced_memory()[0]
    for _ in range(loops):
        make()
    gc.collect()
    python_after = tracemalloc.get_traced_memory()[0]
    rss_after = rss_bytes()
    tracemalloc.stop()
    rss_growth = None if rss_before is None else rss_after - rss_before
    return rss_growth, python_after - python_before


def assert_no_leak(make, per_loop_bytes):
    rss_growth, python_growth = grows(make)
    assert python_growth < 64 * 1024, f"Python objects grew by {python_growth} bytes"
    if rss_growth is not None:
        # a leak of each loop's allocation would show as LOOPS * per_loop_bytes
        assert rss_growth < LOOPS * per_loop_bytes / 4, f"RSS grew by {rss_growth} bytes"


def test_images_freed_by_the_collector():
    data = (DATA / "sample.jpg").read_bytes()

    def make():
        image = vlm.Image(data)  # 230 KB of pixels, dropped without close()
        image.resize(64, 48)

    assert_no_leak(make, per_loop_bytes=320 * 240 * 3)


def test_models_freed_by_close():
    path = DATA / "io" / "all_types.gguf"

    def make():
        with vlm.Model(path) as model:
            model.tensors

    assert_no_leak(make, per_loop_bytes=4096)


def test_tokenizers_and_streams_freed(tmp_path):
    path = small_tokenizer_json(tmp_path)

    def make():
        tokenizer = vlm.Tokenizer(path)
        ids = tokenizer.encode("hello there, general")
        stream = tokenizer.decode_stream(ids)
        next(stream)  # abandoned mid-way: its detokenizer is freed when the generator is
        del stream

    assert_no_leak(make, per_loop_bytes=16 * 1024)


def test_failed_loads_leak_nothing(tmp_path):
    missing = tmp_path / "missing"

    def make():
        with pytest.raises(vlm.VLMIOError):
            vlm.Model(missing)

    assert_no_leak(make, per_loop_bytes=1024)


def test_finalizer_runs_once_and_close_is_idempotent():
    image = vlm.Image.from_pixels(b"\0" * 3, 1, 1)
    finalizer = image._finalizer
    assert finalizer.alive
    image.close()
    assert not finalizer.alive
    image.close()
    other = vlm.Image.from_pixels(b"\0" * 3, 1, 1)
    finalizer = other._finalizer
    del other
    gc.collect()
    assert not finalizer.alive


def test_borrowed_tokenizer_keeps_no_model_alive_by_itself(model_dir):
    # the tokenizer holds the model (so it is never freed under it), and
    # the model is freed once both are gone
    model = vlm.Model(model_dir)
    finalizer = model._finalizer
    tokenizer = model.tokenizer
    del model
    gc.collect()
    assert finalizer.alive and tokenizer.n_vocab == 49280
    del tokenizer
    gc.collect()
    assert not finalizer.alive
