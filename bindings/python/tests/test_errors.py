"""Error paths: statuses, messages, misuse through the raw API, per-thread messages."""
import ctypes
import threading
from ctypes import POINTER, byref

import pytest

import vlm
from vlm import capi


def test_missing_model_is_an_io_error_with_message(tmp_path):
    missing = tmp_path / "nothing-here"
    with pytest.raises(vlm.VLMIOError) as info:
        vlm.Model(missing)
    error = info.value
    assert error.status == capi.VLM_ERR_IO
    assert "nothing-here" in error.message and str(error) == error.message
    assert isinstance(error, OSError) and isinstance(error, vlm.VLMError)


def test_missing_tokenizer(tmp_path):
    with pytest.raises(vlm.VLMIOError, match="tokenizer.json"):
        vlm.Tokenizer(tmp_path / "tokenizer.json")


def test_malformed_tokenizer_is_a_format_error(tmp_path):
    bad = tmp_path / "tokenizer.json"
    bad.write_text('{"model": {"type": "BPE", "vocab": ')
    with pytest.raises(vlm.FormatError) as info:
        vlm.Tokenizer(bad)
    assert info.value.message


def test_malformed_model_config(tmp_path):
    (tmp_path / "config.json").write_text('{"architectures": 5}')
    with pytest.raises(vlm.VLMError) as info:
        vlm.Model(tmp_path)
    assert info.value.message and info.value.status != capi.VLM_OK


def test_negative_threads_is_invalid(model_dir):
    with pytest.raises(vlm.InvalidArgumentError, match="n_threads"):
        vlm.Model(model_dir, n_threads=-1)


def test_null_arguments_through_the_raw_api():
    # what a careless capi user does: NULL handles, NULL out-pointers
    out = POINTER(capi.vlm_image)()
    assert capi.vlm_image_load_file(None, None, byref(out)) == capi.VLM_ERR_INVALID_ARGUMENT
    assert capi.vlm_last_error()
    assert not out
    assert capi.vlm_image_load_file(b"x.jpg", None, None) == capi.VLM_ERR_INVALID_ARGUMENT
    n = ctypes.c_size_t()
    assert capi.vlm_tokenize(None, b"a", 1, 0, None, 0, byref(n)) == capi.VLM_ERR_INVALID_ARGUMENT
    assert capi.vlm_image_width(None) == 0
    assert capi.vlm_model_architecture(None) == b""
    assert capi.vlm_token_lookup(None, b"a") == -1
    # every free function accepts NULL
    for free in (capi.vlm_image_free, capi.vlm_model_free, capi.vlm_tokenizer_free,
                 capi.vlm_detokenizer_free, capi.vlm_session_free, capi.vlm_free):
        free(None)


def test_wrong_handle_type_is_refused_by_ctypes(model_dir):
    image = vlm.Image.from_pixels(b"\0" * 3, 1, 1)
    with vlm.Model(model_dir) as model:
        with pytest.raises(ctypes.ArgumentError):
            capi.vlm_model_architecture(image._ptr)
        with pytest.raises(ctypes.ArgumentError):
            capi.vlm_image_width(model._ptr)


def test_buffer_too_small_through_the_raw_api(smolvlm_tokenizer):
    n = ctypes.c_size_t()
    tok = smolvlm_tokenizer._ptr
    assert capi.vlm_token_to_piece(tok, 49190, None, 0, byref(n)) == capi.VLM_ERR_BUFFER_TOO_SMALL
    assert n.value == len("<image>")
    buf = ctypes.create_string_buffer(n.value + 1)
    assert capi.vlm_token_to_piece(tok, 49190, buf, len(buf), byref(n)) == capi.VLM_OK
    assert buf.value == b"<image>"


def test_closed_objects_raise_state_error():
    image = vlm.Image.from_pixels(b"\0" * 3, 1, 1)
    with image:
        assert image.width == 1
    with pytest.raises(vlm.StateError) as info:
        image.width
    assert info.value.status == capi.VLM_ERR_STATE
    with pytest.raises(vlm.StateError):
        with image:
            pass


def test_messages_are_per_thread(tmp_path):
    # Each thread's failure carries its own message even when they fail at once.
    barrier = threading.Barrier(4)
    messages = {}

    def fail(i):
        barrier.wait()
        for _ in range(50):
            try:
                vlm.Image(tmp_path / f"missing-{i}.png")
            except vlm.VLMIOError as error:
                if f"missing-{i}.png" not in error.message:
                    messages[i] = error.message
                    return
        messages[i] = "ok"

    threads = [threading.Thread(target=fail, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert messages == {i: "ok" for i in range(4)}


def test_status_without_message_falls_back_to_its_name():
    from vlm.errors import error_for
    capi.vlm_version_number()  # a call that leaves no message
    error = error_for(capi.VLM_ERR_LIMIT, "")
    assert isinstance(error, vlm.LimitError) and error.message == "VLM_ERR_LIMIT"
    unknown = error_for(999, "from the future")
    assert type(unknown) is vlm.VLMError and unknown.status == 999


def test_log_callback_can_be_set_and_cleared():
    received = []
    vlm.set_log_callback(lambda level, message: received.append((level, message)),
                         vlm.LogLevel.DEBUG)
    try:
        vlm.Image.from_pixels(b"\0" * 3, 1, 1).resize(2, 2)
    finally:
        vlm.set_log_callback(None)
    assert all(isinstance(level, vlm.LogLevel) and isinstance(m, str) for level, m in received)
