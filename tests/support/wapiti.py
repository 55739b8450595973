"""Wapiti, a web vulnerability scanner, run against a live site: one scan per host.

Host mode gives the portal and every product a host of its own with host-only cookies, and
wapiti keeps to one host per scan (its widest scope short of "punk" is a host name) and loads
from its JSON cookie file only the cookies of the host it scans. So every host gets a scan of
its own, all reading one cookie file that holds every host's cookies.

Every request of a scan goes through `--proxy` to the live site's own socket: wapiti resolves no
name (the system resolver here knows `localhost` but not `*.localhost`), and nothing it sends can
leave loopback, whatever a page links to. The scanner lives in a virtualenv of its own
(scripts/ensure-wapiti).
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from requests.cookies import RequestsCookieJar

from portal.config import PROJECT_ROOT

WAPITI = PROJECT_ROOT / ".venv" / "wapiti" / "bin" / "wapiti"

#: Wapiti's modules for the issue's classes of flaw: header (CRLF) injection, open redirects,
#: reflected and stored scripting, forms without CSRF protection, command execution, file
#: disclosure and SQL injection.
MODULES = ("crlf", "redirect", "xss", "permanentxss", "csrf", "exec", "file", "sql")

#: Wapiti's levels (wapitiCore.language.vulnerability): 1 low, 2 medium, 3 high, 4 critical.
MEDIUM = 2
#: Wapiti rates header injection and open redirects low. Here they count as medium at least:
#: host mode's cookie handoff rests on every Location the portal writes being its own
#: (docs: "one function builds every URL the portal sends a browser to").
LEVEL_FLOOR = {"CRLF Injection": MEDIUM, "Open Redirect": MEDIUM}


@dataclass(frozen=True)
class Finding:
    category: str
    level: int
    method: str
    path: str
    parameter: str
    info: str
    http_request: str

    @property
    def severity(self) -> int:
        """Wapiti's level, raised to this portal's floor for the finding's category."""
        return max(self.level, LEVEL_FLOOR.get(self.category, 0))

    @property
    def where(self) -> str:
        """The finding's address without its origin (ports differ from run to run)."""
        return urlsplit(self.path).path


@dataclass(frozen=True)
class Crawled:
    url: str
    method: str
    status: int | None


@dataclass(frozen=True)
class Report:
    findings: tuple[Finding, ...]
    crawled: tuple[Crawled, ...]

    def status_of(self, url: str) -> int | None:
        """The status the crawl's GET of `url` answered, or None if it made none."""
        return next((c.status for c in self.crawled if c.url == url and c.method == "GET"), None)


def write_cookie_file(jar: RequestsCookieJar, path: Path) -> Path:
    """Every host's cookies in wapiti's format, `{".host": {path: {name: attributes}}}`.
    A dotless host is keyed as `.<host>.local`, as Python's cookie jar names it."""
    cookies: dict[str, dict[str, dict[str, dict]]] = {}
    for cookie in jar:
        domain = cookie.domain if "." in cookie.domain else f"{cookie.domain}.local"
        domain = domain if domain.startswith(".") else f".{domain}"
        cookies.setdefault(domain, {}).setdefault(cookie.path, {})[cookie.name] = {
            "value": cookie.value,
            "expires": cookie.expires,
            "secure": cookie.secure,
            "port": None,
            "version": 0,
        }
    path.write_text(json.dumps(cookies, indent=2))
    return path


def scan(
    target: str,
    *,
    site_socket: str,
    cookies: Path,
    workdir: Path,
    excluded: Iterable[str] = (),
    starts: Iterable[str] = (),
    max_scan_time: int,
    max_attack_time: int,
) -> Report:
    """Crawl and attack everything under `target` (wapiti's folder scope) and the `starts`
    as the cookies' owner, within the given crawl time and time per module, and read wapiti's
    JSON report. Level 2: addresses without parameters get their query string attacked too.
    The report, wapiti's output and its session stay in `workdir`.
    `excluded`: wapiti's -x patterns (`*` a wildcard), for addresses that would end the scan's
    own session.

    The endpoints wapiti would otherwise name are its authors' servers: `--endpoint` (used only
    by modules not run here) and `--dns-endpoint` (looked up at start whatever the modules)
    point at this machine instead, and `--no-bugreport` keeps its crash reports here."""
    workdir.mkdir(parents=True, exist_ok=True)
    output = workdir / "report.json"
    command = [
        str(WAPITI),
        "--url", target,
        "--scope", "folder",
        "--level", "2",
        "--module", ",".join(MODULES),
        "--cookie", str(cookies),
        "--proxy", site_socket,
        "--endpoint", f"{site_socket}/",
        "--dns-endpoint", "localhost",
        "--no-bugreport",
        "--store-session", str(workdir / "session"),
        "--store-config", str(workdir / "config"),
        "--max-scan-time", str(max_scan_time),
        "--max-attack-time", str(max_attack_time),
        "--tasks", "4",
        "--timeout", "30",
        "--detailed-report", "1",
        "--format", "json",
        "--output", str(output),
        "--verbose", "1",
    ]  # fmt: skip
    for pattern in excluded:
        command += ["--exclude", pattern]
    for url in starts:
        command += ["--start", url]
    # Wapiti's limits bound the crawl and each module; this only catches a hung scanner.
    deadline = max_scan_time + len(MODULES) * max_attack_time + 300
    done = subprocess.run(command, capture_output=True, text=True, timeout=deadline, check=False)
    log = done.stdout + done.stderr
    (workdir / "wapiti.log").write_text(log)
    assert done.returncode == 0 and output.exists(), f"wapiti failed on {target}:\n{log}"
    return read_report(json.loads(output.read_text()))


def read_report(report: dict) -> Report:
    findings = tuple(
        Finding(
            category=category,
            level=int(item["level"]),
            method=item["method"],
            path=item["path"],
            parameter=item["parameter"],
            info=item["info"],
            http_request=item["http_request"],
        )
        for category, items in report["vulnerabilities"].items()
        for item in items
    )
    crawled = tuple(
        Crawled(page["request"]["url"], page["request"]["method"], page["request"]["status_code"])
        for page in report["infos"].get("crawled_pages", [])
    )
    return Report(findings, crawled)
