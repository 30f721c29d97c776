"""The lm_ngram recipe end to end on a local corpus folder."""

import json

from seqkit.cli import main
from seqkit.lm.ngram import NGramLM


def test_lm_ngram_recipe_on_a_folder(tmp_path, capsys):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    words = "the cat sat on the mat and the dog ate the fish while a bird sang".split()
    lines = [" ".join(words[i % 7 : i % 7 + 3 + i % 5]) for i in range(200)]
    (corpus / "train.txt").write_text("\n".join(lines) + "\n")
    (corpus / "valid.txt").write_text("the cat sat\nthe bird ate the mat\n")
    (corpus / "test.txt").write_text("the dog sat on the fish\n")
    run_dir = tmp_path / "run"
    args = ["recipe", "run", "lm_ngram", f"data.name={corpus}", f"run_dir={run_dir}", "model.order=3",
            "model.discount_fallback=true", "sample.prefix=the cat", "sample.num=2"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "test perplexity" in out and "top 2-grams:" in out
    lm = NGramLM.load_arpa(run_dir / "model.arpa")
    result = json.loads((run_dir / "stages" / "lm.ngram.evaluate.json").read_text())["result"]
    assert abs(result["test"]["perplexity"] - lm.perplexity(["the dog sat on the fish"])) < 1e-6
    samples = (run_dir / "samples.txt").read_text().splitlines()
    assert len(samples) == 2 and all(s.startswith("the cat") for s in samples)
    assert (run_dir / "zipf.png").exists()
    # a second run with the same config skips every stage
    assert main(args) == 0
    assert capsys.readouterr().out.count("unchanged, skipped") == 4


def test_lm_ngram_recipe_with_datasets_files_and_pruning(tmp_path):
    import random

    rng = random.Random(0)
    words = ["the", "cat", "sat", "on", "mat", "dog", "ran"]
    for name, n in (("tr.txt", 300), ("te.txt", 30)):
        (tmp_path / name).write_text("\n".join(" ".join(rng.choice(words) for _ in range(8)) for _ in range(n)) + "\n")
    args = ["recipe", "run", "lm_ngram", "data.name=hf:text",
            f"data.files={{train: {tmp_path / 'tr.txt'}, test: {tmp_path / 'te.txt'}}}",
            "model.prune=[0,1]", "model.discount_fallback=true", f"run_dir={tmp_path / 'run'}"]
    assert main(args) == 0
    from seqkit.lm.ngram import NGramLM

    lm = NGramLM.load_arpa(tmp_path / "run" / "model.arpa", cache=False)
    full = NGramLM.train((tmp_path / "tr.txt").read_text().splitlines()[:270], order=3, discount_fallback=True)
    assert lm.counts[0] == full.counts[0] and lm.counts[2] < full.counts[2]  # singleton bigrams+ pruned
