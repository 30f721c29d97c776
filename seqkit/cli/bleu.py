"""``seqkit bleu REF [REF ...] -i HYP [HYP ...] [sacrebleu's flags]``: the sacrebleu command line.

Arguments are parsed by sacrebleu's own parser and scored by sacrebleu's own ``main`` and metric
classes, so every flag (``-m bleu chrf ter``, ``-b``, ``-w``, ``-f json|text``, ``-sl``, ``--confidence``,
``--paired-bs``/``--paired-ar`` over several ``-i`` systems, ``--chrf-word-order 2`` for chrF++, ``-t
wmt21 -l de-en --echo src`` ...) means and prints exactly what it does in ``sacrebleu``. What seqkit
adds around it:

* Defaults are sacreBLEU's, tokenizer included: ``zh`` only when sacreBLEU picks it (``-tok zh``, or
  ``-l xx-zh``); references that look Chinese under the default 13a get a one-line hint on stderr
  (not with ``-q``), and the scores stay the ``sacrebleu`` command's.
* Every combination sacreBLEU's parser accepts runs to the end: its JSON writer of the multi-system
  table (``--paired-bs``/``--paired-ar`` with ``-f json``) fails on numpy's float32 (chrF's bootstrap
  statistics); seqkit hands it plain floats, the same numbers.
* The argument order is sacrebleu's: references first, hypotheses after ``-i`` (or on stdin). Without
  ``-i`` and with a terminal on stdin, seqkit stops with a line saying so instead of waiting -- the old
  ``seqkit bleu HYP REF`` order would otherwise score the wrong file.
* ``-t NAME -l PAIR`` reads a local copy of the test set (``$SEQKIT_DATA/wmt21-news`` ...) when
  sacrebleu has not downloaded it; anything else it cannot download is one line, not a traceback.
* Every error (a missing file, unequal line counts, a bad flag) is one line and exit status 2.
"""

from __future__ import annotations

import contextlib
import io
import logging
import sys
from itertools import islice
from pathlib import Path

import click

from seqkit.cli import STDOUT_ERRNOS
from seqkit.errors import SeqkitError, from_os_error

#: sacrebleu's test set name -> the registered corpus (``seqkit data ls``) that holds a copy
LOCAL_TEST_SETS = {"wmt21": "wmt21-news"}


def local_test_set(name: str, pair: str) -> dict[str, Path] | None:
    """``{"src": path, "ref": path}`` of a local copy of a test set (``$SEQKIT_DATA``, the cache), or None."""
    from seqkit.data.registry import CORPORA, locate

    info = CORPORA.get(LOCAL_TEST_SETS.get(name, ""))
    if info is None or pair.count("-") != 1:
        return None
    s, t = pair.split("-")
    remotes = {"src": info.files.get(f"test.{pair}.{s}"), "ref": info.files.get(f"test.{pair}.{t}")}
    if None in remotes.values():
        return None
    files = {side: locate(remote) for side, remote in remotes.items()}
    return None if None in files.values() else files


def _sacrebleu_cached(name: str, pair: str) -> bool:
    from sacrebleu.dataset import DATASETS

    dataset = DATASETS.get(name)
    if dataset is None or pair not in dataset.langpairs:
        return False
    return Path(dataset._get_txt_file_path(pair, "src")).is_file()


class _Log(logging.Handler):
    """sacrebleu's log: ERROR records (logged before it calls ``sys.exit(1)``) are kept for seqkit's
    one-line error; the rest print as sacrebleu prints them, unless ``quiet``."""

    def __init__(self, quiet: bool) -> None:
        super().__init__(logging.INFO)
        self.quiet = quiet
        self.errors: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno >= logging.ERROR:
            self.errors.append(record.getMessage().strip())
        elif not self.quiet:
            print(f"sacreBLEU: {record.getMessage()}", file=sys.stderr)


def _parse(argv: list[str]):
    """sacrebleu's parser on ``argv``; a usage error becomes one SeqkitError line."""
    sb = _import_sacrebleu_main()

    err = io.StringIO()
    old = sys.argv
    sys.argv = ["seqkit bleu", *argv]
    try:
        with contextlib.redirect_stderr(err):
            return sb.parse_args()
    except SystemExit as exc:
        if exc.code in (0, None):  # --help, --version
            raise
        lines = [ln for ln in err.getvalue().splitlines() if ln.strip()]
        message = lines[-1].split("error: ", 1)[-1] if lines else "bad arguments"
        raise SeqkitError(message, fix="see seqkit bleu --help; the order is REF [REF ...] -i HYP") from None
    finally:
        sys.argv = old


