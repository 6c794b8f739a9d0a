"""emotion_cam.emotion.votes and training.targets: FER+ vote counts into plurality labels and training targets,
on small CSVs made here (so they run without ../shared)."""
from __future__ import annotations

import numpy as np
import pytest

from emotion_cam.emotion.dataset import Split
from emotion_cam.emotion.labels import EMOTIONS
from conftest import VOTES_HEADER as HEADER
from emotion_cam.emotion.votes import VotesError, load_votes, plurality, readable, shares

ROWS = {  # name: (FER-2013 label, FER+ counts in FER+'s column order)
    "calm.jpg": ("sad", [7, 0, 0, 2, 0, 0, 1, 0, 0, 0]),
    "happy.jpg": ("happy", [0, 10, 0, 0, 0, 0, 0, 0, 0, 0]),
    "tie.jpg": ("angry", [4, 0, 0, 0, 4, 0, 0, 2, 0, 0]),
    "contempt.jpg": ("disgust", [3, 0, 0, 0, 0, 1, 0, 6, 0, 0]),
    "unreadable.jpg": ("fear", [1, 0, 0, 0, 0, 0, 2, 0, 7, 0]),
    "outlier.jpg": ("surprise", [0, 1, 8, 0, 0, 0, 1, 0, 0, 0]),
}


@pytest.fixture
def votes_csv(tmp_path):
    path = tmp_path / "votes_train.csv"
    path.write_text(HEADER + "".join(f"{n},{lab},x.png,0.99,0.5,{','.join(map(str, c))}\n" for n, (lab, c) in ROWS.items()))
    return path


def one_hot(name: str) -> int:
    return EMOTIONS.index(name)


def test_the_plurality_is_one_emotion_ahead_of_every_other_answer(votes_csv):
    votes = load_votes(votes_csv)
    counts, found = votes.lookup(["calm.jpg", "tie.jpg", "contempt.jpg", "unreadable.jpg", "happy.jpg", "nobody.jpg"])
    assert found.tolist() == [True] * 5 + [False]
    # neutral; a tie has none; contempt and unknown are answers too (and not ours); no votes, none
    assert plurality(counts).tolist() == [one_hot("neutral"), -1, -1, -1, one_hot("happy"), -1]


def test_shares_leave_out_contempt_and_can_drop_single_votes(votes_csv):
    counts, _ = load_votes(votes_csv).lookup(["contempt.jpg", "outlier.jpg"])
    q = shares(counts)
    assert q[0, one_hot("neutral")] == pytest.approx(0.75) and q[0, one_hot("disgust")] == pytest.approx(0.25)
    assert q[1, one_hot("surprise")] == pytest.approx(0.8)
    q2 = shares(counts, min_votes=2)  # FER+'s outlier removal: an emotion only one person chose is dropped
    assert q2[0, one_hot("neutral")] == 1.0 and q2[1, one_hot("surprise")] == 1.0
    assert np.allclose(q.sum(1), 1) and np.allclose(q2.sum(1), 1)


def test_faces_people_could_not_read_are_not_readable(votes_csv):
    counts, _ = load_votes(votes_csv).lookup(["unreadable.jpg", "calm.jpg"])
    assert readable(counts).tolist() == [False, True]


def test_a_file_that_is_not_a_votes_csv_is_one_clear_error(tmp_path):
    bad = tmp_path / "votes.csv"
    bad.write_text("a,b\n1,2\n")
    with pytest.raises(VotesError, match="not a FER\\+ votes file"):
        load_votes(bad)
    with pytest.raises(VotesError, match="votes.csv"):
        load_votes(tmp_path / "missing" / "votes.csv")


def test_vote_targets_drop_unreadable_faces_and_weigh_faces_without_votes(votes_csv):
    from training.targets import vote_targets

    names = [*ROWS, "nobody.jpg"]
    labels = [one_hot(lab) for lab, _ in ROWS.values()] + [one_hot("fear")]
    split = Split(np.zeros((len(names), 48, 48), np.uint8), np.array(labels), "test", names=tuple(names))
    t = vote_targets(split, votes_csv, missing_votes_weight=0.5)
    assert "unreadable.jpg" not in t.split.names and "nobody.jpg" in t.split.names
    calm = t.split.names.index("calm.jpg")
    assert t.probs[calm, one_hot("neutral")] == pytest.approx(0.7) and t.split.y[calm] == one_hot("neutral")
    nobody = t.split.names.index("nobody.jpg")
    assert t.probs[nobody].tolist() == np.eye(7)[one_hot("fear")].tolist() and t.weights[nobody] == 0.5
    assert t.summary["dropped_unreadable"] == 1 and t.summary["without_votes_kept"] == 1
    assert "nobody.jpg" not in vote_targets(split, votes_csv, missing_votes_weight=0.0).split.names
    mixed = vote_targets(split, votes_csv, fer_mix=0.2)  # a fifth of the FER-2013 label blended in
    assert mixed.probs[mixed.split.names.index("calm.jpg"), one_hot("sad")] == pytest.approx(0.8 * 0.2 + 0.2)
