"""A private nginx (Debian's package) in the foreground, on a free port, with a configuration of
the test's own: never the system's service, its pid file, logs or temporary folders."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from pathlib import Path

from tests.support.processes import free_port, wait_answering
from tests.support.required import unavailable

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


def nginx_available() -> bool:
    return os.access(NGINX, os.X_OK)


class PrivateNginx:
    """`config` is a whole nginx.conf whose `listen` the test has pointed at `self.port`;
    `folder` receives the pid file, the error log and nginx's temporary files."""

    def __init__(self, config: str, folder: Path, port: int) -> None:
        if not nginx_available():
            message = "nginx is not installed (apt-get install -y nginx; scripts/ensure-nginx)"
            unavailable(message, "forward-auth")
        self.port = port
        self.base_url = f"http://127.0.0.1:{port}"
        self.folder = folder
        self.error_log = folder / "error.log"
        own = "\n".join(
            [
                f"pid {folder / 'nginx.pid'};",
                f"error_log {self.error_log} info;",
                "user root;" if os.geteuid() == 0 else "",
                "",
            ]
        )
        config = own + config.replace("error_log /dev/stderr warn;", "").replace(
            "access_log /dev/stdout;", f"access_log {folder / 'access.log'};"
        )
        temp = "\n".join(
            f"    {kind}_temp_path {folder / kind};"
            for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        )
        config = config.replace("http {\n", "http {\n" + temp + "\n", 1)
        self.config_path = folder / "nginx.conf"
        self.config_path.write_text(config)
        log = open(folder / "nginx.out", "wb")  # noqa: SIM115
        self.process = subprocess.Popen(
            [NGINX, "-p", str(folder), "-c", str(self.config_path), "-g", "daemon off;"],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        wait_answering(self, self.base_url + "/", "nginx", seconds=20)

    def log(self) -> str:
        parts = [p.read_text(errors="replace") for p in (self.folder / "nginx.out", self.error_log)]
        return "\n".join(part for part in parts if part)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGQUIT)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def forward_auth_config(portal: str, upstream: str, port: int, cache: Path) -> str:
    """deploy/nginx-forward-auth.conf as shipped, pointed at a test's portal, upstream, port and
    cache folder (`portal` and `upstream` as host:port)."""
    from portal.config import PROJECT_ROOT

    text = (PROJECT_ROOT / "deploy" / "nginx-forward-auth.conf").read_text()
    replaced = {
        "server portal-1:8000 max_fails=3 fail_timeout=10s;": f"server {portal};",
        "        server portal-2:8000 max_fails=3 fail_timeout=10s;\n": "",
        "server dash:8050;": f"server {upstream};",
        "listen 80 default_server;": f"listen 127.0.0.1:{port} default_server;",
        "/var/cache/nginx/portal-auth": str(cache),
        "worker_processes auto;": "worker_processes 1;",
    }
    for old, new in replaced.items():
        assert old in text, f"deploy/nginx-forward-auth.conf no longer has {old!r}"
        text = text.replace(old, new)
    return text


def start_forward_auth_nginx(portal: str, upstream: str, folder: Path) -> PrivateNginx:
    port = free_port()
    return PrivateNginx(forward_auth_config(portal, upstream, port, folder / "cache"), folder, port)
