"""Advisory sources: which of a project's packages have published vulnerabilities.

Three sources, one answer shape (:class:`AuditResult`):

- ``osv``: OSV's API, ``POST /v1/querybatch`` (ids only, paged per query) then
  ``GET /v1/vulns/{id}`` for each record;
- ``npm``: the registry's bulk advisory endpoint,
  ``POST /-/npm/v1/security/advisories/bulk`` with ``{name: [versions]}``, whose answer
  lists, per name, the advisories whose ``vulnerable_versions`` cover any version asked;
- ``osv-export``: OSV's per-ecosystem export (``npm/all.zip``, ``PyPI/all.zip``, or a
  directory of records) matched here, for hosts without network access.

The point of this module is that "nothing found" is only ever said of a package a source
actually answered for. A source that cannot be reached, answers an HTTP error or a
malformed or short answer, or has no records for an ecosystem marks the packages it was
asked about as *unaudited*, with the reason, never as clean.
"""

from __future__ import annotations

import json
import math
import re
import ssl
import zipfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rota.errors import RotaError
from rota.security import semver
from rota.security.lockfiles import NPM, PYPI, normalize

Key = tuple[str, str, str]  # (ecosystem, name, version), as lockfiles.Dependency.key

OSV_URL = "https://api.osv.dev"
NPM_URL = "https://registry.npmjs.org"
# OSV's documented limit of queries per querybatch request.
OSV_BATCH = 1000
# Pages followed per query before giving up on it (OSV pages only very long answers).
OSV_MAX_PAGES = 10
SEVERITIES = ("low", "moderate", "high", "critical")


class SourceError(RotaError):
    """An advisory source that could not give a usable answer."""


@dataclass(frozen=True)
class Advisory:
    """One advisory as it applies to one installed version."""

    id: str  # GHSA-... when the source has one
    aliases: tuple[str, ...]  # CVE-..., PYSEC-..., the other ids of the same flaw
    summary: str
    severity: str | None  # low | moderate | high | critical; None: the source does not say
    cvss_score: float | None
    cvss_vector: str | None
    affected: str  # the affected range that covers the installed version
    fixed: str | None  # the first fixed version above it, when there is one
    url: str
    cwe: tuple[str, ...] = ()

    def names(self) -> set[str]:
        return {self.id, *self.aliases}


@dataclass
class AuditResult:
    """What a source said about each package it was asked about: advisories (possibly
    none) or, for the packages in ``unaudited``, why it could not say."""

    source: str  # "OSV (https://api.osv.dev)"
    found: dict[Key, list[Advisory]] = field(default_factory=dict)
    unaudited: dict[Key, str] = field(default_factory=dict)

    def audited(self, keys: Iterable[Key]) -> list[Key]:
        return [k for k in keys if k not in self.unaudited]


# --- HTTP -----------------------------------------------------------------------------------


class Client:
    """JSON over HTTPS with timeouts; every failure is a :class:`SourceError` whose message
    says which source, which request and what went wrong."""

    def __init__(self, *, timeout: float = 30, ca_file: Path | None = None) -> None:
        import httpx

        # The system trust store, plus the platform's CA when [http] ca_file names one
        # (a mirror behind it); ca_file alone would stop trusting the public sources.
        context = ssl.create_default_context()
        if ca_file is not None:
            try:
                context.load_verify_locations(cafile=str(ca_file))
            except (OSError, ssl.SSLError) as exc:
                raise SourceError(f"cannot load the CA file {ca_file}: {exc}") from None
        self._client = httpx.Client(
            verify=context,
            timeout=timeout,
            follow_redirects=True,
            headers={"User-Agent": "rota (security.dependencies)"},
        )

    def request(self, method: str, url: str, body: Any = None) -> Any:
        import httpx

        base = re.match(r"^[a-z]+://[^/]+", url)
        where = base.group(0) if base else url
        try:
            r = self._client.request(method, url, json=body)
        except httpx.HTTPError as exc:
            reason = str(exc).strip() or type(exc).__name__
            raise SourceError(f"could not reach {where}: {reason}") from None
        if r.status_code != 200:
            raise SourceError(f"HTTP {r.status_code} from {method} {url}: {r.text[:200].strip()}")
        try:
            return r.json()
        except ValueError:
            raise SourceError(
                f"malformed answer from {method} {url}: not JSON ({r.text[:80].strip()!r})"
            ) from None

    def close(self) -> None:
        self._client.close()


# --- OSV records ------------------------------------------------------------------------------


