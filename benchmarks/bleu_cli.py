"""``seqkit bleu`` against the ``sacrebleu`` command, flag by flag, on WMT21 newstest2021.

Both commands run as subprocesses on the same files: the reference, a deterministic "system" (the
reference with every 5th word dropped and neighbours swapped) and a second, weaker system for the
multi-system and paired flags. Prints a Markdown table: the flags, the first number each command
printed, and whether the whole outputs are identical. Both commands get the same arguments; for the
Chinese references that includes ``-tok zh`` unless the flags name a tokenizer.

    python benchmarks/bleu_cli.py [--data ../shared/data]
    python benchmarks/bleu_cli.py --smoke     # 100 lines, 2 flag sets a pair: checks the script
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from _common import header, shared_data, table, work_folder

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
SMOKE_FLAGS = [["-b"], ["-m", "bleu", "chrf", "ter", "-b"]]


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


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=shared_data())
    ap.add_argument("--lines", type=int, default=0, help="only the first N reference lines (0: all)")
    ap.add_argument("--work", type=Path, default=None, help="scratch folder (default: a new temporary one, removed)")
    ap.add_argument("--smoke", action="store_true", help="100 lines and two flag sets a pair: checks the script")
    args = ap.parse_args()
    header(["sacrebleu"])
    flags, systems_flags = (SMOKE_FLAGS, []) if args.smoke else (FLAGS, SYSTEMS_FLAGS)
    lines_cap = 100 if args.smoke else args.lines
    sacre = [shutil.which("sacrebleu") or sys.executable, *([] if shutil.which("sacrebleu") else ["-m", "sacrebleu"])]
    seqkit = [sys.executable, "-m", "seqkit.cli", "bleu"]
    rows, same_all = [], True
    with work_folder(args.work, "bleu-cli") as tmp:
        for pair, tgt in (("de-en", "en"), ("en-zh", "zh")):
            ref = args.data / "wmt21-news" / f"newstest2021.{pair}.ref.A.{tgt}"
            if not ref.is_file():
                print(f"WMT21 {pair} reference not found: {ref} (set SEQKIT_DATA)")
                return 1
            lines = ref.read_text(encoding="utf-8").splitlines()
            if lines_cap:
                lines = lines[:lines_cap]
                ref = tmp / f"{pair}.ref"
                ref.write_text("\n".join(lines) + "\n", encoding="utf-8")
            hyp, weak = tmp / f"{pair}.sys", tmp / f"{pair}.weak"
            hyp.write_text("\n".join(perturb(lines, 5, tgt == "zh")) + "\n", encoding="utf-8")
            weak.write_text("\n".join(perturb(lines, 3, tgt == "zh")) + "\n", encoding="utf-8")
            cases = [([str(ref), "-i", str(hyp), *f], f) for f in flags]
            cases += [([str(ref), "-i", str(hyp), str(weak), "-f", "text", *f], ["-i SYS WEAK", *f])
                      for f in systems_flags]
            for argv, shown in cases:
                if tgt == "zh" and "-l" in shown:
                    continue
                zh = ["-tok", "zh"] if tgt == "zh" and "-tok" not in shown else []
                a, b = run([*sacre, *argv, *zh]), run([*seqkit, *argv, *zh])
                same = a == b
                same_all &= same
                rows.append([pair, f"`{' '.join(shown) or '(defaults)'}`", first_number(a), first_number(b),
                             "yes" if same else "NO"])
    table(["test set", "flags", "sacrebleu", "seqkit bleu", "same output"], rows)
    print(f"\nall identical: {same_all}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
