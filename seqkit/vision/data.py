"""Image data on plain torch (no torchvision): IDX files ((Fashion-)MNIST), the offline 8x8 digits,
resizing, normalization and deterministic minibatches for the trainer.

Images are float tensors (N, C, H, W); labels are LongTensors (N,).
"""

from __future__ import annotations

import dataclasses
import gzip
import os
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

from seqkit.errors import SeqkitError
from seqkit.io import cache_dir
from seqkit.settings import setting

# ---------------------------------------------------------------- IDX files (LeCun's MNIST format)

# IDX type byte -> big-endian numpy dtype.
_IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: str | os.PathLike) -> torch.Tensor:
    """Read an IDX file (``.gz`` or plain): magic ``00 00 TYPE NDIM``, NDIM big-endian uint32 sizes, data.

    Returns a tensor of those sizes (uint8 images come back as ``torch.uint8``). A truncated or
    foreign file raises :class:`SeqkitError` naming the file.
    """
    path = Path(path)
    if not path.is_file():
        raise SeqkitError("file not found", path=path, fix="check the path or download the data set")
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as fh:
            raw = fh.read()
    except (OSError, EOFError) as exc:
        raise SeqkitError(f"cannot read: {exc}", path=path, fix="download the file again") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES:
        raise SeqkitError("not an IDX file (bad magic number)", path=path,
                          fix="give an MNIST-format file such as train-images-idx3-ubyte.gz")
    dtype, ndim = np.dtype(_IDX_DTYPES[raw[2]]), raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise SeqkitError("IDX header is truncated", path=path, fix="download the file again")
    shape = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(raw) - header != expected:
        raise SeqkitError(f"IDX data has {len(raw) - header} bytes, the header {shape} needs {expected}",
                          path=path, fix="download the file again")
    data = np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape)
    return torch.from_numpy(data.astype(dtype.newbyteorder("="), copy=True))


def write_idx(path: str | os.PathLike, tensor: torch.Tensor) -> None:
    """Write ``tensor`` as an IDX file (gzipped when ``path`` ends in ``.gz``), atomically."""
    from seqkit.io import write_bytes_atomic

    array = tensor.detach().cpu().numpy()
    codes = {np.dtype(v).newbyteorder("="): k for k, v in _IDX_DTYPES.items()}
    if array.dtype not in codes:
        raise SeqkitError(f"IDX cannot store {array.dtype}", fix="use uint8, int8, int16, int32, float32 or float64")
    code = codes[array.dtype]
    payload = (bytes([0, 0, code, array.ndim]) + np.asarray(array.shape, dtype=">u4").tobytes()
               + array.astype(_IDX_DTYPES[code]).tobytes())
    write_bytes_atomic(path, gzip.compress(payload, mtime=0) if str(path).endswith(".gz") else payload)


# ---------------------------------------------------------------- (Fashion-)MNIST download

#: data set -> (base URL, {file name: MD5 of the published .gz}); checksums as torchvision lists them.
IDX_DATASETS: dict[str, tuple[str, dict[str, str]]] = {
    "fashion-mnist": ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/", {
        "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
        "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
        "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
        "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
    }),
    "mnist": ("https://ossci-datasets.s3.amazonaws.com/mnist/", {
        "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
        "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
        "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
        "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
    }),
}

#: Fashion-MNIST's class names (d2l's ``get_fashion_mnist_labels``).
FASHION_MNIST_LABELS = ("t-shirt", "trouser", "pullover", "dress", "coat",
                        "sandal", "shirt", "sneaker", "bag", "ankle boot")


def fetch_verified(url: str, dest: Path, md5: str) -> Path:
    """Download ``url`` to ``dest`` unless a file with the right MD5 is already there.

    The (Fashion-)MNIST authors publish MD5 sums, so that is what is checked; the transfer is
    :func:`seqkit.data.download.download` (temporary file, checked, then renamed into place).
    """
    from seqkit.data.download import download, offline, verify

    dest = Path(dest)
    if verify(dest, f"md5:{md5}"):
        return dest
    if offline():
        raise SeqkitError(f"{dest.name} is missing and SEQKIT_OFFLINE is set", path=dest,
                          fix="unset SEQKIT_OFFLINE or place the file there by hand")
    return download(url, dest, f"md5:{md5}")