def _parse_version(ecosystem: str) -> Callable[[str], Any]:
    if ecosystem == NPM:
        return semver.Version.parse
    from packaging.version import Version

    return Version


def _event_key(ecosystem: str) -> Callable[[tuple[str, str]], tuple[int, Any]]:
    parse = _parse_version(ecosystem)

    def key(event: tuple[str, str]) -> tuple[int, Any]:
        kind, value = event
        return (0, None) if kind == "introduced" and value == "0" else (1, parse(value))

    return key


def _events(r: dict[str, Any]) -> list[tuple[str, str]]:
    out = []
    for e in r.get("events", []):
        for kind in ("introduced", "fixed", "last_affected", "limit"):
            if kind in e:
                out.append((kind, str(e[kind])))
    return out


def range_text(events: Sequence[tuple[str, str]]) -> str:
    """OSV events as a semver-style range: ``>=4.0.0 <4.19.2``, ``<0.1.10``."""
    parts = []
    for kind, value in events:
        if kind == "introduced" and value != "0":
            parts.append(f">={value}")
        elif kind == "fixed":
            parts.append(f"<{value}")
        elif kind == "last_affected":
            parts.append(f"<={value}")
    return " ".join(parts) or "all versions"


def osv_match(
    affected: dict[str, Any], ecosystem: str, version: str
) -> tuple[bool, str, str | None]:
    """Whether one ``affected[]`` entry covers ``version``: (affected, the range text,
    the first fixed version above it). SEMVER and ECOSYSTEM ranges are evaluated as the
    OSV schema says (events sorted, introduced opens, fixed/last_affected closes); an
    explicit ``versions`` list counts too. Raises ValueError on versions it cannot order."""
    parse = _parse_version(ecosystem)
    v = parse(version)
    key = _event_key(ecosystem)
    texts = []
    for r in affected.get("ranges", []):
        if r.get("type") not in ("SEMVER", "ECOSYSTEM"):
            continue  # GIT ranges name commits, not releases
        events = sorted(_events(r), key=key)
        texts.append(range_text(events))
        vulnerable = False
        for kind, value in events:
            if kind == "introduced" and (value == "0" or v >= parse(value)):
                vulnerable = True
            elif (kind == "fixed" and v >= parse(value)) or (
                kind == "last_affected" and v > parse(value)
            ):
                vulnerable = False
        if vulnerable:
            fixes = [parse(val) for kind, val in events if kind == "fixed" and parse(val) > v]
            return True, range_text(events), str(min(fixes)) if fixes else None
    if version in [str(x) for x in affected.get("versions", [])]:
        return True, " || ".join(texts) or f"={version}", None
    return False, " || ".join(texts), None


def _osv_severity(record: dict[str, Any]) -> tuple[str | None, float | None, str | None]:
    vector = None
    for s in record.get("severity", []):
        if str(s.get("type", "")).startswith("CVSS_V3") or (
            vector is None and str(s.get("type", "")).startswith("CVSS_V4")
        ):
            vector = str(s.get("score"))
    score = cvss3_score(vector) if vector and vector.startswith("CVSS:3") else None
    db = record.get("database_specific") or {}
    label = str(db.get("severity", "")).lower() or None
    if label == "medium":
        label = "moderate"
    if label not in SEVERITIES:
        label = _from_score(score)
    return label, score, vector


def _from_score(score: float | None) -> str | None:
    if score is None or score == 0:
        return None
    return (
        "critical" if score >= 9 else "high" if score >= 7 else "moderate" if score >= 4 else "low"
    )


def advisory_from_osv(record: dict[str, Any], ecosystem: str, name: str, version: str) -> Advisory:
    """The advisory ``record`` (an OSV vulnerability) as it applies to name@version."""
    rng, fixed = "", None
    for a in record.get("affected", []):
        pkg = a.get("package") or {}
        if pkg.get("ecosystem") != ecosystem or _norm(ecosystem, pkg.get("name", "")) != name:
            continue
        try:
            hit, text, fix = osv_match(a, ecosystem, version)
        except ValueError:
            continue
        rng = rng or text
        if hit:
            rng, fixed = text, fix
            break
    severity, score, vector = _osv_severity(record)
    rid = str(record["id"])
    aliases = tuple(str(x) for x in record.get("aliases", []) if x != rid)
    urls = [str(r.get("url", "")) for r in record.get("references", [])]
    # The advisory's own page (github.com/advisories/GHSA-...) over a CVE's NVD entry.
    url = next((u for u in urls if rid in u), f"https://osv.dev/vulnerability/{rid}")
    db = record.get("database_specific") or {}
    return Advisory(
        rid,
        aliases,
        str(record.get("summary") or record.get("details", "")[:120]),
        severity,
        score,
        vector,
        rng,
        fixed,
        url,
        tuple(str(c) for c in db.get("cwe_ids", [])),
    )


