"""vlm.Session: a conversation on a model, and streamed generation."""
import ctypes
import enum
import queue
import threading
from ctypes import POINTER, byref

from . import capi
from ._handle import Handle
from .errors import StateError, check, error_for
from .image import Image


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
    """

    _kind = "Session"

    def __init__(self, model, n_ctx=0, n_threads=0, max_image_tiles=0):
        params = capi.vlm_session_params()
        capi.vlm_session_params_init(byref(params))
        params.n_ctx = n_ctx
        params.n_threads = n_threads
        params.max_image_tiles = max_image_tiles
        out = POINTER(capi.vlm_session)()
        check(capi.vlm_session_create(model._ptr, byref(params), byref(out)))
        self._adopt(out, capi.vlm_session_free)
        self.model = model
        model._sessions.add(self)
        self._cancel_requested = threading.Event()
        self._busy = threading.Lock()

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
            check(capi.vlm_session_add_turn(self._ptr, _role(role), text.encode("utf-8"),
                                            pointers, len(images)))
        finally:
            self._busy.release()

    def cancel(self):
        """Asks the running generation to stop after its current token. Any
        thread may call it."""
        self._cancel_requested.set()

    def generate(self, prompt=None, images=None, *, stream=True, max_tokens=256,
                 temperature=0.0, top_k=0, top_p=1.0, min_p=0.0, repeat_penalty=1.0,
                 seed=0, on_token=None):
        """Generates the assistant's answer to the turns so far (after adding
        prompt and images as a user turn, if given).

        stream=True returns an iterator of text pieces; generation runs on a
        worker thread and stops early when the iterator is closed or dropped.
        stream=False returns the whole answer as a str. on_token(piece), if
        given, is called for each piece on the generating thread; returning
        False stops the generation, an exception raised in it stops it and
        is re-raised to the caller.
        """
        if prompt is not None or images:
            self.add_turn(Role.USER, prompt or "", images or ())
        settings = dict(max_tokens=max_tokens, temperature=temperature, top_k=top_k,
                        top_p=top_p, min_p=min_p, repeat_penalty=repeat_penalty, seed=seed)
        if stream:
            return self._stream(settings, on_token)
        return "".join(self._run(settings, on_token, emit=None))

    def _params(self, settings, trampoline):
        params = capi.vlm_generate_params()
        capi.vlm_generate_params_init(byref(params))
        for name, value in settings.items():
            setattr(params, name, value)
        params.on_token = trampoline
        return params

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
        params = self._params(settings, trampoline)
        self._acquire()
        try:
            cancel.clear()
            # ctypes releases the GIL during the call, so other Python
            # threads keep running while the model computes.
            status = capi.vlm_session_generate(self._ptr, byref(params))
            error = None if status == capi.VLM_OK else error_for(status)  # same thread, right away
        finally:
            self._busy.release()
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

    def __repr__(self):
        return "<vlm.Session>" if self.is_open else "<vlm.Session closed>"


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
