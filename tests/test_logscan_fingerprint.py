from rota.logscan.fingerprint import fingerprint, group_id, mask


def test_it_masks_variable_parts_by_type():
    assert mask("connection to 10.0.1.5:5432 timed out after 1234ms (user=bob@example.com)") == (
        "connection to <IP> timed out after <DURATION> (user=<EMAIL>)"
    )
    assert mask("fetch 3f2a1b4c-1111-4aaa-8bbb-123456789abc from https://x.example/a?b=1") == (
        "fetch <UUID> from <URL>"
    )
    assert mask("open /var/lib/app/data.db failed") == "open <PATH> failed"
    assert mask('relation "messages" is locked') == "relation <STR> is locked"


def test_it_groups_lines_of_other_systems_the_same_way():
    # HDFS (LogHub): positive and negative block ids are the same parameter.
    a = fingerprint("Receiving block blk_-1608999687919862906 src: /10.250.19.102:54106")
    b = fingerprint("Receiving block blk_38865049064139660 src: /10.250.19.103:40524")
    assert a == b
    # OpenSSH: key=value parameters and ports.
    c = fingerprint("Failed password for root from 1.2.3.4 port 22 ssh2")
    d = fingerprint("Failed password for root from 5.6.7.8 port 50122 ssh2")
    assert c == d
    assert fingerprint("can't open user's file")[1] == "can't open user's file"


def test_it_gives_a_stable_id_of_the_template():
    gid, template = fingerprint("job 12 failed")
    assert template == "job <NUM> failed"
    assert gid == group_id("job <NUM> failed") and len(gid) == 12
    assert fingerprint("job 99 failed")[0] == gid
    assert fingerprint("job 12 done")[0] != gid


def test_the_digit_blind_cache_gives_each_message_its_own_exact_template():
    from rota.logscan.fingerprint import mask

    messages = [
        "timeout after 2665ms talking to 10.0.2.179:5432",
        "hex 0x1f and 1x9f and deadbeef99",
        "v2 of the api",
        "release ٣ of the api",  # a non-ASCII digit is a digit to the masks as well
        "ERROR 429 (attempt 3/5)",
    ]
    for m in messages:
        assert fingerprint(m)[1] == mask(m)
    assert fingerprint("retry 7 of 9")[1] == "retry <NUM> of <NUM>"


def test_the_position_guard_never_changes_what_the_masks_match():
    import random
    import re

    from rota.logscan import fingerprint as fp

    plain = re.compile(fp._ALTERNATION)  # the alternation without the guard
    rng = random.Random(5)
    pieces = [
        *"aAfFxXzZ09 \t\n.:/-_=@\"',;()[]{}<>+&%~\\é٣µ",
        "10.0.1.5",
        "::1",
        "0x1f",
        "deadbeef99",
        "ms",
        "http://",
        "a@b.io",
        "2026-11-28T10:00:01Z",
        "3f2a1b4c-1111-4aaa-8bbb-123456789abc",
        "abcdefghijklmnopqrstuvw",
    ]
    for _ in range(4000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(1, 30)))
        assert fp._MASK.sub(fp._sub, text) == plain.sub(fp._sub, text), text


def test_the_uniform_cache_key_never_changes_a_template():
    import random

    from rota.logscan import fingerprint as fp

    rng = random.Random(11)
    values = [
        "3f2a1b4c-1111-4aaa-8bbb-123456789abc",
        "6DBD0C18-E540-4010-B3A0-477351E36755",
        "dana256@corp.example.net",
        "a.b+c@x-y.io",
        "https://cdn.example.com/u/9e2c?x=1&y=2",
        "s3://bucket/key",
        "9e2c7c0b37e79824",
        "deadbeef",
        "0x1f",
        "abcdef",
        "evt_0mYuiayedHIpKJSjB4o8r1pb",
        "req_1abc847558d3737a446cb044",
        "Abcdefgh1",
        "g",
        "40s",
        "5 ms",
        "10.0.2.179:5432",
        "::1",
        "2026-11-28T10:00:01Z",
        "2026-11-28",
        "12:30:01",
        "/var/lib/x",
        "C:\\x\\y",
        "12345",
        "0",
        "ms",
        "min",
        "hours",
        "failed",
        "café",
        "٣",
        "ms@x.io",
        "h@a.b.c",
        "s://x",
        "http://a:80/b&c",
        "0xdeadbeef",
        "ABCDEF12",
        "1e5",
    ]
    seps = [" ", " ", "=", "(", ")", "[", "]", ",", ", ", ";", ":", ": ", ".", ". ", "@", "/"]
    seps += ["-", "_", "'", '"', "://", "T", "x", "&", "{", "}", "<", ">", "\t", "0x", "é"]
    seps += ["1", "5 ", "1,", "+", "%", "~", "\\", "|", "?", "#"]
    for _ in range(8000):
        parts = []
        for _ in range(rng.randint(1, 9)):
            parts.append(rng.choice(values) if rng.random() < 0.6 else rng.choice(seps))
        message = "".join(parts)
        assert fp.fingerprint(message)[1] == fp.mask(message), message
    assert fp._template_of.cache_info().hits > 500  # the shared key is what is being tested


def test_the_compiled_cache_key_is_the_python_one_byte_for_byte():
    import random

    import pytest

    from rota.logscan import fingerprint as fp

    if fp._compiled_uniform is None:
        pytest.skip("the compiled module was not built")
    rng = random.Random(3)
    pieces = [
        *"aAgGxX09 \t\x1c.:/-_=@\"',;()[]{}<>+&%~\\|?#",
        "3f2a1b4c-1111-4aaa-8bbb-123456789abc",
        "dana256@corp.example.net",
        "ms@x.io",
        "https://cdn.example.com/u/9e2c?x=1&y=2",
        "s3://b/k",
        "9e2c7c0b37e79824",
        "0x1f",
        "0X",
        "deadbeef",
        "evt_0mYuiayedHIpKJSjB4o8r1pb",
        "Abcdefgh1",
        "10.0.2.179:5432",
        "5 ms",
        "12,5",
    ]
    compared = 0
    for _ in range(20000):
        message = "".join(rng.choice(pieces) for _ in range(rng.randint(1, 12)))
        assert fp._compiled_uniform(message) == fp.uniform_py(message), message
        compared += 1
    assert fp._compiled_uniform("café 7") is None  # not ASCII: the Python path decides
    assert fp.uniform("café 7") == fp.uniform_py("café 7")
    assert compared == 20000
