"""``seqkit lm rnn``: train a recurrent LM, score text with it, generate from it.

``train`` runs the ``lm_rnn`` recipe (so every recipe key can be set with ``--set key=value``); ``ppl`` and ``generate`` read a finished run directory.
"""

from __future__ import annotations

import click

from seqkit.cli.params import threads_option


@click.group()
def rnn() -> None:
    """RNN/GRU/LSTM language models (from scratch or nn.LSTM), char or word level."""


@rnn.command()
@click.argument("corpus", required=False, default=None)
@click.option("-o", "--run-dir", default=None, help="run directory (default: runs/lm_rnn/<time>)")
@click.option("--level", type=click.Choice(["char", "word"]), default=None, help="token level")
@click.option("--cell", type=click.Choice(["rnn", "gru", "lstm"]), default=None)
@click.option("--backend", type=click.Choice(["torch", "scratch"]), default=None)
@click.option("--num-layers", type=int, default=None)
@click.option("--hidden-size", type=int, default=None)
@click.option("--embed-dim", type=int, default=None)
@click.option("--dropout", type=float, default=None)
@click.option("--tie-embeddings/--no-tie-embeddings", default=None, help="tie input and output embeddings")
@click.option("--sampling", type=click.Choice(["sequential", "random"]), default=None)
@click.option("--epochs", type=int, default=None)
@click.option("--max-time", type=float, default=None, help="seconds of training")
@click.option("--lr", type=float, default=None)
@click.option("--device", default=None, help="auto | cpu | cuda")
@click.option("--threads", type=click.IntRange(min=1), default=None,
              help="CPU threads [default: the cores not busy with other work]")
@click.option("--seed", type=int, default=None)
@click.option("--resume", is_flag=True,
              help="continue the run in --run-dir as its config.yaml says, from its last checkpoint")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help="any lm_rnn recipe key")
def train(corpus, run_dir, level, cell, backend, num_layers, hidden_size, embed_dim, dropout, tie_embeddings, sampling, epochs,
          max_time, lr, device, threads, seed, resume, overrides) -> None:
    """Train on CORPUS (a registered name such as timemachine, ptb, wikitext-2, or a path; default
    timemachine).

    Runs the whole ``lm_rnn`` recipe (data, train, generate) and prints the perplexities and a sample.
    ``--resume -o RUN`` continues RUN with its own settings: only the budgets (``--epochs``,
    ``--max-time``), ``--threads`` and ``--device`` may differ from them.
    """
    from seqkit.recipes.config import load_recipe
    from seqkit.recipes.pipeline import run_pipeline

    flags = {"data.name": corpus, "data.level": level, "model.cell": cell, "model.backend": backend,
             "model.num_layers": num_layers, "model.hidden_size": hidden_size, "model.embed_dim": embed_dim,
             "model.dropout": dropout, "model.tie_embeddings": tie_embeddings, "train.sampling": sampling,
             "train.epochs": epochs, "train.max_time": max_time, "train.lr": lr, "device": device,
             "threads": threads,
             "seed": seed, "run_dir": run_dir, "resume": resume or None}
    dotlist = [f"{k}={_yaml(v)}" for k, v in flags.items() if v is not None] + list(overrides)
    _, cfg = load_recipe("lm_rnn", dotlist)
    run = run_pipeline(cfg, "lm_rnn")
    scores = run.results.get("lm.rnn.train", {})
    if scores.get("valid_ppl") is not None:
        click.echo(f"valid perplexity: {scores['valid_ppl']:.2f}")
    if scores.get("test_ppl") is not None:
        click.echo(f"test perplexity: {scores['test_ppl']:.2f}")
    for sample in run.results.get("lm.rnn.generate", {}).get("samples", []):
        click.echo(f"sample: {sample}")


@rnn.command()
@click.argument("run_dir", type=click.Path(file_okay=False))
@click.argument("text_file", type=click.Path(dir_okay=False))
@click.option("--device", default="cpu")
@threads_option
def ppl(run_dir, text_file, device, threads) -> None:
    """Perplexity of TEXT_FILE under the model trained in RUN_DIR (one stream, full history)."""
    from seqkit.errors import SeqkitError
    from seqkit.io import read_lines
    from seqkit.lm.rnn import load_model_dir
    from seqkit.lm.rnn.train import encode_stream, evaluate_ppl

    model, vocab, tokenizer, info = load_model_dir(run_dir, device=device)
    ids = encode_stream(read_lines(text_file), tokenizer.encode, vocab, info["eos_per_line"])
    if len(ids) < 2:
        raise SeqkitError("fewer than two tokens to score", path=text_file, fix="give a file with text")
    res = evaluate_ppl(model, ids, batch_size=1)
    oov = int((ids == vocab.unk_id).sum())
    click.echo(f"perplexity: {res['ppl']:.4f}")
    click.echo(f"tokens: {int(res['tokens'])}  unknown (<unk>): {oov}")


@rnn.command()
@click.argument("run_dir", type=click.Path(file_okay=False))
@click.option("--prefix", default="time traveller", show_default=True)
@click.option("-n", "--num-tokens", type=click.IntRange(min=1), default=100, show_default=True)
@click.option("--temperature", type=click.FloatRange(min=0), default=0.5, show_default=True,
              help="sample from softmax(logits / T), seeded; 0: greedy (it tends to loop)")
@click.option("--top-k", type=click.IntRange(min=1), default=None)
@click.option("--seed", type=int, default=0)
@click.option("--device", default="cpu")
@threads_option
def generate(run_dir, prefix, num_tokens, temperature, top_k, seed, device, threads) -> None:
    """Continue --prefix with the model trained in RUN_DIR."""
    from seqkit.lm.rnn import load_model_dir
    from seqkit.lm.rnn.generate import continue_text

    model, vocab, tokenizer, _ = load_model_dir(run_dir, device=device)
    click.echo(continue_text(model, prefix, num_tokens, encode=lambda s: vocab[tokenizer.encode(s)],
                             decode=lambda ids: tokenizer.decode(vocab.to_tokens(ids)),
                             temperature=temperature, top_k=top_k, seed=seed))


def _yaml(value) -> str:
    """A CLI value as YAML text for a dotlist override (strings quoted so '1e3' stays a string)."""
    import json

    return json.dumps(value) if isinstance(value, (str, bool)) else str(value)
