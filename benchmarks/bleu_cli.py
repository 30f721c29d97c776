"""``seqkit bleu`` against the ``sacrebleu`` command, flag by flag, on WMT21 newstest2021.

Both commands run as subprocesses on the same files: the reference, a deterministic "system" (the
reference with every 5th word dropped and neighbours swapped) and a second, weaker system for the
multi-system and paired flags. Prints a Markdown table: the flags, the first number each command
printed, and whether the whole outputs are identical.

    python benchmarks/bleu_cli.py [--data ../shared/data]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

FLAGS = [
    [], ["-b"], ["-b", "-w", "4"], ["-f", "text"], ["-f", "text", "-sh"], ["-lc", "-b"],
    ["-tok", "intl", "-b"], ["-tok", "char", "-b"], ["-s", "floor", "-sv", "0.1", "-b"],
    ["-m", "chrf", "-b"], ["-m", "chrf", "--chrf-word-order", "2", "-b"], ["-m", "ter", "-b"],
    ["-m", "ter", "--ter-case-sensitive", "--ter-no-punct", "-b"], ["-m", "bleu", "chrf", "ter", "-b"],
    ["--confidence", "--confidence-n", "200", "-f", "text"], ["-sl", "-b"],
    ["-l", "de-en", "-b"],
]
SYSTEMS_FLAGS = [[], ["--paired-bs", "-pbsn", "200"], ["--paired-ar", "-parn", "200"],
                 ["--paired-bs", "-pbsn", "200", "-lc", "-m", "bleu", "chrf"]]


def perturb(lines: list[str], k: int, chinese: bool) -> list[str]:
    out = []
    for i, line in enumerate(lines):
        units = list(line) if chinese else line.split()
        units = [u for j, u in enumerate(units) if (j + i) % k != k - 1]
        if len(units) > 3 and i % 3 == 0:
            units[1], units[2] = units[2], units[1]
        out.append(("" if chinese else " ").join(units))
    return out


def run(cmd: list[str]) -> str:
    res = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "NO_COLOR": "1"})
    return res.stdout if res.returncode == 0 else f"exit {res.returncode}: {res.stderr.strip()[-200:]}"


def first_number(text: str) -> str:
    m = (re.search(r'"score": (\d+\.\d+)', text) or re.search(r" = (\d+\.\d+)", text)
         or re.search(r"(\d+\.\d+)", text))
    return m.group(1) if m else text.strip()[:30]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=os.environ.get("SEQKIT_DATA", "../shared/data"))
    args = ap.parse_args()
    sacre = [shutil.which("sacrebleu") or sys.executable, *([] if shutil.which("sacrebleu") else ["-m", "sacrebleu"])]
    seqkit = [sys.executable, "-m", "seqkit.cli", "bleu"]
    tmp = Path(tempfile.mkdtemp())
    print("| test set | flags | sacrebleu | seqkit bleu | same output |")
    print("| --- | --- | ---: | ---: | --- |")
    same_all = True
    for pair, tgt in (("de-en", "en"), ("en-zh", "zh")):
        ref = Path(args.data) / "wmt21-news" / f"newstest2021.{pair}.ref.A.{tgt}"
        lines = ref.read_text(encoding="utf-8").splitlines()
        hyp, weak = tmp / f"{pair}.sys", tmp / f"{pair}.weak"
        hyp.write_text("\n".join(perturb(lines, 5, tgt == "zh")) + "\n", encoding="utf-8")
        weak.write_text("\n".join(perturb(lines, 3, tgt == "zh")) + "\n", encoding="utf-8")
        cases = [([str(ref), "-i", str(hyp), *f], f) for f in FLAGS]
        cases += [([str(ref), "-i", str(hyp), str(weak), "-f", "text", *f], ["-i SYS WEAK", *f]) for f in SYSTEMS_FLAGS]
        for argv, shown in cases:
            if tgt == "zh" and "-l" in shown:
                continue
            zh = ["-tok", "zh"] if tgt == "zh" and "-tok" not in shown else []  # seqkit picks zh alone
            a, b = run([*sacre, *argv, *zh]), run([*seqkit, *argv])
            same = a == b
            same_all &= same
            print(f"| {pair} | `{' '.join(shown) or '(defaults)'}` | {first_number(a)} | {first_number(b)} | "
                  f"{'yes' if same else 'NO'} |")
    print(f"\nall identical: {same_all}")


if __name__ == "__main__":
    main()
