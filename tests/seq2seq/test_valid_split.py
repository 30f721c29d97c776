"""train_nmt's validation on two gloo ranks: each rank translates its share of the decoding batches,
and the record equals what one process computes with the same weights."""

from __future__ import annotations

import json
import random

import torch
from gloo import run_ranks

from seqkit.seq2seq.decoding import DecodeSettings
from seqkit.seq2seq.presets import build_model, model_config
from seqkit.seq2seq.training import NMTTrainConfig, make_valid_fn, train_nmt
from seqkit.seq2seq.translator import Translator
from seqkit.text import SentencePieceTokenizer

CFG = NMTTrainConfig(lr=1e-2, warmup=5, max_tokens=200, max_steps=60, valid_every=30, valid_max_sents=None,
                     amp="none", progress=False)
DECODE = DecodeSettings(batch_tokens=40)  # small decoding batches: several per rank


def _setup():
    """Reverse a sequence of letters (words): 400 training and 30 validation pairs, a character spm."""
    rng = random.Random(1)
    src = [" ".join(rng.choice("abcdef") for _ in range(rng.randint(1, 6))) for _ in range(430)]
    tgt = [" ".join(s.split()[::-1]) for s in src]
    tok = SentencePieceTokenizer.train(src + tgt, vocab_size=12, model_type="char")
    mcfg = model_config("transformer", "tiny", d_model=32, d_ff=64, n_heads=2, n_enc_layers=1, n_dec_layers=1,
                        dropout=0.0)
    return src, tgt, tok, mcfg


def _worker(rank: int, world: int, folder: str) -> None:
    import seqkit.seq2seq.translator as nmt

    searched, greedy = [], nmt.greedy_search

    def counting_greedy(model, src, *args, **kwargs):  # the sentences this rank translates
        searched.append(int(src.shape[0]))
        return greedy(model, src, *args, **kwargs)

    nmt.greedy_search = counting_greedy
    src, tgt, tok, mcfg = _setup()
    torch.manual_seed(0)
    model = build_model(mcfg, len(tok))
    records = []
    out = train_nmt(model, tok, src[:400], tgt[:400], src[400:], tgt[400:], cfg=CFG, decode=DECODE,
                    seed=3, max_len=16, log_fn=records.append)
    with open(f"{folder}/rank{rank}.json", "w") as fh:
        json.dump({"searched": searched, "records": records, "last_valid": out.result.last_valid}, fh)
    if rank == 0:
        torch.save(model.state_dict(), f"{folder}/weights.pt")


def test_two_ranks_validate_their_shares_and_agree_with_one_process(tmp_path):
    run_ranks(_worker, tmp_path)
    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    valid = [r for r in ranks[0]["records"] if r["split"] == "valid"]
    assert [r["step"] for r in valid] == [30, 60] and ranks[1]["records"] == []  # rank 0 logs
    assert ranks[1]["last_valid"] == ranks[0]["last_valid"] == {k: v for k, v in valid[-1].items()
                                                                  if k not in ("split", "step", "epoch", "time")}

    # One process, the final weights (those validated at update 60), the same validation unsplit.
    src, tgt, tok, mcfg = _setup()
    model = build_model(mcfg, len(tok))
    model.load_state_dict(torch.load(tmp_path / "weights.pt", weights_only=True))
    one = make_valid_fn(model, tok, src[400:], tgt[400:], cfg=CFG, decode=DECODE, max_len=16)(model)
    assert one["bleu"] > 0 and one["chrf"] > 0  # not an empty output everywhere
    assert valid[-1]["bleu"] == one["bleu"] and valid[-1]["chrf"] == one["chrf"]
    assert abs(valid[-1]["loss"] - one["loss"]) <= 1e-6

    # Each validation: rank r translated every second decoding batch from its rank, nothing else.
    translator = Translator(model, tok, beam=1, batch_tokens=DECODE.batch_tokens)
    sizes = [len(b.indices) for b in translator.batches(translator.encode(src[400:]), translator.settings).epoch(0)]
    assert len(sizes) >= 3 and sum(sizes) == 30
    assert ranks[0]["searched"] == sizes[0::2] * 2 and ranks[1]["searched"] == sizes[1::2] * 2
