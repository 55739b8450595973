"""Users-export jobs: Auth0's way to read every user past the 1000-result search cap.

A job is answered ``pending`` the first time it is polled (as a real job usually is), then the
file is written once, gzipped NDJSON (one user per line with the requested fields), streamed from
the database into a gzip file so memory stays flat for any number of users. The file is served at
a URL whose unguessable token is the only credential, like the presigned URL Auth0 hands out.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import re
import secrets
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import select, update

from .directory import to_datetime
from .management_http import Auth0Error
from .management_query import iso, user_json
from .models import ExportJob
from .store import DevIdpStore

#: Written files are removed a day later; Auth0's download links expire too.
EXPORT_LIFETIME = 24 * 3600
EXPORT_DIR = Path(tempfile.gettempdir()) / "devidp-exports"
TOKEN_PATTERN = re.compile(r"[A-Za-z0-9_-]{43}")


def _field_spec(fields: Any) -> list[dict[str, str]]:
    if fields is None:
        return []
    if not isinstance(fields, list) or not all(
        isinstance(f, dict)
        and isinstance(f.get("name"), str)
        and f["name"]
        and isinstance(f.get("export_as", ""), str)
        for f in fields
    ):
        raise Auth0Error(
            400,
            "Payload validation error: 'fields' must be a list of "
            '{"name": string, "export_as": string}',
            "invalid_body",
        )
    return [
        {"name": f["name"], **({"export_as": f["export_as"]} if "export_as" in f else {})}
        for f in fields
    ]


def _pick(user: dict[str, Any], fields: list[dict[str, str]]) -> dict[str, Any]:
    """The requested fields of ``user`` (dotted names reach into objects); all when none."""
    if not fields:
        return user
    picked = {}
    for spec in fields:
        value: Any = user
        for part in spec["name"].split("."):
            value = value.get(part) if isinstance(value, dict) else None
        if value is not None:
            picked[spec.get("export_as") or spec["name"]] = value
    return picked


def job_json(job: ExportJob, base_url: str) -> dict[str, Any]:
    spec = json.loads(job.spec_json)
    body: dict[str, Any] = {
        "type": "users_export",
        "status": job.status,
        "id": job.id,
        "created_at": iso(to_datetime(job.created_ms)),
        "format": "json",
    }
    if spec.get("fields"):
        body["fields"] = spec["fields"]
    if spec.get("limit") is not None:
        body["limit"] = spec["limit"]
    if job.status == "completed" and job.token:
        body["location"] = f"{base_url}/exports/{job.token}.json.gz"
    return body


class ExportJobs:
    """Creates, advances and serves export jobs kept in the store (so any worker can)."""

    def __init__(self, store: DevIdpStore, base_url: str) -> None:
        self.store = store
        self.base_url = base_url

    def create(self, body: dict[str, Any]) -> dict[str, Any]:
        if body.get("format", "json") != "json":
            raise Auth0Error(
                400,
                "The development provider exports format json only "
                "(gzipped NDJSON, as Auth0's json format).",
                "invalid_body",
            )
        limit = body.get("limit")
        if limit is not None and (
            not isinstance(limit, int) or isinstance(limit, bool) or limit < 1
        ):
            raise Auth0Error(
                400, "Payload validation error: 'limit' must be a positive integer", "invalid_body"
            )
        spec = {"fields": _field_spec(body.get("fields")), "limit": limit}
        job = ExportJob(id="job_" + secrets.token_hex(8), spec_json=json.dumps(spec))
        with self.store.sessions.begin() as db:
            db.add(job)
        return job_json(job, self.base_url)

    def poll(self, job_id: str) -> dict[str, Any]:
        """The job as Auth0 shows it; the second poll writes the file and completes it."""
        with self.store.sessions.begin() as db:
            db.execute(
                update(ExportJob).where(ExportJob.id == job_id).values(polls=ExportJob.polls + 1)
            )
            job = db.get(ExportJob, job_id)
        if job is None:
            raise Auth0Error(404, "The job does not exist.", "inexistent_job")
        if job.polls > 1 and job.status == "pending" and self._claim(job_id):
            try:
                job = self._complete(job)
            except OSError:
                job = self._set_status(job_id, "failed")
        return job_json(job, self.base_url)

    def _set_status(self, job_id: str, status: str, token: str | None = None) -> ExportJob:
        with self.store.sessions.begin() as db:
            db.execute(
                update(ExportJob).where(ExportJob.id == job_id).values(status=status, token=token)
            )
            return db.scalars(select(ExportJob).where(ExportJob.id == job_id)).one()

    def _claim(self, job_id: str) -> bool:
        with self.store.sessions.begin() as db:
            return bool(
                db.execute(
                    update(ExportJob)
                    .where(ExportJob.id == job_id, ExportJob.status == "pending")
                    .values(status="processing")
                ).rowcount
            )

    def _complete(self, job: ExportJob) -> ExportJob:
        spec = json.loads(job.spec_json)
        token = secrets.token_urlsafe(32)
        EXPORT_DIR.mkdir(parents=True, exist_ok=True)
        _remove_expired()
        partial = EXPORT_DIR / f"{token}.part"
        with gzip.open(partial, "wt", encoding="utf-8", compresslevel=5) as out:
            for count, user in enumerate(self.store.iter_users(), start=1):
                out.write(json.dumps(_pick(user_json(user), spec["fields"])) + "\n")
                if count == spec.get("limit"):
                    break
        partial.replace(EXPORT_DIR / f"{token}.json.gz")
        return self._set_status(job.id, "completed", token)

    def file_for(self, token: str) -> Path | None:
        """The export file named by a download URL's token, when it exists."""
        if not TOKEN_PATTERN.fullmatch(token):
            return None
        path = EXPORT_DIR / f"{token}.json.gz"
        return path if path.is_file() else None


def _remove_expired() -> None:
    cutoff = time.time() - EXPORT_LIFETIME
    for path in EXPORT_DIR.iterdir():
        with contextlib.suppress(FileNotFoundError):  # another worker removed it first
            if path.stat().st_mtime < cutoff:
                path.unlink()
