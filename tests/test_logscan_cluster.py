"""Clustering of masked templates: untyped variables merged, distinct events kept apart."""

from __future__ import annotations

import random

from rota.logscan.cluster import cluster
from rota.logscan.grouping import LineGrouper
from rota.logscan.results import Group, Results


def test_it_merges_a_variable_that_has_no_type() -> None:
    templates = [f"session opened for user {u} by (uid=<NUM>)" for u in ("root", "news", "cyrus")]
    index, merged = cluster(templates, [5, 3, 1])
    assert index == [0, 0, 0]
    assert merged == ["session opened for user <*> by (uid=<NUM>)"]


def test_it_keeps_events_that_differ_in_their_first_word_apart() -> None:
    index, merged = cluster(["boot (command <NUM>)", "halt (command <NUM>)"])
    assert index == [0, 1] and len(merged) == 2


def test_it_keeps_templates_of_other_lengths_apart() -> None:
    index, _ = cluster(["Connection closed", "Connection closed by peer <IP>"])
    assert index[0] != index[1]


def test_the_clusters_do_not_depend_on_the_order_templates_came_in() -> None:
    templates = [f"job {name} finished in <DURATION>" for name in ("backup", "vacuum", "reindex")]
    templates += ["worker <NUM> started", "worker <NUM> stopped", "disk <PATH> full"]
    counts = [3, 2, 1, 9, 9, 4]
    expected = cluster(templates, counts)
    rng = random.Random(7)
    for _ in range(5):
        order = list(range(len(templates)))
        rng.shuffle(order)
        index, merged = cluster([templates[i] for i in order], [counts[i] for i in order])
        assert sorted(merged) == sorted(expected[1])
        for new, old in enumerate(order):
            assert merged[index[new]] == expected[1][expected[0][old]]


def test_it_groups_lines_once_their_clusters_are_known() -> None:
    grouper = LineGrouper()
    lines = [
        "Dec 10 06:55:46 LabSZ sshd[24200]: Invalid user webmaster from 173.234.31.186",
        "Dec 10 06:55:48 LabSZ sshd[24201]: Invalid user test from 173.234.31.187",
        "Dec 10 06:55:50 LabSZ sshd[24202]: Invalid user oracle from 173.234.31.188",
        "Dec 10 06:55:52 LabSZ sshd[24203]: Connection closed by 173.234.31.188 [preauth]",
    ]
    for line in lines:
        grouper.add(line)
    groups = list(grouper.groups())
    assert groups[0][0] == groups[1][0] == groups[2][0] != groups[3][0]
    assert groups[0][1] == "Invalid user <*> from <IP>"


def test_results_report_error_events_and_remember_their_templates() -> None:
    res = Results()
    for i, user in enumerate(("alice", "bob", "carol")):
        g = res.groups[f"g{i}"] = Group(f"g{i}", f"[auth] login failed for {user}", "auth", "error")
        g.add(1_800_000_000.0 + i)
    events = res.events()
    assert len(events) == 1
    (event,) = events.values()
    assert event.template == "[auth] login failed for <*>" and event.count == 3
    assert sorted(event.members) == ["g0", "g1", "g2"]
    assert res.top_groups(5)[0].id == event.id
