"""A libvlm model for smolagents agents (https://github.com/huggingface/smolagents).

    from smolagents import CodeAgent
    from vlm.smolagents import VLMModel

    model = VLMModel("SmolVLM-256M-Instruct", max_tokens=512)
    agent = CodeAgent(tools=[], model=model)
    agent.run("What is written on the sign?", images=[PIL.Image.open("sign.jpg")])

Written against smolagents 1.26 (Model.generate / generate_stream returning
ChatMessage / ChatMessageStreamDelta). smolagents is optional: importing this
module without it raises ImportError.

How messages become libvlm turns:
- roles system, user, assistant map to VLM_ROLE_*; smolagents' tool-call and
  tool-response become assistant and user, as smolagents does for local
  models; consecutive messages of one role are merged into one turn (texts
  joined by newlines, images kept in order), as smolagents does;
- content may be a str or a list of {"type": "text", "text": ...} and
  {"type": "image", "image": ...} items, where the image is anything
  vlm.Image accepts (PIL image, path, encoded bytes, numpy array) or a
  {"type": "image_url", "image_url": {"url": "data:image/...;base64,..."}}
  item. libvlm places a turn's images before its text, in their order, as the
  model's chat template does for a user turn;
- every call opens a fresh session on the model: smolagents resends the
  whole conversation each time.
Tools are described to the model by the agent's prompt; tools_to_call_from is
not passed to a chat template (libvlm has none with tools) and tool calls
are parsed from the text by smolagents. Structured outputs (response_format)
are not supported.
"""
import base64
import os
import threading

from smolagents.models import (ChatMessage, ChatMessageStreamDelta, MessageRole, Model,
                               TokenUsage)

from .image import Image
from .model import Model as _VLMModelHandle
from .session import Role

__all__ = ["VLMModel", "messages_to_turns"]

# smolagents' own mapping for models without tool roles (tool_role_conversions).
_ROLE_FOR = {
    "system": Role.SYSTEM,
    "user": Role.USER,
    "assistant": Role.ASSISTANT,
    "tool-call": Role.ASSISTANT,
    "tool-response": Role.USER,
}

# Sampling settings generate() accepts as keyword arguments, by their
# vlm.Session.generate names; smolagents' and transformers' aliases map in.
_SAMPLING_NAMES = ("temperature", "top_k", "top_p", "min_p", "repeat_penalty", "seed")
_ALIASES = {"max_new_tokens": "max_tokens", "repetition_penalty": "repeat_penalty"}


def _role_of(message):
    role = message.role if isinstance(message, ChatMessage) else message["role"]
    name = role.value if isinstance(role, MessageRole) else str(role)
    try:
        return _ROLE_FOR[name]
    except KeyError:
        raise ValueError(f"message role {name!r} is not one of {sorted(_ROLE_FOR)}") from None


def _content_of(message):
    return message.content if isinstance(message, ChatMessage) else message.get("content")


def _image_from_url(url):
    """Images arrive inline: an agent on a device has no business fetching."""
    if not url.startswith("data:") or ";base64," not in url:
        raise ValueError("image_url items must be base64 data: URLs; pass other images "
                         "as {'type': 'image', 'image': <PIL image or path>}")
    return base64.b64decode(url.split(";base64,", 1)[1])


def _split_content(content):
    """(text, [image sources]) of one message's content."""
    if content is None:
        return "", []
    if isinstance(content, str):
        return content, []
    texts, images = [], []
    for item in content:
        kind = item.get("type")
        if kind == "text":
            texts.append(item.get("text") or "")
        elif kind == "image":
            images.append(item["image"])
        elif kind == "image_url":
            url = item["image_url"]
            images.append(_image_from_url(url["url"] if isinstance(url, dict) else url))
        else:
            raise ValueError(f"unsupported content item type {kind!r}")
    return "".join(texts), images


def messages_to_turns(messages):
    """The libvlm turns of smolagents messages: a list of (Role, text,
    [image sources]), consecutive messages of one role merged."""
    turns = []
    for message in messages:
        role = _role_of(message)
        text, images = _split_content(_content_of(message))
        if turns and turns[-1][0] == role:
            _, previous_text, previous_images = turns[-1]
            joined = "\n".join(part for part in (previous_text, text) if part)
            turns[-1] = (role, joined, previous_images + images)
        else:
            turns.append((role, text, images))
    return turns