@dataclasses.dataclass
class ImageData:
    """A train/test split: images (N, C, H, W) float in [0, 1] (or normalized) and labels (N,) long."""

    X_train: torch.Tensor
    y_train: torch.Tensor
    X_test: torch.Tensor
    y_test: torch.Tensor
    labels: tuple[str, ...] = ()

    @property
    def num_classes(self) -> int:
        return int(max(self.y_train.max(), self.y_test.max())) + 1

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(self.X_train.shape[1:])


def load_idx_dataset(name: str = "fashion-mnist", root: str | os.PathLike | None = None,
                     download: bool = False) -> ImageData:
    """(Fashion-)MNIST from its four IDX files in ``root`` (default: the cache), downloading if asked.

    Files may be gzipped (as published) or not. Pixels are scaled to [0, 1], shape (N, 1, 28, 28).
    """
    if name not in IDX_DATASETS:
        raise SeqkitError(f"unknown IDX data set {name!r}", fix=f"use one of: {', '.join(IDX_DATASETS)}")
    base, files = IDX_DATASETS[name]
    root = Path(root) if root is not None else cache_dir() / name
    parts = []
    for fname, md5 in files.items():
        path = root / fname
        if not path.is_file() and (root / fname[:-3]).is_file():
            path = root / fname[:-3]  # already un-gzipped
        elif download:
            fetch_verified(base + fname, path, md5)
        elif not path.is_file():
            raise SeqkitError(f"{fname} not found", path=root, fix="pass download=True, or put the IDX files there")
        parts.append(read_idx(path))
    X_train, y_train, X_test, y_test = parts
    labels = FASHION_MNIST_LABELS if name == "fashion-mnist" else tuple(str(i) for i in range(10))
    return ImageData(X_train.unsqueeze(1).float() / 255, y_train.long(), X_test.unsqueeze(1).float() / 255,
                     y_test.long(), labels)


# ---------------------------------------------------------------- the offline data set


def load_digits(test_fraction: float = 0.2, seed: int = 0) -> ImageData:
    """scikit-learn's bundled 8x8 handwritten digits (1,797 images, no download): (N, 1, 8, 8) in [0, 1].

    The split is a seeded shuffle, stratified so each digit appears in train and test in proportion.
    Needs scikit-learn (``pip install 'seqkit[vision]'``).
    """
    try:
        from sklearn.datasets import load_digits as sk_load_digits
    except ImportError:
        raise SeqkitError("the offline digits data needs scikit-learn",
                          fix="pip install 'seqkit[vision]' (or pip install scikit-learn)") from None
    if not 0.0 < test_fraction < 1.0:
        raise SeqkitError(f"test_fraction must be in (0, 1), got {test_fraction}")
    digits = sk_load_digits()
    X = torch.tensor(digits.images, dtype=torch.float32).unsqueeze(1) / 16.0
    y = torch.tensor(digits.target, dtype=torch.long)
    g = torch.Generator().manual_seed(seed)
    test_idx = []
    for c in range(10):
        idx = torch.nonzero(y == c).flatten()
        idx = idx[torch.randperm(len(idx), generator=g)]
        test_idx.append(idx[:round(len(idx) * test_fraction)])
    test_mask = torch.zeros(len(y), dtype=torch.bool)
    test_mask[torch.cat(test_idx)] = True
    return ImageData(X[~test_mask], y[~test_mask], X[test_mask], y[test_mask], tuple(str(i) for i in range(10)))


# ---------------------------------------------------------------- transforms


def resize(X: torch.Tensor, size: int | tuple[int, int], mode: str = "bilinear") -> torch.Tensor:
    """Resize images (N, C, H, W) to (N, C, *size) with ``F.interpolate`` (d2l's ``Resize``)."""
    size = (size, size) if isinstance(size, int) else tuple(size)
    if tuple(X.shape[-2:]) == size:
        return X
    kwargs = {"align_corners": False, "antialias": True} if mode in ("bilinear", "bicubic") else {}
    return F.interpolate(X, size=size, mode=mode, **kwargs)


