"""Fixtures of the serve tests: one tiny trained run (the whole nmt_transformer recipe, 40 updates on
2,000 pairs of the bundled en-fr corpus: about 5 s on one thread), its engine, and a real server."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("fastapi", reason="seqkit serve needs the serve extra: pip install 'seqkit[serve]'")
httpx = pytest.importorskip("httpx", reason="the serve tests need httpx")

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory) -> Path:
    """A finished nmt_transformer run directory: model/, scores.json (test BLEU + signature) ..."""
    from seqkit.recipes.config import load_recipe
    from seqkit.recipes.pipeline import run_pipeline

    run_dir = tmp_path_factory.mktemp("serve") / "run"
    overrides = {"run_dir": str(run_dir), "device": "cpu", "data.name": "seqkit-en-fr", "data.max_train": 2000,
                 "data.max_valid": 20, "data.max_test": 10, "spm.vocab_size": 300, "model.d_model": 32,
                 "model.d_ff": 64, "model.n_enc_layers": 1, "model.n_dec_layers": 1, "train.max_steps": 40,
                 "train.max_time": None, "train.valid_every": 40, "train.ckpt_every_steps": 40,
                 "train.max_tokens": 1500, "train.progress": False, "train.warmup": 10, "train.lr": 0.003,
                 "train.amp": "none", "decode.beam": 2, "decode.heatmaps": 0}
    _, cfg = load_recipe("nmt_transformer", [f"{k}={json.dumps(v) if not isinstance(v, str) else v}"
                                             for k, v in overrides.items()])
    run_pipeline(cfg, "nmt_transformer", echo=False)
    return run_dir


@pytest.fixture(scope="session")
def engine(tiny_run):
    from seqkit.serve.engine import load_engine

    return load_engine(tiny_run)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """``python -m seqkit serve`` in a subprocess, on a free localhost port."""

    def __init__(self, run_dir: Path, *args: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "PYTHONPATH": str(REPO), "SEQKIT_THREADS": "1"}
        self.proc = subprocess.Popen([sys.executable, "-m", "seqkit", "serve", "--run", str(run_dir),
                                      "--port", str(self.port), *args], cwd=REPO, env=env,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for _ in range(600):  # up to 60 s: importing torch and loading the model
            if self.proc.poll() is not None:
                raise RuntimeError(f"seqkit serve exited with {self.proc.returncode}: {self.proc.stdout.read()}")
            try:
                if httpx.get(self.url + "/health", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError("seqkit serve did not answer /health within 60 s")

    def stop(self, timeout: float = 30) -> tuple[int, str]:
        """SIGTERM; (exit status, everything the server printed)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            out, _ = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, _ = self.proc.communicate()
        return self.proc.returncode, out


@pytest.fixture(scope="module")
def server(tiny_run):
    srv = Server(tiny_run)
    yield srv
    srv.stop()
