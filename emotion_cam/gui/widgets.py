"""Painted widgets: the video view, the per-face panel and the emotion timeline (QPainter; no QtCharts)."""
from __future__ import annotations

from collections import deque

import numpy as np
from PySide6.QtCore import QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QImage, QPainter, QPen
from PySide6.QtWidgets import QProxyStyle, QSizePolicy, QStyle, QWidget

from emotion_cam.draw import COLOURS, UNSURE_COLOUR
from emotion_cam.emotion.labels import EMOTIONS
from emotion_cam.results import Face


def qcolour(name: str) -> QColor:
    b, g, r = UNSURE_COLOUR if name == "unsure" else COLOURS[name]
    return QColor(r, g, b)


def to_qimage(bgr: np.ndarray) -> QImage:
    """A QImage that owns a copy of the pixels (the array may be reused by the worker)."""
    h, w = bgr.shape[:2]
    return QImage(np.ascontiguousarray(bgr).data, w, h, 3 * w, QImage.Format.Format_BGR888).copy()


class ClickToSeekStyle(QProxyStyle):
    """The application's style, except that a left click on a slider puts its handle where the click is (a video
    player's seek bar) instead of moving it a page toward the click."""

    def styleHint(self, hint, option=None, widget=None, returnData=None):
        if hint == QStyle.StyleHint.SH_Slider_AbsoluteSetButtons:
            return Qt.MouseButton.LeftButton.value
        return super().styleHint(hint, option, widget, returnData)


def time_readout(index: int, length: int, fps: float) -> str:
    """Where a video is: "0:12 / 0:15 · frame 300 of 464" (frames counted from 0, as in the CSV)."""
    def clock(s: float) -> str:
        return f"{int(s) // 60}:{int(s) % 60:02d}"

    rate = fps or 30.0
    return f"{clock(index / rate)} / {clock(length / rate)} · frame {index} of {length}"


class VideoView(QWidget):
    """Shows the latest frame scaled to fit with its aspect ratio kept, or a message when there is none."""

    resized = Signal(int, int)  # the overlay's text is sized for the view

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(320, 240)
        self._image: QImage | None = None
        self.message = "Starting…"

    def sizeHint(self) -> QSize:
        return QSize(800, 600)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self.resized.emit(self.width(), self.height())

    def set_image(self, image: QImage | None) -> None:
        self._image = image
        self.update()

    def image(self) -> QImage | None:
        return self._image

    def set_message(self, text: str) -> None:
        self.message = text
        self.update()

    def paintEvent(self, event) -> None:
        p = QPainter(self)
        p.fillRect(self.rect(), QColor(24, 24, 24))
        if self._image is not None and not self._image.isNull():
            size = self._image.size().scaled(self.size(), Qt.AspectRatioMode.KeepAspectRatio)
            x = (self.width() - size.width()) / 2
            y = (self.height() - size.height()) / 2
            p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
            p.drawImage(QRectF(x, y, size.width(), size.height()), self._image)
        if self.message and (self._image is None or self.message.startswith("!")):
            p.setPen(QColor(230, 230, 230))
            f = p.font()
            f.setPointSizeF(f.pointSizeF() * 1.2)
            p.setFont(f)
            p.drawText(self.rect().adjusted(30, 30, -30, -30), Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap,
                       self.message.lstrip("!"))
        p.end()


