"""The tracker alone, on arrays: matching, IDs, ageing, confirmation, optical-flow following and scene cuts.
No detector and no shared data: the tracker is handed detections."""
from __future__ import annotations

import numpy as np
import pytest

from emotion_cam.faces.detectors import Detections
from emotion_cam.faces.boxes import greedy_match, iou_matrix
from emotion_cam.tracking.tracker import SceneThumb, Tracker, move_boxes


def dets(*boxes, landmarks=None) -> Detections:
    b = np.array(boxes, np.float32).reshape(-1, 4)
    return Detections(b, np.full(len(b), 0.9, np.float32), landmarks)


def texture(shape=(240, 320), seed=0, cell=8) -> np.ndarray:
    """A smooth random texture with features about ``cell`` px apart: optical flow has something to follow."""
    import cv2

    rng = np.random.default_rng(seed)
    noise = rng.integers(0, 256, (shape[0] // cell, shape[1] // cell), dtype=np.uint8)
    return cv2.resize(noise, (shape[1], shape[0]), interpolation=cv2.INTER_CUBIC)


def test_iou_and_matching():
    a = np.array([[0, 0, 10, 10], [20, 20, 30, 30]], np.float32)
    b = np.array([[21, 21, 31, 31], [0, 0, 10, 10]], np.float32)
    iou = iou_matrix(a, b)
    assert iou[0, 1] == pytest.approx(1.0) and iou[0, 0] == 0
    assert sorted(greedy_match(iou, 0.3)) == [(0, 1), (1, 0)]


def test_matched_faces_keep_their_ids_and_new_faces_get_new_ones():
    tr = Tracker()
    tr.update(dets([0, 0, 50, 50]), 0.0)
    (first,) = tr.tracks
    tr.update(dets([5, 3, 55, 53], [200, 0, 250, 50]), 0.1)
    assert [t.track_id for t in tr.tracks] == [first.track_id, first.track_id + 1]
    assert tr.tracks[0].box.tolist() == [5, 3, 55, 53] and tr.tracks[0].last_confirmed == 0.1


def test_a_missed_track_ages_and_is_dropped():
    tr = Tracker(max_age_s=1.0)
    tr.update(dets([0, 0, 50, 50]), 0.0)
    missed = tr.update(dets(), 0.8)
    assert len(tr.tracks) == 1 and missed == tr.tracks  # kept, and handed back for a closer look
    assert tr.update(dets(), 1.5) == [] and tr.tracks == []


def test_a_closer_look_confirms_a_track_with_its_box_and_landmarks_or_drops_it():
    tr = Tracker()
    tr.update(dets([0, 0, 50, 50], [200, 0, 250, 50]), 0.0)
    points = np.arange(10, dtype=np.float32).reshape(1, 5, 2)
    assert tr.oldest_unconfirmed(0.3, older_than_s=0.4) == []
    found, gone = tr.tracks
    tr.settle([found, gone], [dets([2, 2, 52, 52], landmarks=points), dets()], 0.5)
    assert tr.tracks == [found] and found.box.tolist() == [2, 2, 52, 52] and found.last_confirmed == 0.5
    np.testing.assert_array_equal(found.landmarks, points[0])
    assert tr.oldest_unconfirmed(1.0, older_than_s=0.4) == [found]


def test_a_weak_detection_keeps_a_track_but_starts_none():
    tr = Tracker()
    tr.update(dets([0, 0, 50, 50]), 0.0)
    tr.update(dets([3, 0, 53, 50], [200, 0, 250, 50]), 0.1, new=np.array([False, False]))
    assert len(tr.tracks) == 1 and tr.tracks[0].box.tolist() == [3, 0, 53, 50]


@pytest.mark.parametrize("shape", [(240, 320), (720, 1600)])  # the wide frame is followed at half size
def test_following_moves_the_box_and_its_landmarks_with_the_image(shape):
    before = texture(shape)
    after = np.roll(before, (6, 9), axis=(0, 1))  # the picture moved 9 px right, 6 px down
    tr = Tracker()
    points = np.array([[[110, 100], [150, 100], [130, 120], [115, 140], [145, 140]]], np.float32)
    tr.update(dets([100, 80, 160, 160], landmarks=points), 0.0)
    assert not tr.follow(before, after)
    np.testing.assert_allclose(tr.tracks[0].box, [109, 86, 169, 166], atol=1.0)
    np.testing.assert_allclose(tr.tracks[0].landmarks, points[0] + [9, 6], atol=1.0)


def test_a_box_left_on_the_background_after_its_face_went_is_told_from_one_that_follows_its_face():
    scene, face = texture(seed=3), texture(seed=4)
    before = scene.copy()
    before[80:160, 100:160] = face[80:160, 100:160]  # a face in front of a still background
    moved = np.roll(before, 5, axis=1)  # the camera pans: the face is still under its box
    gone = scene.copy()  # the face walked out between frames: only the background is left where it was
    tr = Tracker()
    tr.update(dets([100, 80, 160, 160]), 0.0)
    tr.follow(before, moved)
    assert tr.drifted(below=0.6) == []
    tr.update(dets(tr.tracks[0].box.tolist()), 0.1)  # confirmed again: compared with how it looks now
    tr.follow(moved, np.roll(gone, 5, axis=1))
    assert tr.drifted(below=0.6) == tr.tracks


def test_boxes_that_left_the_frame_are_dropped():
    tr = Tracker()
    tr.update(dets([10, 10, 60, 60], [300, 10, 400, 60]), 0.0)
    assert tr.drop_outside(320, 240)
    assert [t.box.tolist() for t in tr.tracks] == [[10, 10, 60, 60]]


def test_a_cut_is_told_from_motion():
    shot = texture(seed=1, cell=40)  # a scene's large shapes, which a camera pan shifts a little
    assert not SceneThumb.of(np.roll(shot, 4, axis=1)).is_cut_from(SceneThumb.of(shot))
    assert SceneThumb.of(texture(seed=2, cell=40)).is_cut_from(SceneThumb.of(shot))
    tr = Tracker()
    assert not tr.notice_cut(shot) and not tr.notice_cut(shot) and tr.notice_cut(255 - shot) and tr.cuts == 1


def test_move_boxes_reports_a_box_the_flow_cannot_follow():
    flat = np.full((240, 320), 90, np.uint8)
    moved = move_boxes(flat, flat, [np.array([100, 80, 160, 160], np.float32)])
    assert len(moved) == 1  # a flat region: either found in place or reported lost, never moved off
    assert moved[0] is None or np.allclose(moved[0], [100, 80, 160, 160], atol=1.0)


def test_one_face_never_keeps_two_tracks():
    tr = Tracker()
    tr.update(dets([100, 100, 200, 200]), 0.0)
    old = tr.tracks[0]
    # The face's box shrinks to a tight one inside the old: IoU 0.25 is no match, but it is the same face.
    tr.update(dets([125, 125, 175, 175]), 0.2)
    assert [t.track_id for t in tr.tracks] == [old.track_id] and tr.tracks[0].box.tolist() == [125, 125, 175, 175]
    # A close look at a missed track that finds the face another track already holds: one track stays.
    tr.update(dets([400, 100, 460, 160]), 0.4)
    other = next(t for t in tr.tracks if t.track_id != old.track_id)
    tr.settle([old], [dets([402, 101, 461, 161])], 0.6)
    assert len(tr.tracks) == 1 and tr.tracks[0].track_id == min(old.track_id, other.track_id)
    assert tr.tracks[0].box.tolist() == [402, 101, 461, 161]  # the freshest box
    # Two faces side by side, boxes touching, stay two.
    tr.update(dets([402, 101, 461, 161], [455, 101, 515, 161]), 0.8)
    assert len(tr.tracks) == 2


def test_a_track_on_the_hair_above_a_tracked_face_goes():
    """crowd_1080p, frames 70-80: a redhead looking down had his hair boxed (and tracked) a pass before his face;
    the hair's track must not stay beside the face's. A face beside it, or a smaller one further back, stays."""
    hair, face = [528, 559, 608, 650], [519, 609, 605, 711]
    neighbour, far_behind = [640, 560, 730, 677], [560, 520, 590, 556]
    tr = Tracker()
    tr.update(dets(hair, neighbour, far_behind), 0.0)
    tr.update(dets(hair, face, neighbour, far_behind), 0.1)  # the hair still boxed, as surely as the face
    assert sorted(t.box.tolist() for t in tr.tracks) == sorted([face, neighbour, far_behind])
