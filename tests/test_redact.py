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


def test_one_url_redactor_serves_history_targets_and_tool_messages() -> None:
    from rota.redact import redact_url

    assert redact_url("postgresql://u:p@ss@h/db") == "postgresql://u:***@h/db"
    assert redact_url("postgresql://h/db?user=u&password=x&sslmode=require") == (
        "postgresql://h/db?user=u&password=***&sslmode=require"
    )
    assert redact("pg_restore: error: connection to host=h password=s3cr3t failed") == (
        "pg_restore: error: connection to host=h password=*** failed"
    )
