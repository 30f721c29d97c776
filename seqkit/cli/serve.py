"""``seqkit serve``: a trained run behind an HTTP JSON API and a web page (:mod:`seqkit.serve`)."""

from __future__ import annotations

import click

from seqkit.cli.params import threads_option
from seqkit.seq2seq.decoding import click_options


@click.command()
@click.option("--run", "run_dir", required=True, type=click.Path(file_okay=False),
              help="run directory of an nmt_transformer / nmt_rnn_attention run (or its model/ folder)")
@click.option("--engine", default="seqkit", show_default=True, type=click.Choice(["seqkit", "ct2"]),
              help="decode with seqkit's own model (torch) or the run's CTranslate2 export (seqkit export ct2)")
@click.option("--host", default="127.0.0.1", show_default=True, help="address to listen on (0.0.0.0: all)")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--device", default="cpu", show_default=True, help="cpu, cuda or auto")
@click_options("serve")
@click.option("--max-wait-ms", default=5.0, show_default=True, type=click.FloatRange(min=0),
              help="how long a request waits for others to share its batch")
@click.option("--max-batch", default=64, show_default=True, type=click.IntRange(min=1),
              help="sentences decoded together at most")
@click.option("--max-queue", default=512, show_default=True, type=click.IntRange(min=1),
              help="sentences waiting at most; beyond it requests get 503")
@click.option("--max-sentences", default=64, show_default=True, type=click.IntRange(min=1),
              help="sentences per request at most (413 beyond)")
@click.option("--max-chars", default=1000, show_default=True, type=click.IntRange(min=1),
              help="characters per sentence at most (422 beyond)")
@click.option("--max-beam", default=16, show_default=True, type=click.IntRange(min=1),
              help="largest beam a request may ask for (422 beyond)")
@click.option("--max-request-bytes", default=256 * 1024, show_default=True, type=click.IntRange(min=1),
              help="request body size at most (413 beyond)")
@click.option("--grace", default=30.0, show_default=True, type=click.FloatRange(min=0),
              help="seconds SIGTERM/Ctrl-C waits for requests in flight before closing them")
@threads_option
def serve(run_dir: str, engine: str, host: str, port: int, device: str, max_wait_ms: float,
          max_batch: int, max_queue: int, max_sentences: int, max_chars: int, max_beam: int,
          max_request_bytes: int, grace: float, threads: int, **decode) -> None:
    """Serve translations: POST /translate, GET /health, GET /info, and a web page at /.

    Concurrent requests are decoded together (micro-batching); SIGTERM or Ctrl-C stops taking new
    connections and finishes the requests in flight first. The decode flags are the server's defaults;
    a request may change beam, nbest, alpha and length_penalty. Needs `pip install 'seqkit[serve]'`.
    """
    from seqkit.errors import SeqkitError

    try:
        import uvicorn

        from seqkit.serve.app import Limits, create_app
    except ImportError as exc:
        raise SeqkitError(f"seqkit serve needs FastAPI and uvicorn ({exc})", fix="pip install 'seqkit[serve]'") from None
    from seqkit.seq2seq.decoding import from_cli
    from seqkit.seq2seq.engines import ENGINES, load_translator
    from seqkit.serve.engine import run_info
    from seqkit.train import resolve_device

    settings = from_cli(decode, "serve")
    translator = load_translator(run_dir, engine, settings, device=resolve_device(device), threads=threads)
    limits = Limits(max_request_bytes=max_request_bytes, max_sentences=max_sentences, max_chars=max_chars,
                    max_beam=max_beam, max_queue=max_queue)
    app = create_app(translator, info=run_info(run_dir), limits=limits, attention=ENGINES[engine],
                     max_wait_ms=max_wait_ms, max_batch=max_batch, threads=threads)
    click.echo(f"seqkit serve: {run_dir} ({engine}, {threads} thread(s)) on http://{host}:{port}/", err=True)
    uvicorn.run(app, host=host, port=port, log_level="info", timeout_graceful_shutdown=grace)
