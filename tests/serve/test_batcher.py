"""The micro-batching queue: what is decoded together, what each request gets back, and shutdown."""

from __future__ import annotations

import threading
import time
from concurrent.futures import CancelledError
from pathlib import Path

import pytest

from seqkit.seq2seq.decoding import DecodeSettings
from seqkit.serve.batcher import Closed, MicroBatcher, Options, QueueFull


class Recorder:
    """An engine that writes each sentence backwards and records every call it gets; ``gate`` holds
    the first call until the test opens it (the worker is then busy and requests pile up)."""

    def __init__(self):
        self.calls: list[tuple[list[str], dict]] = []
        self.gate = threading.Event()
        self.gate.set()

    def translate_scored(self, sentences, settings=None, attention=False):
        assert self.gate.wait(30)
        settings = settings or DecodeSettings()
        options = {"beam": settings.beam, "nbest": settings.nbest, "attention": attention}
        self.calls.append((list(sentences), options))
        return [[f"{s[::-1]}/{options['beam']}"] * options["nbest"] for s in sentences]


def _wait(predicate, what: str):
    for _ in range(1000):
        if predicate():
            return
        time.sleep(0.005)
    raise AssertionError(f"timed out waiting for {what}")


def test_requests_that_wait_together_are_decoded_in_one_call_and_routed_back():
    engine = Recorder()
    engine.gate.clear()
    b = MicroBatcher(engine, max_wait_ms=0, max_batch=100)
    first = b.submit(["zero"])
    _wait(lambda: b.health()["in_flight"] == 1, "the first request to be taken")
    # while the worker is busy, three requests queue up; they form the next batch, in arrival order
    futures = [b.submit(["ab", "cd"]), b.submit(["efg"]), b.submit(["h", "ij", "kl"])]
    assert b.health()["queued"] == 6
    engine.gate.set()
    assert first.result(10) == [["orez/5"]]
    assert [f.result(10) for f in futures] == [[["ba/5"], ["dc/5"]], [["gfe/5"]], [["h/5"], ["ji/5"], ["lk/5"]]]
    assert [c[0] for c in engine.calls] == [["zero"], ["ab", "cd", "efg", "h", "ij", "kl"]]
    assert b.health() == {"status": "ok", "queued": 0, "in_flight": 0, "requests": 4, "sentences": 7,
                          "batches": 2, "largest_batch": 6, "errors": 0, "cancelled": 0}
    assert b.close(10)


def test_the_wait_gathers_requests_that_arrive_within_it():
    engine = Recorder()
    b = MicroBatcher(engine, max_wait_ms=2000, max_batch=3)
    futures = [b.submit([w]) for w in ("a", "b", "c")]  # the third fills the batch: no need to wait it out
    assert [f.result(10) for f in futures] == [[["a/5"]], [["b/5"]], [["c/5"]]]
    assert [c[0] for c in engine.calls] == [["a", "b", "c"]]
    b.close(10)


def test_different_options_are_separate_calls_and_batches_respect_max_batch():
    engine = Recorder()
    engine.gate.clear()
    b = MicroBatcher(engine, max_wait_ms=0, max_batch=4)
    b.submit(["x"])
    _wait(lambda: b.health()["in_flight"] == 1, "the first request to be taken")
    f1 = b.submit(["a", "b"], Options(DecodeSettings(beam=2)))
    f2 = b.submit(["c"], Options(DecodeSettings(beam=3, nbest=2)))
    f3 = b.submit(["d"], Options(DecodeSettings(beam=2)))
    f4 = b.submit(["e", "f"], Options(DecodeSettings(beam=2)))  # 2 + 1 + 1 = 4 already: waits for the next batch
    engine.gate.set()
    assert f2.result(10) == [["c/3", "c/3"]] and f4.result(10) == [["e/2"], ["f/2"]]
    assert f1.result(10) == [["a/2"], ["b/2"]] and f3.result(10) == [["d/2"]]
    assert [(c[0], c[1]["beam"], c[1]["nbest"]) for c in engine.calls[1:]] == [
        (["a", "b", "d"], 2, 1), (["c"], 3, 2), (["e", "f"], 2, 1)]
    b.close(10)


def test_a_request_larger_than_max_batch_is_decoded_in_parts():
    engine = Recorder()
    b = MicroBatcher(engine, max_wait_ms=0, max_batch=2)
    assert b.submit(["a", "b", "c", "d", "e"]).result(10) == [["a/5"], ["b/5"], ["c/5"], ["d/5"], ["e/5"]]
    assert [c[0] for c in engine.calls] == [["a", "b"], ["c", "d"], ["e"]]
    b.close(10)


