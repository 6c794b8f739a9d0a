"""Each detector on real photos: YuNet's file checks and landmarks, HOG's binary cache; close-ups and faces cut by the edge."""
from __future__ import annotations

from collections import Counter

import cv2
import numpy as np

import pytest

from conftest import DATA_PHOTO

from emotion_cam.faces.detectors import LANDMARK_NAMES, YUNET_MODELS, HaarDetector, HogDetector, YuNetDetector, cache_dir
from emotion_cam.media.images import read_image
from emotion_cam.model_files import ModelFileError, shipped_path
from emotion_cam.faces.boxes import iou_matrix

PHOTO = "2008_002470.jpg"  # six faces in 500x332: a few seconds of HOG, where bald_guys.jpg (3 MP) takes half a minute


def test_yunet_finds_the_close_up_face_with_its_landmarks_in_order():
    from emotion_cam.faces.search import sure

    image = read_image(DATA_PHOTO)
    yunet = YuNetDetector()
    dets = sure(yunet, yunet.detect(image, 0.5))
    assert len(dets) == 1 and dets.scores[0] > 0.9 and dets.landmarks.shape == (1, 5, 2)
    p = dict(zip(LANDMARK_NAMES, dets.landmarks[0]))
    assert p["right_eye"][0] < p["left_eye"][0]  # the subject's right eye is on the image's left
    assert p["right_mouth"][0] < p["left_mouth"][0]
    assert max(p["right_eye"][1], p["left_eye"][1]) < p["nose_tip"][1] < min(p["right_mouth"][1], p["left_mouth"][1])
    x1, y1, x2, y2 = dets.boxes[0]
    assert all(x1 <= x <= x2 and y1 <= y <= y2 for x, y in dets.landmarks[0])


def test_yunet_sees_the_same_faces_in_grey(faces_dir):
    image = read_image(faces_dir / PHOTO)
    colour = YuNetDetector().detect(image, 1.5)
    grey = YuNetDetector().detect(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY), 1.5)
    assert len(colour) >= 5 and abs(len(grey) - len(colour)) <= 1


def test_a_damaged_or_missing_yunet_file_is_one_clear_error(tmp_path):
    shipped = shipped_path(YUNET_MODELS["n"].file)
    damaged = tmp_path / "yunet.onnx"
    damaged.write_bytes(shipped.read_bytes()[:-100])
    with pytest.raises(ModelFileError, match="damaged model file"):
        YuNetDetector(path=damaged)
    with pytest.raises(ModelFileError, match=str(tmp_path / "missing.onnx")):
        YuNetDetector(path=tmp_path / "missing.onnx")


def test_haar_finds_frontal_faces(faces_dir):
    assert len(HaarDetector().detect(read_image(faces_dir / PHOTO), 2.0)) >= 4


def test_cached_detector_matches_dlibs_builtin(faces_dir, tmp_path, monkeypatch):
    import dlib

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    first = HogDetector()  # builds the cache
    cached = list(cache_dir().glob("*.svm"))
    assert len(cached) == 1 and cached[0].stat().st_size > 10_000
    second = HogDetector()  # loads it
    gray = cv2.cvtColor(read_image(faces_dir / PHOTO), cv2.COLOR_BGR2GRAY)
    rects, scores, kinds = dlib.get_frontal_face_detector().run(gray, 1, 0.0)
    for detector in (first, second):
        r, s, k = detector._detector.run(gray, 1, 0.0)
        assert [str(x) for x in r] == [str(x) for x in rects] and list(s) == list(scores) and list(k) == list(kinds)
    assert len(rects) >= 5


def test_damaged_cache_is_rebuilt(faces_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    HogDetector()
    (path,) = cache_dir().glob("*.svm")
    path.write_bytes(b"garbage")
    gray = cv2.cvtColor(read_image(faces_dir / PHOTO), cv2.COLOR_BGR2GRAY)
    assert len(HogDetector().detect(gray, scale=2.0)) >= 5
    assert path.stat().st_size > 10_000


# Crops of each hand-marked face, as (left, top, right, bottom) margins in face widths/heights; negative cuts into the face.
CLOSE_UPS = {
    "face fills the image": (0.15, 0.15, 0.15, 0.15),
    "crop on the marked box": (0.0, 0.0, 0.0, 0.0),
    "cut at left and bottom": (-0.1, 0.15, 0.15, -0.1),
    "cut 20% at the left": (-0.2, 0.1, 0.1, 0.1),
    "cut 20% at the top": (0.1, -0.2, 0.1, 0.1),
    "cut 15% at both sides": (-0.15, 0.1, -0.15, 0.1),
}


def close_up_crops(faces_dir):
    """Each marked face cropped as in CLOSE_UPS and enlarged to 360 px tall, a webcam close-up; with its box in the crop."""
    from conftest import ground_truth

    for name, boxes in ground_truth(faces_dir).items():
        image = read_image(faces_dir / name)
        height, width = image.shape[:2]
        for x1, y1, x2, y2 in boxes:
            w, h = x2 - x1, y2 - y1
            for kind, (left, top, right, bottom) in CLOSE_UPS.items():
                cx1, cy1, cx2, cy2 = int(x1 - left * w), int(y1 - top * h), int(x2 + right * w), int(y2 + bottom * h)
                if cx1 < 0 or cy1 < 0 or cx2 > width or cy2 > height:
                    continue
                s = 360 / (cy2 - cy1)
                crop = cv2.resize(image[cy1:cy2, cx1:cx2], None, fx=s, fy=s, interpolation=cv2.INTER_CUBIC)
                truth = np.array([x1 - cx1, y1 - cy1, x2 - cx1, y2 - cy1], np.float32) * s
                truth[[0, 2]] = truth[[0, 2]].clip(0, crop.shape[1])
                truth[[1, 3]] = truth[[1, 3]].clip(0, crop.shape[0])
                yield kind, crop, truth


def test_close_ups_and_faces_cut_by_the_edge_are_found(faces_dir, pipeline):
    """Each kind of crop >= 90% found (IoU >= 0.4), >= 98% over all, no second box (HOG with its bordered second look: 95.3%)."""
    found, total, extra = Counter(), Counter(), 0
    for kind, crop, truth in close_up_crops(faces_dir):
        boxes = np.array([f.box for f in pipeline.process_image(crop).faces], np.float32).reshape(-1, 4)
        total[kind] += 1
        if len(boxes):
            iou = iou_matrix(truth[None], boxes)[0]
            found[kind] += int(iou.max() >= 0.4)
            extra += int((iou < 0.4).sum())
    assert set(total) == set(CLOSE_UPS) and min(total.values()) >= 40
    assert all(found[k] >= 0.9 * total[k] for k in total), dict(found)
    assert sum(found.values()) >= 0.98 * sum(total.values()), dict(found)
    assert extra <= 2
