import random

import pytest

from rota.logscan.stats import Latency, nearest_rank


def test_it_gives_exact_nearest_rank_percentiles_matching_the_reference():
    r = random.Random(7)
    values = [round(r.lognormvariate(3, 1), 1) for _ in range(5001)]
    lat = Latency()
    for v in values:
        lat.add(v, 200)
    got = lat.percentiles()
    for p in (50, 90, 95, 99):
        assert got[f"p{p}"] == nearest_rank(values, p)
    assert got["max"] == max(values)


def test_it_merges_partial_results_into_the_same_answer():
    a, b, whole = Latency(), Latency(), Latency()
    for i, v in enumerate([5.0, 1.0, 3.0, 3.0, 9.0, 2.0]):
        (a if i % 2 else b).add(v, 503 if v == 9.0 else 200)
        whole.add(v, 503 if v == 9.0 else 200)
    a.merge(b)
    assert a.percentiles() == whole.percentiles()
    assert a.summary()["errors_5xx"] == 1 and a.requests == 6


def test_the_reference_rejects_no_values():
    with pytest.raises(ValueError):
        nearest_rank([], 50)
