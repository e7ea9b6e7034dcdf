import pytest

from rota.units import format_duration, format_size, parse_duration, parse_size


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("30s", 30),
        ("5m", 300),
        ("1h30m", 5400),
        ("2d", 172800),
        ("250ms", 0.25),
        ("12", 12),
        (7, 7),
    ],
)
def test_it_parses_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "5 parsecs", "m5", "-3s"])
def test_it_rejects_bad_durations(text: str) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


@pytest.mark.parametrize(
    ("text", "size"),
    [("100MB", 100 * 1024**2), ("1.5GiB", int(1.5 * 1024**3)), ("512k", 512 * 1024), ("42", 42)],
)
def test_it_parses_sizes(text: str, size: int) -> None:
    assert parse_size(text) == size


def test_it_formats_durations_and_sizes_for_people() -> None:
    assert format_duration(0.42) == "0.4s"
    assert format_duration(185) == "3m 05s"
    assert format_duration(90000) == "1d 1h"
    assert format_size(1536) == "1.5 KiB"
