"""Verified downloads: every checksum kind is checked before the file appears at its destination."""

from __future__ import annotations

import hashlib

import pytest

from seqkit.data.download import download, parse_checksum, verify
from seqkit.errors import SeqkitError


@pytest.mark.parametrize("algorithm", ["sha256", "sha1", "md5"])
def test_download_checks_each_checksum_kind(tmp_path, algorithm):
    src = tmp_path / "src.bin"
    src.write_bytes(b"seqkit payload")
    good = f"{algorithm}:{hashlib.new(algorithm, b'seqkit payload').hexdigest()}"
    dest = download(src.as_uri(), tmp_path / "cache" / "ok.bin", good)
    assert dest.read_bytes() == b"seqkit payload" and verify(dest, good)
    bad = tmp_path / "cache" / "bad.bin"
    with pytest.raises(SeqkitError, match=f"checksum mismatch .* expected {algorithm}"):
        download(src.as_uri(), bad, f"{algorithm}:" + "0" * len(good.split(":")[1]))
    assert not bad.exists() and sorted(p.name for p in bad.parent.iterdir()) == ["ok.bin"]


def test_bare_hex_is_sha256_and_none_is_unchecked():
    assert parse_checksum("ABC") == ("sha256", "abc")
    assert parse_checksum("md5:ABC") == ("md5", "abc")
    assert parse_checksum(None) is None
