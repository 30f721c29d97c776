"""Wall-clock limits of the tests: kills that only stop a hang, never a slow machine.

A test asserts on what a run produced (content, counts, step numbers), not on how fast it ran. Where
a subprocess or a group of ranks needs a kill switch, it is :data:`HANG_S`: at least ten times what
the slowest of them takes on a busy 2-core CI machine (the README example, ~3 min there), so a
machine under load is never failed for being slow -- a real hang still ends in half an hour, not at
CI's 90-minute limit.
"""

HANG_S = 1800
