"""Advisory sources against a local server speaking OSV's and npm's protocols, and the
range matching they rely on."""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from advisories_server import (
    RECORDS,
    AdvisoryServer,
    advisory_server,
    closed_port,
    osv_export,
)
from rota.security.advisories import (
    Advisories,
    Advisory,
    cvss3_score,
    merge_aliases,
    osv_match,
)
from rota.security.semver import Range, SemverError, Version, is_new_major, satisfies

EXPRESS = ("npm", "express", "4.17.1")
BODY_PARSER = ("npm", "body-parser", "1.19.0")
REQUESTS = ("PyPI", "requests", "2.31.0")
JINJA2 = ("PyPI", "jinja2", "3.1.2")
CLEAN_NPM = ("npm", "ms", "2.1.3")


@pytest.fixture
def server() -> Iterator[AdvisoryServer]:
    with advisory_server() as s:
        yield s


# --- semver -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("version", "range_", "expected"),
    [
        ("4.17.1", "<4.19.2", True),
        ("4.19.2", "<4.19.2", False),
        ("4.0.13", "<=4.0.13 || >=4.1.0 <4.1.2", True),
        ("4.1.1", "<=4.0.13 || >=4.1.0 <4.1.2", True),
        ("4.1.2", "<=4.0.13 || >=4.1.0 <4.1.2", False),
        ("1.2.9", "^1.2.3", True),
        ("2.0.0", "^1.2.3", False),
        ("0.1.9", "^0.1.7", True),
        ("0.2.0", "^0.1.7", False),
        ("0.0.4", "^0.0.3", False),
        ("1.2.9", "~1.2.3", True),
        ("1.3.0", "~1.2.3", False),
        ("1.9.0", "1.x", True),
        ("2.0.0", "1.x", False),
        ("1.2.7", "1.2.*", True),
        ("3.0.0", "*", True),
        ("2.5.0", "1.0.0 - 2.9", True),
        ("3.0.0", "1.0.0 - 2.9", False),
        ("1.0.0", ">= 1.0.0 < 2", True),
        ("5.0.0-beta.2", "<4.19.2", False),  # pre-releases only match a same-tuple comparator
        ("5.0.0-beta.2", ">=5.0.0-alpha.1 <5.0.0-beta.3", True),
    ],
)
def test_it_matches_npm_semver_ranges(version: str, range_: str, expected: bool) -> None:
    assert satisfies(version, range_) is expected


def test_it_orders_pre_releases_before_their_release() -> None:
    assert Version.parse("1.0.0-alpha") < Version.parse("1.0.0-alpha.1") < Version.parse("1.0.0")
    assert Version.parse("1.0.0-2") < Version.parse("1.0.0-beta")


def test_it_rejects_what_is_not_semver() -> None:
    with pytest.raises(SemverError):
        Version.parse("latest")
    with pytest.raises(SemverError):
        Range.parse(">=banana")


def test_it_calls_a_fix_outside_the_caret_range_a_new_major() -> None:
    assert not is_new_major("4.17.1", "4.19.2")
    assert not is_new_major("0.1.7", "0.1.10")
    assert is_new_major("0.1.7", "0.2.0")
    assert is_new_major("4.17.1", "5.0.0")


# --- OSV records ------------------------------------------------------------------------------


def test_it_evaluates_osv_ecosystem_ranges_and_finds_the_fix() -> None:
    affected = RECORDS["GHSA-9wv6-86v2-598j"]["affected"][0]
    assert osv_match(affected, "npm", "0.1.7") == (True, "<0.1.10", "0.1.10")
    assert osv_match(affected, "npm", "1.8.0") == (True, ">=0.2.0 <1.9.0", "1.9.0")
    assert osv_match(affected, "npm", "6.3.0")[0] is False
    assert osv_match(affected, "npm", "8.0.0")[0] is False


