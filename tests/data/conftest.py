"""Data tests never touch the network: offline, with a private cache."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _offline_private_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("SEQKIT_OFFLINE", "1")
    monkeypatch.setenv("SEQKIT_CACHE", str(tmp_path / "cache"))
