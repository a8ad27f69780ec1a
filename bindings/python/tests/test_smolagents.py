"""vlm.smolagents.VLMModel with smolagents on the tiny random-weight SmolVLM.
Its text is nonsense: these tests check the plumbing (messages to turns and
images, stop strings, token limits, usage, a CodeAgent step), not answers."""
import base64
import io

import pytest

smolagents = pytest.importorskip("smolagents")
PIL_Image = pytest.importorskip("PIL.Image")

import vlm  # noqa: E402
from vlm import capi  # noqa: E402
from vlm.smolagents import VLMModel, messages_to_turns  # noqa: E402
from smolagents.models import ChatMessage, MessageRole  # noqa: E402


def small_image(color, size=(48, 32)):
    return PIL_Image.new("RGB", size, color)


@pytest.fixture(scope="module")
def vlm_model(model_dir):
    with vlm.Model(model_dir) as model:
        yield model


@pytest.fixture
def agent_model(vlm_model):
    return VLMModel(vlm_model, max_tokens=12)


@pytest.fixture
def recorded_turns(monkeypatch):
    """Records every Session.add_turn as (role, text, [(width, height)])
    and still lets it through to libvlm."""
    turns = []
    real_add_turn = vlm.Session.add_turn

    def recording_add_turn(session, role, text, images=()):
        turns.append((role, text, [(image.width, image.height) for image in images]))
        return real_add_turn(session, role, text, images)

    monkeypatch.setattr(vlm.Session, "add_turn", recording_add_turn)
    return turns


