"""Shared fixtures: where the real corpora are, and a quiet single-threaded torch."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

_DEFAULT_SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"

# Tests compute with one thread (fast and deterministic for tiny models); tests of the thread choice
# itself clear this.
os.environ.setdefault("SEQKIT_THREADS", "1")


def shared_data_dir() -> Path | None:
    """``$SEQKIT_DATA`` or ``../shared/data`` beside the checkout, if it exists."""
    path = Path(os.environ.get("SEQKIT_DATA", _DEFAULT_SHARED))
    return path if path.is_dir() else None


@pytest.fixture
def shared_data() -> Path:
    """The real corpora (``../shared/data``); skips the test, saying why, when they are absent."""
    path = shared_data_dir()
    if path is None:
        pytest.skip("real corpora not found: set SEQKIT_DATA or place shared/data beside the checkout")
    return path


@pytest.fixture(autouse=True)
def _torch_threads():
    try:
        import torch
    except ImportError:  # pragma: no cover
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
