"""wrk, run and read the same way by every HTTP benchmark: one place that knows its flags and
the lines of its report."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterable

_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0}
_SOCKET_ERRORS = r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)"


def _milliseconds(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()  # type: ignore[union-attr]
    return float(number) * _UNITS[unit]


def run_wrk(
    name: str, url: str, headers: Iterable[str], *, threads: int, connections: int, seconds: float
) -> dict:
    """requests, rate (req/s), p50 and p99 (ms) and errors (non-2xx/3xx answers plus socket
    errors) of one `wrk --latency` run."""
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds:g}s"]
    command += ["--latency", "--timeout", "10s"]
    for header in headers:
        command += ["-H", header]
    done = subprocess.run(
        [*command, url], capture_output=True, text=True, timeout=seconds + 60, check=True
    )
    out = done.stdout
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    sockets = re.search(_SOCKET_ERRORS, out)
    percentile = dict(re.findall(r"^\s+(\d+)%\s+(\S+)\s*$", out, re.MULTILINE))
    if not {"50", "99"} <= percentile.keys():
        raise RuntimeError(f"{name}: no latency distribution in wrk's answer:\n{out}")
    return {
        "requests": int(re.search(r"(\d+) requests in", out).group(1)),  # type: ignore[union-attr]
        "rate": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),  # type: ignore[union-attr]
        "p50": _milliseconds(percentile["50"]),
        "p99": _milliseconds(percentile["99"]),
        "errors": (int(bad.group(1)) if bad else 0)
        + (sum(map(int, sockets.groups())) if sockets else 0),
    }
