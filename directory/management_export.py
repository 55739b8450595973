"""Reading a users-export file: gzipped NDJSON, decoded while it downloads, one user at a time.

The file can hold every user of the tenant, so nothing here grows with it: the download is read
chunk by chunk, inflated incrementally and split into lines as they complete. Lines already read
by an interrupted run can be skipped without parsing them, which is what makes a sync resumable.
"""

from __future__ import annotations

import json
import time
import zlib
from collections.abc import Iterable, Iterator

import httpx

from .management_common import ManagementError, RemoteUser, remote_user, retry_wait

_GZIP = zlib.MAX_WBITS | 16
_RETRYABLE = frozenset({429, 500, 502, 503, 504})


def download_export(
    http: httpx.Client, url: str, skip: int, *, what: str, timeout: float, max_retries: int
) -> Iterator[RemoteUser]:
    """The users in the export file at ``url`` (a presigned URL: no token is sent), after the
    first ``skip``. Retries a refused start; a break mid-file raises (resume with ``skip``)."""
    for attempt in range(max_retries + 1):
        try:
            with http.stream("GET", url, timeout=timeout) as response:
                if response.status_code in _RETRYABLE and attempt < max_retries:
                    wait = retry_wait(response.headers, attempt)
                elif response.status_code != 200:
                    raise ManagementError(
                        f"Auth0 refused the download of {what}: {response.status_code}",
                        response.status_code,
                    )
                else:
                    yield from read_ndjson_gzip(response.iter_raw(), skip, what)
                    return
        except httpx.TimeoutException:
            raise ManagementError(
                f"Auth0 did not answer within {timeout:g} s (download of {what})"
            ) from None
        except httpx.HTTPError as error:
            raise ManagementError(f"the download of {what} broke off: {error}") from None
        time.sleep(wait)


def read_ndjson_gzip(chunks: Iterable[bytes], skip: int, what: str) -> Iterator[RemoteUser]:
    """Users from gzipped NDJSON bytes; blank lines do not count towards ``skip``."""
    inflater = zlib.decompressobj(_GZIP)
    pending = b""
    number = 0
    try:
        for chunk in chunks:
            data = inflater.decompress(chunk)
            while inflater.eof and inflater.unused_data:  # concatenated gzip members
                rest = inflater.unused_data
                inflater = zlib.decompressobj(_GZIP)
                data += inflater.decompress(rest)
            *lines, pending = (pending + data).split(b"\n")
            for line in lines:
                if line.strip():
                    number += 1
                    if number > skip:
                        yield _user(line, number, what)
    except zlib.error as error:
        raise ManagementError(f"{what} is not a readable gzip file: {error}") from None
    if not inflater.eof:
        raise ManagementError(f"{what} ended early (truncated after {number} users)")
    if pending.strip() and number + 1 > skip:
        yield _user(pending, number + 1, what)


def _user(line: bytes, number: int, what: str) -> RemoteUser:
    where = f"line {number} of {what}"
    try:
        data = json.loads(line)
    except ValueError:
        raise ManagementError(f"{where} is not JSON: {line[:120]!r}") from None
    return remote_user(data, where)