def test_the_queue_refuses_beyond_max_queue_and_a_cancelled_request_is_skipped():
    engine = Recorder()
    engine.gate.clear()
    b = MicroBatcher(engine, max_wait_ms=0, max_queue=3)
    b.submit(["busy"])
    _wait(lambda: b.health()["in_flight"] == 1, "the first request to be taken")
    gone = b.submit(["a", "b"])
    with pytest.raises(QueueFull, match=r"2 sentences are already waiting \(the queue holds 3\)"):
        b.submit(["c", "d"])
    kept = b.submit(["e"])  # 2 + 1 fits
    assert gone.cancel()  # its client went away before decoding started
    engine.gate.set()
    assert kept.result(10) == [["e/5"]]
    with pytest.raises(CancelledError):
        gone.result(0)
    assert [c[0] for c in engine.calls] == [["busy"], ["e"]]
    b.close(10)


def test_close_finishes_everything_queued_then_refuses_new_work():
    engine = Recorder()
    engine.gate.clear()
    b = MicroBatcher(engine, max_wait_ms=0, max_batch=1)
    futures = [b.submit([w]) for w in ("a", "b", "c")]
    _wait(lambda: b.health()["in_flight"] == 1, "the first request to be taken")
    closer = threading.Thread(target=b.close)
    closer.start()
    _wait(lambda: b.health()["status"] == "closing", "the batcher to close")
    with pytest.raises(Closed, match="shutting down"):
        b.submit(["late"])
    engine.gate.set()
    closer.join(10)
    assert not closer.is_alive()
    assert [f.result(0) for f in futures] == [[["a/5"]], [["b/5"]], [["c/5"]]]


def test_an_engine_error_goes_to_the_requests_of_that_call_only():
    class Picky(Recorder):
        def translate_scored(self, sentences, settings=None, attention=False):
            if settings is not None and settings.beam == 1:
                raise ValueError("no greedy here")
            return super().translate_scored(sentences, settings, attention)

    engine = Picky()
    engine.gate.clear()
    b = MicroBatcher(engine, max_wait_ms=0)
    b.submit(["x"])
    _wait(lambda: b.health()["in_flight"] == 1, "the first request to be taken")
    bad, good = b.submit(["a"], Options(DecodeSettings(beam=1))), b.submit(["b"], Options(DecodeSettings(beam=2)))
    engine.gate.set()
    with pytest.raises(ValueError, match="no greedy here"):
        bad.result(10)
    assert good.result(10) == [["b/2"]]
    assert b.health()["errors"] == 1
    b.close(10)


def test_batched_translations_equal_one_at_a_time(engine):
    """With the real engine: sentences decoded together give the texts each gives alone."""
    from seqkit.io import read_lines

    sentences = read_lines(Path(__file__).resolve().parents[2] / "data" / "en-fr" / "test.en")[:12]
    b = MicroBatcher(engine, max_wait_ms=50)
    futures = [b.submit([s], Options(DecodeSettings(beam=3))) for s in sentences]
    together = [f.result(60)[0][0] for f in futures]
    assert b.health()["batches"] < len(sentences)  # they did share batches
    b.close(10)
    for sentence, t in zip(sentences, together):
        alone = engine.translate_scored([sentence], beam=3)[0][0]
        assert t.text == alone.text and t.score == pytest.approx(alone.score, abs=1e-4)


def test_the_worker_computes_with_the_threads_it_was_given():
    import torch

    class Threads:
        def translate_scored(self, sentences, settings=None, attention=False):
            return [[torch.get_num_threads()] for _ in sentences]

    b = MicroBatcher(Threads(), max_wait_ms=0, threads=2)
    assert b.submit(["a"]).result(10) == [[2]]
    b.close(10)


# -- parts, turns and cancellation ----------------------------------------------------------------------
def test_a_costly_request_is_decoded_in_parts_and_small_ones_take_turns_with_it():
    engine = Recorder()
    engine.gate.clear()
    b = MicroBatcher(engine, max_wait_ms=0, chunk_work=10)
    heavy = b.submit(["h1", "h2", "h3", "h4"], work=[6, 6, 3, 3])  # parts: h1, h2 + h3, h4
    _wait(lambda: b.health()["in_flight"] == 1, "the first part to be taken")
    small = b.submit(["s"], work=[1])  # arrives while h1 decodes: goes before h2
    engine.gate.set()
    assert heavy.result(10) == [["1h/5"], ["2h/5"], ["3h/5"], ["4h/5"]] and small.result(10) == [["s/5"]]
    assert [c[0] for c in engine.calls] == [["h1"], ["s"], ["h2", "h3"], ["h4"]]
    assert b.health()["requests"] == 2
    b.close(10)


def test_cancel_drops_a_waiting_request_at_once():
    engine = Recorder()
    engine.gate.clear()
    b = MicroBatcher(engine, max_wait_ms=0, max_queue=3)
    b.submit(["busy"])
    _wait(lambda: b.health()["in_flight"] == 1, "the first request to be taken")
    gone = b.submit(["a", "b", "c"])
    assert b.health()["queued"] == 3
    assert b.cancel(gone) and not b.cancel(gone)  # once
    assert b.health()["queued"] == 0 and b.health()["cancelled"] == 1
    kept = b.submit(["d", "e"])  # the queue has room again before the worker gets to it
    engine.gate.set()
    assert kept.result(10) == [["d/5"], ["e/5"]]
    assert gone.cancelled()
    assert [c[0] for c in engine.calls] == [["busy"], ["d", "e"]]
    b.close(10)


