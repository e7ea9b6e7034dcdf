import pytest

from rota.logscan.accuracy import correct_lines, group_accuracy, group_counts

TRUTH = ["A", "A", "A", "B", "B", "C"]


def test_it_scores_a_perfect_grouping_as_one():
    assert group_accuracy(TRUTH, TRUTH) == 1.0


def test_it_ignores_how_groups_are_named():
    assert group_accuracy([7, 7, 7, "x", "x", None], TRUTH) == 1.0


def test_it_counts_every_line_of_a_split_group_as_wrong():
    predicted = ["a1", "a1", "a2", "b", "b", "c"]
    assert correct_lines(predicted, TRUTH) == [False, False, False, True, True, True]
    assert group_accuracy(predicted, TRUTH) == pytest.approx(3 / 6)


def test_it_counts_every_line_of_two_merged_groups_as_wrong():
    predicted = ["a", "a", "a", "bc", "bc", "bc"]
    assert group_accuracy(predicted, TRUTH) == pytest.approx(3 / 6)


def test_it_scores_one_big_group_as_zero_when_there_are_several_events():
    assert group_accuracy(["g"] * 6, TRUTH) == 0.0


def test_it_counts_groups_on_both_sides():
    assert group_counts(["a", "a", "b", "c", "d", "d"], TRUTH) == (4, 3)


def test_it_scores_no_lines_as_perfect():
    assert group_accuracy([], []) == 1.0


def test_it_rejects_sequences_of_different_lengths():
    with pytest.raises(ValueError, match="2 predicted groups for 3"):
        group_accuracy(["a", "b"], ["a", "b", "c"])