class VLMModel(Model):
    """A smolagents Model running a vision-language model with libvlm.

    model: a vlm.Model, or a path to load one from (then this object owns it;
    close() frees it). max_tokens and the sampling settings (temperature,
    top_k, top_p, min_p, repeat_penalty, seed) are defaults that keyword
    arguments of generate() override. n_ctx, n_threads and max_image_tiles
    are passed to each vlm.Session. Calls are serialised: a libvlm session
    belongs to one thread at a time, and one model's compute is better spent
    on one answer at a time.
    """

    def __init__(self, model, *, max_tokens=256, n_ctx=0, n_threads=0, max_image_tiles=0,
                 model_id=None, **kwargs):
        if isinstance(model, _VLMModelHandle):
            self.vlm_model, self._owns_model = model, False
        else:
            self.vlm_model, self._owns_model = _VLMModelHandle(os.fspath(model)), True
        if model_id is None:
            model_id = os.fspath(getattr(self.vlm_model, "path", "libvlm"))
        self.max_tokens = max_tokens
        self.session_params = dict(n_ctx=n_ctx, n_threads=n_threads,
                                   max_image_tiles=max_image_tiles)
        self._lock = threading.Lock()
        super().__init__(model_id=str(model_id), **kwargs)

    @property
    def supports_stop_parameter(self):
        # libvlm honours stop strings itself (vlm_generate_params.stop_strings),
        # whatever the model id looks like.
        return True

    def _settings(self, stop_sequences, response_format, kwargs):
        if response_format is not None:
            raise ValueError("libvlm does not support structured outputs (response_format)")
        merged = {**self.kwargs, **kwargs}  # call arguments override the model's defaults
        for alias, name in _ALIASES.items():
            if alias in merged:
                merged.setdefault(name, merged.pop(alias))
        settings = {"max_tokens": int(merged.pop("max_tokens", None) or self.max_tokens)}
        for name in _SAMPLING_NAMES:
            if merged.get(name) is not None:
                settings[name] = merged[name]
        settings["stop"] = [stop for stop in (stop_sequences or ()) if stop]
        return settings

    def _open_session(self, messages):
        session = self.vlm_model.session(**self.session_params)
        try:
            for role, text, images in messages_to_turns(messages):
                session.add_turn(role, text, [image if isinstance(image, Image) else Image(image)
                                              for image in images])
        except BaseException:
            session.close()
            raise
        return session

    @staticmethod
    def _usage(session):
        timings = session.timings
        return timings, TokenUsage(input_tokens=timings.n_prompt_tokens,
                                   output_tokens=timings.n_generated_tokens)

    def generate(self, messages, stop_sequences=None, response_format=None,
                 tools_to_call_from=None, **kwargs):
        """The answer to messages as a ChatMessage (assistant role, text
        content, token_usage from libvlm's timings, raw with the timings)."""
        settings = self._settings(stop_sequences, response_format, kwargs)
        with self._lock:
            session = self._open_session(messages)
            with session:
                text = session.generate(stream=False, **settings)
                timings, usage = self._usage(session)
        return ChatMessage(role=MessageRole.ASSISTANT, content=text,
                           raw={"out": text, "settings": settings, "timings": timings._asdict()},
                           token_usage=usage)

    def generate_stream(self, messages, stop_sequences=None, response_format=None,
                        tools_to_call_from=None, **kwargs):
        """The answer as ChatMessageStreamDelta pieces; the last delta carries
        the token usage. Used by agents created with stream_outputs=True."""
        settings = self._settings(stop_sequences, response_format, kwargs)
        with self._lock:
            session = self._open_session(messages)
            with session:
                with session.generate(stream=True, **settings) as pieces:
                    for piece in pieces:
                        if piece:
                            yield ChatMessageStreamDelta(content=piece)
                _, usage = self._usage(session)
        yield ChatMessageStreamDelta(content="", token_usage=usage)

    def close(self):
        """Frees the vlm.Model if this object loaded it."""
        if self._owns_model:
            self.vlm_model.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()