def test_it_evaluates_semver_last_affected_and_explicit_versions() -> None:
    affected = {
        "package": {"ecosystem": "npm", "name": "x"},
        "ranges": [
            {"type": "SEMVER", "events": [{"introduced": "1.0.0"}, {"last_affected": "1.4.0"}]}
        ],
        "versions": ["0.9.0"],
    }
    assert osv_match(affected, "npm", "1.4.0") == (True, ">=1.0.0 <=1.4.0", None)
    assert osv_match(affected, "npm", "1.4.1")[0] is False
    assert osv_match(affected, "npm", "0.9.0")[0] is True


def test_it_compares_pypi_versions_with_packaging() -> None:
    affected = RECORDS["GHSA-9wx4-h78v-vm56"]["affected"][0]
    assert osv_match(affected, "PyPI", "2.31.0")[0] is True
    assert osv_match(affected, "PyPI", "2.32.0rc1")[0] is True  # PEP 440: before 2.32.0
    assert osv_match(affected, "PyPI", "2.32.0")[0] is False


def test_it_scores_cvss_3_vectors_like_the_specification() -> None:
    assert cvss3_score("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H") == 7.5
    assert cvss3_score("CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N") == 6.1
    assert cvss3_score("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H") == 9.8
    assert cvss3_score("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N") == 0.0
    assert cvss3_score("not a vector") is None


def test_it_merges_records_of_one_flaw_keeping_the_ghsa_id() -> None:
    def adv(id_: str, *aliases: str) -> Advisory:
        return Advisory(id_, aliases, "", None, None, None, "", None, "")

    merged = merge_aliases(
        [adv("PYSEC-0000-1", "CVE-2024-1"), adv("GHSA-aaaa-bbbb-cccc", "CVE-2024-1")]
    )
    assert [(a.id, a.aliases) for a in merged] == [
        ("GHSA-aaaa-bbbb-cccc", ("CVE-2024-1", "PYSEC-0000-1"))
    ]


# --- OSV's API --------------------------------------------------------------------------------


def test_it_audits_through_osv_querybatch_then_each_record(server: AdvisoryServer) -> None:
    result = Advisories("osv", osv_url=server.url).audit(
        [EXPRESS, BODY_PARSER, REQUESTS, CLEAN_NPM]
    )
    assert result.unaudited == {}
    assert sorted(a.id for a in result.found[EXPRESS]) == [
        "GHSA-qw6h-vgh9-j6wx",
        "GHSA-rv95-896h-c2vc",
    ]
    redirect = next(a for a in result.found[EXPRESS] if a.id == "GHSA-rv95-896h-c2vc")
    assert redirect.aliases == ("CVE-2024-29041",)
    assert (redirect.severity, redirect.cvss_score, redirect.fixed) == ("moderate", 6.1, "4.19.2")
    assert redirect.url == "https://github.com/advisories/GHSA-rv95-896h-c2vc"
    [requests] = result.found[REQUESTS]
    assert (requests.id, requests.fixed, requests.aliases) == (
        "GHSA-9wx4-h78v-vm56",
        "2.32.0",
        ("CVE-2024-35195",),
    )
    assert result.found[CLEAN_NPM] == []
    batch = next(body for method, path, body in server.requests if path == "/v1/querybatch")
    assert batch["queries"][0] == {
        "package": {"name": "express", "ecosystem": "npm"},
        "version": "4.17.1",
    }
    fetched = sorted(path for method, path, _ in server.requests if method == "GET")
    assert fetched == [
        f"/v1/vulns/{i}"
        for i in sorted(
            [
                "GHSA-qw6h-vgh9-j6wx",
                "GHSA-rv95-896h-c2vc",
                "GHSA-qwcr-r2fm-qrc7",
                "GHSA-9wx4-h78v-vm56",
            ]
        )
    ]


def test_an_empty_querybatch_answer_is_not_clean(server: AdvisoryServer) -> None:
    server.mode = "empty"
    result = Advisories("osv", osv_url=server.url).audit([EXPRESS, CLEAN_NPM])
    assert result.found == {}
    assert result.unaudited[CLEAN_NPM] == (
        f"malformed answer from POST {server.url}/v1/querybatch: 0 results for 2 queries"
    )


