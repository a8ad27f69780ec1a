"""vlm.Session: a conversation on a model, and streamed generation."""
import ctypes
import enum
import queue
import threading
from ctypes import POINTER, byref, c_char_p, c_double, c_float, c_int32, c_size_t, c_uint32
from typing import NamedTuple

from . import capi
from ._handle import Handle
from .errors import InvalidArgumentError, StateError, check, error_for
from .image import Image


class SafetyPolicy(enum.IntEnum):
    """The policies ShieldGemma 2 was trained on, and a caller's own."""
    DANGEROUS = capi.VLM_SAFETY_DANGEROUS  # dangerous content
    SEXUAL = capi.VLM_SAFETY_SEXUAL        # sexually explicit content
    VIOLENCE = capi.VLM_SAFETY_VIOLENCE    # violence and gore
    CUSTOM = capi.VLM_SAFETY_CUSTOM        # the definition passed as policy_text


class Role(enum.IntEnum):
    SYSTEM = capi.VLM_ROLE_SYSTEM
    USER = capi.VLM_ROLE_USER
    ASSISTANT = capi.VLM_ROLE_ASSISTANT


def _role(value):
    return Role[value.upper()] if isinstance(value, str) else Role(value)


class _Failure:
    """An exception travelling from the generating thread to the consumer."""

    def __init__(self, error):
        self.error = error


_DONE = object()


