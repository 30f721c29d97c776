"""Attention heatmap of one translated sentence, saved as a PNG.

``plot_attention(hyp.attention, src_tokens, out_tokens, "attn.png")`` where ``hyp`` comes from
``beam_search(..., return_attention=True)`` or ``greedy_search``: rows are output steps (the last one
is ``<eos>``), columns source tokens.
"""

from __future__ import annotations

import io
import os
from collections.abc import Sequence

from torch import Tensor

from seqkit.io import write_bytes_atomic


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