def _norm(ecosystem: str, name: str) -> str:
    return normalize(name) if ecosystem == PYPI else name


def merge_aliases(advisories: Iterable[Advisory]) -> list[Advisory]:
    """One advisory per flaw: OSV lists a PyPI flaw as GHSA-... and PYSEC-..., each
    naming the other. The GHSA record is kept, the others' ids join its aliases."""
    out: list[Advisory] = []
    for adv in sorted(advisories, key=lambda a: (not a.id.startswith("GHSA-"), a.id)):
        same = next((o for o in out if o.names() & adv.names()), None)
        if same is None:
            out.append(adv)
            continue
        extra = tuple(sorted(adv.names() - same.names()))
        if extra:
            merged = Advisory(**{**same.__dict__, "aliases": same.aliases + extra})
            out[out.index(same)] = merged
    return out


# --- CVSS -----------------------------------------------------------------------------------

_CVSS3 = {
    "AV": {"N": 0.85, "A": 0.62, "L": 0.55, "P": 0.2},
    "AC": {"L": 0.77, "H": 0.44},
    "UI": {"N": 0.85, "R": 0.62},
    "C": {"H": 0.56, "L": 0.22, "N": 0.0},
    "I": {"H": 0.56, "L": 0.22, "N": 0.0},
    "A": {"H": 0.56, "L": 0.22, "N": 0.0},
}


def cvss3_score(vector: str) -> float | None:
    """The CVSS 3.x base score of ``vector`` (the specification's formula), or None."""
    try:
        m = dict(p.split(":", 1) for p in vector.split("/")[1:])
        changed = m["S"] == "C"
        pr = {"N": 0.85, "L": 0.68 if changed else 0.62, "H": 0.5 if changed else 0.27}[m["PR"]]
        av, ac, ui = _CVSS3["AV"][m["AV"]], _CVSS3["AC"][m["AC"]], _CVSS3["UI"][m["UI"]]
        c, i, a = (_CVSS3[k][m[k]] for k in ("C", "I", "A"))
    except (KeyError, ValueError):
        return None
    iss = 1 - (1 - c) * (1 - i) * (1 - a)
    impact = 7.52 * (iss - 0.029) - 3.25 * (iss - 0.02) ** 15 if changed else 6.42 * iss
    exploitability = 8.22 * av * ac * pr * ui
    if impact <= 0:
        return 0.0
    total = min((1.08 if changed else 1) * (impact + exploitability), 10)
    scaled = round(total * 100000)  # CVSS 3.1's Roundup, free of float artefacts
    return scaled / 100000 if scaled % 10000 == 0 else (math.floor(scaled / 10000) + 1) / 10


# --- the sources ------------------------------------------------------------------------------


def osv_audit(client: Client, base_url: str, keys: Sequence[Key]) -> AuditResult:
    """Ask OSV's API about ``keys``: querybatch for ids, then each record in full."""
    base = base_url.rstrip("/")
    result = AuditResult(f"OSV ({base})")
    ids: dict[Key, list[str]] = {}
    for start in range(0, len(keys), OSV_BATCH):
        chunk = list(keys[start : start + OSV_BATCH])
        try:
            for key, vuln_ids in _querybatch(client, base, chunk):
                ids[key] = vuln_ids
        except SourceError as exc:
            for key in chunk:
                result.unaudited[key] = str(exc)
    records: dict[str, dict[str, Any] | str] = {}
    for key, vuln_ids in ids.items():
        advisories = []
        for vid in vuln_ids:
            if vid not in records:
                records[vid] = _vuln(client, base, vid)
            record = records[vid]
            if isinstance(record, str):
                result.unaudited[key] = record
                break
            if record.get("withdrawn"):
                continue
            advisories.append(advisory_from_osv(record, *key))
        else:
            result.found[key] = merge_aliases(advisories)
    return result