class Session(Handle):
    """A conversation on a Model (its KV cache and turns).

    A session belongs to one thread at a time; the binding refuses (with
    StateError) a call made while a generation on it is running. The model
    is kept alive as long as the session.

    progress, if given, is called with a fraction in [0, 1] while add_turn
    and add_video_turn preprocess and encode images and while generate
    prefills the prompt (on the thread doing that work: the worker of a
    streamed generate). Returning False cancels that call with
    vlm.CancelledError and leaves the conversation as it was; an exception
    raised inside it cancels the call too and is re-raised by it.

    pan_and_scan (Gemma 3's extra crops of elongated images: 0 the processor
    config's setting, 1 on, -1 off) and min_image_pixels / max_image_pixels
    (the pixel budget of Qwen2-VL-style dynamic resolution; 0 the processor
    config's) concern other families; SmolVLM ignores them.

    kv_cache_type is the KV cache's element type: DType.F32 (0, the default),
    DType.F16 (half the memory per token; logits move by about 1e-3) or
    DType.Q8_0 (0.27x, for models whose heads have a multiple of 32 dims).
    """

    _kind = "Session"

    def __init__(self, model, n_ctx=0, n_threads=0, max_image_tiles=0, progress=None, *,
                 pan_and_scan=0, min_image_pixels=0, max_image_pixels=0, kv_cache_type=0):
        params = capi.new_params(capi.vlm_session_params, capi.vlm_session_params_init)
        params.n_ctx = n_ctx
        params.n_threads = n_threads
        params.max_image_tiles = max_image_tiles
        params.pan_and_scan = pan_and_scan
        params.min_image_pixels = min_image_pixels
        params.max_image_pixels = max_image_pixels
        params.kv_cache_type = int(kv_cache_type)
        self._progress_carried = []
        self._progress_trampoline = None
        if progress is not None:
            carried = self._progress_carried

            def progress_trampoline(fraction, _user_data):
                if carried:
                    return False
                try:
                    return progress(fraction) is not False
                except BaseException as error:  # ctypes would print and drop it
                    carried.append(error)
                    return False
            # libvlm keeps the address for the session's lifetime: so must we.
            self._progress_trampoline = capi.vlm_progress_fn(progress_trampoline)
            params.progress = self._progress_trampoline
        out = POINTER(capi.vlm_session)()
        check(capi.vlm_session_create(model._ptr, byref(params), byref(out)))
        self._adopt(out, capi.vlm_session_free)
        self.model = model
        model._sessions.add(self)
        self._cancel_requested = threading.Event()
        self._busy = threading.Lock()

    def _check_call(self, status):
        """check() for a call that may have run the progress callback: an
        exception raised inside it wins over the CANCELLED status it caused."""
        error = None if status == capi.VLM_OK else error_for(status)  # message first
        if self._progress_carried:
            carried = self._progress_carried.pop(0)
            self._progress_carried.clear()
            raise carried
        if error is not None:
            raise error

    def _acquire(self):
        if not self._busy.acquire(blocking=False):
            raise StateError("Session is busy generating (one call at a time)")

    def add_turn(self, role, text, images=()):
        """Appends a turn. images (placed before the text, as the model's
        chat template places them) may be vlm.Image objects or anything
        vlm.Image() accepts."""
        images = [image if isinstance(image, Image) else Image(image) for image in images or ()]
        pointers = (POINTER(capi.vlm_image) * len(images))(*[image._ptr for image in images])
        self._acquire()
        try:
            self._check_call(capi.vlm_session_add_turn(self._ptr, _role(role), text.encode("utf-8"),
                                                       pointers, len(images)))
        finally:
            self._busy.release()

    def add_video_turn(self, role, text, frames, timestamps, duration=-1.0):
        """Appends a turn about a video (SmolVLM2): frames the caller decoded
        (vlm.Image objects or anything vlm.Image() accepts), each at
        timestamps[i] seconds from the start of a video lasting duration
        seconds (negative: unknown, the last timestamp stands for it), then
        text. video_frames() says which frames to decode."""
        frames = [frame if isinstance(frame, Image) else Image(frame) for frame in frames]
        timestamps = [float(t) for t in timestamps]
        if len(timestamps) != len(frames):
            raise InvalidArgumentError(
                f"{len(frames)} frames but {len(timestamps)} timestamps")
        pointers = (POINTER(capi.vlm_image) * len(frames))(*[frame._ptr for frame in frames])
        times = (c_double * len(timestamps))(*timestamps)
        self._acquire()
        try:
            self._check_call(capi.vlm_session_add_video_turn(
                self._ptr, _role(role), text.encode("utf-8"), pointers, times, len(frames),
                float(duration)))
        finally:
            self._busy.release()

    def video_frames(self, total_frames, video_fps, fps=0.0, max_frames=0):
        """Which of a video's total_frames frames (at video_fps frames per
        second) to decode for add_video_turn, as SmolVLM2's processor chooses
        them: fps frames per second (0: the model's), at most max_frames (0:
        the model's). A list of increasing indices."""
        pointer = self._ptr
        count = c_size_t()
        args = (pointer, total_frames, float(video_fps), float(fps), max_frames)
        status = capi.vlm_session_video_frames(*args, None, 0, byref(count))
        if status not in (capi.VLM_OK, capi.VLM_ERR_BUFFER_TOO_SMALL):
            check(status)
        indices = (c_uint32 * count.value)()
        if count.value:
            check(capi.vlm_session_video_frames(*args, indices, count.value, byref(count)))
        return list(indices)

    def image_pixel_values(self, image):
        """The pixel values the vision encoder would see for image in this
        session (its tile cap applied), as the model's Hugging Face processor
        makes pixel_values: a float32 numpy array (n_frames, 3, height,
        width), tiles row-major then the global image. Without numpy, a flat
        list. Nothing is encoded."""
        image = image if isinstance(image, Image) else Image(image)
        pointer = self._ptr
        count = c_size_t()
        status = capi.vlm_session_image_pixel_values(pointer, image._ptr, None, 0, byref(count))
        if status not in (capi.VLM_OK, capi.VLM_ERR_BUFFER_TOO_SMALL):
            check(status)
        values = (c_float * count.value)()
        if count.value:
            check(capi.vlm_session_image_pixel_values(pointer, image._ptr, values, count.value,
                                                      byref(count)))
        try:
            import numpy as np
        except ImportError:
            return list(values)
        plan = self.plan_image(image.width, image.height)
        array = np.ctypeslib.as_array(values).copy()
        return array.reshape(plan.n_frames, 3, plan.frame_height, plan.frame_width)

    def cancel(self):
        """Asks the running generation to stop after its current token. Any
        thread may call it."""
        self._cancel_requested.set()

    def generate(self, prompt=None, images=None, *, stream=True, max_tokens=256,
                 temperature=0.0, top_k=0, top_p=1.0, min_p=0.0, repeat_penalty=1.0,
                 seed=0, stop=(), on_token=None):
        """Generates the assistant's answer to the turns so far (after adding
        prompt and images as a user turn, if given).

        stream=True returns an iterator of text pieces; generation runs on a
        worker thread and stops early when the iterator is closed or dropped.
        stream=False returns the whole answer as a str. on_token(piece), if
        given, is called for each piece on the generating thread; returning
        False stops the generation, an exception raised in it stops it and
        is re-raised to the caller. stop: strings that end the answer
        where they first appear (they are neither returned nor kept).
        """
        if prompt is not None or images:
            self.add_turn(Role.USER, prompt or "", images or ())
        settings = dict(max_tokens=max_tokens, temperature=temperature, top_k=top_k,
                        top_p=top_p, min_p=min_p, repeat_penalty=repeat_penalty, seed=seed,
                        stop=[stop] if isinstance(stop, str) else list(stop or ()))
        if stream:
            return self._stream(settings, on_token)
        return "".join(self._run(settings, on_token, emit=None))

    def _params(self, settings, trampoline):
        params = capi.new_params(capi.vlm_generate_params, capi.vlm_generate_params_init)
        for name, value in settings.items():
            if name != "stop":
                setattr(params, name, value)
        stop = [text.encode("utf-8") for text in settings["stop"]]
        stop_array = (c_char_p * len(stop))(*stop)
        params.stop_strings = stop_array
        params.n_stop_strings = len(stop)
        params.on_token = trampoline
        return params, stop_array  # the array must outlive the call

    def _run(self, settings, on_token, emit):
        """Generates on the calling thread. Pieces go to emit (or are
        collected and returned). Raises what the callback raised, or the
        VLMError of a failed call."""
        pieces = []
        carried = []
        cancel = self._cancel_requested

        def token_trampoline(_token, piece, piece_len, _user_data):
            if carried or cancel.is_set():
                return False
            try:
                text = ctypes.string_at(piece, piece_len).decode("utf-8", "replace")
                if on_token is not None and on_token(text) is False:
                    return False
                if emit is None:
                    pieces.append(text)
                else:
                    emit(text)
                return True
            except BaseException as error:  # ctypes would print and drop it
                carried.append(error)
                return False

        trampoline = capi.vlm_token_fn(token_trampoline)  # alive for the whole call
        params, keep_alive = self._params(settings, trampoline)
        self._acquire()
        try:
            cancel.clear()
            # ctypes releases the GIL during the call, so other Python
            # threads keep running while the model computes.
            status = capi.vlm_session_generate(self._ptr, byref(params))
            error = None if status == capi.VLM_OK else error_for(status)  # same thread, right away
            if self._progress_carried:
                error = self._progress_carried.pop(0)
                self._progress_carried.clear()
        finally:
            self._busy.release()
            del keep_alive
        if carried:
            raise carried[0]
        if error is not None:
            raise error
        return pieces

    def _stream(self, settings, on_token):
        channel = queue.Queue()
        consumer_gone = threading.Event()

        def emit(text):
            if consumer_gone.is_set():
                raise _ConsumerGone
            channel.put(text)

        def worker():
            try:
                self._run(settings, on_token, emit)
            except _ConsumerGone:
                pass
            except BaseException as error:
                channel.put(_Failure(error))
            finally:
                channel.put(_DONE)

        thread = threading.Thread(target=worker, name="vlm-generate", daemon=True)
        self._ptr  # fail here, not on the worker, if the session is closed
        thread.start()
        return _TokenStream(channel, consumer_gone, thread)

    def safety_score(self, image, policy=SafetyPolicy.DANGEROUS, policy_text=None):
        """The probability (0..1) that image violates policy, as ShieldGemma 2
        defines it (P("Yes") of its Yes/No answer). policy may be a
        SafetyPolicy or its name; a CUSTOM policy needs policy_text, its
        definition. The model must be a ShieldGemma 2 checkpoint
        (UnsupportedError otherwise) and the session's conversation empty
        (StateError); it stays empty, so one session can score an image
        against several policies. Timings and prompt tokens/logits are
        readable afterwards."""
        image = image if isinstance(image, Image) else Image(image)
        policy = SafetyPolicy[policy.upper()] if isinstance(policy, str) else SafetyPolicy(policy)
        if policy == SafetyPolicy.CUSTOM and policy_text is None:
            raise InvalidArgumentError("a CUSTOM safety policy needs policy_text")
        text = None if policy_text is None else policy_text.encode("utf-8")
        probability = c_float()
        self._acquire()
        try:
            self._check_call(capi.vlm_session_safety_score(self._ptr, image._ptr, policy, text,
                                                           byref(probability)))
        finally:
            self._busy.release()
        return probability.value

    def plan_image(self, width, height):
        """What an image of width x height will cost in this session, known
        before anything is decoded: an ImagePlan."""
        plan = capi.vlm_image_plan()
        plan.struct_size = ctypes.sizeof(plan)
        check(capi.vlm_session_plan_image(self._ptr, width, height, byref(plan)))
        return ImagePlan(*(getattr(plan, name) for name in ImagePlan._fields))

    @property
    def timings(self):
        """Timings and counts of the latest generate, as a Timings."""
        timings = capi.vlm_timings()
        timings.struct_size = ctypes.sizeof(timings)
        check(capi.vlm_session_timings(self._ptr, byref(timings)))
        return Timings(*(getattr(timings, name) for name in Timings._fields))

    def prompt_tokens(self):
        """The prompt ids of the latest generate (the whole conversation,
        chat-formatted, image placeholders expanded)."""
        return list(self._read_array(capi.vlm_session_prompt_tokens, c_int32))

    def prompt_logits(self):
        """The logits at the last prompt position of the latest generate:
        a numpy float32 array when numpy is available, else a list."""
        values = self._read_array(capi.vlm_session_prompt_logits, c_float)
        try:
            import numpy as np
        except ImportError:
            return list(values)
        return np.ctypeslib.as_array(values).copy()

    def _read_array(self, function, item_type):
        pointer = self._ptr
        count = c_size_t()
        status = function(pointer, None, 0, byref(count))
        if status not in (capi.VLM_OK, capi.VLM_ERR_BUFFER_TOO_SMALL):
            check(status)
        values = (item_type * count.value)()
        if count.value:
            check(function(pointer, values, count.value, byref(count)))
        return values

    def __repr__(self):
        return "<vlm.Session>" if self.is_open else "<vlm.Session closed>"


