"""Tokenizer: ids and decodes against the committed Hugging Face expectations."""
import threading

import pytest

from conftest import DATA, read_expected, shared_assets

import vlm

ADD_AND_PARSE = dict(add_special=True, parse_special=True)


def expected_text(record, key, text):
    # the fixture omits decodes equal to the text, or gives only their prefix
    if key in record:
        return record[key]
    return record.get(key + "p", "") + text


def check_corpus(tokenizer, corpus, expected, limit=None):
    assert len(corpus) == len(expected)
    mismatches = []
    for line, (text, record) in enumerate(zip(corpus, expected), start=1):
        if limit is not None and line > limit:
            break
        ids = tokenizer.encode(text, **ADD_AND_PARSE)
        if ids != record["ids"]:
            mismatches.append(f"line {line}: encode {text[:40]!r}")
        plain = tokenizer.encode(text, add_special=True, parse_special=False)
        if plain != record.get("plain", record["ids"]):
            mismatches.append(f"line {line}: encode without parse_special {text[:40]!r}")
        decoded = expected_text(record, "dec", text)
        if tokenizer.decode(record["ids"]) != decoded:
            mismatches.append(f"line {line}: decode")
        if tokenizer.decode(record["ids"], skip_special=True) != expected_text(record, "skip", text):
            mismatches.append(f"line {line}: decode skip_special")
        if "".join(tokenizer.decode_stream(record["ids"])) != decoded:
            mismatches.append(f"line {line}: decode_stream")
    assert not mismatches, f"{len(mismatches)} mismatches:\n" + "\n".join(mismatches[:20])


def test_smolvlm_corpus_ids_and_decodes(smolvlm_tokenizer, corpus):
    check_corpus(smolvlm_tokenizer, corpus, read_expected("smolvlm"))


@pytest.mark.parametrize("vocab", ["qwen3", "gemma3", "llama3"])
def test_other_vocabularies(vocab, corpus):
    path = shared_assets() / "tokenizers" / vocab / "tokenizer.json"
    if not path.exists():
        pytest.skip(f"{path} not found (set VLM_SHARED_ASSETS)")
    check_corpus(vlm.Tokenizer(path), corpus, read_expected(vocab), limit=500)


def test_model_tokenizer_is_the_same_vocabulary(model_dir, smolvlm_tokenizer):
    with vlm.Model(model_dir) as model:
        tokenizer = model.tokenizer
        assert tokenizer is model.tokenizer  # one wrapper per model
        assert tokenizer.n_vocab == smolvlm_tokenizer.n_vocab == 49280
        text = "<|im_start|>User:<image>What is this?<end_of_utterance>\n"
        assert tokenizer.encode(text, parse_special=True) == \
            smolvlm_tokenizer.encode(text, parse_special=True)


def test_lookup_piece_and_vocabulary(smolvlm_tokenizer):
    tok = smolvlm_tokenizer
    image_id = tok.lookup("<image>")
    assert image_id == 49190
    assert tok.token_to_piece(image_id) == "<image>"
    assert tok.lookup("no such token, surely") is None
    assert len(tok) == tok.n_vocab
    assert tok.encode("a<image>b", add_special=False, parse_special=True).count(image_id) == 1
    assert image_id not in tok.encode("a<image>b", add_special=False, parse_special=False)
    # byte-level pieces are the vocabulary strings, before decoding
    space_the = tok.encode(" the", add_special=False)
    assert tok.token_to_piece(space_the[0]).startswith("Ġ")


def test_encode_accepts_bytes_and_empty(smolvlm_tokenizer):
    tok = smolvlm_tokenizer
    assert tok.encode("héllo".encode()) == tok.encode("héllo")
    assert tok.encode("") == tok.encode(b"")


def test_long_text_needs_no_size_query_from_the_caller(smolvlm_tokenizer):
    text = "🙂 long text " * 5000
    ids = smolvlm_tokenizer.encode(text, add_special=False)
    assert len(ids) > 10000
    assert smolvlm_tokenizer.decode(ids) == text


def test_decode_stream_yields_only_whole_characters(smolvlm_tokenizer):
    tok = smolvlm_tokenizer
    text = "中文 🙂🙂 ok"
    ids = tok.encode(text, add_special=False)
    pieces = list(tok.decode_stream(iter(ids)))  # any iterable, even a one-shot one
    assert "".join(pieces) == text
    assert all("\ufffd" not in piece for piece in pieces)


def test_decode_stream_flushes_an_incomplete_last_character(smolvlm_tokenizer):
    tok = smolvlm_tokenizer
    ids = tok.encode("🙂", add_special=False)
    assert len(ids) > 1  # byte-level: the emoji spans several ids
    truncated = ids[:-1]
    assert "".join(tok.decode_stream(truncated)) == tok.decode(truncated)


def test_invalid_utf8_raises(smolvlm_tokenizer):
    with pytest.raises(vlm.InvalidUTF8Error) as info:
        smolvlm_tokenizer.encode(b"ok \xff\xfe")
    assert info.value.status == vlm.capi.VLM_ERR_INVALID_UTF8
    assert info.value.message


def test_out_of_range_id_raises(smolvlm_tokenizer):
    with pytest.raises(vlm.InvalidArgumentError) as info:
        smolvlm_tokenizer.token_to_piece(10**9)
    assert info.value.message


def test_same_ids_from_four_threads(smolvlm_tokenizer, corpus):
    tok = smolvlm_tokenizer
    texts = corpus[:400]
    reference = [tok.encode(t, parse_special=True) for t in texts]
    results, errors = [None] * 4, []

    def work(slot):
        try:
            results[slot] = [tok.encode(t, parse_special=True) for t in texts]
        except BaseException as error:  # surfaced by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert all(r == reference for r in results)


def test_tokenizer_load_releases_the_gil():
    # With a long switch interval, a Python thread can only run while the
    # main thread is inside a foreign call that released the GIL: if the one
    # long C call below (loading a 2 MB tokenizer.json) held it, the spinner
    # would not move.
    import sys
    ticks = [0]
    stop = threading.Event()

    def spin():
        while not stop.is_set():
            ticks[0] += 1

    old_interval = sys.getswitchinterval()
    sys.setswitchinterval(0.5)
    spinner = threading.Thread(target=spin)
    try:
        spinner.start()
        before = ticks[0]
        vlm.Tokenizer(DATA / "tiny-smolvlm" / "tokenizer.json")
        during = ticks[0] - before
    finally:
        stop.set()
        spinner.join()
        sys.setswitchinterval(old_interval)
    assert during > 0
