"""seqkit.io: UTF-8 errors with line numbers, gzip, atomic writes with normal permissions."""

from __future__ import annotations

import gzip
import os
import stat

import pytest

from seqkit.errors import SeqkitError
from seqkit.io import atomic_write, iter_lines, load_json, read_text, save_json


def test_invalid_utf8_names_file_and_line(tmp_path):
    path = tmp_path / "bad.txt"
    path.write_bytes("ok\nfine\ncaf\xe9\n".encode("latin-1"))
    for reader in (read_text, lambda p: list(iter_lines(p))):
        with pytest.raises(SeqkitError) as err:
            reader(path)
        assert f"{path}:3: invalid UTF-8 at byte 3 of the line" in str(err.value)
        assert "iconv" in str(err.value)


def test_gzip_is_transparent(tmp_path):
    path = tmp_path / "a.txt.gz"
    with gzip.open(path, "wt", encoding="utf-8") as fh:
        fh.write("über\r\nzwei\n")
    assert list(iter_lines(path)) == ["über", "zwei"]
    assert read_text(path) == "über\nzwei\n"  # CRLF read as LF, as iter_lines does


def test_atomic_write_keeps_old_file_on_error_and_uses_umask(tmp_path):
    path = tmp_path / "model.json"
    save_json(path, {"a": 1})
    with pytest.raises(RuntimeError), atomic_write(path) as fh:
        fh.write("half")
        raise RuntimeError("crash")
    assert load_json(path) == {"a": 1}
    assert os.listdir(tmp_path) == ["model.json"]  # no temporary left behind
    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~mask


def test_missing_file_and_bad_json(tmp_path):
    with pytest.raises(SeqkitError, match="file not found"):
        read_text(tmp_path / "nope.txt")
    bad = tmp_path / "v.json"
    bad.write_text('{"a":\n  1,,}')
    with pytest.raises(SeqkitError, match=r"v.json:2: invalid JSON"):
        load_json(bad)
