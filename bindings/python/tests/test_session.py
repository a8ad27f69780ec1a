"""Sessions. A real generate on the tiny fixture (test_reference.py compares
whole answers with transformers); the streaming machinery (worker thread,
carried exceptions, cancellation) is exercised against a stand-in for
vlm_session_create / vlm_session_generate written in Python that drives the
real ctypes callback the binding passes, so timing-dependent cases stay
deterministic."""
import ctypes
import threading
import time
from ctypes import POINTER

import pytest

import vlm
from vlm import capi


def test_session_streams_text(model_dir):
    with vlm.Model(model_dir) as model, model.session() as session:
        pieces = list(session.generate("Hi", max_tokens=4))
        assert pieces and all(isinstance(piece, str) for piece in pieces)
        assert session.timings.n_generated_tokens <= 4
        assert isinstance(session.generate("Again", stream=False, max_tokens=4), str)
        with pytest.raises(vlm.InvalidArgumentError):
            model.session(n_ctx=-1)
        # the other families' fields reach libvlm (which checks their range)
        model.session(pan_and_scan=1, min_image_pixels=1 << 10, max_image_pixels=1 << 20).close()
        with pytest.raises(vlm.InvalidArgumentError, match="pan_and_scan"):
            model.session(pan_and_scan=2)
        with pytest.raises(vlm.InvalidArgumentError, match="max_image_pixels"):
            model.session(max_image_pixels=-1)
        # an f16 KV cache answers too; other element types are refused
        with model.session(kv_cache_type=vlm.DType.F16) as half:
            assert isinstance(half.generate("Hi", stream=False, max_tokens=4), str)
        with pytest.raises(vlm.InvalidArgumentError, match="kv_cache_type"):
            model.session(kv_cache_type=vlm.DType.BF16)
        # q8_0 blocks of 32 need heads of a multiple of 32 dims (this one's: 8)
        with pytest.raises(vlm.InvalidArgumentError, match="q8_0 KV cache needs heads"):
            model.session(kv_cache_type=vlm.DType.Q8_0)


def test_safety_score_needs_a_shieldgemma_model(model_dir, data_dir):
    # No ShieldGemma 2 fixture exists yet: what can be checked is the wrapper's
    # plumbing and libvlm's refusal of another family.
    image = vlm.Image(data_dir / "sample.jpg")
    with vlm.Model(model_dir) as model, model.session() as session:
        for policy in ("dangerous", vlm.SafetyPolicy.VIOLENCE):
            with pytest.raises(vlm.UnsupportedError, match="ShieldGemma 2") as caught:
                session.safety_score(image, policy)
            assert "Idefics3ForConditionalGeneration" in caught.value.message
        with pytest.raises(vlm.UnsupportedError):
            session.safety_score(image, vlm.SafetyPolicy.CUSTOM, "No cats.")
        with pytest.raises(vlm.InvalidArgumentError, match="policy_text"):
            session.safety_score(image, "custom")
        with pytest.raises(KeyError):
            session.safety_score(image, "no such policy")
        # the session is untouched and still usable
        assert session.generate("Hi", stream=False, max_tokens=2) is not None


def test_session_on_closed_model_is_refused(model_dir):
    model = vlm.Model(model_dir)
    model.close()
    with pytest.raises(vlm.StateError):
        model.session()


PIECES = ["The ", "pic", "ture ", "shows ", "🙂", "."]


class FakeEngine:
    """Stands in for the C session functions; calls on_token like libvlm."""

    def __init__(self, pieces=PIECES, delay=0.0, status=capi.VLM_OK):
        self.pieces, self.delay, self.status = pieces, delay, status
        self.delivered = 0
        self.turns = []
        self.generate_threads = []

    def create(self, model, params, out):
        ctypes.cast(out, POINTER(ctypes.c_void_p)).contents.value = 0x1000
        return capi.VLM_OK

    def add_turn(self, session, role, text, images, n_images):
        self.turns.append((role, text, n_images))
        return capi.VLM_OK

    def generate(self, session, params):
        self.generate_threads.append(threading.get_ident())
        p = params._obj
        assert p.struct_size == ctypes.sizeof(capi.vlm_generate_params)
        for token, piece in enumerate(self.pieces[:p.max_tokens]):
            data = piece.encode()
            buffer = ctypes.create_string_buffer(data, len(data))
            self.delivered += 1
            if not p.on_token(token, ctypes.cast(buffer, POINTER(ctypes.c_char)), len(data), None):
                break
            time.sleep(self.delay)
        if self.status != capi.VLM_OK:
            # leave a real message on this thread, as a failing libvlm call does
            out = POINTER(capi.vlm_image)()
            return capi.vlm_image_load_file(b"engine-failure-marker.png", None, ctypes.byref(out))
        return capi.VLM_OK