def _querybatch(client: Client, base: str, keys: list[Key]) -> Iterator[tuple[Key, list[str]]]:
    url = f"{base}/v1/querybatch"
    pending: list[tuple[Key, str | None, list[str]]] = [(k, None, []) for k in keys]
    for _ in range(OSV_MAX_PAGES):
        queries = []
        for (eco, name, version), token, _found in pending:
            q: dict[str, Any] = {"package": {"name": name, "ecosystem": eco}, "version": version}
            if token:
                q["page_token"] = token
            queries.append(q)
        answer = client.request("POST", url, {"queries": queries})
        results = answer.get("results") if isinstance(answer, dict) else None
        if not isinstance(results, list) or len(results) != len(queries):
            got = len(results) if isinstance(results, list) else "no"
            raise SourceError(
                f"malformed answer from POST {url}: {got} results for {len(queries)} queries"
            )
        more: list[tuple[Key, str | None, list[str]]] = []
        for (key, _token, found), res in zip(pending, results, strict=True):
            if not isinstance(res, dict) or not isinstance(res.get("vulns", []), list):
                raise SourceError(f"malformed answer from POST {url}: a result is {res!r:.80}")
            found = found + [str(v["id"]) for v in res.get("vulns", []) if "id" in v]
            if res.get("next_page_token"):
                more.append((key, str(res["next_page_token"]), found))
            else:
                yield key, found
        if not more:
            return
        pending = more
    raise SourceError(f"POST {url} was still paging after {OSV_MAX_PAGES} pages")


def _vuln(client: Client, base: str, vid: str) -> dict[str, Any] | str:
    """The full record of ``vid``, or why it could not be had."""
    url = f"{base}/v1/vulns/{vid}"
    try:
        record = client.request("GET", url)
    except SourceError as exc:
        return f"{exc} (reading {vid})"
    if not isinstance(record, dict) or record.get("id") != vid:
        return f"malformed answer from GET {url}: not the record of {vid}"
    return record


def npm_audit(client: Client, base_url: str, keys: Sequence[Key]) -> AuditResult:
    """Ask the npm registry's bulk advisory endpoint about the npm packages in ``keys``.

    By its protocol the answer omits names with no advisory, so a well-formed ``{}`` is a
    clean answer; anything that is not an object of lists is malformed. Each advisory's
    ``vulnerable_versions`` is matched here against each version asked for."""
    base = base_url.rstrip("/")
    url = f"{base}/-/npm/v1/security/advisories/bulk"
    result = AuditResult(f"npm ({base})")
    npm_keys = [k for k in keys if k[0] == NPM]
    for k in keys:
        if k[0] != NPM:
            result.unaudited[k] = f"the npm advisory source covers npm packages only, not {k[0]}"
    if not npm_keys:
        return result
    body: dict[str, list[str]] = {}
    for _eco, name, version in npm_keys:
        body.setdefault(name, []).append(version)
    try:
        answer = client.request("POST", url, body)
        if not isinstance(answer, dict) or not all(isinstance(v, list) for v in answer.values()):
            raise SourceError(f"malformed answer from POST {url}: not an object of lists")
        for key in npm_keys:
            found = []
            for raw in answer.get(key[1], []):
                adv = advisory_from_npm(raw, key[2])
                if adv is not None:
                    found.append(adv)
            result.found[key] = found
    except (SourceError, KeyError, TypeError, semver.SemverError) as exc:
        reason = (
            str(exc)
            if isinstance(exc, SourceError)
            else f"malformed answer from POST {url}: {exc!r}"
        )
        for key in npm_keys:
            result.found.pop(key, None)
            result.unaudited[key] = reason
    return result


def advisory_from_npm(raw: dict[str, Any], version: str) -> Advisory | None:
    """One bulk-endpoint advisory as it applies to ``version``; None when its
    ``vulnerable_versions`` do not cover it."""
    vulnerable = semver.Range.parse(str(raw["vulnerable_versions"]))
    v = semver.Version.parse(version)
    if v not in vulnerable:
        return None
    fixed = None
    for comparators in vulnerable.sets:
        if all(c.test(v) for c in comparators):
            uppers = [c.version for c in comparators if c.op == "<"]
            fixed = str(min(uppers)) if uppers else None
            break
    url = str(raw.get("url", ""))
    ghsa = raw.get("github_advisory_id") or (re.search(r"GHSA(-[0-9a-z]{4}){3}", url) or [None])[0]
    cvss = raw.get("cvss") or {}
    score = cvss.get("score")
    severity = str(raw.get("severity", "")).lower() or None
    return Advisory(
        str(ghsa or f"npm-{raw['id']}"),
        (f"npm-{raw['id']}",) if ghsa else (),
        str(raw.get("title", "")),
        severity if severity in SEVERITIES else _from_score(score),
        float(score) if isinstance(score, int | float) and score else None,
        cvss.get("vectorString") or None,
        str(raw["vulnerable_versions"]),
        fixed,
        url,
        tuple(str(c) for c in raw.get("cwe") or []),
    )