def _check_readable(paths: list[str]) -> None:
    for path in paths:
        if path == "-":
            continue
        try:
            with open(path, "rb"):
                pass
        except OSError as exc:
            raise from_os_error(exc, path) from None


def _with_local_test_set(argv: list[str], args) -> tuple[list[str], list[str] | None]:
    """``argv`` with ``-t NAME`` replaced by the local reference file when sacrebleu has no copy;
    also the lines to echo for ``--echo``. Unchanged when sacrebleu has the set or seqkit has no copy."""
    names = args.test_set.split(",")
    if len(names) != 1 or args.langpair is None or _sacrebleu_cached(names[0], args.langpair):
        return argv, None
    files = local_test_set(names[0], args.langpair)
    if files is None:
        return argv, None
    echo = None
    if args.echo:
        unknown = [f for f in args.echo if f not in files]
        if unknown:
            raise SeqkitError(f"--echo {' '.join(unknown)}: the local copy of {names[0]} has only src and ref",
                              path=files["src"], fix="use --echo src or --echo ref")
        from seqkit.io import iter_lines

        columns = [list(iter_lines(files[f])) for f in args.echo]
        echo = ["\t".join(row) for row in zip(*columns)]
    out, skip = [], False
    for arg in argv:
        if skip:
            skip = False
            continue
        if arg in ("-t", "--test-set"):
            skip = True
            continue
        if arg.startswith("--test-set="):
            continue
        out.append(arg)
    return [str(files["ref"]), *out], echo


def _import_sacrebleu_main():
    """``sacrebleu.sacrebleu``, imported without its process-wide change: importing it sets SIGPIPE to
    the default action (death), which would kill a process writing to a closed pipe or socket. Python's
    own setting stays, so `seqkit bleu ... | head` ends quietly like every other command."""
    import signal

    previous = signal.getsignal(signal.SIGPIPE) if hasattr(signal, "SIGPIPE") else None
    from sacrebleu import sacrebleu as sb

    if previous is not None:
        try:
            signal.signal(signal.SIGPIPE, previous)
        except ValueError:  # not the main thread: signals cannot be set here
            pass
    return sb


def run_sacrebleu(argv: list[str]) -> None:
    """sacrebleu's command line on ``argv`` with seqkit's additions (see the module docstring)."""
    sb = _import_sacrebleu_main()

    from seqkit.io import iter_lines
    from seqkit.metrics.corpus import is_chinese

    args = _parse(argv)
    if args.test_set is not None and not (args.list or args.citation):
        argv, echo = _with_local_test_set(argv, args)
        if echo is not None:
            for line in echo:
                click.echo(line)
            return
        args = _parse(argv)
    local = args.test_set is None and not (args.list or args.citation or args.download)
    if local and not args.refs:
        raise SeqkitError("no reference files: give them first, then the hypotheses after -i",
                          fix="seqkit bleu REF [REF ...] -i HYP (sacrebleu's order), or -t TESTSET -l PAIR")
    if args.input is None and local and sys.stdin.isatty():
        raise SeqkitError("no hypotheses: sacrebleu's order is REF [REF ...] -i HYP (or HYP on stdin)",
                          fix=f"seqkit bleu {' '.join(args.refs[:-1]) or 'REF'} -i {args.refs[-1]}"
                              if len(args.refs) > 1 else "add -i HYP")
    _check_readable([*args.refs, *(args.input or [])])
    if (local and not args.quiet and args.bleu_tokenize is None and args.langpair is None
            and "bleu" in args.metrics and is_chinese(list(islice(iter_lines(args.refs[0]), 500)))):
        print(CHINESE_HINT, file=sys.stderr)

    log = _Log(args.quiet)
    saved = sys.stdin, sys.stdout, sys.stderr
    sys.argv, old_argv = ["seqkit bleu", *argv], sys.argv
    sb.sacrelogger.addHandler(log)
    sb.sacrelogger.propagate = False
    # sacrebleu reopens fd 0 and 1 as UTF-8 files; hand it the streams we have instead (closing
    # fd 1 behind the caller's back, or losing pytest's capture, would follow otherwise).
    sb.open = lambda fd, *a, **k: saved[0] if fd == 0 else saved[1]
    sys.stdin, sys.stdout = _Fd(saved[0], 0), _Fd(saved[1], 1)
    table = sb.print_results_table
    sb.print_results_table = lambda results, *a, **k: table(_plain_floats(results), *a, **k)
    try:
        sb.main()
    except SystemExit as exc:
        if exc.code not in (0, None):
            message = "; ".join(m for m in log.errors if m) or f"sacrebleu exited with status {exc.code}"
            if "different lengths" in message and args.input is None:
                message += " (the hypotheses were read from stdin: no -i was given)"
            raise SeqkitError(message, fix="the order is REF [REF ...] -i HYP, one line per segment in each") from None
    except UnicodeDecodeError as exc:
        if args.encoding.lower().replace("-", "") == "utf8":
            for path in [*args.refs, *(args.input or [])]:  # seqkit's reader names the file and line
                for _ in iter_lines(path):
                    pass
        name = "UTF-8" if args.encoding.lower().replace("-", "") == "utf8" else args.encoding
        raise SeqkitError(f"invalid {name} text ({exc.reason} at byte {exc.start})",
                          path="<stdin>" if args.input is None else None,
                          fix="convert the input to UTF-8, or name its encoding with -e") from None
    except OSError as exc:  # a download without network (test sets, flores tokenizers), a missing file
        if isinstance(exc, BrokenPipeError) or (exc.filename is None and exc.errno in STDOUT_ERRNOS):
            raise  # standard output closed or full: seqkit's main reports it (or stays quiet for `| head`)
        if getattr(exc, "filename", None):
            raise from_os_error(exc, exc.filename) from None
        fix = "run it once with network access (sacrebleu keeps its downloads in ~/.sacrebleu)"
        if args.test_set:
            fix += f", or set SEQKIT_DATA to a folder with {', '.join(f + '/' for f in LOCAL_TEST_SETS.values())}"
        raise SeqkitError(f"sacrebleu could not download what this needs ({getattr(exc, 'reason', exc)})",
                          fix=fix) from None
    finally:
        sys.stdout.flush()
        del sb.open
        sb.print_results_table = table
        sb.sacrelogger.removeHandler(log)
        sb.sacrelogger.propagate = True
        sys.argv = old_argv
        sys.stdin, sys.stdout, sys.stderr = saved


