"""The headless ``video`` command: frames from a file or camera through the tracking pipeline, to CSV and/or MP4."""
from __future__ import annotations

import itertools
import os
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

from tqdm import tqdm

from emotion_cam.api import Analyzer
from emotion_cam.media.sources import Source, SourceError
from emotion_cam.draw import Annotator
from emotion_cam.media.outputs import VideoFile, replacing
from emotion_cam.sinks.face_csv import FaceCsv


def process_video(analyzer: Analyzer, source: Source | str | int, out: str | os.PathLike | None = None,
                  csv_path: str | os.PathLike | None = None, limit: int | None = None, progress: bool = True,
                  keep_partial: bool = True) -> int:
    """Run the live pipeline over a whole video; returns the number of frames processed.

    Whatever ends the run (the last frame, a read error, Ctrl+C, SIGTERM turned into an exception by the
    caller) the MP4 and CSV written so far are closed properly. A file that yields no frame, or ends well
    before the frame count in its header, raises ``SourceError`` after that. Without ``keep_partial`` an
    interrupted run leaves no output at all (a batch then knows that an output which exists is complete).
    """
    source = Source.parse(source)
    stream = analyzer.analyze_video(source, limit)
    total, fps = stream.player.length, stream.player.fps or 30.0
    annotator = Annotator()
    n = 0
    expected = total if limit is None else min(total, limit)
    with ExitStack() as stack:
        stack.callback(stream.close)
        first = next(stream, None)  # before any output is opened: a file with no frame leaves nothing behind
        if first is None:
            raise SourceError(f"{source}: no frame could be read (not a video, or a damaged one)")
        rows = None
        if csv_path:
            csv_tmp = stack.enter_context(replacing(csv_path, keep_partial=keep_partial))
            rows = FaceCsv(stack.enter_context(open(csv_tmp, "w", newline="")))
        video = None
        if out:
            video = stack.enter_context(VideoFile(stack.enter_context(replacing(out, keep_partial=keep_partial)), out, fps))
        bar = stack.enter_context(tqdm(total=expected or None, unit="frame", disable=not progress, file=sys.stderr,
                                       mininterval=0.5))
        try:
            for result in itertools.chain([first], stream):
                annotated = annotator.draw(result.image, result.faces, copy=False) if video else None
                with signals_held():  # a frame is in both outputs and counted, or in neither
                    if rows:
                        rows.write_result(result)
                    if video:
                        video.write(annotated)
                    n += 1
                bar.update()
        except (KeyboardInterrupt, Terminated) as exc:
            exc.frames_saved = n  # for the caller's message: what was kept, and where
            raise
        if expected > 0 and n < expected - 2:  # container frame counts can be off by a frame or two
            raise SourceError(f"{source}: the video ended after frame {n} of {expected}: the file is truncated or "
                              f"damaged (the {n} frames read were processed and saved)")
    return n


@contextmanager
def signals_held() -> Iterator[None]:
    """Ctrl+C and SIGTERM wait until the block is done (then act as usual), so that the count of frames saved that
    a stop reports is the count in the files. Deferred by handlers of our own rather than a signal mask: a signal
    that arrived just before the block is still handled by Python inside it, which a mask cannot stop."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    old = {sig: signal.signal(sig, lambda signum, _frame: caught.append(signum)) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)
        if caught:
            handler = old[caught[0]]
            if callable(handler):
                handler(caught[0], None)  # KeyboardInterrupt, or Terminated from the CLI's handler
            elif handler == signal.SIG_DFL:
                signal.raise_signal(caught[0])


class Terminated(Exception):
    """SIGTERM, raised where the program is (by the CLI's handler), so that open outputs are finalised."""
