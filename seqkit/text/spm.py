"""SentencePiece subword models: train (unigram or BPE), encode to pieces or ids, decode, save.

A thin layer over the ``sentencepiece`` library. What it adds:

* training from files (``.gz`` too, read through :mod:`seqkit.io` so bad UTF-8 names file and line)
  or from any iterator of strings, quietly, with the model kept in memory and written atomically
  where you ask (e.g. into a run directory);
* special ids that line up with :class:`~seqkit.text.vocab.Vocab`'s fixed indices by default
  (``<unk>``=0, ``<pad>``=1, ``<bos>``=2, ``<eos>``=3), so ``Vocab.from_spm(tok)`` gives the same ids;
* batch paths that hand whole lists to the library's C++ (multi-threaded) encoder and decoder.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from seqkit.errors import SeqkitError
from seqkit.io import iter_lines, write_bytes_atomic
from seqkit.sentences import refuse_string
from seqkit.text.base import Tokenizer
from seqkit.text.vocab import BOS_ID, EOS_ID, PAD_ID, UNK_ID

MODEL_TYPES = ("unigram", "bpe", "char", "word")

TextsOrFiles = str | os.PathLike | Iterable[str] | Iterable[os.PathLike]


def _as_list(items: Iterable) -> list:
    """A list as is (no copy: the batch paths stay as thin as calling the library), else listed."""
    return items if isinstance(items, list) else list(items)

# sentencepiece's ModelProto.SentencePiece.Type; the library exposes no is_user_defined().
USER_DEFINED = 4


def _varint(buf: bytes, i: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        b = buf[i]
        i += 1
        value |= (b & 0x7F) << shift
        shift += 7
        if b < 0x80:
            return value, i


def _skip(wire: int, i: int, buf: bytes) -> int:
    """The position after a field of wire type ``wire`` whose value starts at ``i``."""
    if wire == 0:
        return _varint(buf, i)[1]
    if wire == 1:
        return i + 8
    if wire == 5:
        return i + 4
    length, i = _varint(buf, i)
    return i + length


def _messages(proto: bytes, field: int) -> Iterator[bytes]:
    """The length-delimited values of ``field`` in a serialized protobuf message, in order."""
    i, n = 0, len(proto)
    while i < n:
        key, i = _varint(proto, i)
        if key >> 3 == field and key & 7 == 2:
            length, i = _varint(proto, i)
            yield proto[i: i + length]
            i += length
        else:
            i = _skip(key & 7, i, proto)


def _int_field(message: bytes, field: int, default: int) -> int:
    """The varint ``field`` of a serialized message (the last one given; ``default`` when absent)."""
    value, j = default, 0
    while j < len(message):
        key, j = _varint(message, j)
        if key >> 3 == field and key & 7 == 0:
            value, j = _varint(message, j)
        else:
            j = _skip(key & 7, j, message)
    return value


def _model_type(model_proto: bytes) -> str:
    """``TrainerSpec.model_type`` (field 2, its field 3; UNIGRAM=1 is the default) of a serialized model."""
    kind = 1
    for spec in _messages(model_proto, 2):
        kind = _int_field(spec, 3, 1)
    return {1: "unigram", 2: "bpe", 3: "word", 4: "char"}.get(kind, "unigram")


def _piece_types(model_proto: bytes) -> list[int]:
    """The type of every piece, read from the serialized ``ModelProto`` (protobuf wire format).

    Only field 1 (``repeated SentencePiece pieces``) and its field 3 (``type``, default NORMAL=1)
    are decoded; this avoids a dependency on the ``protobuf`` package for one enum.
    """
    return [_int_field(piece, 3, 1) for piece in _messages(model_proto, 1)]


def _sentences(texts_or_files: TextsOrFiles, counter: list[int]) -> Iterator[str]:
    """Yield training sentences; a single ``str``/path, ``Path`` items, or a list of strings that
    are all existing files mean files; other strings are sentences. ``counter[0]`` counts the
    non-empty sentences seen (to report an empty corpus)."""
    if isinstance(texts_or_files, (str, os.PathLike)):
        texts_or_files = [Path(texts_or_files)]
    elif isinstance(texts_or_files, (list, tuple)) and texts_or_files and all(
            isinstance(x, str) and os.path.isfile(x) for x in texts_or_files):  # stops at the first sentence
        texts_or_files = [Path(x) for x in texts_or_files]
    for item in texts_or_files:
        lines = iter_lines(item) if isinstance(item, os.PathLike) else item.split("\n")
        for line in lines:
            if line.strip():
                counter[0] += 1
                yield line


class SentencePieceTokenizer(Tokenizer):
    """A loaded sentencepiece model (see the module docstring).

    ``encode`` gives pieces (``['▁Two', '▁dogs']``), ``encode_ids`` gives ids; ``decode`` and
    ``decode_ids`` invert them up to sentencepiece's normalization (NFKC, collapsed whitespace).
    ``num_threads`` is used by the batch methods (``-1``: all cores).
    """

    name = "spm"

    def __init__(self, model_proto: bytes, *, path: str | os.PathLike | None = None, num_threads: int = -1) -> None:
        import sentencepiece as spm

        try:
            self._sp = spm.SentencePieceProcessor(model_proto=model_proto)
        except (RuntimeError, OSError) as exc:
            raise SeqkitError(f"not a sentencepiece model ({exc})", path=path,
                              fix="give the .model file written by training") from None
        self._proto = model_proto
        self.path = os.fspath(path) if path is not None else None
        self.num_threads = num_threads

    # -- training, loading, saving -----------------------------------------------------------

    @classmethod
    def train(
        cls,
        texts_or_files: TextsOrFiles,
        model_prefix: str | os.PathLike | None = None,
        *,
        vocab_size: int = 8000,
        model_type: str = "unigram",
        character_coverage: float = 1.0,
        byte_fallback: bool = False,
        user_defined_symbols: Sequence[str] = (),
        unk_id: int = UNK_ID,
        pad_id: int = PAD_ID,
        bos_id: int = BOS_ID,
        eos_id: int = EOS_ID,
        input_sentence_size: int = 0,
        num_threads: int = 2,
        **options,
    ) -> SentencePieceTokenizer:
        """Train a model on files or strings; write ``model_prefix + ".model"`` if a prefix is given.

        Args:
            texts_or_files: a file path (``str`` or ``Path``), a list of paths, or any iterable of
                sentences (strings). Files are read as UTF-8, ``.gz`` decompressed.
            vocab_size: number of pieces, specials included.
            model_type: ``unigram`` (default), ``bpe``, ``char`` or ``word``.
            character_coverage: share of characters covered by the alphabet (0.9995 for CJK).
            byte_fallback: spell rare characters as ``<0x..>`` byte pieces instead of ``<unk>``.
            user_defined_symbols: pieces that are never split (e.g. ``<sep>``), ids right after the
                specials.
            unk_id, pad_id, bos_id, eos_id: special ids; ``-1`` disables pad/bos/eos. The defaults
                match :class:`~seqkit.text.vocab.Vocab`.
            input_sentence_size: sample this many sentences (0: use all).
            options: any other sentencepiece trainer flag (e.g. ``max_sentence_length``).
        """
        import sentencepiece as spm

        if model_type not in MODEL_TYPES:
            raise SeqkitError(f"unknown model_type {model_type!r}", fix=f"use one of {', '.join(MODEL_TYPES)}")
        counter = [0]
        model = io.BytesIO()
        kwargs = dict(
            vocab_size=vocab_size, model_type=model_type, character_coverage=character_coverage,
            byte_fallback=byte_fallback, unk_id=unk_id, pad_id=pad_id, bos_id=bos_id, eos_id=eos_id,
            unk_piece="<unk>", pad_piece="<pad>", bos_piece="<bos>", eos_piece="<eos>",
            input_sentence_size=input_sentence_size, shuffle_input_sentence=True,
            num_threads=num_threads,
        )
        kwargs["minloglevel"] = 2  # quiet: errors still surface as exceptions
        kwargs.update(options)
        if user_defined_symbols:
            kwargs["user_defined_symbols"] = list(user_defined_symbols)
        try:
            spm.SentencePieceTrainer.train(sentence_iterator=_sentences(texts_or_files, counter),
                                           model_writer=model, **kwargs)
        except RuntimeError as exc:
            where = texts_or_files if isinstance(texts_or_files, (str, os.PathLike)) else None
            if counter[0] == 0:
                raise SeqkitError("empty corpus: no non-blank line to train sentencepiece on", path=where,
                                  fix="give a file or strings with text") from None
            raise SeqkitError(f"sentencepiece training failed: {exc}", path=where,
                              fix="change the option the message names (e.g. vocab_size)") from None
        tok = cls(model.getvalue())
        if model_prefix is not None:
            tok.save(os.fspath(model_prefix) + ".model")
        return tok

    @classmethod
    def load(cls, path: str | os.PathLike, num_threads: int = -1) -> SentencePieceTokenizer:
        """Load a ``.model`` file."""
        path = Path(path)
        if not path.is_file():
            raise SeqkitError("sentencepiece model not found", path=path,
                              fix="train one first or check the path")
        return cls(path.read_bytes(), path=path, num_threads=num_threads)

    def save(self, path: str | os.PathLike) -> Path:
        """Write the model file (atomically) and remember where it lives."""
        write_bytes_atomic(path, self._proto)
        self.path = os.fspath(path)
        return Path(path)

    # -- encoding and decoding -----------------------------------------------------------------

    def encode(self, text: str) -> list[str]:
        return self._sp.encode(text, out_type=str)

    def encode_batch(self, texts: Iterable[str]) -> list[list[str]]:
        refuse_string(texts, "encode_batch", "give [text], or call encode(text) for one")
        return self._sp.encode(_as_list(texts), out_type=str, num_threads=self.num_threads)

    def encode_ids(self, text: str, *, add_bos: bool = False, add_eos: bool = False) -> list[int]:
        return self._sp.encode(text, out_type=int, add_bos=add_bos, add_eos=add_eos)

    def encode_ids_batch(self, texts: Iterable[str], *, add_bos: bool = False,
                         add_eos: bool = False) -> list[list[int]]:
        refuse_string(texts, "encode_ids_batch", "give [text], or call encode_ids(text) for one")
        return self._sp.encode(_as_list(texts), out_type=int, add_bos=add_bos, add_eos=add_eos,
                               num_threads=self.num_threads)

    def decode(self, tokens: Sequence[str]) -> str:
        return self._sp.decode_pieces(_as_list(tokens))

    def decode_batch(self, batch: Iterable[Sequence[str]]) -> list[str]:
        refuse_string(batch, "decode_batch", "give a list of piece lists, or call decode(pieces) for one")
        return self._sp.decode_pieces(_as_list(batch), num_threads=self.num_threads)

    def decode_ids(self, ids: Sequence[int]) -> str:
        return self._sp.decode_ids(_as_list(ids))

    def decode_ids_batch(self, batch: Iterable[Sequence[int]]) -> list[str]:
        return self._sp.decode_ids(_as_list(batch), num_threads=self.num_threads)

    def normalize(self, text: str) -> str:
        """The text as the model sees it (NFKC, whitespace collapsed), which ``decode`` returns."""
        return self._sp.normalize(text).replace("\u2581", " ").strip()

    # -- the id space --------------------------------------------------------------------------

    def __len__(self) -> int:
        return self._sp.get_piece_size()

    @property
    def vocab_size(self) -> int:
        return self._sp.get_piece_size()

    def id_to_piece(self, i: int) -> str:
        return self._sp.id_to_piece(i)

    def piece_to_id(self, piece: str) -> int:
        return self._sp.piece_to_id(piece)

    @property
    def unk_id(self) -> int:
        return self._sp.unk_id()

    @property
    def pad_id(self) -> int:
        return self._sp.pad_id()

    @property
    def bos_id(self) -> int:
        return self._sp.bos_id()

    @property
    def eos_id(self) -> int:
        return self._sp.eos_id()

    def pieces(self) -> list[str]:
        """All pieces in id order."""
        return [self._sp.id_to_piece(i) for i in range(self._sp.get_piece_size())]

    @property
    def model_type(self) -> str:
        """``unigram``, ``bpe``, ``word`` or ``char``: how the model was trained (read from its bytes)."""
        return _model_type(self._proto)

    def piece_types(self) -> list[int]:
        """sentencepiece's type of every piece, in id order (1 normal, 2 unknown, 3 control,
        4 user-defined, 5 unused, 6 byte)."""
        return _piece_types(self._proto)

    def user_defined_ids(self) -> list[int]:
        """Ids of the user-defined symbols (pieces never split)."""
        return [i for i, kind in enumerate(self.piece_types()) if kind == USER_DEFINED]

    def __repr__(self) -> str:
        return f"SentencePieceTokenizer(vocab_size={self.vocab_size}, path={self.path!r})"
