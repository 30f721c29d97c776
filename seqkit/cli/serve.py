"""``seqkit serve``: a trained run behind an HTTP JSON API and a web page (:mod:`seqkit.serve`)."""

from __future__ import annotations

import click

from seqkit.cli.params import threads_option
from seqkit.seq2seq.decoding import click_options

try:  # the limits' flags; without the serve extra the command still loads and says what to install
    from seqkit.serve.limits import click_options as limit_options
except ImportError:  # pragma: no cover
    def limit_options(command):
        return command


@click.command()
@click.option("--run", "run_dirs", required=True, multiple=True, type=click.Path(file_okay=False),
              help="run directory of an nmt_transformer / nmt_rnn_attention run (or its model/ folder); "
                   "repeat it to serve several models, one per language pair (not an ensemble)")
@click.option("--engine", default="seqkit", show_default=True, type=click.Choice(["seqkit", "ct2"]),
              help="decode with seqkit's own model (torch) or the run's CTranslate2 export (seqkit export ct2)")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="address to listen on (0.0.0.0: all; beyond localhost, put a reverse proxy in front)")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--allowed-hosts", default="localhost,127.0.0.1,::1", show_default=True,
              help="comma-separated names the Host header may carry (400 otherwise: DNS rebinding); "
                   "--host's address is added; '*' allows any")
@click.option("--device", default="cpu", show_default=True, help="cpu, cuda or auto")
@click_options("serve")
@limit_options
@threads_option
def serve(run_dirs: tuple[str, ...], engine: str, host: str, port: int, allowed_hosts: str, device: str,
          threads: int, **options) -> None:
    """Serve translations: POST /translate (and /translate/stream), GET /health, GET /info, and a web page at /.

    Several --run: one model per language pair, each with its own decoder threads; a request's
    source and target pick the model. The decode flags and limits apply to every model.

    Concurrent requests are decoded together (micro-batching); each request is priced in decoding
    work and refused beyond --max-work; SIGTERM or Ctrl-C stops taking new connections and finishes
    the requests in flight first (up to --grace seconds). The decode flags are the server's defaults;
    a request may change beam, nbest, alpha and length_penalty. If a decoder thread dies the server
    exits with status 1. Needs `pip install 'seqkit[serve]'`.
    """
    from seqkit.errors import SeqkitError

    try:
        from seqkit.serve import limits as serve_limits
        from seqkit.serve.app import create_app
        from seqkit.serve.server import ensure_fds, listen, make_server, run
    except ImportError as exc:
        raise SeqkitError(f"seqkit serve needs FastAPI and uvicorn ({exc})", fix="pip install 'seqkit[serve]'") from None
    from seqkit.seq2seq.decoding import from_cli
    from seqkit.seq2seq.engines import ENGINES, load_translator
    from seqkit.serve.engine import run_info
    from seqkit.serve.routing import Model, check_pairs
    from seqkit.train import resolve_device

    settings = from_cli(options, "serve")
    limits = serve_limits.checked(options)  # every flag in range before anything is loaded
    hosts = [h.strip() for h in allowed_hosts.split(",") if h.strip()]
    if not hosts:
        raise SeqkitError("--allowed-hosts is empty", fix="give at least one name, e.g. localhost, or '*'")
    if host not in ("0.0.0.0", "::", ""):
        hosts.append(host)
    ensure_fds(limits.max_connections)
    infos = [run_info(run_dir) for run_dir in run_dirs]
    check_pairs(list(zip(run_dirs, infos)))  # two models of one pair: refused before any weights load
    models = [Model(load_translator(run_dir, engine, settings, device=resolve_device(device), threads=threads),
                    info, ENGINES[engine]) for run_dir, info in zip(run_dirs, infos)]
    app = create_app(models, limits=limits, threads=threads, allowed_hosts=hosts)
    sock = listen(host, port)  # a port in use is one line, before the banner
    server = make_server(app)
    shown = f"[{host}]" if ":" in host else host
    runs = ", ".join(run_dirs) if len(run_dirs) == 1 else ", ".join(
        f"{run_dir} ({info['src']}-{info['tgt']})" for run_dir, info in zip(run_dirs, infos))
    click.echo(f"seqkit serve: {runs} ({engine}, {threads} thread(s)) on http://{shown}:{port}/", err=True)
    status = run(server, sock)
    if status:
        raise SystemExit(status)