class FacePanel(QWidget):
    """One block per face: its ID, label and seven labelled confidence bars."""

    ROW = 18

    def __init__(self, parent=None):
        super().__init__(parent)
        self.faces: list[Face] = []
        self.setMinimumWidth(180)

    def set_faces(self, faces: list[Face]) -> None:
        self.faces = faces
        self.setMinimumHeight(max(120, self._block_h() * max(1, len(faces)) + 10))
        self.update()

    def _block_h(self) -> int:
        return self.ROW * (len(EMOTIONS) + 1) + 14

    def paintEvent(self, event) -> None:
        p = QPainter(self)
        p.fillRect(self.rect(), self.palette().window())
        if not self.faces:
            p.drawText(self.rect().adjusted(8, 8, -8, -8), Qt.AlignmentFlag.AlignTop | Qt.TextFlag.TextWordWrap, "No face in view")
            p.end()
            return
        y = 6
        name_w = 70
        bar_w = max(40, self.width() - name_w - 56)  # the rest of the width: the panel never scrolls sideways
        for i, face in enumerate(self.faces, 1):
            what = face.title
            title = f"Face {face.track_id if face.track_id is not None else i}: {what}"
            f = p.font()
            f.setBold(True)
            p.setFont(f)
            # The title in the panel's text colour (an emotion's colour as text is unreadable on a light panel:
            # yellow, light grey), after a swatch of the colour its box has on the picture.
            p.fillRect(QRectF(8, y + 3, 12, 12), qcolour("unsure" if face.unsure else face.label))
            p.setPen(self.palette().text().color())
            p.drawText(26, y + 13, title)
            f.setBold(False)
            p.setFont(f)
            y += self.ROW
            for name, prob in zip(EMOTIONS, face.probs):
                p.setPen(self.palette().text().color())
                p.drawText(8, y + 13, name)
                p.fillRect(QRectF(8 + name_w, y + 3, bar_w, self.ROW - 6), QColor(90, 90, 90))
                p.fillRect(QRectF(8 + name_w, y + 3, bar_w * float(np.clip(prob, 0, 1)), self.ROW - 6), qcolour(name))
                p.drawText(int(12 + name_w + bar_w), y + 13, f"{prob:.0%}")
                y += self.ROW
            y += 14
        p.end()


class Timeline(QWidget):
    """One face's emotion probabilities over the last ``span_s`` seconds, one line per emotion, with a legend."""

    def __init__(self, span_s: float = 30.0, parent=None):
        super().__init__(parent)
        self.span_s = span_s
        self.points: deque[tuple[float, np.ndarray]] = deque(maxlen=3000)
        self.who = ""  # "face #3": whose curves these are
        self.setMinimumHeight(130)

    def clear(self) -> None:
        self.points.clear()
        self.who = ""
        self.update()

    def add(self, t: float, probs: np.ndarray, who: str = "") -> None:
        if self.points and t < self.points[-1][0]:
            self.points.clear()  # the source restarted
        self.who = who
        self.points.append((t, np.asarray(probs, np.float32)))
        while self.points and self.points[0][0] < t - self.span_s:
            self.points.popleft()
        self.update()

    def paintEvent(self, event) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        fm = p.fontMetrics()
        line = fm.height()
        left = fm.horizontalAdvance("100%") + 6
        # The legend flows over as many lines as the width needs; the plot takes the rest.
        width = self.width() - left - 6
        items, lines, x = [], 1, 0
        for name in EMOTIONS:
            w = 13 + fm.horizontalAdvance(name) + 10
            if x and x + w > width:
                lines, x = lines + 1, 0
            items.append((name, x, lines - 1))
            x += w
        r = self.rect().adjusted(left, 4, -6, -((1 + lines) * line + 6))
        p.fillRect(self.rect(), QColor(32, 32, 32))
        for frac, text in ((0.0, "0%"), (0.5, "50%"), (1.0, "100%")):
            y = r.bottom() - frac * r.height()
            p.setPen(QColor(70, 70, 70))
            p.drawLine(QPointF(r.left(), y), QPointF(r.right(), y))
            p.setPen(QColor(160, 160, 160))
            p.drawText(2, int(y + fm.ascent() / 2 - 1), text)
        axis_y = r.bottom() + line
        p.drawText(r.left(), axis_y, f"−{self.span_s:.0f} s")
        now = f"now{': ' + self.who if self.who else ''}"
        p.drawText(r.right() - fm.horizontalAdvance(now), axis_y, now)
        for name, x, row in items:  # each emotion's colour, as in the bars
            y = axis_y + (row + 1) * line
            p.fillRect(r.left() + x, y - fm.ascent() // 2 - 2, 10, 4, qcolour(name))
            p.setPen(QColor(200, 200, 200))
            p.drawText(r.left() + x + 13, y, name)
        if len(self.points) >= 2:
            t_end = self.points[-1][0]
            for k, name in enumerate(EMOTIONS):
                pen = QPen(qcolour(name))
                pen.setWidthF(1.8)
                p.setPen(pen)
                pts = [QPointF(r.right() - (t_end - t) / self.span_s * r.width(), r.bottom() - float(pr[k]) * r.height())
                       for t, pr in self.points]
                p.drawPolyline(pts)
        elif not self.points:
            p.setPen(QColor(150, 150, 150))
            p.drawText(r, Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap,  # a narrow panel: two lines
                       "No face followed yet (photos have no timeline)")
        p.end()
