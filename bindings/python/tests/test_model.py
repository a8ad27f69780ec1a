"""Model load, architecture, tensors, progress callback, inspect."""
import json
import math

import pytest

from conftest import DATA

import vlm

DTYPE_BYTES = {vlm.DType.F32: 4, vlm.DType.BF16: 2, vlm.DType.F16: 2}


def test_load_architecture_and_tensors(model_dir):
    expected = json.loads((DATA / "tiny-smolvlm.tensors.json").read_text())
    with vlm.Model(model_dir, n_threads=2) as model:
        assert model.architecture == "Idefics3ForConditionalGeneration"
        tensors = model.tensors
        assert len(tensors) == model.n_tensors == len(expected)
        by_name = {t.name: t for t in tensors}
        assert set(by_name) == set(expected)
        for name, spec in expected.items():
            info = by_name[name]
            assert info.dtype.name == spec["dtype"], name
            assert list(info.shape) == spec["shape"], name
            assert info.n_bytes == math.prod(info.shape) * DTYPE_BYTES[info.dtype], name
        assert model.tokenizer is not None and model.tokenizer.n_vocab == 49280
        assert "Idefics3" in repr(model)


def test_gguf_model(data_dir):
    with vlm.Model(data_dir / "io" / "all_types.gguf") as model:
        assert model.architecture == "testarch"
        assert model.tokenizer is None
        dtypes = {t.dtype for t in model.tensors}
        assert vlm.DType.Q4_K in dtypes and vlm.DType.F32 in dtypes


def test_progress_is_reported_in_order(model_dir):
    seen = []
    vlm.Model(model_dir, progress=seen.append).close()
    assert seen[0] == 0.0 and seen[-1] == 1.0
    assert seen == sorted(seen)


def test_progress_returning_false_cancels(model_dir):
    with pytest.raises(vlm.CancelledError) as info:
        vlm.Model(model_dir, progress=lambda fraction: fraction < 0.5)
    assert "cancel" in info.value.message


def test_exception_in_progress_callback_surfaces_and_cancels(model_dir):
    calls = []

    class Boom(Exception):
        pass

    def progress(fraction):
        calls.append(fraction)
        raise Boom("stop loading")

    with pytest.raises(Boom, match="stop loading"):
        vlm.Model(model_dir, progress=progress)
    assert calls == [0.0]  # the load stopped at the first report


def test_tensor_info_index_out_of_range(model_dir):
    with vlm.Model(model_dir) as model:
        with pytest.raises(vlm.InvalidArgumentError, match="index"):
            model.tensor_info(model.n_tensors)


def test_closed_model_and_its_tokenizer_refuse_calls(model_dir):
    model = vlm.Model(model_dir)
    tokenizer = model.tokenizer
    assert tokenizer.encode("hi")
    model.close()
    model.close()  # idempotent
    with pytest.raises(vlm.StateError, match="closed"):
        model.architecture
    with pytest.raises(vlm.StateError, match="closed"):
        tokenizer.encode("hi")
    assert "closed" in repr(model)


def test_inspect_model_directory(model_dir):
    info = vlm.inspect(model_dir)
    assert info["kind"] == "model_directory"
    assert info["config"]["architecture"] == "Idefics3ForConditionalGeneration"
    names = {t["name"] for t in info["weights"]["tensors"]}
    with vlm.Model(model_dir) as model:
        assert names == {t.name for t in model.tensors}


def test_inspect_image_and_safetensors(data_dir):
    image = vlm.inspect(data_dir / "sample.jpg")
    assert (image["kind"], image["format"], image["width"], image["height"]) == \
        ("image", "jpeg", 320, 240)
    weights = vlm.inspect(data_dir / "io" / "multi_dtype.safetensors")
    assert weights["tensors"]


def test_inspect_errors(data_dir):
    with pytest.raises(vlm.VLMIOError) as info:
        vlm.inspect(data_dir / "missing.safetensors")
    assert "missing.safetensors" in info.value.message


def test_version_and_build_info():
    assert vlm.version().count(".") == 2
    assert vlm.build_info().startswith("libvlm")
