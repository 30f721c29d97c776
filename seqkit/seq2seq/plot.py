"""Attention heatmap of one translated sentence, saved as a PNG.

``plot_attention(hyp.attention, src_tokens, out_tokens, "attn.png")`` where ``hyp`` comes from
``beam_search(..., return_attention=True)`` or ``greedy_search``: rows are output steps (the last one
is ``<eos>``), columns source tokens. :func:`readable` turns sentencepiece pieces into labels as a
reader sees them (``▁cat`` -> ``cat``, a piece inside a word -> ``-s``).

Chinese and Japanese labels need a CJK font: the first of Noto Sans CJK, WenQuanYi Zen Hei and Droid
Sans Fallback that is installed is used (Debian: ``apt-get install fonts-droid-fallback``, 1.8 MB,
or ``fonts-noto-cjk``); without one the labels show boxes and one warning says what to install.
"""

from __future__ import annotations

import io
import logging
import os
import warnings
from collections.abc import Sequence

from torch import Tensor

from seqkit.io import write_bytes_atomic

LOG = logging.getLogger("seqkit.seq2seq")
CJK_FONTS = ("Noto Sans CJK JP", "Noto Sans CJK SC", "WenQuanYi Zen Hei", "Droid Sans Fallback")
_CJK_FILES = ("**/NotoSansCJK*.tt[cf]", "**/wqy-zenhei.tt[cf]", "**/DroidSansFallback*.ttf")
_warned = []


def readable(pieces: Sequence[str]) -> list[str]:
    """Sentencepiece pieces as a reader sees them: ``▁cat`` -> ``cat``, ``s`` (inside a word) -> ``-s``,
    a lone ``▁`` -> ``␣``."""
    return [("␣" if p == "▁" else p[1:]) if p.startswith("▁") else f"-{p}" for p in pieces]


def _has_cjk(labels: Sequence[str]) -> bool:
    return any("\u3040" <= ch <= "\u9fff" or "\uac00" <= ch <= "\ud7af" or "\uf900" <= ch <= "\ufaff"
               for label in labels for ch in label)


def cjk_font() -> str | None:
    """The name of an installed CJK font matplotlib can use (registered on first use), or None."""
    from glob import glob

    from matplotlib import font_manager

    names = {f.name for f in font_manager.fontManager.ttflist}
    for name in CJK_FONTS:
        if name in names:
            return name
    for pattern in _CJK_FILES:  # installed after matplotlib built its font cache
        for folder in ("/usr/share/fonts", "/usr/local/share/fonts", os.path.expanduser("~/.fonts")):
            for path in sorted(glob(os.path.join(folder, pattern), recursive=True)):
                try:
                    font_manager.fontManager.addfont(path)
                    return font_manager.FontProperties(fname=path).get_name()
                except (OSError, RuntimeError):
                    continue
    return None


def plot_attention(attention: Tensor, src_tokens: Sequence[str], out_tokens: Sequence[str],
                   path: str | os.PathLike, title: str | None = None) -> None:
    """Write a heatmap of ``attention`` (T, S) to ``path`` (PNG).

    ``out_tokens`` may omit the final ``<eos>`` row (it is labelled ``</s>`` then).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    weights = attention.detach().float().cpu().numpy()
    rows, cols = weights.shape
    out_labels = list(out_tokens) + (["</s>"] if len(out_tokens) == rows - 1 else [])
    if len(src_tokens) != cols or len(out_labels) != rows:
        raise ValueError(f"attention is {rows}x{cols} but there are {len(out_tokens)} output and "
                         f"{len(src_tokens)} source tokens")
    family = None
    if _has_cjk([*src_tokens, *out_labels]):
        font = cjk_font()
        if font is not None:
            family = ["DejaVu Sans", font]  # Latin from DejaVu, the rest from the CJK font
        elif not _warned:
            _warned.append(True)
            LOG.warning("no CJK font installed: Chinese/Japanese labels show as boxes; install one, e.g. "
                        "apt-get install fonts-droid-fallback")
    with warnings.catch_warnings(), matplotlib.rc_context({"font.family": family} if family else {}):
        warnings.simplefilter("ignore")  # missing glyphs: said once above
        _draw(plt, weights, src_tokens, out_labels, path, title)


def _draw(plt, weights, src_tokens, out_labels, path, title) -> None:
    rows, cols = weights.shape
    fig, ax = plt.subplots(figsize=(max(3.0, 0.45 * cols + 1.5), max(2.5, 0.4 * rows + 1.2)))
    image = ax.imshow(weights, cmap="viridis", vmin=0.0, aspect="auto")
    ax.set_xticks(range(cols), labels=list(src_tokens), rotation=90)
    ax.set_yticks(range(rows), labels=out_labels)
    ax.set_xlabel("source")
    ax.set_ylabel("output")
    if title:
        ax.set_title(title)
    fig.colorbar(image, ax=ax, fraction=0.05)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    plt.close(fig)
    write_bytes_atomic(path, buffer.getvalue())
