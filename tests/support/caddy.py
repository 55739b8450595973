"""A private Caddy (Debian's package) in the foreground, on a free port, with a Caddyfile of the
test's own: never the system's service, its admin endpoint, certificates or saved config."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from pathlib import Path

from tests.support.processes import wait_answering
from tests.support.required import unavailable

CADDY = shutil.which("caddy") or "/usr/bin/caddy"
#: Caddy's global options for a test: no admin endpoint (every test's Caddy would want
#: localhost:2019), no certificates; its data and config folders are the test's (below).
TEST_OPTIONS = "{\n\tadmin off\n\tauto_https off\n}\n\n"


def caddy_available() -> bool:
    return os.access(CADDY, os.X_OK)


class PrivateCaddy:
    """`caddyfile` is a whole Caddyfile whose site address the test has pointed at `port`;
    `folder` receives it, Caddy's output and Caddy's data and config folders."""

    def __init__(self, caddyfile: str, folder: Path, port: int) -> None:
        if not caddy_available():
            message = "Caddy is not installed (apt-get install -y caddy; scripts/ensure-caddy)"
            unavailable(message, "forward-auth")
        self.port = port
        self.base_url = f"http://127.0.0.1:{port}"
        self.folder = folder
        self.config_path = folder / "Caddyfile"
        self.config_path.write_text(TEST_OPTIONS + caddyfile)
        self.output = folder / "caddy.out"
        environment = {
            **os.environ,
            "HOME": str(folder),
            "XDG_DATA_HOME": str(folder / "data"),
            "XDG_CONFIG_HOME": str(folder / "config"),
        }
        with open(self.output, "wb") as output:
            self.process = subprocess.Popen(
                [CADDY, "run", "--config", str(self.config_path), "--adapter", "caddyfile"],
                stdout=output,
                stderr=subprocess.STDOUT,
                env=environment,
            )
        wait_answering(self, self.base_url + "/", "Caddy", seconds=30)

    def log(self) -> str:
        return self.output.read_text(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def forward_auth_caddyfile(portal: str, upstream: str, port: int) -> str:
    """deploy/Caddyfile.forward-auth as shipped, pointed at a test's portal, upstream and port
    (`portal` and `upstream` as host:port), served over plain http."""
    from portal.config import PROJECT_ROOT

    text = (PROJECT_ROOT / "deploy" / "Caddyfile.forward-auth").read_text()
    replaced = {
        "portal.example.org {": f"http://127.0.0.1:{port} {{",
        "portal:8000": portal,
        "dash:8050": upstream,
    }
    for old, new in replaced.items():
        assert old in text, f"deploy/Caddyfile.forward-auth no longer has {old!r}"
        text = text.replace(old, new)
    return text
