"""vlm.Tokenizer: a tokenizer.json, standalone or borrowed from a Model."""
import ctypes
from ctypes import POINTER, byref, c_int32, c_size_t

from . import capi
from ._handle import Handle, fs_path, read_text
from .errors import check


def _utf8(text):
    # bytes pass through unchecked so that libvlm itself reports invalid UTF-8
    if isinstance(text, (bytes, bytearray, memoryview)):
        return bytes(text)
    return text.encode("utf-8")


def _id_array(ids):
    ids = list(ids)
    return (c_int32 * len(ids))(*ids), len(ids)


class Tokenizer(Handle):
    """A tokenizer.json file (or the one in a model directory).

    Immutable: any number of threads may use one tokenizer at once.
    """

    _kind = "Tokenizer"

    def __init__(self, path):
        out = POINTER(capi.vlm_tokenizer)()
        check(capi.vlm_tokenizer_load(fs_path(path), byref(out)))
        self._adopt(out, capi.vlm_tokenizer_free)

    @classmethod
    def _borrowed(cls, pointer, owner):
        tokenizer = cls.__new__(cls)
        tokenizer._borrow(pointer, owner)
        return tokenizer

    @property
    def n_vocab(self):
        """Number of ids, added tokens included."""
        return capi.vlm_tokenizer_n_vocab(self._ptr)

    def __len__(self):
        return self.n_vocab

    def encode(self, text, add_special=True, parse_special=False):
        """Token ids of text (str, or UTF-8 bytes).

        add_special runs the post-processor (BOS, ...); parse_special makes
        special-token strings in the text ("<image>") map to their ids.
        """
        data = _utf8(text)
        flags = ((capi.VLM_TOKENIZE_ADD_SPECIAL if add_special else 0)
                 | (capi.VLM_TOKENIZE_PARSE_SPECIAL if parse_special else 0))
        pointer = self._ptr
        n_ids = c_size_t()
        capacity = len(data) + 16  # byte-level BPE: at most one id per byte, plus specials
        for _ in range(3):
            ids = (c_int32 * capacity)()
            status = capi.vlm_tokenize(pointer, data, len(data), flags, ids, capacity,
                                       byref(n_ids))
            if status == capi.VLM_ERR_BUFFER_TOO_SMALL:
                capacity = n_ids.value
                continue
            break
        check(status)
        return ids[:n_ids.value]

    def decode(self, ids, skip_special=False, errors="replace"):
        """The text of ids, as the tokenizer's decoder produces it."""
        return self.decode_bytes(ids, skip_special).decode("utf-8", errors)

    def decode_bytes(self, ids, skip_special=False):
        """Like decode, without the final UTF-8 decoding."""
        array, n = _id_array(ids)
        flags = capi.VLM_DETOKENIZE_SKIP_SPECIAL if skip_special else 0
        pointer = self._ptr
        return read_text(lambda buf, size, out_len: capi.vlm_detokenize(
            pointer, array, n, flags, buf, size, out_len), first_guess=8 * n + 64)

    def token_to_piece(self, token_id):
        """The vocabulary string of one id, before decoding ("Ġthe")."""
        pointer = self._ptr
        data = read_text(lambda buf, size, out_len: capi.vlm_token_to_piece(
            pointer, token_id, buf, size, out_len), first_guess=64)
        return data.decode("utf-8", "replace")

    def lookup(self, piece):
        """The id whose vocabulary string is piece ("<image>"), or None."""
        token_id = capi.vlm_token_lookup(self._ptr, _utf8(piece))
        return None if token_id < 0 else token_id

    def decode_stream(self, ids, skip_special=False):
        """Yields text as ids arrive (ids may be any iterable, even a live
        one). No piece ends inside a UTF-8 character, and the pieces join
        to decode(ids), including an incomplete last character (flushed at
        the end). Empty pieces are not yielded."""
        tokenizer = self._ptr
        detok = POINTER(capi.vlm_detokenizer)()
        flags = capi.VLM_DETOKENIZE_SKIP_SPECIAL if skip_special else 0
        check(capi.vlm_detokenizer_create(tokenizer, flags, byref(detok)))
        try:
            for token_id in ids:
                self._ptr  # the tokenizer (or its model) may have been closed meanwhile
                piece = read_text(lambda buf, size, out_len: capi.vlm_detokenizer_push(
                    detok, token_id, buf, size, out_len), first_guess=64)
                if piece:
                    yield piece.decode("utf-8", "replace")
            # ids that end inside a character leave it held back: flush
            # renders it as U+FFFD, as decode() does.
            self._ptr
            tail = read_text(lambda buf, size, out_len: capi.vlm_detokenizer_flush(
                detok, buf, size, out_len), first_guess=64)
            if tail:
                yield tail.decode("utf-8", "replace")
        finally:
            capi.vlm_detokenizer_free(detok)

    def __repr__(self):
        state = f"n_vocab={self.n_vocab}" if self.is_open else "closed"
        return f"<vlm.Tokenizer {state}>"
