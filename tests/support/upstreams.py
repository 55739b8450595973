"""A product's own server for proxy tests: the Node.js `http` server in upstream.js, and the
apps folder that names it as an `upstream`."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

UPSTREAM_JS = Path(__file__).with_name("upstream.js")


class NodeUpstream:
    """`node upstream.js` on a free port (or a unix socket path), until `stop()`."""

    def __init__(self, where: str = "0") -> None:
        node = shutil.which("node")
        if node is None:
            pytest.fail("node is not installed; the upstream tests need Node.js")
        self.process = subprocess.Popen(
            [node, str(UPSTREAM_JS), where],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.url = self.process.stdout.readline().strip()
        if not self.url.startswith(("http://", "unix:")):
            self.stop()
            raise RuntimeError(f"the Node upstream did not start: {self.url}")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)
        self.process.stdout.close()


def upstream_product(apps: Path, key: str, upstream: str, **fields: object) -> Path:
    """apps/<tier>/<name>/product.toml naming `upstream`, and nothing else in the folder."""
    folder = apps / key
    folder.mkdir(parents=True)
    values = {"title": key.split("/")[1].title(), "upstream": upstream, **fields}
    # JSON strings and numbers are TOML's too.
    lines = [f"{name} = {json.dumps(value)}" for name, value in values.items()]
    (folder / "product.toml").write_text("\n".join(lines) + "\n")
    return folder
