"""Fixtures of the serve tests: one tiny trained run (the whole nmt_transformer recipe, 80 updates on
2,000 pairs of the bundled en-fr corpus: about 10 s on one thread; it writes French-looking words,
never empty lines), a second one the other way (fr -> en) for a server of two models, the first's engine, and a real server
started by ``benchmarks/serve_load.py`` (whose load test a test runs small)."""

from __future__ import annotations

import contextlib
import importlib.util
import json
from pathlib import Path

import pytest

pytest.importorskip("fastapi", reason="seqkit serve needs the serve extra: pip install 'seqkit[serve]'")
pytest.importorskip("httpx", reason="the serve tests need httpx")

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory) -> Path:
    """A finished nmt_transformer run directory: model/, scores.json (test BLEU + signature) ..."""
    return _tiny_run(tmp_path_factory.mktemp("serve") / "run")


@pytest.fixture(scope="session")
def tiny_run_fr_en(tmp_path_factory) -> Path:
    """A second tiny run, the other way (fr -> en: it writes English-looking words), for a server of
    two models."""
    return _tiny_run(tmp_path_factory.mktemp("serve-fr-en") / "run-fr-en", {"data.src": "fr", "data.tgt": "en"})


def _tiny_run(run_dir: Path, extra: dict | None = None) -> Path:
    from seqkit.recipes.config import load_recipe
    from seqkit.recipes.pipeline import run_pipeline

    overrides = {"run_dir": str(run_dir), "device": "cpu", "data.name": "seqkit-en-fr", "data.max_train": 2000,
                 "data.max_valid": 20, "data.max_test": 10, "spm.vocab_size": 300, "model.d_model": 64,
                 "model.d_ff": 128, "model.n_enc_layers": 1, "model.n_dec_layers": 1, "train.max_steps": 80,
                 "train.max_time": None, "train.valid_every": 80, "train.ckpt_every_steps": 80,
                 "train.max_tokens": 1500, "train.progress": False, "train.warmup": 10, "train.lr": 0.005,
                 "train.amp": "none", "decode.beam": 2, "decode.heatmaps": 0, **(extra or {})}
    _, cfg = load_recipe("nmt_transformer", [f"{k}={json.dumps(v) if not isinstance(v, str) else v}"
                                             for k, v in overrides.items()])
    run_pipeline(cfg, "nmt_transformer", echo=False)
    return run_dir


@pytest.fixture(scope="session")
def engine(tiny_run):
    from seqkit.seq2seq.engines import load_translator

    return load_translator(tiny_run)


@pytest.fixture(scope="session")
def serve_load():
    """``benchmarks/serve_load.py`` as a module (its ``Server``, ``run_load`` and ``main``)."""
    spec = importlib.util.spec_from_file_location("serve_load", REPO / "benchmarks" / "serve_load.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def server(tiny_run, serve_load):
    """``seqkit serve --run`` the tiny run, in a subprocess on a free port."""
    srv = serve_load.Server(tiny_run)
    yield srv
    srv.stop()


@pytest.fixture
def live_server():
    """:func:`serve_in_thread`, for tests to call with their app."""
    return serve_in_thread


@contextlib.contextmanager
def serve_in_thread(app):
    """``app`` served by :func:`seqkit.serve.server.run` (with the app's limits) on a free 127.0.0.1
    port in a thread of this process (its engine stays in the test's hands); yields ``(url, uvicorn
    server)``."""
    import threading
    import time

    import httpx

    from seqkit.serve.server import listen, make_server, run

    sock = listen("127.0.0.1", 0)
    server = make_server(app, log_level="warning")
    thread = threading.Thread(target=run, args=(server, sock), daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    for _ in range(600):
        if server.started:
            break
        time.sleep(0.05)
    assert httpx.get(url + "/health", timeout=30).status_code == 200
    try:
        yield url, server
    finally:
        server.should_exit = True
        thread.join(60)
