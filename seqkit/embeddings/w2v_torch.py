"""word2vec's PyTorch path: batched skip-gram / CBOW with negative sampling on any device.

:class:`~seqkit.embeddings.word2vec.Word2Vec` trains with its C kernel on a CPU; this is what it runs
elsewhere (a GPU) or without a compiler, and with ``optimizer="adam"`` (d2l's recipe). The objective
and the learning-rate schedule are the kernel's: the same subsampling, noise distribution and window.
"""

from __future__ import annotations

import time

import numpy as np
import torch

from seqkit.embeddings.word2vec import (
    PreparedCorpus,
    Word2VecConfig,
    keep_probabilities,
    noise_distribution,
)

DUPLICATE_FREE = 128  # a row's updates summed freely up to this many per batch (see _duplicate_scale)


def _window_pairs(ids: torch.Tensor, sent: torch.Tensor, window: int,
                  gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """All (centre, context) position pairs of one subsampled stretch under dynamic windows.

    ``ids``/``sent``: (n,) word ids and sentence numbers. Returns two (P,) tensors of word ids."""
    import torch

    n = len(ids)
    reduced = window - torch.randint(0, window, (n,), generator=gen, device=ids.device)  # 1..window
    centres, contexts = [], []
    for offset in range(1, window + 1):
        if offset >= n:
            break
        left, right = torch.arange(n - offset, device=ids.device), torch.arange(offset, n, device=ids.device)
        same = sent[left] == sent[right]
        # the right word is context of the left centre, and the left word context of the right centre
        m = same & (reduced[left] >= offset)
        centres.append(ids[left[m]])
        contexts.append(ids[right[m]])
        m = same & (reduced[right] >= offset)
        centres.append(ids[right[m]])
        contexts.append(ids[left[m]])
    return torch.cat(centres), torch.cat(contexts)


def _cbow_windows(ids: torch.Tensor, sent: torch.Tensor, window: int,
                  gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """For every position: the centre id (n,), context ids (n, 2*window) and their mask (n, 2*window)."""
    import torch

    n = len(ids)
    reduced = window - torch.randint(0, window, (n,), generator=gen, device=ids.device)
    offsets = torch.cat([torch.arange(-window, 0), torch.arange(1, window + 1)]).to(ids.device)
    pos = torch.arange(n, device=ids.device)[:, None] + offsets[None, :]  # (n, 2w)
    valid = (pos >= 0) & (pos < n) & (offsets.abs()[None, :] <= reduced[:, None])
    pos = pos.clamp(0, n - 1)
    valid &= sent[pos] == sent[:, None]
    keep = valid.any(dim=1)
    return ids[keep], ids[pos[keep]], valid[keep]


def train_torch(prepared: PreparedCorpus, win_np, wout_np, cfg: Word2VecConfig,
                device: torch.device, report) -> list[float]:
    """Minibatch SGD with sparse updates, the kernel's objective and schedule -- or, with
    ``optimizer="adam"``, d2l's recipe: Adam at a constant learning rate on dense gradients. On a CPU
    with ``cfg.threads`` torch threads (the caller's count is put back afterwards)."""
    from seqkit.threads import library_threads

    with library_threads(cfg.threads if device.type == "cpu" else None):
        return _train_torch(prepared, win_np, wout_np, cfg, device, report)


def _train_torch(prepared: PreparedCorpus, win_np, wout_np, cfg: Word2VecConfig,
                 device: torch.device, report) -> list[float]:
    import torch

    gen = torch.Generator(device=device)
    gen.manual_seed(cfg.seed)
    win = torch.from_numpy(win_np).to(device)
    wout = torch.from_numpy(wout_np).to(device)
    adam = None
    if cfg.optimizer == "adam":
        win.requires_grad_(True)
        wout.requires_grad_(True)
        adam = torch.optim.Adam([win, wout], lr=cfg.alpha)
    keep = torch.from_numpy(keep_probabilities(prepared.counts, cfg.sample)).to(device)
    noise = torch.from_numpy(noise_distribution(prepared.counts)).float().to(device)
    ids_all = torch.from_numpy(prepared.ids.astype(np.int64)).to(device)
    sent_all = torch.repeat_interleave(
        torch.arange(len(prepared.sent_start) - 1, device=device),
        torch.from_numpy(np.diff(prepared.sent_start)).to(device))
    batch = cfg.batch_size or (65536 if device.type == "cuda" else 1024)
    n, total = len(ids_all), len(ids_all) * cfg.epochs
    stretch = 200_000  # words per stretch: bounds the memory of the pair lists
    losses, start, last_report = [], time.perf_counter(), 0.0
    for epoch in range(cfg.epochs):
        loss_sum = torch.zeros((), device=device, dtype=torch.float64)
        steps = 0
        for a in range(0, n, stretch):
            b = min(a + stretch, n)
            ids, sent = ids_all[a:b], sent_all[a:b]
            kept = torch.rand(len(ids), generator=gen, device=device) < keep[ids]
            ids, sent = ids[kept], sent[kept]
            if len(ids) < 2:
                continue
            if cfg.sg:
                centres, contexts = _window_pairs(ids, sent, cfg.window, gen)
                mask = None
            else:
                centres, contexts, mask = _cbow_windows(ids, sent, cfg.window, gen)
            n_pairs = len(centres)
            if adam is not None:  # d2l shuffles its examples
                order = torch.randperm(n_pairs, generator=gen, device=device)
                centres, contexts = centres[order], contexts[order]
                mask = None if mask is None else mask[order]
            done_before = epoch * n + a
            for p in range(0, n_pairs, batch):
                q = min(p + batch, n_pairs)
                frac = (done_before + (b - a) * p / max(n_pairs, 1)) / total
                alpha = max(cfg.min_alpha, cfg.alpha - (cfg.alpha - cfg.min_alpha) * frac)
                args = (win, wout, centres[p:q], contexts[p:q], None if mask is None else mask[p:q],
                        noise, cfg.negative)
                if adam is None:
                    loss_sum += _sgd_step(*args, alpha, gen)
                else:
                    loss_sum += _adam_step(*args, adam, gen)
                steps += q - p
            now = time.perf_counter()
            if now - last_report >= 1.0 or b == n:  # about once a second, and at each epoch's end
                last_report = now
                done = epoch * n + b
                report({"epoch": epoch + 1, "done": done / total, "loss": float(loss_sum) / max(steps, 1),
                        "words_per_sec": done * prepared.raw_words / n / (now - start), "alpha": alpha})
        losses.append(float(loss_sum) / max(steps, 1))
    win_np[...] = win.detach().cpu().numpy()
    wout_np[...] = wout.detach().cpu().numpy()
    return losses


def _scores(win, wout, centres, contexts, mask, noise, negative: int, gen):
    """Input vectors h (B, d), targets (B, 1+K) = centre then K noise words, their rows (B, 1+K, d),
    logits (B, 1+K) and a (B, 1+K) mask dropping noise words equal to the centre."""
    import torch

    bsz = len(centres)
    if mask is None:
        h = win[contexts]  # (B, d)
    else:
        weights = mask.float() / mask.sum(dim=1, keepdim=True)  # (B, 2w)
        h = torch.einsum("bw,bwd->bd", weights, win[contexts])
    negs = torch.multinomial(noise, bsz * negative, replacement=True, generator=gen).view(bsz, negative)
    targets = torch.cat([centres[:, None], negs], dim=1)  # (B, 1+K)
    out = wout[targets]  # (B, 1+K, d)
    scores = torch.bmm(out, h[:, :, None]).squeeze(2).clamp(-30, 30)  # (B, 1+K)
    valid = torch.ones_like(scores)
    valid[:, 1:] = (negs != centres[:, None]).float()
    return h, targets, out, scores, valid


def _logistic_loss(scores, valid):
    """Sum of -log sigmoid(s) for the centre (column 0) and -log sigmoid(-s) for the noise words."""
    import torch

    signed = torch.cat([-scores[:, :1], scores[:, 1:]], dim=1)
    return (torch.nn.functional.softplus(signed) * valid).sum()


def _adam_step(win, wout, centres, contexts, mask, noise, negative: int, adam, gen):
    """d2l's update: the mean loss of the batch, back-propagated to dense gradients, one Adam step."""
    _, _, _, scores, valid = _scores(win, wout, centres, contexts, mask, noise, negative, gen)
    loss = _logistic_loss(scores, valid)
    adam.zero_grad()
    (loss / len(centres)).backward()
    adam.step()
    return loss.detach().double()


def _sgd_step(win: torch.Tensor, wout: torch.Tensor, centres: torch.Tensor, contexts: torch.Tensor,
              mask: torch.Tensor | None, noise: torch.Tensor, negative: int, alpha: float,
              gen: torch.Generator) -> torch.Tensor:
    """One minibatch of B examples; returns the summed loss.

    Skip-gram: ``contexts`` (B,) are the inputs. CBOW: ``contexts`` (B, 2w) with ``mask`` (B, 2w), the
    input is the mean of the masked rows and its gradient goes to each of them.
    Targets (B, 1+K): the centre (label 1) then K noise words (label 0; a noise word equal to the
    centre is ignored, as in the kernel). Each row's summed update is capped by
    :func:`_duplicate_scale`, which keeps batches of 16384+ pairs from diverging."""
    import torch

    h, targets, out, scores, valid = _scores(win, wout, centres, contexts, mask, noise, negative, gen)
    labels = torch.zeros_like(scores)
    labels[:, 0] = 1.0
    g = (labels - torch.sigmoid(scores)) * valid * alpha  # (B, 1+K)
    loss = _logistic_loss(scores, valid)
    grad_h = torch.bmm(g[:, None, :], out).squeeze(1)  # (B, d)
    flat = targets.reshape(-1)
    grad_out = (g[:, :, None] * h[:, None, :]).reshape(-1, h.shape[1])
    wout.index_add_(0, flat, grad_out * _duplicate_scale(flat, len(wout))[:, None])
    if mask is None:
        rows, grad_in = contexts, grad_h
    else:
        rows = contexts[mask]
        grad_in = grad_h[:, None, :].expand(-1, contexts.shape[1], -1)[mask]
    win.index_add_(0, rows, grad_in * _duplicate_scale(rows, len(win))[:, None])
    return loss.double()


def _duplicate_scale(rows: torch.Tensor, n_rows: int) -> torch.Tensor:
    """(R,) factor for each of R row updates of one batch: ``min(1, DUPLICATE_FREE / count)``, where
    ``count`` is how often that row occurs in ``rows``.

    Why: the C kernel (like word2vec.c) applies a frequent word's updates one after another, each from
    the fresh row, so they saturate; a batch sums them all from the same stale row. At batch 1024 the
    most frequent noise words already occur ~100 times and that is fine, but at 16384+ pairs a row
    takes thousands of summed steps and training diverges (text8, batch 65536, one epoch: loss 50,
    analogy 0.01%). Capping a row's summed step at what batch 1024 gives it keeps large batches as
    good as small ones; rare rows (a few occurrences) are untouched. The mean over duplicates
    (``1 / count``) is too slow: frequent words then barely move. text8 prefix, gensim's settings,
    5 epochs, CPU, seed 1 (analogy %, wordsim353 Spearman): kernel 7.15 / 0.439; torch batch 1024
    7.24 / 0.478, 16384 6.90 / 0.475, 65536 6.86 / 0.448. On an H200 (gensim 6.74 / 0.458 at 420k
    words/s on 2 CPU threads): batch 16384 7.18 / 0.483 at 3.6M words/s, 65536 6.98 / 0.457 at
    7.3M words/s, hence the CUDA default of 65536."""
    import torch

    count = torch.bincount(rows, minlength=n_rows)[rows]
    return torch.clamp(DUPLICATE_FREE / count.float(), max=1.0)
