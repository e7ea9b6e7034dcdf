from rota.logscan.results import Group, Results


def test_it_merges_groups_with_first_and_last_seen_and_a_sample():
    a, b = Results(), Results()
    ga = a.groups["g"] = Group("g", "t", "api", "error", sample="line a")
    ga.add(200.0)
    gb = b.groups["g"] = Group("g", "t", "api", "error", sample="line b")
    gb.add(100.0)
    gb.add(300.0)
    a.errors, b.errors = 1, 2
    a.merge(b)
    g = a.groups["g"]
    assert (g.count, g.first, g.last, g.sample) == (3, 100.0, 300.0, "line a")
    assert a.errors_since(150.0) == 2
    assert a.top_groups(1)[0].to_dict(a.errors)["share"] == 1.0
