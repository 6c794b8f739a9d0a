"""The annotator: labels and bars stay inside the image and beside, not over, the faces."""
from __future__ import annotations

import numpy as np
import pytest

from emotion_cam.draw import Annotator
from emotion_cam.results import Face


def face(x1, y1, x2, y2, label=3):
    probs = np.full(7, 0.02, np.float32)
    probs[label] = 0.88
    return Face(np.array([x1, y1, x2, y2], np.float32), np.zeros((5, 2), np.float32), probs, track_id=1)


@pytest.mark.parametrize("shape", [(480, 640), (2160, 3840)])
@pytest.mark.parametrize("where", ["left", "right", "corner"])
def test_overlay_stays_inside_and_off_the_face(shape, where):
    h, w = shape
    s = h / 480
    boxes = {"left": (5 * s, 100 * s, 165 * s, 260 * s), "right": (w - 165 * s, 100 * s, w - 5 * s, 260 * s),
             "corner": (w - 200 * s, h - 200 * s, w - 1, h - 1)}
    f = face(*boxes[where])
    blank = np.zeros((h, w, 3), np.uint8)
    out = Annotator().draw(blank, [f])
    x1, y1, x2, y2 = (int(v) for v in f.box)
    m = int(4 * s) + 2  # the box outline itself is drawn on the edge
    inside_face = out[y1 + m:y2 - m, x1 + m:x2 - m]
    assert inside_face.max() == 0, "the overlay covers the face"
    drawn = np.argwhere(out.max(2) > 0)
    assert len(drawn) > 0
    # Bars: the happy bar's yellow must appear at a legible size.
    yellow = np.all(out == (0, 200, 255), axis=2).sum()
    assert yellow > 50 * s * s


def test_crowded_faces_get_compact_labels_that_do_not_cover_other_faces():
    faces = [face(x, 200, x + 60, 260) for x in range(10, 600, 70)]
    out = Annotator().draw(np.zeros((480, 640, 3), np.uint8), faces)
    for f in faces:
        x1, y1, x2, y2 = (int(v) for v in f.box)
        assert out[y1 + 4:y2 - 4, x1 + 4:x2 - 4].max() == 0