def test_cancel_while_a_part_decodes_stops_the_request_after_that_part():
    engine = Recorder()
    engine.gate.clear()
    b = MicroBatcher(engine, max_wait_ms=0, max_batch=1)
    f = b.submit(["a", "b", "c"])
    _wait(lambda: b.health()["in_flight"] == 1, "the first part to be taken")
    assert b.cancel(f)
    engine.gate.set()
    with pytest.raises(CancelledError):
        f.result(10)
    after = b.submit(["z"])
    assert after.result(10) == [["z/5"]]
    assert [c[0] for c in engine.calls] == [["a"], ["z"]]  # b and c were never decoded
    assert b.health()["cancelled"] == 1 and b.health()["requests"] == 1
    b.close(10)


def test_a_dead_worker_fails_every_waiting_request_and_says_why():
    class Killed(BaseException):
        pass

    class Fatal(Recorder):
        def translate_scored(self, sentences, settings=None, attention=False):
            assert self.gate.wait(30)
            raise Killed("gone")

    engine = Fatal()
    engine.gate.clear()
    b = MicroBatcher(engine, max_wait_ms=0, max_batch=1)
    first = b.submit(["a"])
    _wait(lambda: b.health()["in_flight"] == 1, "the first request to be taken")
    waiting = b.submit(["b"])
    assert b.alive
    engine.gate.set()
    for f in (first, waiting):
        with pytest.raises(Closed, match=r"^the decoder thread died \(Killed: gone\)$"):
            f.result(10)
    _wait(lambda: not b._thread.is_alive(), "the worker to end")
    assert not b.alive and b.failure == "the decoder thread died (Killed: gone)"
    assert b.health()["status"] == "dead" and b.health()["failure"] == b.failure
    with pytest.raises(Closed, match="the decoder thread died"):
        b.submit(["c"])
    assert b.close(10)


def test_the_heavy_lane_runs_at_a_lower_cpu_priority():
    import os

    class Nice:
        def translate_scored(self, sentences, settings=None, attention=False):
            import threading as t

            return [[os.getpriority(os.PRIO_PROCESS, t.get_native_id())] for _ in sentences]

    base = os.getpriority(os.PRIO_PROCESS, 0)
    normal, lowered = MicroBatcher(Nice(), max_wait_ms=0), MicroBatcher(Nice(), max_wait_ms=0, nice=5)
    assert normal.submit(["a"]).result(10) == [[base]]
    assert lowered.submit(["a"]).result(10) == [[min(base + 5, 19)]]
    normal.close(10)
    lowered.close(10)


def test_a_stream_is_decoded_in_parts_of_1_2_4_each_handed_over_in_order():
    engine = Recorder()
    engine.gate.clear()
    b = MicroBatcher(engine, max_wait_ms=0, max_batch=4)
    first = b.submit(["zero"])
    _wait(lambda: b.health()["in_flight"] == 1, "the first request to be taken")
    heard = []

    def listener(start, results):
        heard.append((start, results, stream.done()))
        if start == 0:
            raise RuntimeError("a listener's trouble")  # ignored: the decoder goes on

    stream = b.submit(list("abcdefghi"), on_part=listener)  # 9 sentences
    other = b.submit(["xy"])
    engine.gate.set()
    assert first.result(10) == [["orez/5"]]
    assert stream.result(10) == [[f"{c}/5"] for c in "abcdefghi"]
    assert other.result(10) == [["yx/5"]]
    # parts of 1, 2, 4 sentences (then the rest, max_batch bounding them), each batched with whoever waits:
    # the request behind the stream shares the stream's first call, not waiting for all of it
    assert [c[0] for c in engine.calls] == [["zero"], ["a", "xy"], ["b", "c"], ["d", "e", "f", "g"], ["h", "i"]]
    assert [(start, results) for start, results, _ in heard] == [
        (0, [["a/5"]]), (1, [["b/5"], ["c/5"]]), (3, [["d/5"], ["e/5"], ["f/5"], ["g/5"]]), (7, [["h/5"], ["i/5"]])]
    assert not any(done for _, _, done in heard)  # every part before the request's end
    assert b.health()["requests"] == 3 and b.alive
    assert b.close(10)


def test_a_cancelled_stream_gets_no_more_parts():
    engine = Recorder()
    b = MicroBatcher(engine, max_wait_ms=0, max_batch=8)
    heard = []
    engine.gate.clear()
    stream = b.submit(list("abcdefg"), on_part=lambda start, results: heard.append(start))
    _wait(lambda: b.health()["in_flight"] == 1, "the stream's first part to be taken")
    assert b.health()["queued"] == 6
    assert b.cancel(stream)
    assert b.health()["queued"] == 0  # the parts not yet taken leave the queue at once
    engine.gate.set()
    with pytest.raises(CancelledError):
        stream.result(10)
    _wait(lambda: b.health()["in_flight"] == 0, "the part being decoded to end")
    assert [c[0] for c in engine.calls] == [["a"]] and heard == []  # nor is it told of the part it left
    assert b.close(10)