class ImagePlan(NamedTuple):
    n_frames: int        # frames the vision encoder runs (tiles + global image)
    rows: int            # tile grid; 0, 0 when not split
    cols: int
    frame_width: int
    frame_height: int
    n_image_tokens: int  # placeholder tokens in the prompt
    work_bytes: int      # memory while preprocessing and encoding it
    feature_bytes: int   # memory its features keep in the session


class Timings(NamedTuple):
    load_ms: float
    preprocess_ms: float
    encode_ms: float
    prefill_ms: float
    decode_ms: float
    n_prompt_tokens: int
    n_prefill_tokens: int
    n_image_tokens: int
    n_generated_tokens: int
    prefill_tokens_per_s: float
    decode_tokens_per_s: float
    n_cached_images: int  # images whose features came from the model's image cache


class _ConsumerGone(Exception):
    """Raised inside the token callback to stop a generation nobody reads."""


class _TokenStream:
    """The iterator Session.generate(stream=True) returns. Closing it (or
    dropping it) stops the generation and waits for the worker."""

    def __init__(self, channel, consumer_gone, thread):
        self._channel = channel
        self._consumer_gone = consumer_gone
        self._thread = thread
        self._finished = False

    def __iter__(self):
        return self

    def __next__(self):
        if self._finished:
            raise StopIteration
        item = self._channel.get()
        if item is _DONE:
            self._finish()
            raise StopIteration
        if isinstance(item, _Failure):
            self._finish()
            raise item.error
        return item

    def _finish(self):
        self._finished = True
        self._thread.join()

    def close(self):
        if not self._finished:
            self._consumer_gone.set()
            self._finished = True
            self._thread.join()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def __del__(self):
        self._consumer_gone.set()  # no join here: __del__ may run on any thread