class Export:
    """OSV's export, read once: ``<dir>/<Ecosystem>/all.zip``, a directory of ``*.json``
    records, or one ``all.zip``. Records are indexed by (ecosystem, package name)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.index: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self.ecosystems: set[str] = set()
        if not path.exists():
            raise SourceError(f"the OSV export {path} does not exist")
        try:
            for record in self._records():
                self._add(record)
        except (OSError, zipfile.BadZipFile, ValueError) as exc:
            raise SourceError(f"cannot read the OSV export {path}: {exc}") from None

    def _records(self) -> Iterator[Any]:
        if self.path.is_file():
            yield from _zip_records(self.path)
            return
        for p in sorted(self.path.rglob("*")):
            if p.suffix == ".zip":
                yield from _zip_records(p)
            elif p.suffix == ".json":
                yield json.loads(p.read_text(encoding="utf-8"))

    def _add(self, record: Any) -> None:
        if not isinstance(record, dict) or "id" not in record or record.get("withdrawn"):
            return
        for a in record.get("affected", []):
            pkg = a.get("package") or {}
            eco = str(pkg.get("ecosystem", "")).split(":")[0]
            if eco in (NPM, PYPI):
                self.ecosystems.add(eco)
                self.index.setdefault((eco, _norm(eco, pkg.get("name", ""))), []).append(record)

    def audit(self, keys: Sequence[Key]) -> AuditResult:
        result = AuditResult(f"OSV export ({self.path})")
        for key in keys:
            eco, name, version = key
            if eco not in self.ecosystems:
                result.unaudited[key] = f"the OSV export {self.path} has no {eco} records"
                continue
            found = []
            try:
                for record in self.index.get((eco, name), []):
                    if _affects(record, eco, name, version):
                        found.append(advisory_from_osv(record, eco, name, version))
            except ValueError as exc:
                result.unaudited[key] = f"cannot compare version {version!r}: {exc}"
                continue
            result.found[key] = merge_aliases({a.id: a for a in found}.values())
        return result


def _affects(record: dict[str, Any], eco: str, name: str, version: str) -> bool:
    for a in record.get("affected", []):
        pkg = a.get("package") or {}
        same = pkg.get("ecosystem") == eco and _norm(eco, pkg.get("name", "")) == name
        if same and osv_match(a, eco, version)[0]:
            return True
    return False


def _zip_records(path: Path) -> Iterator[Any]:
    with zipfile.ZipFile(path) as z:
        for info in z.infolist():
            if info.filename.endswith(".json"):
                yield json.loads(z.read(info))


# --- the target -----------------------------------------------------------------------------


class Advisories:
    """The ``advisories`` target: the configured source, ready to audit packages.

    Its HTTP requests are queries (POSTs that change nothing), so check mode allows them.
    """

    def __init__(
        self,
        source: str = "osv",
        *,
        osv_url: str = OSV_URL,
        npm_url: str = NPM_URL,
        osv_export: Path | None = None,
        timeout: float = 30,
        ca_file: Path | None = None,
    ) -> None:
        self.source = source
        self.osv_url = osv_url
        self.npm_url = npm_url
        self.osv_export = osv_export
        self._timeout = timeout
        self._ca_file = ca_file
        self._client: Client | None = None
        self._export: Export | None = None

    @property
    def where(self) -> str:
        if self.source == "npm":
            return self.npm_url
        if self.source == "osv-export":
            return str(self.osv_export)
        return self.osv_url

    def audit(self, keys: Sequence[Key]) -> AuditResult:
        """Advisories for each of ``keys``; packages the source could not answer for are
        in ``unaudited`` with the reason. Never raises for a source's failure."""
        keys = list(dict.fromkeys(keys))
        if self.source == "osv-export":
            if self.osv_export is None:
                return _all_unaudited(keys, "osv-export", "[security] osv_export is not set")
            try:
                if self._export is None:
                    self._export = Export(self.osv_export)
            except SourceError as exc:
                return _all_unaudited(keys, f"OSV export ({self.osv_export})", str(exc))
            return self._export.audit(keys)
        if self._client is None:
            try:
                self._client = Client(timeout=self._timeout, ca_file=self._ca_file)
            except SourceError as exc:
                return _all_unaudited(keys, self.where, str(exc))
        if self.source == "npm":
            return npm_audit(self._client, self.npm_url, keys)
        return osv_audit(self._client, self.osv_url, keys)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()


def _all_unaudited(keys: Iterable[Key], source: str, reason: str) -> AuditResult:
    return AuditResult(source, unaudited={k: reason for k in keys})