def channel_stats(X: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel mean and standard deviation of images (N, C, H, W), each shape (C,)."""
    return X.mean(dim=(0, 2, 3)), X.std(dim=(0, 2, 3))


def normalize(X: torch.Tensor, mean: torch.Tensor | float, std: torch.Tensor | float) -> torch.Tensor:
    """(X - mean) / std per channel; compute mean/std on the *training* images and reuse them for test."""
    mean = torch.as_tensor(mean, dtype=X.dtype).reshape(1, -1, 1, 1)
    std = torch.as_tensor(std, dtype=X.dtype).reshape(1, -1, 1, 1)
    return (X - mean) / std.clamp_min(1e-12)


def prepare(data: ImageData, resolution: int | tuple[int, int] | None = None, standardize: bool = True) -> ImageData:
    """Resize both splits to ``resolution`` and standardize them with the training set's statistics."""
    X_train, X_test = data.X_train, data.X_test
    if resolution is not None:
        X_train, X_test = resize(X_train, resolution), resize(X_test, resolution)
    if standardize:
        mean, std = channel_stats(X_train)
        X_train, X_test = normalize(X_train, mean, std), normalize(X_test, mean, std)
    return dataclasses.replace(data, X_train=X_train, X_test=X_test)


@dataclasses.dataclass
class ImageDataConfig:
    """The arguments of :func:`load_images` as settings (the vision recipes' ``data:`` section)."""

    name: str = setting("digits", choices=("digits", "fashion-mnist", "mnist"))
    root: str | None = None
    download: bool = False
    resolution: int | None = setting(28, ge=8)
    standardize: bool = True
    test_fraction: float = setting(0.2, gt=0, lt=1)


def load_images(name: str, resolution: int | tuple[int, int] | None = None, standardize: bool = True,
                root: str | os.PathLike | None = None, download: bool = False, seed: int = 0,
                test_fraction: float = 0.2) -> ImageData:
    """``digits`` (offline; split by ``seed`` and ``test_fraction``), ``fashion-mnist`` or ``mnist``
    (the published split, from ``root`` or the cache, downloaded when asked), resized and standardized."""
    if name == "digits":
        data = load_digits(test_fraction=test_fraction, seed=seed)
    else:
        data = load_idx_dataset(name, root=root, download=download)
    return prepare(data, resolution, standardize)


# ---------------------------------------------------------------- minibatches


class ImageBatches:
    """Shuffled minibatches of (X (B, C, H, W), y (B,)) for :class:`seqkit.train.Trainer`.

    ``epoch(e, start=k)`` yields epoch ``e``'s batches from the ``k``-th on, the same ones for the same
    ``(seed, e)`` every time, so a resumed run sees exactly the data an uninterrupted one would.
    """

    def __init__(self, X: torch.Tensor, y: torch.Tensor, batch_size: int = 256, shuffle: bool = True,
                 seed: int = 0, drop_last: bool = False) -> None:
        if len(X) != len(y):
            raise SeqkitError(f"{len(X)} images but {len(y)} labels")
        if batch_size < 1:
            raise SeqkitError(f"batch_size must be >= 1, got {batch_size}")
        self.X, self.y, self.batch_size = X, y, batch_size
        self.shuffle, self.seed, self.drop_last = shuffle, seed, drop_last

    def __len__(self) -> int:
        n = len(self.X)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def epoch(self, e: int, start: int = 0):
        if self.shuffle:
            order = torch.randperm(len(self.X), generator=torch.Generator().manual_seed(self.seed * 100_003 + e))
        else:
            order = torch.arange(len(self.X))
        for b in range(start, len(self)):
            idx = order[b * self.batch_size:(b + 1) * self.batch_size]
            yield self.X[idx], self.y[idx]

    def __iter__(self):
        return self.epoch(0)
