"""IDX files the tests write, the verified download, the offline digits, resize/normalize, batches."""

from __future__ import annotations

import gzip
import hashlib

import pytest
import torch

from seqkit.errors import SeqkitError
from seqkit.vision.data import (
    IDX_DATASETS,
    ImageBatches,
    channel_stats,
    fetch_verified,
    load_digits,
    load_idx_dataset,
    normalize,
    read_idx,
    resize,
    write_idx,
)


def _idx_bytes(array: list[list[int]]) -> bytes:
    """An IDX3-ubyte file by hand: magic 0x00000803, then the sizes, then the pixels."""
    n, h = 1, len(array)
    w = len(array[0])
    header = bytes([0, 0, 0x08, 3]) + n.to_bytes(4, "big") + h.to_bytes(4, "big") + w.to_bytes(4, "big")
    return header + bytes(v for row in array for v in row)


def test_read_idx_hand_written_file(tmp_path):
    path = tmp_path / "img-idx3-ubyte"
    path.write_bytes(_idx_bytes([[0, 255, 7], [1, 2, 3]]))
    t = read_idx(path)
    assert t.dtype == torch.uint8 and t.shape == (1, 2, 3)
    assert t[0].tolist() == [[0, 255, 7], [1, 2, 3]]
    gz = tmp_path / "img-idx3-ubyte.gz"
    gz.write_bytes(gzip.compress(path.read_bytes()))
    assert torch.equal(read_idx(gz), t)


@pytest.mark.parametrize("dtype", [torch.uint8, torch.int32, torch.float32, torch.float64, torch.int16])
def test_write_read_round_trip(tmp_path, dtype):
    t = (torch.arange(24).reshape(2, 3, 4) * 3).to(dtype)
    for name in ("x.idx", "x.idx.gz"):
        write_idx(tmp_path / name, t)
        back = read_idx(tmp_path / name)
        assert back.dtype == dtype and torch.equal(back, t)


def test_bad_idx_files_are_named(tmp_path):
    bad = tmp_path / "bad"
    bad.write_bytes(b"\x1f\x8bnot idx")
    with pytest.raises(SeqkitError, match="bad magic"):
        read_idx(bad)
    short = tmp_path / "short"
    short.write_bytes(_idx_bytes([[1, 2, 3]])[:-1])
    with pytest.raises(SeqkitError, match="download the file again") as err:
        read_idx(short)
    assert "short" in str(err.value)
    with pytest.raises(SeqkitError, match="not found"):
        read_idx(tmp_path / "missing")


def test_load_idx_dataset_from_a_folder(tmp_path):
    imgs = torch.randint(0, 256, (5, 28, 28), dtype=torch.uint8)
    labels = torch.tensor([3, 1, 4, 1, 5], dtype=torch.uint8)
    write_idx(tmp_path / "train-images-idx3-ubyte.gz", imgs)
    write_idx(tmp_path / "train-labels-idx1-ubyte.gz", labels)
    write_idx(tmp_path / "t10k-images-idx3-ubyte", imgs[:2])  # un-gzipped copies are found too
    write_idx(tmp_path / "t10k-labels-idx1-ubyte", labels[:2])
    data = load_idx_dataset("fashion-mnist", root=tmp_path)
    assert data.X_train.shape == (5, 1, 28, 28) and data.X_test.shape == (2, 1, 28, 28)
    torch.testing.assert_close(data.X_train[0, 0], imgs[0].float() / 255)
    assert data.y_train.tolist() == [3, 1, 4, 1, 5] and data.labels[3] == "dress"
    with pytest.raises(SeqkitError, match="download=True"):
        load_idx_dataset("mnist", root=tmp_path / "empty")


def test_download_table_has_urls_and_md5s():
    for base, files in IDX_DATASETS.values():
        assert base.startswith("http") and len(files) == 4
        assert all(len(md5) == 32 and int(md5, 16) >= 0 for md5 in files.values())


def test_fetch_verified_checks_the_md5(tmp_path):
    src = tmp_path / "src.gz"
    src.write_bytes(b"payload")
    good = hashlib.md5(b"payload").hexdigest()
    dest = tmp_path / "cache" / "file.gz"
    assert fetch_verified(src.as_uri(), dest, good).read_bytes() == b"payload"
    assert fetch_verified("file:///nonexistent", dest, good) == dest  # verified copy: no download
    other = tmp_path / "cache" / "other.gz"
    with pytest.raises(SeqkitError, match="checksum mismatch"):
        fetch_verified(src.as_uri(), other, "0" * 32)
    assert not other.exists() and len(list(other.parent.iterdir())) == 1  # nothing half-written left


def test_fetch_verified_offline(tmp_path, monkeypatch):
    monkeypatch.setenv("SEQKIT_OFFLINE", "1")
    with pytest.raises(SeqkitError, match="SEQKIT_OFFLINE"):
        fetch_verified("file:///nonexistent", tmp_path / "f.gz", "0" * 32)


def test_offline_digits():
    data = load_digits(test_fraction=0.2, seed=0)
    assert data.X_train.shape[1:] == (1, 8, 8) and len(data.X_train) + len(data.X_test) == 1797
    assert data.X_train.min() >= 0 and data.X_train.max() <= 1
    assert data.num_classes == 10
    counts = torch.bincount(data.y_test, minlength=10)
    assert counts.min() >= 35 and counts.max() <= 37  # stratified: ~20% of each ~180-image class
    again = load_digits(test_fraction=0.2, seed=0)
    assert torch.equal(again.y_test, data.y_test)


def test_resize_and_normalize():
    X = torch.rand(3, 2, 8, 8)
    Y = resize(X, 28)
    assert Y.shape == (3, 2, 28, 28)
    torch.testing.assert_close(resize(torch.full((1, 1, 8, 8), 0.5), (16, 12)), torch.full((1, 1, 16, 12), 0.5))
    mean, std = channel_stats(Y)
    Z = normalize(Y, mean, std)
    torch.testing.assert_close(Z.mean(dim=(0, 2, 3)), torch.zeros(2), atol=1e-5, rtol=0)
    torch.testing.assert_close(Z.std(dim=(0, 2, 3)), torch.ones(2), atol=1e-5, rtol=0)


def test_image_batches_are_deterministic_and_resumable():
    X, y = torch.arange(10).float().reshape(10, 1, 1, 1), torch.arange(10)
    batches = ImageBatches(X, y, batch_size=4, seed=3)
    assert len(batches) == 3
    epoch0 = [b[1].tolist() for b in batches.epoch(0)]
    assert [len(b) for b in epoch0] == [4, 4, 2] and sorted(sum(epoch0, [])) == list(range(10))
    assert [b[1].tolist() for b in batches.epoch(0)] == epoch0
    assert [b[1].tolist() for b in batches.epoch(0, start=1)] == epoch0[1:]
    assert [b[1].tolist() for b in batches.epoch(1)] != epoch0
    with pytest.raises(SeqkitError):
        ImageBatches(X, y[:3])
