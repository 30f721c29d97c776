"""Model presets, the NMT step function and Chinese post-processing."""

from __future__ import annotations

import pytest
import torch

from seqkit.errors import SeqkitError
from seqkit.seq2seq.presets import build_model, count_parameters, model_config
from seqkit.seq2seq.training import NMTStep
from seqkit.text.pretokenize import join_cjk


def test_base_preset_is_the_joeynmt_multi30k_model():
    cfg = model_config("transformer", "base")
    assert cfg == {"arch": "transformer", "d_model": 256, "n_heads": 4, "n_enc_layers": 3, "n_dec_layers": 3,
                   "d_ff": 1024, "dropout": 0.1}
    # JoeyNMT 2.3 reports 7,578,624 parameters for this model with the joint 8k vocabulary
    assert count_parameters(build_model(cfg, 8000)) == 7_578_624


def test_overrides_and_errors():
    assert model_config("transformer", "tiny", d_model=64, n_heads=None)["d_model"] == 64
    assert model_config("transformer", "tiny", n_heads=None)["n_heads"] == 4
    with pytest.raises(SeqkitError, match="unknown transformer preset 'huge'"):
        model_config("transformer", "huge")
    with pytest.raises(SeqkitError, match="unknown model architecture 'lstm'"):
        model_config("lstm")
    with pytest.raises(SeqkitError, match="bad model settings for transformer"):
        build_model({"arch": "transformer", "d_modle": 3}, 100)
    rnn = build_model(model_config("rnn", "tiny"), 50)
    logits = rnn(torch.tensor([[5, 6, 3]]), torch.tensor([3]), torch.tensor([[2, 7]]))
    assert logits.shape == (1, 2, 50)


def test_nmt_step_is_the_per_token_mean():
    from seqkit.data import ParallelBatches

    torch.manual_seed(0)
    model = build_model(model_config("transformer", "tiny", d_model=16, d_ff=32, dropout=0.0), 30)
    batch = next(ParallelBatches([[5, 6, 7], [8]], [[9, 10], [11, 12, 13, 14]], batch_size=2,
                                 shuffle=False, bucket=False).epoch(0))
    out = NMTStep(label_smoothing=0.0)(model, batch)
    logits = model(batch.src, batch.src_len, batch.tgt_in)
    mask = batch.tgt_out != 1
    nll = torch.nn.functional.cross_entropy(logits[mask], batch.tgt_out[mask])  # 3 + 5 = 8 tokens
    assert out.n_items == 8
    torch.testing.assert_close(out.loss, nll)


def test_join_cjk_removes_only_spaces_next_to_chinese():
    assert join_cjk("我 爱 你 。") == "我爱你。"
    assert join_cjk("我 喜欢 Python 3") == "我喜欢Python 3"
    assert join_cjk("Tom likes tea") == "Tom likes tea"
