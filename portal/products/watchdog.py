"""Ends the supervisor's product processes when the supervisor itself ends, however it ends.

The supervisor stops its products when it is asked to; this covers the case where it can't be
asked (SIGKILL, the out-of-memory killer, a crash). It runs as the supervisor's child reading a
pipe on which the supervisor announces each product's process group (`+<pgid>` when started,
`-<pgid>` when ended). The pipe reaches end-of-file only when the supervisor is gone, and then
every group still announced gets SIGTERM and, after a grace, SIGKILL. Its only imports are the
standard library's, so it starts in a few milliseconds and holds nothing of the portal.

    python -m portal.products.watchdog
"""

from __future__ import annotations

import os
import signal
import sys
import time

GRACE_SECONDS = 5.0


def _signal(pgid: int, signum: int) -> bool:
    try:
        os.killpg(pgid, signum)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def end_groups(groups: set[int], grace: float = GRACE_SECONDS) -> None:
    """SIGTERM to each group, SIGCONT so a stopped process handles it (a SIGSTOPped one would
    hold it pending through the grace), then SIGKILL to what is left after the grace."""
    live = {pgid for pgid in groups if _signal(pgid, signal.SIGTERM)}
    for pgid in live:
        _signal(pgid, signal.SIGCONT)
    deadline = time.monotonic() + grace
    while live and time.monotonic() < deadline:
        time.sleep(0.05)
        live = {pgid for pgid in live if _signal(pgid, 0)}
    for pgid in live:
        _signal(pgid, signal.SIGKILL)


def main() -> None:
    # Ctrl-C at a terminal, or SIGTERM to the whole group, reaches the supervisor too, which
    # stops the products itself; the pipe's end alone tells this process it is over.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    groups: set[int] = set()
    for line in sys.stdin:
        sign, number = line[:1], line[1:].strip()
        if number.isdigit():
            (groups.add if sign == "+" else groups.discard)(int(number))
    end_groups(groups)


if __name__ == "__main__":
    main()