@pytest.fixture
def fake_session(monkeypatch, model_dir):
    engine = FakeEngine()
    monkeypatch.setattr(capi, "vlm_session_create", engine.create)
    monkeypatch.setattr(capi, "vlm_session_add_turn", engine.add_turn)
    monkeypatch.setattr(capi, "vlm_session_generate", lambda s, p: engine.generate(s, p))
    monkeypatch.setattr(capi, "vlm_session_free", lambda session: None)
    model = vlm.Model(model_dir)
    session = model.session(n_ctx=256)
    yield session, engine
    model.close()


def test_streamed_generation(fake_session):
    session, engine = fake_session
    pieces = list(session.generate("What is this?", images=[vlm.Image.from_pixels(b"\0" * 3, 1, 1)]))
    assert pieces == PIECES
    assert engine.turns == [(vlm.Role.USER, b"What is this?", 1)]
    assert engine.generate_threads[0] != threading.get_ident()  # ran on the worker


def test_blocking_generation_and_max_tokens(fake_session):
    session, engine = fake_session
    assert session.generate(stream=False) == "".join(PIECES)
    assert engine.generate_threads[0] == threading.get_ident()
    assert session.generate(stream=False, max_tokens=2) == "The pic"
    session.add_turn("system", "Be brief.")
    assert engine.turns[-1] == (vlm.Role.SYSTEM, b"Be brief.", 0)


def test_exception_in_on_token_is_carried_back(fake_session):
    session, engine = fake_session

    def on_token(piece):
        if piece == "ture ":
            raise KeyError("from the callback")

    with pytest.raises(KeyError, match="from the callback"):
        session.generate(stream=False, on_token=on_token)
    assert engine.delivered == 3  # generation stopped at the raising piece
    with pytest.raises(KeyError):
        list(session.generate(on_token=on_token))


def test_on_token_returning_false_stops_without_error(fake_session):
    session, engine = fake_session
    text = session.generate(stream=False, on_token=lambda piece: piece != "shows ")
    assert text == "The picture "


def test_cancel_from_another_thread(fake_session):
    session, engine = fake_session
    engine.pieces = ["x"] * 1000
    engine.delay = 0.002
    threading.Timer(0.05, session.cancel).start()
    text = session.generate(stream=False, max_tokens=1000)
    assert 0 < len(text) < 1000


def test_closing_the_stream_stops_generation(fake_session):
    session, engine = fake_session
    engine.pieces = ["x"] * 1000
    engine.delay = 0.001
    stream = session.generate(max_tokens=1000)
    assert next(stream) == "x"
    stream.close()
    assert engine.delivered < 1000
    # the session is free again
    assert session.generate(stream=False, max_tokens=3) == "xxx"


def test_busy_session_refuses_a_second_call(fake_session):
    session, engine = fake_session
    engine.pieces = ["x"] * 200
    engine.delay = 0.002
    with session.generate(max_tokens=200) as stream:
        next(stream)
        with pytest.raises(vlm.StateError, match="busy"):
            session.add_turn("user", "interrupting")


def test_failure_status_carries_the_generating_threads_message(fake_session):
    session, engine = fake_session
    engine.status = capi.VLM_ERR_IO
    with pytest.raises(vlm.VLMIOError, match="engine-failure-marker"):
        list(session.generate())
    with pytest.raises(vlm.VLMIOError, match="engine-failure-marker"):
        session.generate(stream=False)


def test_closing_the_model_closes_its_sessions(fake_session, model_dir):
    session, engine = fake_session
    session.model.close()
    with pytest.raises(vlm.StateError):
        session.generate(stream=False)
