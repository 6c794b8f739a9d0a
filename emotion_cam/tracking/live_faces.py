"""The faces of a live stream, with one owner: the scanner (every detector call), the tracker (boxes between
passes) and scene cuts, behind one call per frame.

A frame goes: a cut? (the old boxes mean nothing) -> follow the boxes by optical flow -> a detection pass when
one is due -> match it -> a close look at the tracks in doubt (missed by the pass, drifted off their face, or
unconfirmed for ``reconfirm_s``) -> settle them. What comes out is the tracker's tracks, each one record
(``tracker.Track``) that the emotion stages then fill in.
"""
from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager

import numpy as np

from emotion_cam.faces.search import Scanner
from emotion_cam.tracking.tracker import Track, Tracker

Timer = Callable[[str], AbstractContextManager]  # timed("stage"): a block whose time counts for that stage


class LiveFaces:
    def __init__(self, scanner: Scanner, tracker: Tracker, reconfirm_s: float = 0.4, drift_likeness: float = 0.6):
        self.scanner, self.tracker = scanner, tracker
        self.reconfirm_s, self.drift_likeness = reconfirm_s, drift_likeness
        self._prev_gray: np.ndarray | None = None

    @property
    def tracks(self) -> list[Track]:
        return self.tracker.tracks

    @property
    def cuts(self) -> int:
        """Scene cuts noticed since the last reset."""
        return self.tracker.cuts

    def reset(self) -> None:
        """Forget every face (a new video, a camera switch, a seek)."""
        self.tracker.reset()
        self.scanner.restart()
        self._prev_gray = None

    def update(self, frame: np.ndarray, gray: np.ndarray, t: float, timed: Timer) -> list[Track]:
        """The faces in ``frame`` (BGR, and ``gray`` its grey copy) at time ``t``, as tracks."""
        tracker, scanner = self.tracker, self.scanner
        with timed("track"):
            same_size = self._prev_gray is not None and self._prev_gray.shape == gray.shape
            if tracker.notice_cut(gray) or not same_size:  # a new shot: the old boxes mean nothing
                tracker.drop(tracker.tracks)
                scanner.restart()
            elif tracker.follow(self._prev_gray, gray):
                scanner.hurry()
            if tracker.drop_outside(gray.shape[1], gray.shape[0]):
                scanner.hurry()
            self._prev_gray = gray
        with timed("detect"):
            dets = scanner.detect(frame, {tr.track_id: tr.box for tr in tracker.tracks})
        with timed("track"):
            missed = [] if dets is None else tracker.update(dets, t, new=scanner.is_new_face(dets))
            # A track the pass missed or whose box no longer looks like its face, or else the one unconfirmed
            # longest (a face that turned away or went behind someone would keep its box), gets a close look.
            doubtful = missed + [tr for tr in tracker.drifted(self.drift_likeness) if tr not in missed]
            doubtful = doubtful or tracker.oldest_unconfirmed(t, self.reconfirm_s)
        with timed("detect"):
            looks = scanner.look_again(frame, [tr.box for tr in doubtful])
        with timed("track"):
            tracker.settle(doubtful, looks, t)
        return tracker.tracks
