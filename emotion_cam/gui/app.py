"""Start the desktop app: build the pipeline (clear dialog if a model is missing), open the window and the source."""
from __future__ import annotations

import os
import sys
import threading

from PySide6.QtCore import QSettings, QTimer
from PySide6.QtWidgets import QApplication, QMessageBox

from emotion_cam.media.sources import Source
from emotion_cam.emotion.classifier import ModelError
from emotion_cam.model_files import ModelFileError
from emotion_cam.gui.worker import FrameWorker


def create_window(source=None, image: str | None = None, settings: QSettings | None = None, config=None):
    """The main window with its worker running and the first source requested (used by the app and the tests).
    ``config``: a ``PipelineConfig`` for the worker's pipeline (default: the worker's)."""
    from emotion_cam.gui.main_window import MainWindow

    settings = settings or QSettings("EmotionCam", "EmotionCam")
    worker = FrameWorker(config, landmark_points=68 if settings.value("landmarks", False, type=bool) else 5)
    window = MainWindow(settings, worker)
    if image:
        window.current_source = Source.parse(source if source is not None else settings.value("camera", 0, type=int))
        window.open_image(image)
    else:
        window.start_source(source if source is not None else settings.value("camera", 0, type=int))
    return window


NO_DISPLAY = ("no display found: the window needs a desktop session; `emotion-cam predict` and "
              "`emotion-cam video` work without one")


def missing_display(env: dict[str, str] = os.environ, platform: str = sys.platform) -> bool:
    """On Linux without X11 or Wayland Qt would abort the process (exit 134) with advice about xcb libraries."""
    if not platform.startswith("linux"):
        return False
    chosen = env.get("QT_QPA_PLATFORM", "")
    if chosen and not chosen.startswith(("xcb", "wayland")):
        return False  # offscreen, vnc, eglfs…: they need no display server
    return not env.get("DISPLAY") and not env.get("WAYLAND_DISPLAY")


def run_app(source=None, image: str | None = None, quit_requested: threading.Event | None = None) -> int:
    """``quit_requested`` is set by the SIGINT/SIGTERM handlers: the window then closes as Ctrl+Q closes it."""
    if QApplication.instance() is None and missing_display():
        print(f"emotion-cam: error: {NO_DISPLAY}", file=sys.stderr)
        return 2
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("EmotionCam")
    app.setOrganizationName("EmotionCam")
    try:
        window = create_window(source, image)
    except (ModelError, ModelFileError) as exc:
        QMessageBox.critical(None, "EmotionCam: model missing", str(exc))
        print(f"emotion-cam: error: {exc}", file=sys.stderr)
        return 2
    window.show()
    if window.current_source.is_camera and not image:
        QTimer.singleShot(0, window.request_cameras.emit)  # fill the Camera menu; a video file probes no camera
    # Qt's event loop runs in C++; a timer lets Python run its signal handlers and notice the request.
    watchdog = QTimer(window)
    watchdog.timeout.connect(lambda: window.close() if quit_requested is not None and quit_requested.is_set() else None)
    watchdog.start(100)
    return app.exec()
