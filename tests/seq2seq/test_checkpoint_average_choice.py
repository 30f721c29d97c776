"""choose_average: the mean of the best or newest N checkpoints is kept only when the judge scores it at
least as high as the best checkpoint, both scored afresh; the record names what was averaged, both
scores and what was kept."""

from __future__ import annotations

import json

import torch
from torch import nn

from seqkit.seq2seq.training import choose_average
from seqkit.train import save_weights


def _folder(tmp_path):
    """Three best checkpoints (w = 1, 3, 8; best first by a made-up score) and two step checkpoints."""
    folder = tmp_path / "checkpoints"
    folder.mkdir()
    best = [(30, 8.0), (10, 1.0), (20, 3.0)]  # (step, w), best first
    for step, w in best:
        save_weights(folder / f"best-step-{step:08d}.safetensors", {"weight": torch.full((2,), w)})
    (folder / "best.json").write_text(json.dumps([{"step": s, "score": 50.0 - i, "file": f"best-step-{s:08d}.safetensors"}
                                                  for i, (s, _) in enumerate(best)]))
    for step, w in ((20, 3.0), (30, 8.0)):
        save_weights(folder / f"step-{step:08d}.safetensors", {"weight": torch.full((2,), w)})
    return folder


class _Model(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.full((2,), -1.0))


def test_the_mean_is_kept_when_it_validates_at_least_as_well(tmp_path):
    folder = _folder(tmp_path)
    model = _Model()
    seen = []

    def valid_fn(m):  # BLEU grows as the weight nears 4
        seen.append(float(m.weight.detach()[0]))
        return {"bleu": 60.0 - abs(float(m.weight.detach()[0]) - 4.0)}

    weights, record = choose_average(model, valid_fn, folder / "best-step-00000030.safetensors", "best", 3,
                                     "30 validation sentences, beam 5")
    assert seen == [8.0, 4.0]  # the best checkpoint, then (8 + 1 + 3) / 3: each scored once, by the judge
    assert torch.equal(weights["weight"], torch.tensor([4.0, 4.0]))
    assert record == {"kind": "best", "n": 3, "checkpoints": ["best-step-00000030.safetensors",
                                                             "best-step-00000010.safetensors",
                                                             "best-step-00000020.safetensors"],
                      "judged_on": "30 validation sentences, beam 5",
                      "valid_bleu_best": 56.0, "valid_bleu_average": 60.0, "chosen": "average"}
    assert torch.equal(model.weight.data, torch.tensor([-1.0, -1.0]))  # the model's own weights are back


def test_the_best_is_kept_when_the_mean_validates_worse(tmp_path):
    folder = _folder(tmp_path)
    best = folder / "best-step-00000030.safetensors"

    def judge(m):  # the best checkpoint (w = 8) 56, the mean of the newest two (w = 5.5) 55
        return {"bleu": 56.0 if float(m.weight.detach()[0]) == 8.0 else 55.0}

    weights, record = choose_average(_Model(), judge, best, "last", 2)
    assert weights == best
    assert record["checkpoints"] == ["step-00000030.safetensors", "step-00000020.safetensors"]  # newest first
    assert (record["valid_bleu_best"], record["valid_bleu_average"], record["chosen"]) == (56.0, 55.0, "best")
    # a tie keeps the mean (at least as good on validation)
    weights, record = choose_average(_Model(), lambda m: {"bleu": 56.0}, best, "last", 2)
    assert torch.equal(weights["weight"], torch.tensor([5.5, 5.5])) and record["chosen"] == "average"


def test_a_best_score_from_training_is_not_what_the_mean_must_beat(tmp_path):
    """The best checkpoint's training-time score (the maximum of many small validations) plays no part:
    the judge scores both, and the mean that the judge prefers is kept."""
    folder = _folder(tmp_path)

    def judge(m):  # a fresh score: the best checkpoint 52, the mean of the best three 53
        return {"bleu": 52.0 if float(m.weight.detach()[0]) == 8.0 else 53.0}

    weights, record = choose_average(_Model(), judge, folder / "best-step-00000030.safetensors", "best", 3)
    assert record["chosen"] == "average" and (record["valid_bleu_best"], record["valid_bleu_average"]) == (52.0, 53.0)


def test_one_checkpoint_is_not_averaged(tmp_path):
    folder = _folder(tmp_path)
    best = folder / "best-step-00000030.safetensors"
    weights, record = choose_average(_Model(), lambda m: 1 / 0, best, "best", 1)
    assert weights == best and record["chosen"] == "best"
    assert record["valid_bleu_average"] is None and record["valid_bleu_best"] is None
