from rota.redact import redact


def test_it_masks_configured_secrets_everywhere_in_nested_values() -> None:
    out = redact({"a": ["token=abcd1234xyz", ("abcd1234xyz",)], "n": 3}, ["abcd1234xyz"])
    assert out == {"a": ["token=***", ("***",)], "n": 3}


def test_it_masks_passwords_in_urls_and_well_known_api_keys() -> None:
    text = (
        "postgresql://app:hunter2@db:5432/x key sk-proj-"
        + "A" * 40
        + " SG."
        + "b" * 22
        + "."
        + "c" * 43
        + " Authorization: Bearer abcdefgh12345"
    )
    out = redact(text)
    assert (
        "hunter2" not in out
        and "AAAA" not in out
        and "bbbb" not in out
        and "abcdefgh12345" not in out
    )
    assert "postgresql://app:***@db:5432/x" in out
    assert "Bearer ***" in out
