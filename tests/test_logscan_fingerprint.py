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
