"""What every wrapper of a libvlm handle shares: ownership, close(), the
context-manager protocol, and a finalizer that frees the handle when the
Python object is collected."""
import ctypes
import os
import weakref

from . import capi
from .errors import check, closed


class Handle:
    """Base of the wrappers. A handle is either owned (freed by close() or by
    the finalizer) or borrowed from an owner object (valid while the owner is
    open; the wrapper keeps the owner alive)."""

    _kind = "object"  # for messages: "Model", "Tokenizer", ...

    def _adopt(self, pointer, free_function):
        self._pointer = pointer
        self._owner = None
        # The finalizer holds the pointer and the free function, never self.
        self._finalizer = weakref.finalize(self, free_function, pointer)
        # At interpreter exit the process releases everything anyway, and
        # freeing in collection order could free a model before its session.
        self._finalizer.atexit = False

    def _borrow(self, pointer, owner):
        self._pointer = pointer
        self._owner = owner
        self._finalizer = None

    @property
    def _ptr(self):
        """The live C pointer; StateError once this object or its owner is closed."""
        pointer = getattr(self, "_pointer", None)
        if pointer is None or (self._owner is not None and not self._owner.is_open):
            raise closed(self._kind)
        return pointer

    @property
    def is_open(self):
        return getattr(self, "_pointer", None) is not None and (
            self._owner is None or self._owner.is_open)

    def close(self):
        """Frees the handle now (idempotent). Borrowed handles just detach."""
        finalizer = getattr(self, "_finalizer", None)
        if finalizer is not None:
            finalizer()  # runs the free function once, then detaches
        self._pointer = None

    def __enter__(self):
        self._ptr  # entering a closed object is an error
        return self

    def __exit__(self, *exc_info):
        self.close()


def fs_path(path):
    """A path argument (str, bytes or os.PathLike) as the bytes C expects."""
    return os.fsencode(path)


def read_text(call, first_guess=256):
    """Runs a call following vlm.h's caller-buffer convention,
    call(buf, buf_size, out_len) -> status, and returns the bytes written.
    Starts with a guess so that the common case is one call."""
    out_len = ctypes.c_size_t()
    size = first_guess
    for _ in range(3):  # a stable answer needs at most two; a third guards a racing change
        buffer = ctypes.create_string_buffer(size)
        status = call(buffer, size, ctypes.byref(out_len))
        if status == capi.VLM_ERR_BUFFER_TOO_SMALL:
            size = out_len.value + 1
            continue
        check(status)
        return buffer.raw[:out_len.value]
    check(status)