@pytest.mark.parametrize(
    ("mode", "reason"), [("500", "HTTP 500 from POST"), ("garbage", "malformed answer")]
)
def test_a_failing_source_leaves_every_package_unaudited(
    server: AdvisoryServer, mode: str, reason: str
) -> None:
    server.mode = mode
    for source in ("osv", "npm"):
        result = Advisories(source, osv_url=server.url, npm_url=server.url).audit([EXPRESS])
        assert result.found == {}
        assert result.unaudited[EXPRESS].startswith(reason)


def test_an_unreachable_source_says_it_could_not_reach_it() -> None:
    url = closed_port()
    result = Advisories("osv", osv_url=url, timeout=2).audit([EXPRESS])
    assert result.unaudited[EXPRESS].startswith(f"could not reach {url}: ")


# --- npm's bulk endpoint ----------------------------------------------------------------------


def test_it_audits_through_npms_bulk_endpoint(server: AdvisoryServer) -> None:
    result = Advisories("npm", npm_url=server.url).audit([EXPRESS, BODY_PARSER, CLEAN_NPM, JINJA2])
    [bulk] = [body for _, path, body in server.requests if path.endswith("/advisories/bulk")]
    assert bulk == {"express": ["4.17.1"], "body-parser": ["1.19.0"], "ms": ["2.1.3"]}
    ids = {a.id: a for a in result.found[EXPRESS]}
    assert set(ids) == {"GHSA-rv95-896h-c2vc", "GHSA-qw6h-vgh9-j6wx"}
    assert ids["GHSA-qw6h-vgh9-j6wx"].fixed == "4.20.0"
    assert ids["GHSA-qw6h-vgh9-j6wx"].severity == "low"
    [bp] = result.found[BODY_PARSER]
    assert (bp.severity, bp.cvss_score, bp.affected) == ("high", 7.5, "<1.20.3")
    assert result.found[CLEAN_NPM] == []
    assert "npm packages only" in result.unaudited[JINJA2]


def test_it_matches_each_version_it_asked_about(server: AdvisoryServer) -> None:
    patched = ("npm", "express", "4.21.2")
    result = Advisories("npm", npm_url=server.url).audit([EXPRESS, patched])
    assert len(result.found[EXPRESS]) == 2
    assert result.found[patched] == []


# --- OSV's export, offline -----------------------------------------------------------------


def test_it_audits_offline_from_an_osv_export(tmp_path: Path) -> None:
    export = osv_export(tmp_path / "osv")
    source = Advisories("osv-export", osv_export=export)
    result = source.audit([EXPRESS, BODY_PARSER, JINJA2, CLEAN_NPM, ("npm", "express", "4.21.2")])
    assert result.unaudited == {}
    assert {a.id for a in result.found[EXPRESS]} == {"GHSA-rv95-896h-c2vc", "GHSA-qw6h-vgh9-j6wx"}
    [jinja] = result.found[JINJA2]
    assert (jinja.id, jinja.fixed) == ("GHSA-h5c8-rqwp-cp95", "3.1.3")
    assert result.found[CLEAN_NPM] == []
    assert result.found[("npm", "express", "4.21.2")] == []


def test_an_export_without_an_ecosystem_audits_none_of_its_packages(tmp_path: Path) -> None:
    export = osv_export(tmp_path / "osv")
    result = Advisories("osv-export", osv_export=export / "npm" / "all.zip").audit(
        [EXPRESS, JINJA2]
    )
    assert len(result.found[EXPRESS]) == 2
    assert "has no PyPI records" in result.unaudited[JINJA2]


def test_a_broken_export_is_a_reason_not_a_crash(tmp_path: Path) -> None:
    bad = tmp_path / "all.zip"
    bad.write_bytes(b"not a zip")
    result = Advisories("osv-export", osv_export=bad).audit([EXPRESS])
    assert "cannot read the OSV export" in result.unaudited[EXPRESS]
    missing = Advisories("osv-export", osv_export=tmp_path / "nope").audit([EXPRESS])
    assert "does not exist" in missing.unaudited[EXPRESS]
    assert zipfile.is_zipfile(osv_export(tmp_path / "ok") / "PyPI" / "all.zip")
