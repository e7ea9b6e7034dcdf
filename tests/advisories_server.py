"""A local advisory server speaking OSV's API and npm's bulk advisory endpoint.

It serves real GitHub advisories (GHSA ids, CVE aliases, ranges, CVSS vectors and
severities as published) in the exact OSV and npm JSON shapes, so the audit is tested
against what the real services answer. npm's numeric advisory ids are illustrative: the
bulk endpoint's ``id`` is npm's internal number, which rota only echoes as an alias.
"""

from __future__ import annotations

import json
import threading
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


def _osv(
    ghsa: str,
    cve: str,
    summary: str,
    ecosystem: str,
    name: str,
    ranges: list[list[dict[str, str]]],
    vector: str,
    severity: str,
    cwes: list[str],
    published: str,
) -> dict[str, Any]:
    purl = f"pkg:{'npm' if ecosystem == 'npm' else 'pypi'}/{name}"
    return {
        "schema_version": "1.6.0",
        "id": ghsa,
        "modified": "2024-11-18T16:26:00Z",
        "published": published,
        "aliases": [cve],
        "summary": summary,
        "details": summary,
        "severity": [{"type": "CVSS_V3", "score": vector}],
        "affected": [
            {
                "package": {"ecosystem": ecosystem, "name": name, "purl": purl},
                "ranges": [{"type": "ECOSYSTEM", "events": events} for events in ranges],
                "database_specific": {
                    "source": f"https://github.com/github/advisory-database/blob/main/advisories/github-reviewed/{ghsa}.json"
                },
            }
        ],
        "references": [
            {"type": "ADVISORY", "url": f"https://nvd.nist.gov/vuln/detail/{cve}"},
            {"type": "WEB", "url": f"https://github.com/advisories/{ghsa}"},
        ],
        "database_specific": {
            "cwe_ids": cwes,
            "severity": severity,
            "github_reviewed": True,
            "github_reviewed_at": published,
            "nvd_published_at": published,
        },
    }


RECORDS: dict[str, dict[str, Any]] = {
    r["id"]: r
    for r in [
        _osv(
            "GHSA-rv95-896h-c2vc",
            "CVE-2024-29041",
            "Express.js Open Redirect in malformed URLs",
            "npm",
            "express",
            [
                [{"introduced": "0"}, {"fixed": "4.19.2"}],
                [{"introduced": "5.0.0-alpha.1"}, {"fixed": "5.0.0-beta.3"}],
            ],
            "CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N",
            "MODERATE",
            ["CWE-1286", "CWE-601"],
            "2024-03-25T19:40:26Z",
        ),
        _osv(
            "GHSA-qw6h-vgh9-j6wx",
            "CVE-2024-43796",
            "express vulnerable to XSS via response.redirect()",
            "npm",
            "express",
            [
                [{"introduced": "0"}, {"fixed": "4.20.0"}],
                [{"introduced": "5.0.0-alpha.1"}, {"fixed": "5.0.0"}],
            ],
            "CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:U/C:L/I:L/A:L",
            "LOW",
            ["CWE-79"],
            "2024-09-10T19:41:04Z",
        ),
        _osv(
            "GHSA-qwcr-r2fm-qrc7",
            "CVE-2024-45590",
            "body-parser vulnerable to denial of service when url encoding is enabled",
            "npm",
            "body-parser",
            [[{"introduced": "0"}, {"fixed": "1.20.3"}]],
            "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H",
            "HIGH",
            ["CWE-405"],
            "2024-09-10T19:42:41Z",
        ),
        _osv(
            "GHSA-9wv6-86v2-598j",
            "CVE-2024-45296",
            "path-to-regexp outputs backtracking regular expressions",
            "npm",
            "path-to-regexp",
            [
                [{"introduced": "0"}, {"fixed": "0.1.10"}],
                [{"introduced": "0.2.0"}, {"fixed": "1.9.0"}],
                [{"introduced": "2.0.0"}, {"fixed": "3.3.0"}],
                [{"introduced": "4.0.0"}, {"fixed": "6.3.0"}],
                [{"introduced": "7.0.0"}, {"fixed": "8.0.0"}],
            ],
            "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H",
            "HIGH",
            ["CWE-1333"],
            "2024-09-09T20:19:15Z",
        ),
        _osv(
            "GHSA-9wx4-h78v-vm56",
            "CVE-2024-35195",
            "Requests `Session` object does not verify requests after making first request with verify=False",
            "PyPI",
            "requests",
            [[{"introduced": "0"}, {"fixed": "2.32.0"}]],
            "CVSS:3.1/AV:L/AC:H/PR:H/UI:R/S:U/C:H/I:H/A:N",
            "MODERATE",
            ["CWE-670"],
            "2024-05-20T20:15:00Z",
        ),
        _osv(
            "GHSA-h5c8-rqwp-cp95",
            "CVE-2024-22195",
            "Jinja vulnerable to HTML attribute injection when passing user input as keys to xmlattr filter",
            "PyPI",
            "jinja2",
            [[{"introduced": "0"}, {"fixed": "3.1.3"}]],
            "CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:U/C:L/I:L/A:N",
            "MODERATE",
            ["CWE-79"],
            "2024-01-11T15:20:48Z",
        ),
    ]
}

