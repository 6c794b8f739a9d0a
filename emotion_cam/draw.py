"""Draw faces onto a BGR frame with OpenCV: box, label with confidence, and seven emotion bars.

Sizes follow the frame (legible at 640x480 and at 4K). The label and bars go
beside the face, never over it: to the right of the box, else to the left,
else below, and always clamped inside the image.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from emotion_cam.emotion.labels import EMOTIONS
from emotion_cam.results import Face

# One colour per emotion (BGR), shared with the GUI panel.
COLOURS: dict[str, tuple[int, int, int]] = {
    "angry": (54, 67, 244),
    "disgust": (80, 175, 76),
    "fear": (176, 39, 156),
    "happy": (0, 200, 255),
    "neutral": (170, 170, 170),
    "sad": (210, 120, 30),
    "surprise": (0, 128, 255),
}
UNSURE_COLOUR = (235, 235, 235)  # a face the model cannot read: no emotion's colour
MAX_ENLARGE = 3.0  # a 320x240 video in a 960x720 view; beyond, the copy costs more than sharp text is worth


def face_colour(face: Face) -> tuple[int, int, int]:
    return UNSURE_COLOUR if face.unsure else COLOURS[face.label]


def luminance(colour: tuple[int, int, int]) -> float:
    """WCAG relative luminance of a BGR colour (0 black, 1 white)."""
    def linear(c: float) -> float:
        c /= 255.0
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    b, g, r = colour
    return 0.2126 * linear(r) + 0.7152 * linear(g) + 0.0722 * linear(b)


def contrast(a: tuple[int, int, int], b: tuple[int, int, int]) -> float:
    hi, lo = sorted((luminance(a), luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def ink(background: tuple[int, int, int]) -> tuple[int, int, int]:
    """Black or white text, whichever contrasts more with ``background``."""
    return max(((0, 0, 0), (255, 255, 255)), key=lambda c: contrast(c, background))


@dataclass
class Annotator:
    bars: bool = True
    landmarks: bool = False
    ids: bool = True
    # More faces than this: titles only. Seven-bar cards for a crowd would hide the scene (and faces the
    # detector has not found yet); the panel and the CLI list every face's bars under its number.
    cards_up_to: int = 4
    # (width, height) the frame is shown at, if known (the app's view): text is then sized for the screen,
    # so a 1080p frame shrunk into a window still has readable labels.
    view_size: tuple[int, int] | None = None

    def text_unit(self, shape: tuple[int, ...], face_h: float) -> float:
        """Text and bar size for a face: 1 is a 0.56-scale Hershey title, about 13 px tall."""
        h, w = shape[:2]
        frame_unit = max(1.0, min(h, w) / 480.0)  # 1 at 480p, 4.5 at 4K
        unit = max(0.7, min(frame_unit, face_h / 80.0))  # small faces in big photos get smaller text
        if self.view_size is not None:
            shown = min(self.view_size[0] / w, self.view_size[1] / h)
            if shown < 1.0:
                unit = max(unit, 1.0 / shown)  # at least unit 1 on the screen
        return unit

    def draw(self, frame: np.ndarray, faces: list[Face], copy: bool = True) -> np.ndarray:
        out = frame.copy() if copy else frame
        # Where the boxes are drawn (rounded): a label touching its own box's edge must not count as covering it.
        boxes = np.round(np.array([f.box for f in faces], np.float32).reshape(-1, 4))
        placed: list[tuple[int, int, int, int]] = []
        self.last_titles: list[str] = []
        for face in faces:
            self._face(out, face, self.text_unit(out.shape, float(face.box[3] - face.box[1])), boxes, placed)
        self.last_layout = placed  # (x, y, w, h) of each face's label, in order: where the last draw put them
        return out

    def draw_for_view(self, frame: np.ndarray, faces: list[Face], copy: bool = True) -> np.ndarray:
        """The frame annotated as the view will show it: a frame the view enlarges is enlarged first (up to
        ``MAX_ENLARGE``), so that its labels are drawn sharp at screen size instead of blurred with the picture."""
        factor = self.enlargement(frame.shape)
        if factor == 1.0:
            return self.draw(frame, faces, copy=copy)
        big = cv2.resize(frame, None, fx=factor, fy=factor, interpolation=cv2.INTER_LINEAR)
        return self.draw(big, [f.scaled(factor) for f in faces], copy=False)

    def enlargement(self, shape: tuple[int, ...]) -> float:
        if self.view_size is None:
            return 1.0
        h, w = shape[:2]
        shown = min(self.view_size[0] / w, self.view_size[1] / h)
        return round(min(shown, MAX_ENLARGE), 2) if shown > 1.2 else 1.0

    def with_key(self, image: np.ndarray, faces: list[Face]) -> np.ndarray:
        """The annotated image for a file (``predict --annotate``): where some face had room for its number only,
        a key beside the image gives every face's number and words, so that no face goes unread."""
        out = self.draw(image, faces)
        if all(t != f"#{f.track_id}" for f, t in zip(faces, self.last_titles)):
            return out
        h = out.shape[0]
        unit = max(0.8, h / 720.0)
        fs, thick = 0.5 * unit, max(1, int(round(unit)))
        line, pad = int(round(22 * unit)), int(round(10 * unit))
        lines = [(f"#{f.track_id}  {f.title}", face_colour(f)) for f in faces]
        per_column = max(1, (h - 2 * pad) // line)
        columns = [lines[i:i + per_column] for i in range(0, len(lines), per_column)]
        width = max(cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, fs, thick)[0][0] for text, _ in lines) + 2 * pad \
            + int(round(12 * unit)) + pad // 2
        key = np.full((h, width * len(columns), 3), 32, np.uint8)
        swatch = int(round(12 * unit))
        for c, column in enumerate(columns):
            for r, (text, colour) in enumerate(column):  # light text on the dark key, a swatch of the face's colour
                base = pad + (r + 1) * line - int(6 * unit)
                x = c * width + pad
                cv2.rectangle(key, (x, base - swatch), (x + swatch, base), colour, -1)
                cv2.putText(key, text, (x + swatch + pad // 2, base), cv2.FONT_HERSHEY_SIMPLEX, fs, (235, 235, 235), thick,
                            cv2.LINE_AA)
        return np.hstack([out, key])

    def _face(self, img: np.ndarray, face: Face, unit: float, boxes: np.ndarray, placed: list) -> None:
        h, w = img.shape[:2]
        fs = 0.45 * unit
        thick = max(1, int(round(unit)))
        x1, y1, x2, y2 = (int(round(v)) for v in face.box)
        colour = face_colour(face)
        cv2.rectangle(img, (x1, y1), (x2, y2), colour, max(2, thick + 1), cv2.LINE_AA)
        points = face.contour if face.contour is not None else face.landmarks
        if self.landmarks and points is not None:
            r = max(1, int(round(1.5 * unit)))
            for px, py in points.astype(int):
                cv2.circle(img, (int(px), int(py)), r, (0, 255, 0), -1, cv2.LINE_AA)

        who = f"#{face.track_id} " if self.ids and face.track_id is not None else ""
        title = f"{who}{face.title}"
        (tw, th), base = cv2.getTextSize(title, cv2.FONT_HERSHEY_SIMPLEX, fs * 1.25, thick)
        line = int(round(13 * unit))
        bar_w = int(round(70 * unit))
        name_w = cv2.getTextSize("surprise", cv2.FONT_HERSHEY_SIMPLEX, fs, thick)[0][0]
        pad = max(2, int(round(4 * unit)))
        title_h = th + base + 2 * pad
        full_w = max(tw, name_w + pad + bar_w) + 2 * pad
        full_h = title_h + (len(EMOTIONS) * line + pad if self.bars else 0)

        # The full panel beside the face (right, left, below, above) where it covers no face and no
        # other panel; in a crowd, only the title above or below the box; in a dense crowd only the
        # face's number (the panel and the CLI list its label and bars under the same number), inside
        # its own box if nowhere else is free.
        spots = [(x2 + pad, y1), (x1 - pad - full_w, y1), (x1, y2 + pad), (x1, y1 - pad - full_h)]
        crowd = len(boxes) > self.cards_up_to
        rect = None if crowd else self._first_free(spots, full_w, full_h, w, h, boxes, placed)
        bars = self.bars
        if rect is None:
            bars = False
            rect = self._first_free([(x1, y1 - title_h), (x1, y2)], tw + 2 * pad, title_h, w, h, boxes, placed,
                                    strict=bool(who))
        if rect is None:
            title = who.strip()
            (tw, th), base = cv2.getTextSize(title, cv2.FONT_HERSHEY_SIMPLEX, fs * 1.25, thick)
            rect = self._first_free([(x1, y1 - title_h), (x1, y2)], tw + 2 * pad, title_h, w, h, boxes, placed)
            if rect is None:
                inset = max(2, thick + 1)
                rect = self._first_free([(x1 + inset, y1 + inset)], tw + 2 * pad, title_h, w, h, np.zeros((0, 4), np.float32),
                                        [], strict=False)
        px, py, pw, ph = rect
        placed.append(rect)
        self.last_titles.append(title)
        roi = img[py:py + ph, px:px + pw]
        roi[:] = (roi.astype(np.float32) * 0.35).astype(np.uint8)  # dark translucent backing for the bars
        # The title on the emotion's colour in black or white, whichever reads better (coloured text on
        # dark grey fell under 3:1 for sad and fear).
        cv2.rectangle(img, (px, py), (px + pw - 1, py + min(title_h, ph) - 1), colour, -1)
        cv2.putText(img, title, (px + pad, py + pad + th), cv2.FONT_HERSHEY_SIMPLEX, fs * 1.25, ink(colour), thick,
                    cv2.LINE_AA)
        if not bars:
            return
        y = py + title_h - pad
        for name, p in zip(EMOTIONS, face.probs):
            cv2.putText(img, name, (px + pad, y + line - int(3 * unit)), cv2.FONT_HERSHEY_SIMPLEX, fs, (235, 235, 235), thick, cv2.LINE_AA)
            bx = px + pad + name_w + pad
            top, bottom = y + int(2 * unit), y + line - int(2 * unit)
            cv2.rectangle(img, (bx, top), (bx + bar_w, bottom), (80, 80, 80), -1)
            filled = int(round(bar_w * float(np.clip(p, 0, 1))))
            if filled > 0:
                cv2.rectangle(img, (bx, top), (bx + filled, bottom), COLOURS[name], -1)
            y += line

    @staticmethod
    def _first_free(spots, pw, ph, w, h, boxes, placed, strict: bool = True):
        """The first spot (clamped into the image) whose rectangle overlaps no face box and no placed panel."""
        pw, ph = min(pw, w), min(ph, h)
        candidates = []
        for sx, sy in spots:
            px = int(np.clip(sx, 0, w - pw))
            py = int(np.clip(sy, 0, h - ph))
            r = np.array([px, py, px + pw, py + ph], np.float32)
            others = np.vstack([boxes, np.array([[a, b, a + c, b + d] for a, b, c, d in placed], np.float32).reshape(-1, 4)])
            overlap = 0.0
            if len(others):
                ix = np.clip(np.minimum(r[2], others[:, 2]) - np.maximum(r[0], others[:, 0]), 0, None)
                iy = np.clip(np.minimum(r[3], others[:, 3]) - np.maximum(r[1], others[:, 1]), 0, None)
                overlap = float((ix * iy).sum())
            if overlap == 0.0:
                return px, py, pw, ph
            candidates.append((overlap, (px, py, pw, ph)))
        return None if strict else min(candidates)[1]
