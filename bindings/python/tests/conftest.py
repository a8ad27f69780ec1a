"""Shared fixtures. Every path is found relative to this file, so the suite
runs from any checkout; the in-tree package is used unless one is installed."""
import json
import os
import sys
from pathlib import Path

import pytest

BINDING_DIR = Path(__file__).resolve().parent.parent
REPO = BINDING_DIR.parent.parent
DATA = REPO / "tests" / "data"
HEADER = REPO / "include" / "vlm.h"

if str(BINDING_DIR) not in sys.path:
    sys.path.insert(0, str(BINDING_DIR))
# Developer convenience: without VLM_LIBRARY, use the repository's default build.
if "VLM_LIBRARY" not in os.environ and (REPO / "build" / "libvlm.so").exists():
    os.environ["VLM_LIBRARY"] = str(REPO / "build" / "libvlm.so")


@pytest.fixture(scope="session")
def data_dir():
    return DATA


@pytest.fixture(scope="session")
def model_dir():
    return DATA / "tiny-smolvlm"


@pytest.fixture(scope="session")
def smolvlm_tokenizer():
    import vlm
    return vlm.Tokenizer(DATA / "tiny-smolvlm" / "tokenizer.json")


@pytest.fixture(scope="session")
def corpus():
    with open(DATA / "text" / "corpus.jsonl", encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def read_expected(vocab):
    with open(DATA / "text" / f"expected-{vocab}.jsonl", encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def shared_assets():
    """The shared assets folder (other vocabularies), as meson's test setup
    finds it: $VLM_SHARED_ASSETS, else ../shared/assets beside the repository."""
    env = os.environ.get("VLM_SHARED_ASSETS")
    return Path(env) if env else REPO.parent / "shared" / "assets"


def rss_bytes():
    """Resident set size now (Linux /proc), or None elsewhere."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):
        return None
