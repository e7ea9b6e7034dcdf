"""The one pass of backup.verify's integrity tier over real gzip files on disk."""

from __future__ import annotations

import gzip
import hashlib
import os
from pathlib import Path

import pytest

from rota.tasks.backup import scan as sc


def _archive(size: int = 3 << 20) -> bytes:
    # A custom archive's magic, then data that compresses a little, like table data does.
    words = [os.urandom(6).hex().encode() for _ in range(512)]
    body = b" ".join(words[i % 512] for i in range(size // 13))
    return sc.CUSTOM_MAGIC + b"\x01\x0e\x00" + body


def test_the_seekable_copy_is_the_archive_byte_for_byte(tmp_path: Path) -> None:
    raw = _archive()
    path = tmp_path / "b.dump.gz"
    path.write_bytes(gzip.compress(raw, compresslevel=1))
    copy = tmp_path / "copy.dump"
    s = sc.scan(path, copy)
    assert s.format == "custom" and s.gzip and s.copied_to == copy
    assert copy.read_bytes() == raw
    assert s.content_bytes == len(raw)
    assert s.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


def test_concatenated_gzip_members_are_one_stream(tmp_path: Path) -> None:
    raw = _archive(2 << 20)
    path = tmp_path / "b.dump.gz"
    path.write_bytes(gzip.compress(raw[:700_000]) + gzip.compress(raw[700_000:]))
    s = sc.scan(path, tmp_path / "copy.dump")
    assert (tmp_path / "copy.dump").read_bytes() == raw and s.content_bytes == len(raw)


def test_a_truncated_gzip_is_corrupt_and_still_hashed_whole(tmp_path: Path) -> None:
    path = tmp_path / "b.dump.gz"
    path.write_bytes(gzip.compress(_archive())[:-5000])
    with pytest.raises(sc.ScanError, match="ends early") as err:
        sc.scan(path, tmp_path / "copy.dump")
    assert err.value.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


def test_corrupt_deflate_data_is_reported_as_such(tmp_path: Path) -> None:
    data = bytearray(gzip.compress(_archive()))
    data[len(data) // 2 : len(data) // 2 + 64] = bytes(64)
    path = tmp_path / "b.dump.gz"
    path.write_bytes(bytes(data))
    with pytest.raises(sc.ScanError, match="corrupt|ends early|CRC|check"):
        sc.scan(path, None)


def test_the_copy_gives_way_to_a_pipe_when_the_disk_runs_low(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    raw = _archive()
    path = tmp_path / "b.dump.gz"
    path.write_bytes(gzip.compress(raw, compresslevel=1))
    # A disk that never has enough left: free space is checked after the first megabyte.
    monkeypatch.setattr(sc, "_SPACE_EVERY", 1 << 20)
    monkeypatch.setattr(sc, "SPACE_RESERVE", 1 << 62)
    copy = tmp_path / "copy.dump"
    s = sc.scan(path, copy)
    assert s.copied_to is None and not copy.exists()
    assert "ran low on space" in s.copy_abandoned
    # The rest of the pass still happened: the whole stream was read and hashed.
    assert s.content_bytes == len(raw) and s.format == "custom"
    assert s.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
