"""Corpora and minibatches: the data stage.

* :func:`load` -- named corpora (``seqkit data ls``), ``hf:NAME`` hub datasets and local files, as
  :class:`LMCorpus` (``.train/.valid/.test`` lists of lines) or :class:`ParallelCorpus`
  (splits with ``.src``/``.tgt``).
* :class:`LMBatches` -- d2l's sequential and random sampling over a token-id stream.
* :class:`ParallelBatches` / :class:`Batch` -- padded seq2seq batches by token budget or sentence count.
* :class:`ParallelStream` (shard files or a streamed hub corpus, in a fixed order) and
  :func:`prepare_stream` / :class:`PreparedCorpus` -- corpora larger than memory, tokenized once.
* the registry of named corpora and pretrained vector sets (``kind="vectors"``, read by
  :func:`seqkit.embeddings.load_vectors`): :data:`CORPORA`, :func:`corpus_info`, :func:`fetch`,
  :func:`corpus_names`.

The batch classes (:class:`LMBatches`, :class:`ParallelBatches`, :class:`Batch`) build torch tensors and
are imported on first use, so the commands that only read corpora (``seqkit shortlist build``) do not
import torch.
"""

from seqkit.data.corpus import (
    Lines,
    LMCorpus,
    ParallelCorpus,
    ParallelSplit,
    load,
    read_parallel_files,
    read_text_file,
    read_tsv,
    split_by_seed,
)
from seqkit.data.download import cache_dir, download, extract, sha256_file
from seqkit.data.prepared import PreparedCorpus, prepare, prepare_files, prepare_stream
from seqkit.data.registry import (
    CORPORA,
    HUB_CORPORA,
    CorpusInfo,
    RemoteFile,
    bundled_dir,
    corpus_info,
    corpus_names,
    fetch,
)
from seqkit.data.stream import ParallelStream
from seqkit.lazy import lazy_exports

__all__ = [
    "CORPORA", "HUB_CORPORA", "Batch", "CorpusInfo", "LMBatches", "LMCorpus", "Lines", "ParallelBatches",
    "ParallelCorpus", "ParallelSplit", "RemoteFile", "bundled_dir", "cache_dir", "corpus_info", "corpus_names",
    "download", "extract", "fetch", "load", "read_parallel_files", "read_text_file", "read_tsv", "sha256_file",
    "split_by_seed", "PreparedCorpus", "prepare", "prepare_files", "prepare_stream", "ParallelStream",
]

__getattr__, __dir__ = lazy_exports(__name__, {"LMBatches": "seqkit.data.lm_batches",
                                                "Batch": "seqkit.data.parallel_batches",
                                                "ParallelBatches": "seqkit.data.parallel_batches"})
