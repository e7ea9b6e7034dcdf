import gzip

from rota.logscan.analyze import ParseSettings, analyze_file
from rota.logscan.reader import MAX_LINE, ReadReport, read_blocks


def test_it_survives_garbage_invalid_utf8_huge_lines_and_a_truncated_gzip(tmp_path):
    good = b"2026-11-28T10:00:00Z ERROR [db] boom 1\n"
    plain = tmp_path / "mixed.log"
    plain.write_bytes(
        good
        + b"\x00\x01\x02\xff binary\n"
        + b"\xff\xfe bad utf8\n"
        + b"x" * (10 << 20)
        + b"\n"
        + good
    )
    res, report, _ = analyze_file(plain, 0, False, 0, ParseSettings())
    assert res.errors == 2 and res.binary == 1 and res.oversized == 1 and res.invalid_utf8 == 2
    assert res.unparsed == 3 and report.end == plain.stat().st_size

    data = gzip.compress(good * 5000)
    gz = tmp_path / "cut.log.gz"
    gz.write_bytes(data[: len(data) // 2])
    res, report, _ = analyze_file(gz, 0, True, 0, ParseSettings())
    assert "truncated" in res.problems[0] and 0 < res.errors < 5000


def test_it_leaves_an_unfinished_last_line_of_a_live_file_for_the_next_read(tmp_path):
    f = tmp_path / "live.log"
    f.write_bytes(b"one\ntwo\nthr")
    report = ReadReport()
    lines = [ln for block in read_blocks(f, 0, False, report) for ln in block]
    assert lines == [b"one", b"two"] and report.end == 8 and MAX_LINE == 1 << 20
