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


def test_text_is_sized_for_the_view_a_big_frame_is_shown_in():
    """A 1080p crowd frame shown in a 960x540 view: an 80 px face's label must still be about 13 px on screen."""
    frame = np.zeros((1080, 1920, 3), np.uint8)
    f = face(900, 500, 980, 580)
    for_file = Annotator()
    for_view = Annotator(view_size=(960, 540))
    shown = 960 / 1920
    assert for_file.text_unit(frame.shape, 80) * shown < 0.6  # what the app drew before: ~6 px letters on screen
    assert for_view.text_unit(frame.shape, 80) * shown >= 1.0
    bigger = (for_view.draw(frame, [f]).max(2) > 0).sum()
    assert bigger > 2 * (for_file.draw(frame, [f]).max(2) > 0).sum()
    assert Annotator(view_size=(1920, 1080)).text_unit(frame.shape, 80) == for_file.text_unit(frame.shape, 80)  # shown 1:1


def test_in_a_dense_crowd_every_face_keeps_its_number_and_no_label_covers_another():
    faces = [face(x, y, x + 50, y + 50) for y in range(10, 470, 58) for x in range(10, 630, 58)]
    for i, f in enumerate(faces, 1):
        f.track_id = i
    annotator = Annotator()
    annotator.draw(np.zeros((480, 640, 3), np.uint8), faces)
    assert [t.split()[0] for t in annotator.last_titles] == [f"#{i}" for i in range(1, len(faces) + 1)]
    rects = annotator.last_layout
    for i, (ax, ay, aw, ah) in enumerate(rects):
        for bx, by, bw, bh in rects[i + 1:]:
            assert ax + aw <= bx or bx + bw <= ax or ay + ah <= by or by + bh <= ay, "two labels overlap"


def test_a_crowd_face_with_room_above_it_keeps_its_label_whatever_its_box_rounds_to():
    """Detector boxes are fractional: a title that touches the box it belongs to does not cover it (2008_002470.jpg:
    "#6" alone above a face with room for "#6 happy 83%", its box at y 170.6)."""
    faces = [face(x + 0.6, 200.6, x + 60.4, 260.4) for x in range(10, 600, 120)]
    for i, f in enumerate(faces, 1):
        f.track_id = i
    annotator = Annotator()
    annotator.draw(np.zeros((480, 640, 3), np.uint8), faces)
    assert annotator.last_titles == [f"#{i} happy 88%" for i in range(1, len(faces) + 1)]


def test_a_crowd_photo_gets_a_key_when_some_face_shows_only_its_number():
    def numbered(i: int, x: float, y: float) -> Face:
        return Face(np.array([x, y, x + 30, y + 36], np.float32), np.zeros((5, 2), np.float32), np.eye(7)[3], track_id=i)

    crowd = [numbered(i + 1, 10 + 34 * (i % 6), 10 + 40 * (i // 6)) for i in range(12)]  # packed: no room for titles
    image = np.full((120, 220, 3), 100, np.uint8)
    annotator = Annotator()
    keyed = annotator.with_key(image, crowd)
    assert keyed.shape[0] == 120 and keyed.shape[1] > 220 and "#1" in annotator.last_titles
    np.testing.assert_array_equal(keyed[:, :220], annotator.draw(image, crowd))  # the picture itself as drawn
    alone = [numbered(1, 60, 30)]
    assert Annotator().with_key(np.full((240, 320, 3), 100, np.uint8), alone).shape == (240, 320, 3)  # room: no key


def test_every_label_reads_at_4_5_to_1_or_better():
    from emotion_cam.draw import COLOURS, UNSURE_COLOUR, contrast, ink

    for name, colour in [*COLOURS.items(), ("unsure", UNSURE_COLOUR)]:
        assert contrast(ink(colour), colour) >= 4.5, name
    frame = np.full((480, 640, 3), 60, np.uint8)
    a = Annotator()
    out = a.draw(frame, [face(100, 100, 200, 220, label=5)])  # sad: black text on its blue
    x, y, w, h = a.last_layout[0]
    title = out[y:y + 16, x:x + w].reshape(-1, 3)
    colours, counts = np.unique(title, axis=0, return_counts=True)
    assert tuple(colours[counts.argmax()]) == COLOURS["sad"] and title.sum(axis=1).min() < 60


def test_a_small_frame_in_a_big_view_is_enlarged_before_its_labels_are_drawn():
    small = np.full((240, 320, 3), 90, np.uint8)
    a = Annotator(view_size=(960, 720))
    out = a.draw_for_view(small, [face(100, 60, 160, 140)])
    assert out.shape == (720, 960, 3) and small.max() == 90  # the frame given is left as it was
    x, y, w, h = a.last_layout[0]
    assert x >= 160 * 3 or x + w <= 100 * 3  # the label beside the enlarged box, not the small one
    assert Annotator(view_size=(300, 200)).draw_for_view(small, []).shape == small.shape  # shown smaller: as it is