# What OSV's querybatch answers per (ecosystem, name, version): the ids that affect it.
OSV_HITS: dict[tuple[str, str, str], list[str]] = {
    ("npm", "express", "4.17.1"): ["GHSA-qw6h-vgh9-j6wx", "GHSA-rv95-896h-c2vc"],
    ("npm", "body-parser", "1.19.0"): ["GHSA-qwcr-r2fm-qrc7"],
    ("npm", "path-to-regexp", "0.1.7"): ["GHSA-9wv6-86v2-598j"],
    ("PyPI", "requests", "2.31.0"): ["GHSA-9wx4-h78v-vm56"],
    ("PyPI", "jinja2", "3.1.2"): ["GHSA-h5c8-rqwp-cp95"],
}


def _npm(record_id: str, npm_id: int, title: str, severity: str, vulnerable: str) -> dict[str, Any]:
    record = RECORDS[record_id]
    from rota.security.advisories import cvss3_score

    vector = record["severity"][0]["score"]
    return {
        "id": npm_id,
        "url": f"https://github.com/advisories/{record_id}",
        "title": title,
        "severity": severity,
        "vulnerable_versions": vulnerable,
        "cwe": record["database_specific"]["cwe_ids"],
        "cvss": {"score": cvss3_score(vector), "vectorString": vector},
    }


# npm's bulk endpoint: every advisory of each name (the server filters by version below).
NPM_ADVISORIES: dict[str, list[dict[str, Any]]] = {
    "express": [
        _npm(
            "GHSA-rv95-896h-c2vc",
            1096820,
            "Express.js Open Redirect in malformed URLs",
            "moderate",
            "<4.19.2",
        ),
        _npm(
            "GHSA-qw6h-vgh9-j6wx",
            1100530,
            "express vulnerable to XSS via response.redirect()",
            "low",
            "<4.20.0",
        ),
    ],
    "body-parser": [
        _npm(
            "GHSA-qwcr-r2fm-qrc7",
            1099520,
            "body-parser vulnerable to denial of service when url encoding is enabled",
            "high",
            "<1.20.3",
        )
    ],
    "path-to-regexp": [
        _npm(
            "GHSA-9wv6-86v2-598j",
            1101081,
            "path-to-regexp outputs backtracking regular expressions",
            "high",
            "<0.1.10",
        )
    ],
}


@dataclass
class AdvisoryServer:
    url: str
    # "" answers properly; "empty" gives querybatch an empty results list; "500" fails
    # every request; "garbage" answers 200 with HTML.
    mode: str = ""
    requests: list[tuple[str, str, Any]] = field(default_factory=list)


class _Handler(BaseHTTPRequestHandler):
    server_state: AdvisoryServer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _send(self, status: int, body: Any, raw: str | None = None) -> None:
        data = (raw if raw is not None else json.dumps(body)).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _failing(self) -> bool:
        mode = self.server_state.mode
        if mode == "500":
            self._send(500, {"code": 13, "message": "internal error"})
        elif mode == "garbage":
            self._send(200, None, "<html>captive portal</html>")
        return mode in ("500", "garbage")

    def do_GET(self) -> None:
        self.server_state.requests.append(("GET", self.path, None))
        if self._failing():
            return
        if self.path.startswith("/v1/vulns/"):
            vid = self.path.rsplit("/", 1)[1]
            if vid in RECORDS:
                self._send(200, RECORDS[vid])
            else:
                self._send(404, {"code": 5, "message": "Bug not found."})
            return
        self._send(404, {"message": "not found"})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        body = json.loads(self.rfile.read(length) or b"null")
        self.server_state.requests.append(("POST", self.path, body))
        if self._failing():
            return
        if self.path == "/v1/querybatch":
            if self.server_state.mode == "empty":
                self._send(200, {"results": []})
                return
            results = []
            for q in body["queries"]:
                key = (q["package"]["ecosystem"], q["package"]["name"], q["version"])
                ids = OSV_HITS.get(key, [])
                results.append(
                    {"vulns": [{"id": i, "modified": RECORDS[i]["modified"]} for i in ids]}
                    if ids
                    else {}
                )
            self._send(200, {"results": results})
            return
        if self.path == "/-/npm/v1/security/advisories/bulk":
            from rota.security.semver import satisfies

            answer = {}
            for name, versions in body.items():
                hits = [
                    a
                    for a in NPM_ADVISORIES.get(name, [])
                    if any(satisfies(v, a["vulnerable_versions"]) for v in versions)
                ]
                if hits:
                    answer[name] = hits
            self._send(200, answer)
            return
        self._send(405, {"message": "Method Not Allowed"})


@contextmanager
def advisory_server() -> Iterator[AdvisoryServer]:
    state = AdvisoryServer("")
    handler = type("Handler", (_Handler,), {"server_state": state})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    state.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(
        target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()


def closed_port() -> str:
    """A URL on 127.0.0.1 where nothing listens."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def osv_export(directory: Path) -> Path:
    """OSV's export layout, made from the same records: ``<Ecosystem>/all.zip``."""
    for eco in ("npm", "PyPI"):
        (directory / eco).mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(directory / eco / "all.zip", "w") as z:
            for rid, record in RECORDS.items():
                if record["affected"][0]["package"]["ecosystem"] == eco:
                    z.writestr(f"{rid}.json", json.dumps(record))
    return directory


SANDBOX_NODE = Path(__file__).resolve().parents[1] / "sandbox/src/rota_sandbox/node"
