"""How a product served by a server of its own is doing, in one small value shared by every view.

A `command =` product's process is started, watched and restarted by the portal's supervisor; an
`upstream =` product's server is someone else's, and the portal only asks its health path. Both
end up as a :class:`ProcessState`: what `portal apps`, the admin console's products page and the
dashboard show, and what the proxy's 502 page tells devel and admin users. It is plain data with
a JSON form, so a supervisor in one process can hand it to the workers of another through a file.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from enum import StrEnum


class State(StrEnum):
    #: Started (or first seen) and not yet answering its health path.
    STARTING = "starting"
    #: Answers its health path.
    UP = "up"
    #: An upstream that stopped answering its health path (the portal can't restart it).
    DOWN = "down"
    #: A running process that stopped answering its health path (`[liveness]` in its
    #: product.toml): it is being ended, to be started again.
    UNHEALTHY = "unhealthy"
    #: A process that ended and is being started again, after a backoff.
    RESTARTING = "restarting"
    #: A process the portal gave up restarting; `output` says why.
    FAILED = "failed"


@dataclass(frozen=True)
class ProcessState:
    state: State
    #: One line on the last thing that went wrong ("connection refused", "exited with 1").
    detail: str = ""
    #: The last lines a process wrote (stdout and stderr); empty for upstreams.
    output: str = ""
    #: Where its server listens now: `http://127.0.0.1:<port>` or `unix:/path`.
    address: str = ""
    #: When it entered this state (seconds since the epoch).
    since: float = field(default_factory=time.time)
    #: A process's id while it runs (its process group's too); None for upstreams.
    pid: int | None = None
    #: How many times the supervisor started the process again since the portal started.
    restarts: int = 0

    @property
    def serving(self) -> bool:
        return self.state is State.UP

    def to_json(self) -> dict[str, object]:
        return {**asdict(self), "state": self.state.value}

    @classmethod
    def from_json(cls, data: Mapping[str, object]) -> ProcessState:
        """The state written by `to_json`; ValueError for anything else."""
        since, pid, restarts = data.get("since", 0.0), data.get("pid"), data.get("restarts", 0)
        if (
            "state" not in data
            or not isinstance(since, int | float)
            or not isinstance(pid, int | None)
            or not isinstance(restarts, int)
        ):
            raise ValueError(f"not a process state: {dict(data)!r}")
        return cls(
            state=State(str(data["state"])),
            detail=str(data.get("detail", "")),
            output=str(data.get("output", "")),
            address=str(data.get("address", "")),
            since=float(since),
            pid=pid,
            restarts=restarts,
        )