def test_messages_to_turns_maps_roles_merges_and_keeps_image_order():
    red, blue = small_image("red"), small_image("blue")
    messages = [
        {"role": "system", "content": [{"type": "text", "text": "Be brief."}]},
        {"role": "user", "content": [{"type": "text", "text": "Look:"},
                                     {"type": "image", "image": red}]},
        {"role": MessageRole.USER, "content": [{"type": "image", "image": blue},
                                               {"type": "text", "text": "and this."}]},
        ChatMessage(role=MessageRole.ASSISTANT, content="Thought: hmm"),
        {"role": "tool-call", "content": "Calling tools: x()"},
        {"role": "tool-response", "content": [{"type": "text", "text": "Observation: 3"}]},
    ]
    turns = messages_to_turns(messages)
    assert [(role, text) for role, text, _ in turns] == [
        (vlm.Role.SYSTEM, "Be brief."),
        (vlm.Role.USER, "Look:\nand this."),
        (vlm.Role.ASSISTANT, "Thought: hmm\nCalling tools: x()"),
        (vlm.Role.USER, "Observation: 3"),
    ]
    assert turns[1][2] == [red, blue]
    with pytest.raises(ValueError, match="role"):
        messages_to_turns([{"role": "narrator", "content": "x"}])
    with pytest.raises(ValueError, match="data: URL"):
        messages_to_turns([{"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}}]}])


def test_generate_makes_turns_with_images_and_reports_usage(agent_model, recorded_turns,
                                                            data_dir):
    messages = [
        {"role": "system", "content": [{"type": "text", "text": "You describe pictures."}]},
        {"role": "user", "content": [{"type": "image", "image": small_image("red")},
                                     {"type": "text", "text": "What is this?"},
                                     {"type": "image", "image": str(data_dir / "sample.jpg")}]},
    ]
    answer = agent_model(messages)  # __call__ is generate
    assert isinstance(answer, ChatMessage)
    assert answer.role == MessageRole.ASSISTANT
    assert isinstance(answer.content, str) and answer.content
    assert recorded_turns == [
        (vlm.Role.SYSTEM, "You describe pictures.", []),
        (vlm.Role.USER, "What is this?", [(48, 32), (320, 240)]),
    ]
    timings = answer.raw["timings"]
    assert timings["n_image_tokens"] > 0
    assert answer.token_usage.input_tokens == timings["n_prompt_tokens"]
    assert 0 < answer.token_usage.output_tokens <= 12


def test_chat_format_reaches_the_prompt(vlm_model, monkeypatch):
    """The turns reach libvlm's chat template: the prompt the model saw reads
    System, User (with image tokens), Assistant, User."""
    model = VLMModel(vlm_model, max_tokens=2)
    seen = {}
    real_generate = vlm.Session.generate

    def keep_session(session, *args, **kwargs):
        result = real_generate(session, *args, **kwargs)
        seen["prompt"] = vlm_model.tokenizer.decode(session.prompt_tokens())
        return result

    monkeypatch.setattr(vlm.Session, "generate", keep_session)
    model([{"role": "system", "content": "S-text"},
           {"role": "user", "content": [{"type": "image", "image": small_image("green")},
                                        {"type": "text", "text": "U-text"}]},
           {"role": "assistant", "content": "A-text"},
           {"role": "tool-response", "content": "O-text"}])
    prompt = seen["prompt"]
    positions = [prompt.index(text) for text in ("S-text", "<image>", "U-text", "A-text", "O-text")]
    assert positions == sorted(positions), prompt


def test_stop_sequences_reach_libvlm_and_cut_the_answer(agent_model, monkeypatch):
    messages = [{"role": "user", "content": "Tell me a story."}]
    full = agent_model(messages, max_tokens=12).content
    words = full.split()
    assert len(words) >= 3, full
    stop = words[2]
    cut_at = full.index(stop)

    passed = []
    real_generate = capi.vlm_session_generate

    def recording_generate(session, params):
        p = params._obj
        passed.append([p.stop_strings[i].decode() for i in range(p.n_stop_strings)])
        return real_generate(session, params)

    monkeypatch.setattr(capi, "vlm_session_generate", recording_generate)
    answer = agent_model(messages, stop_sequences=[stop, "Observation:"], max_tokens=12)
    assert passed == [[stop, "Observation:"]]
    # greedy decoding: the same answer, ended where the stop string starts
    assert answer.content == full[:cut_at]


def test_max_tokens_and_sampling_arguments(agent_model):
    messages = [{"role": "user", "content": "Count."}]
    assert agent_model(messages, max_tokens=3).token_usage.output_tokens <= 3
    assert agent_model(messages, max_new_tokens=2).token_usage.output_tokens <= 2
    sampled = agent_model(messages, max_tokens=4, temperature=0.8, top_k=5, seed=7)
    again = agent_model(messages, max_tokens=4, temperature=0.8, top_k=5, seed=7)
    assert sampled.content == again.content  # same seed, same answer
    with pytest.raises(ValueError, match="structured"):
        agent_model(messages, response_format={"type": "json_object"})


def test_image_url_data_items_are_decoded(agent_model, recorded_turns):
    png = io.BytesIO()
    small_image("yellow", (20, 10)).save(png, format="PNG")
    url = "data:image/png;base64," + base64.b64encode(png.getvalue()).decode()
    agent_model([{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": url}},
        {"type": "text", "text": "Colour?"}]}], max_tokens=2)
    assert recorded_turns == [(vlm.Role.USER, "Colour?", [(20, 10)])]


def test_stream_pieces_concatenate_to_the_answer(agent_model):
    messages = [{"role": "user", "content": [{"type": "image", "image": small_image("red")},
                                             {"type": "text", "text": "Hi"}]}]
    whole = agent_model.generate(messages, max_tokens=8)
    deltas = list(agent_model.generate_stream(messages, max_tokens=8))
    assert "".join(delta.content or "" for delta in deltas) == whole.content
    assert deltas[-1].token_usage.output_tokens == whole.token_usage.output_tokens


def test_bad_image_raises_our_error_before_generating(agent_model):
    with pytest.raises(vlm.FormatError):
        agent_model([{"role": "user", "content": [{"type": "image", "image": b"not an image"}]}])


def test_model_loaded_from_a_path_is_owned_and_closed(model_dir):
    with VLMModel(model_dir, max_tokens=1) as model:
        assert model.model_id == str(model_dir)
        assert model([{"role": "user", "content": "Hi"}]).token_usage.output_tokens <= 1
        loaded = model.vlm_model
    assert not loaded.is_open


def test_code_agent_runs_a_step_and_fails_only_at_parsing(agent_model):
    from smolagents import CodeAgent
    from smolagents.utils import AgentParsingError

    agent = CodeAgent(tools=[], model=agent_model, max_steps=1, verbosity_level=0)
    final = agent.run("What colour is the picture?", images=[small_image("red")])
    action_steps = [step for step in agent.memory.steps
                    if type(step).__name__ == "ActionStep"]
    # Step 1: the model answered (nonsense), smolagents could not find code in it.
    first = action_steps[0]
    assert isinstance(first.model_output_message, ChatMessage)
    assert first.token_usage is not None and first.token_usage.output_tokens > 0
    assert isinstance(first.error, AgentParsingError), repr(first.error)
    # Then smolagents asked the model for a final answer, which also went through.
    assert isinstance(final, str)
    assert not final.startswith("Error in generating final LLM output"), final
