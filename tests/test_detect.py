"""The HOG detector loads from a binary cache after the first start and finds exactly what dlib's own does."""
from __future__ import annotations

import cv2

from emotion_cam.detect import HogDetector, cache_dir
from emotion_cam.imageio import read_image

PHOTO = "2008_002470.jpg"  # six faces in 500x332: a few seconds of HOG, where bald_guys.jpg (3 MP) takes half a minute


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