#: What ``seqkit bleu`` says (stderr) when the references look Chinese and sacreBLEU's default 13a
#: tokenizer scores them, as the ``sacrebleu`` command does.
CHINESE_HINT = ("note: the references look Chinese, scored with sacreBLEU's default tokenizer (13a) as the "
                "sacrebleu command does; add --tokenize zh (or -l SRC-zh) for Chinese BLEU")


def _plain_floats(results: dict) -> dict:
    """sacreBLEU's multi-system table with numpy scalars (float32 from its bootstrap) as Python numbers,
    the same values: its JSON writer cannot serialize numpy's float32, its text writer prints them alike."""
    for column in results.values():
        for result in column:
            for key, value in list(getattr(result, "__dict__", {}).items()):
                if hasattr(value, "item") and not isinstance(value, (str, bytes)):
                    setattr(result, key, value.item())
    return results


class _Fd:
    """A stream whose ``fileno()`` is what sacrebleu passes to ``open`` (0 or 1) -- nothing else."""

    def __init__(self, stream, fd: int) -> None:
        self._stream, self._fd = stream, fd

    def fileno(self) -> int:
        return self._fd

    def __getattr__(self, name):
        return getattr(self._stream, name)


def sacrebleu_help() -> str:
    """sacreBLEU's own ``--help`` text (its parser's), as ``seqkit bleu --help`` prints it."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.suppress(SystemExit):
        _parse(["--help"])
    return out.getvalue()


class _SacreBleuCommand(click.Command):
    """``--help`` is sacreBLEU's (the arguments are all passed to its parser); ``get_help`` -- what
    the documentation's CLI reference shows -- says so too."""

    def get_help(self, ctx: click.Context) -> str:
        return ("Usage: seqkit bleu REF [REF ...] -i HYP [HYP ...] [sacreBLEU's flags]\n\n"
                "  sacreBLEU's own command line; its --help follows.\n\n" + sacrebleu_help())


@click.command(cls=_SacreBleuCommand, context_settings={"ignore_unknown_options": True,
                                                         "allow_extra_args": True, "help_option_names": []},
               add_help_option=False)
@click.argument("argv", nargs=-1, type=click.UNPROCESSED)
def bleu(argv: tuple[str, ...]) -> None:
    """sacreBLEU's command line: REF [REF ...] -i HYP [HYP ...] [flags]; --help lists them all."""
    run_sacrebleu(list(argv))

