"""HTTP target: requests to the platform, timed, over httpx.

Read-only in check mode: only GET and HEAD go out, so a cache clear or any other POST
can only happen under ``--apply``. Failures to connect become
:class:`~rota.errors.TargetUnavailable` with the reason (refused, timed out, TLS).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rota.errors import TargetUnavailable

SAFE_METHODS = {"GET", "HEAD"}


@dataclass
class HttpResult:
    method: str
    url: str
    status: int
    headers: dict[str, str]
    text: str
    elapsed_s: float

    def json(self) -> Any:
        import json

        return json.loads(self.text)


class Http:
    def __init__(
        self,
        base_url: str,
        *,
        readonly: bool = True,
        ca_file: Path | None = None,
        timeout: float = 10,
    ) -> None:
        import httpx

        self.base_url = base_url.rstrip("/")
        self.readonly = readonly
        import ssl

        verify: ssl.SSLContext | bool = True
        if ca_file is not None:
            verify = ssl.create_default_context(cafile=str(ca_file))
        self._client = httpx.Client(verify=verify, timeout=timeout, follow_redirects=False)

    def request(
        self, method: str, path: str, *, headers: dict[str, str] | None = None
    ) -> HttpResult:
        import httpx

        method = method.upper()
        if self.readonly and method not in SAFE_METHODS:
            raise PermissionError(f"refusing {method} {path} in check mode")
        url = path if path.startswith(("http://", "https://")) else self.base_url + path
        t0 = time.perf_counter()
        try:
            r = self._client.request(method, url, headers=headers)
        except httpx.HTTPError as exc:
            reason = str(exc).strip() or type(exc).__name__
            raise TargetUnavailable(f"{method} {url} failed: {reason}") from None
        return HttpResult(
            method, url, r.status_code, dict(r.headers), r.text, time.perf_counter() - t0
        )

    def get(self, path: str, *, headers: dict[str, str] | None = None) -> HttpResult:
        return self.request("GET", path, headers=headers)

    def close(self) -> None:
        self._client.close()
