"""The main window: a thin Qt layer over the worker's results. No detection or inference runs here."""
from __future__ import annotations

import html
import time

from pathlib import Path

from PySide6.QtCore import QSettings, Qt, QThread, Signal, Slot
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import (QFileDialog, QHBoxLayout, QLabel, QToolButton, QMainWindow, QMessageBox, QScrollArea, QSlider, QSplitter, QVBoxLayout,
                               QWidget)

from emotion_cam.media.sources import Source
from emotion_cam.media.images import SUPPORTED_SUFFIXES
from emotion_cam.media.outputs import OutputError, check_outputs, write_image
from emotion_cam.results import main_face
from emotion_cam.gui.model_card import ModelCardDialog
from emotion_cam.gui.session import SessionRecorder
from emotion_cam.gui.widgets import ClickToSeekStyle, FacePanel, Timeline, VideoView, time_readout, to_qimage
from emotion_cam.gui.worker import FrameMessage, FrameWorker, Problem

IMAGE_FILTER = f"Images ({' '.join('*' + s for s in SUPPORTED_SUFFIXES)});;All files (*)"
VIDEO_FILTER = "Videos (*.mp4 *.avi *.mov *.mkv *.webm);;All files (*)"


def source_name(source: Source) -> str:
    """For the status bar: "Camera 0", "Video: clip.mp4"."""
    return f"Camera {source.camera}" if source.is_camera else f"Video: {Path(source.path).name}"


class MainWindow(QMainWindow):
    # Requests to the worker, delivered in its thread (queued connections).
    request_source = Signal(object)
    request_image = Signal(str)
    request_live = Signal(object)  # the camera or video to go back to
    request_pause = Signal(bool)
    request_mirror = Signal(bool)
    request_landmarks = Signal(int)
    request_mirror_average = Signal(bool)
    request_bars = Signal(bool)
    request_frame_shown = Signal()
    request_record = Signal(object)  # a folder to record into, or None to stop
    request_seek = Signal(int)  # a frame of the video file
    request_step = Signal(int)  # +1 / -1 frame while paused
    request_cameras = Signal()
    request_stop = Signal()

    def __init__(self, settings: QSettings | None = None, worker: FrameWorker | None = None):
        """``worker`` (with its pipeline) is moved to the worker thread; the window keeps only plain data about
        its model (``model``)."""
        super().__init__()
        self.setWindowTitle("EmotionCam")
        self.settings = settings or QSettings("EmotionCam", "EmotionCam")
        self.last_message: FrameMessage | None = None
        self.frames_received = 0
        self.session = SessionRecorder()  # every face of every frame shown, for File → Export shown faces
        self.setAcceptDrops(True)

        self.view = VideoView()
        self.panel = FacePanel()
        self.current_source: Source | None = None
        self.timeline = Timeline()
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)  # the bars take the width there is
        scroll.setWidget(self.panel)
        right = QSplitter(Qt.Orientation.Vertical)
        right.addWidget(scroll)
        right.addWidget(self.timeline)
        right.setSizes([400, 140])
        # The seek bar under the picture, for video files only.
        self.seek_bar = QSlider(Qt.Orientation.Horizontal)
        self.seek_style = ClickToSeekStyle()  # kept: the slider does not own its style
        self.seek_bar.setStyle(self.seek_style)
        self.seek_bar.setToolTip("Click or drag to a moment of the video; , and . step a frame while paused")
        self.seek_bar.sliderReleased.connect(lambda: self.request_seek.emit(self.seek_bar.value()))
        self.seek_bar.actionTriggered.connect(self._seek_clicked)
        self.play_button = QToolButton()  # Play/Pause: its action is the Pause menu item's (Space)
        self.time_label = QLabel()
        self.seek_row = QWidget()
        row = QHBoxLayout(self.seek_row)
        row.setContentsMargins(4, 0, 4, 0)
        row.addWidget(self.play_button)
        row.addWidget(self.seek_bar, 1)
        row.addWidget(self.time_label)
        self.seek_row.setVisible(False)
        left = QWidget()
        column = QVBoxLayout(left)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(self.view, 1)
        column.addWidget(self.seek_row)
        split = QSplitter()
        split.addWidget(left)
        split.addWidget(right)
        split.setStretchFactor(0, 4)
        split.setStretchFactor(1, 1)
        split.setSizes([900, 300])
        self.setCentralWidget(split)
        self.rec_label = QLabel()
        self.rec_label.setStyleSheet("color: #e02020; font-weight: bold")
        self.statusBar().addPermanentWidget(self.rec_label)
        self.source_label = QLabel()
        self.fps_label = QLabel()
        # Short text on the right (the per-stage times in its tooltip), so the left keeps room for messages.
        self.statusBar().addPermanentWidget(self.source_label)
        self.statusBar().addPermanentWidget(self.fps_label)
        self.followed: int | None = None  # the track the timeline plots
        self.followed_seen = 0.0  # its last time in view (source seconds)

        self.thread = QThread(self)
        self.thread.setObjectName("emotion-cam-worker")
        self.worker = worker or FrameWorker()
        self.model = self.worker.model_info  # plain, frozen data: the About dialog and the card's defaults
        self.worker.moveToThread(self.thread)
        self.thread.started.connect(self.worker.setup)
        self.worker.frame_ready.connect(self.on_frame)
        self.worker.status.connect(self.on_status)
        self.worker.problem.connect(self.on_problem)
        self.worker.cameras_found.connect(self.on_cameras)
        self.worker.source_opened.connect(self.on_source_opened)
        self.request_source.connect(self.worker.open_source)
        self.request_image.connect(self.worker.open_image)
        self.request_live.connect(self.worker.resume_live)
        self.request_pause.connect(self.worker.set_paused)
        self.request_mirror.connect(self.worker.set_mirror)
        self.request_landmarks.connect(self.worker.set_landmarks)
        self.request_mirror_average.connect(self.worker.set_mirror_average)
        self.request_bars.connect(self.worker.set_bars)
        self.request_frame_shown.connect(self.worker.frame_shown)
        self.request_record.connect(self.worker.set_recording)
        self.request_seek.connect(self.worker.seek)
        self.request_step.connect(self.worker.step)
        self.worker.recorded.connect(self.on_recorded)
        self.view.resized.connect(self.worker.set_view_size)
        self.request_cameras.connect(self.worker.probe_cameras)
        self.request_stop.connect(self.worker.stop)
        # Direct: QThread.quit is thread-safe, and the GUI thread is blocked in wait() at that moment.
        self.worker.stopped.connect(self.thread.quit, Qt.ConnectionType.DirectConnection)
        self.thread.finished.connect(self.worker.deleteLater)
        self.thread.start()

        self._build_menus()
        self._restore_settings()

    # -- menus and shortcuts ------------------------------------------------------------------------
    def _action(self, menu, text: str, slot, shortcut=None, checkable: bool = False) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        action.setCheckable(checkable)
        (action.toggled if checkable else action.triggered).connect(slot)
        menu.addAction(action)
        self.addAction(action)  # shortcuts work in full screen, with the menu bar hidden
        return action

    def _build_menus(self) -> None:
        m = self.menuBar().addMenu("&File")
        self._action(m, "Open &image…", self.open_image_dialog, QKeySequence.StandardKey.Open)
        self._action(m, "Open &video…", self.open_video_dialog, "Ctrl+Shift+O")
        self._action(m, "&Save snapshot…", self.save_snapshot_dialog, QKeySequence.StandardKey.Save)
        self._action(m, "&Export shown faces (CSV)…", self.export_session_dialog, "Ctrl+E")
        self.record_action = self._action(m, "&Record the view (MP4 + CSV)", self.set_recording, "Ctrl+R", checkable=True)
        self._action(m, "Recording &folder…", self.choose_record_folder)
        m.addSeparator()
        self._action(m, "&Quit", self.close, "Ctrl+Q")  # StandardKey.Quit is empty on some platforms

        m = self.menuBar().addMenu("&View")
        self._action(m, "&Live", self.go_live, "Ctrl+L")
        self.pause_action = self._action(m, "&Pause", self.set_paused, Qt.Key.Key_Space, checkable=True)
        self.play_button.setDefaultAction(self.pause_action)
        self._action(m, "Next frame (paused)", lambda: self._step(1), ".")
        self._action(m, "Previous frame (paused)", lambda: self._step(-1), ",")
        self.mirror_action = self._action(m, "&Mirror", self.set_mirror, "M", checkable=True)
        self.landmarks_action = self._action(m, "Show &landmarks", self.set_landmarks, "L", checkable=True)
        self.bars_action = self._action(m, "&Bars on faces (off: label only, bars in the panel)", self.set_bars, "B",
                                        checkable=True)
        self.mirror_average_action = self._action(m, "&Average each face with its mirror image", self.set_mirror_average, "A",
                                                  checkable=True)
        self.fullscreen_action = self._action(m, "&Full screen", self.set_fullscreen, "F11", checkable=True)

        self.camera_menu = self.menuBar().addMenu("&Camera")
        self.camera_menu.aboutToShow.connect(self.request_cameras.emit)
        self.camera_group = QActionGroup(self)
        self.camera_menu.addAction("Looking for cameras…").setEnabled(False)

        m = self.menuBar().addMenu("&Help")
        self._action(m, "About &model…", self.show_model_card)
        self._action(m, "&Keyboard shortcuts", self.show_shortcuts)

    def _restore_settings(self) -> None:
        geometry = self.settings.value("geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
        else:  # the first start: 1200x760, or less on a small screen, so the status bar is in view
            free = self.screen().availableGeometry()
            self.resize(min(1200, int(free.width() * 0.95)), min(760, int(free.height() * 0.92)))
        self.mirror_action.setChecked(self.settings.value("mirror", False, type=bool))
        self.landmarks_action.setChecked(self.settings.value("landmarks", False, type=bool))
        self.bars_action.blockSignals(True)
        self.bars_action.setChecked(self.settings.value("bars", True, type=bool))
        self.bars_action.blockSignals(False)
        if not self.bars_action.isChecked():
            self.request_bars.emit(False)
        # Unless the user chose, follow the model card (on where it gained on val); restoring is not choosing.
        card_choice = self.model.mirror_default
        on = self.settings.value("mirror_average", card_choice, type=bool)
        self.mirror_average_action.blockSignals(True)
        self.mirror_average_action.setChecked(on)
        self.mirror_average_action.blockSignals(False)
        if on != card_choice:
            self.request_mirror_average.emit(on)

    # -- sources ------------------------------------------------------------------------------------
    def start_source(self, source: Source | str | int) -> None:
        source = Source.parse(source)
        self.view.set_image(None)
        self.view.set_message(f"Opening {source.label}…")
        self.timeline.clear()
        self.followed = None
        self.fps_label.clear()
        self.source_label.setText(source_name(source))
        self.current_source = source
        self.request_source.emit(source)

    @Slot(object)
    def on_source_opened(self, source: Source) -> None:
        if source.is_camera:  # only a camera that opened is remembered: a mistyped --source 5 is not
            self.settings.setValue("camera", source.camera)

    def open_image(self, path: str) -> None:
        """Process a still image in the worker and show it (the path the file dialog and drag-and-drop use)."""
        self.pause_action.setChecked(False)
        self.view.set_message(f"Opening {Path(path).name}…")
        self.timeline.clear()  # a photo has no timeline; the live one starts afresh after it
        self.followed = None
        self.source_label.setText(f"Image: {Path(path).name}")
        self.request_image.emit(path)

    def open_image_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open image", self.settings.value("last_dir", ""), IMAGE_FILTER)
        if path:
            self.settings.setValue("last_dir", str(Path(path).parent))
            self.open_image(path)

    def open_video_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open video", self.settings.value("last_dir", ""), VIDEO_FILTER)
        if path:
            self.settings.setValue("last_dir", str(Path(path).parent))
            self.start_source(path)

    def go_live(self) -> None:
        self.pause_action.setChecked(False)
        if self.current_source is not None:
            self.source_label.setText(source_name(self.current_source))
        self.request_live.emit(self.current_source)

    @Slot(list)
    def on_cameras(self, indices: list) -> None:
        self.camera_menu.clear()
        if not indices:
            self.camera_menu.addAction("No camera found").setEnabled(False)
            return
        for index in indices:
            action = self.camera_menu.addAction(f"Camera {index}")
            action.setCheckable(True)
            action.setChecked(self.current_source == Source(camera=index))
            self.camera_group.addAction(action)
            action.triggered.connect(lambda _=False, i=index: self.start_source(i))

    # -- results ------------------------------------------------------------------------------------
    @Slot(object)
    def on_frame(self, msg: FrameMessage) -> None:
        self.request_frame_shown.emit()
        if self.pause_action.isChecked() and not msg.still and not msg.stepped:
            return
        if not msg.still and msg.source != str(self.current_source):
            return  # a frame of the previous source, sent before the switch reached the worker
        self.last_message = msg
        self.frames_received += 1
        self.view.set_image(to_qimage(msg.image))
        self.panel.set_faces(msg.faces)
        total = sum(msg.timings_ms.values())
        stages = ", ".join(f"{k} {v:.1f} ms" for k, v in msg.timings_ms.items() if v >= 0.05)
        rate = "" if msg.still else f"{msg.fps:.0f} fps · "
        faces = f"{len(msg.faces)} face" + ("" if len(msg.faces) == 1 else "s")
        self.fps_label.setText(f"{rate}{faces} · {total:.0f} ms")
        self.fps_label.setToolTip(f"Time per stage for the last frame: {stages}" if stages else "")
        if not msg.still:
            self.seek_row.setVisible(msg.length > 0)
            if msg.length > 0:
                self.time_label.setText(time_readout(msg.frame_index, msg.length, msg.video_fps))
            if msg.length > 0 and not self.seek_bar.isSliderDown():
                self.seek_bar.blockSignals(True)
                self.seek_bar.setRange(0, max(0, msg.length - 1))
                self.seek_bar.setValue(msg.frame_index)
                self.seek_bar.blockSignals(False)
        self.rec_label.setText("" if msg.recording_s is None else
                               f"● REC {int(msg.recording_s) // 60}:{int(msg.recording_s) % 60:02d}")
        if msg.still:  # live frames sent before the photo was asked for may have added to it since open_image
            self.timeline.clear()
            self.followed = None
        else:
            self._follow(msg)
        self.session.record(msg)  # a photo's faces too (time 0, frame 0): Ctrl+E exports what was shown

    def _follow(self, msg: FrameMessage) -> None:
        """The timeline plots one face by its track: the largest face when it starts, kept while it is in view
        (or gone under 2 s), then the largest face again."""
        faces = {f.track_id: f for f in msg.faces}
        if self.followed in faces:
            self.followed_seen = msg.time_s
        elif self.followed is None or not 0 <= msg.time_s - self.followed_seen < 2.0:
            main = main_face(msg.faces)
            if main is None:
                return
            if self.followed is not None:
                self.timeline.clear()
            self.followed, self.followed_seen = main.track_id, msg.time_s
        face = faces.get(self.followed)
        if face is not None:
            self.timeline.add(msg.time_s, face.probs, f"face #{face.track_id}")

    @Slot(str, int)
    def on_status(self, text: str, ms: int) -> None:
        self.statusBar().showMessage(text, ms)

    @Slot(object, str)
    def on_problem(self, kind: Problem, text: str) -> None:
        """Each problem said once, in one place: a photo that cannot be opened and a failed recording in a dialog
        (what was on screen stays); a source that fails on the view, where its picture would be."""
        if kind is Problem.WRITE:  # a recording that failed: it has stopped
            self._recording_stopped()
            QMessageBox.warning(self, "EmotionCam", text)
            return
        if kind is Problem.IMAGE:
            # "Opening …" goes; with nothing to go back to (--image at start), what can be done instead
            self.view.set_message("" if self.view.image() is not None else "No picture: Ctrl+O opens a photo, Ctrl+L the camera")
            QMessageBox.warning(self, "EmotionCam", text)
            return
        self.fps_label.clear()  # no stale "25 fps" under a source that failed
        self.statusBar().clearMessage()
        self.view.set_message("!" + text if self.view.image() is not None else text)  # "!": drawn over the picture

    # -- controls -----------------------------------------------------------------------------------
    @Slot(bool)
    def set_paused(self, paused: bool) -> None:
        self.request_pause.emit(paused)
        self.statusBar().showMessage("Paused (Space to resume)" if paused else "Resumed", 3000)

    @Slot(bool)
    def set_mirror(self, on: bool) -> None:
        self.settings.setValue("mirror", on)
        self.request_mirror.emit(on)

    @Slot(bool)
    def set_mirror_average(self, on: bool) -> None:
        self.settings.setValue("mirror_average", on)
        self.request_mirror_average.emit(on)

    @Slot(bool)
    def set_landmarks(self, on: bool) -> None:
        self.settings.setValue("landmarks", on)
        self.request_landmarks.emit(68 if on else 5)

    def _seek_clicked(self, action: int) -> None:
        """A click or key on the bar (not a drag, which seeks on release)."""
        if not self.seek_bar.isSliderDown() and action != QSlider.SliderAction.SliderMove:
            self.request_seek.emit(self.seek_bar.sliderPosition())

    def _step(self, frames: int) -> None:
        if self.current_source is None or self.current_source.is_camera:
            return
        if not self.pause_action.isChecked():
            self.pause_action.setChecked(True)
        self.request_step.emit(frames)

    @Slot(bool)
    def set_recording(self, on: bool) -> None:
        if not on:
            self.request_record.emit(None)
            return
        if self.last_message is not None and self.last_message.still:
            self._recording_stopped()
            self.statusBar().showMessage("A recording is of a camera or video: go back to it with Ctrl+L, then "
                                         "press Ctrl+R (Ctrl+S saves this photo)", 8000)
            return
        folder = self.settings.value("record_dir", "") or self.choose_record_folder()
        if not folder:
            self._recording_stopped()
            return
        self.request_record.emit(folder)
        self.statusBar().showMessage(f"Recording into {folder} (Ctrl+R stops)", 4000)

    def choose_record_folder(self) -> str:
        folder = QFileDialog.getExistingDirectory(self, "Folder for recordings", self.settings.value("record_dir", "")
                                                  or self.settings.value("last_dir", ""))
        if folder:
            self.settings.setValue("record_dir", folder)
        return folder

    @Slot(str, str, int)
    def on_recorded(self, video: str, table: str, frames: int) -> None:
        self._recording_stopped()
        self.statusBar().showMessage(f"Recorded {frames} frames to {video} (faces: {Path(table).name})", 10000)

    def _recording_stopped(self) -> None:
        self.record_action.blockSignals(True)
        self.record_action.setChecked(False)
        self.record_action.blockSignals(False)
        self.rec_label.clear()

    @Slot(bool)
    def set_bars(self, on: bool) -> None:
        self.settings.setValue("bars", on)
        self.request_bars.emit(on)
        if self.last_message is not None and len(self.last_message.faces) > 4:  # B would seem to do nothing
            self.statusBar().showMessage("With more than four faces in view, faces carry their title only: "
                                         "every face's bars are in the panel", 6000)

    @Slot(bool)
    def set_fullscreen(self, on: bool) -> None:
        self.showFullScreen() if on else self.showNormal()
        self.menuBar().setVisible(not on)

    def save_snapshot_dialog(self) -> None:
        if self.last_message is None:
            self.statusBar().showMessage("Nothing to save yet", 3000)
            return
        image = self.last_message.image.copy()  # freeze the current frame before the dialog opens
        folder = self.settings.value("snapshot_dir", "") or str(Path.home())
        path, _ = QFileDialog.getSaveFileName(self, "Save snapshot", str(Path(folder) / self.snapshot_name()),
                                              "PNG image (*.png);;JPEG image (*.jpg *.jpeg)")
        if path and self.save_snapshot(path, image):
            self.settings.setValue("snapshot_dir", str(Path(path).parent))

    def snapshot_name(self) -> str:
        """The source's name and where in it: woman2-frame123.png, dogs.png, or camera-20261204-183012.png."""
        msg = self.last_message
        if msg is None or not msg.source or (self.current_source is not None and self.current_source.is_camera):
            return time.strftime("camera-%Y%m%d-%H%M%S.png")
        stem = Path(msg.source).stem
        return f"{stem}.png" if msg.still else f"{stem}-frame{msg.frame_index}.png"

    def save_snapshot(self, path: str, image=None) -> bool:
        image = self.last_message.image if image is None else image
        if Path(path).suffix.lower() not in {".png", ".jpg", ".jpeg"}:
            path += ".png"
        try:
            check_outputs([path], inputs=self._inputs(), force=True)  # the dialog has asked about overwriting
            write_image(path, image)
        except OutputError as exc:
            self._write_failed("Could not save the snapshot", exc)
            return False
        self.statusBar().showMessage(f"Saved {path}", 5000)
        return True

    def _inputs(self) -> list[str]:
        """The files the window is reading: a snapshot or export must never be written over them."""
        files = [self.last_message.source] if self.last_message is not None and self.last_message.source else []
        if self.current_source is not None and not self.current_source.is_camera:
            files.append(self.current_source.path)
        return files

    def _write_failed(self, what: str, exc: OutputError) -> None:
        """Every failed write is shown in the window, with the system's reason (read-only, disk full…)."""
        self.statusBar().showMessage(f"{what}: {exc}", 10000)
        QMessageBox.warning(self, "EmotionCam", f"{what}.\n\n{exc.path}\n{exc.reason}")

    def export_session_dialog(self) -> None:
        if not self.session:
            self.statusBar().showMessage("No faces shown yet: nothing to export", 3000)
            return
        path, _ = QFileDialog.getSaveFileName(self, "Export shown faces", str(Path(self.settings.value("last_dir", "")) /
                                              "emotioncam_session.csv"), "CSV (*.csv)")
        if path:
            self.export_session(path)

    def export_session(self, path: str) -> int:
        """The number of rows written, or -1 if the file could not be written (the window says why)."""
        try:
            check_outputs([path], inputs=self._inputs(), force=True)
            rows = self.session.export(path)
        except OutputError as exc:
            self._write_failed("Could not export the shown faces", exc)
            return -1
        self.statusBar().showMessage(f"Exported {rows} rows (every face in every frame shown) to {path}", 5000)
        return rows

    def show_model_card(self) -> None:
        ModelCardDialog(self.model.path, self.model.card, self).exec()

    def shortcut_list(self) -> list[tuple[str, str]]:
        """Every key the window answers to, read from its actions: the dialog cannot leave one out."""
        rows = []
        for action in self.actions():
            if not action.shortcut().isEmpty():
                text = action.text().replace("&", "").removesuffix("…")
                rows.append((action.shortcut().toString(QKeySequence.SequenceFormat.NativeText), text))
        return rows

    def show_shortcuts(self) -> None:
        table = "".join(f"<tr><td style='padding-right:16px'><b>{html.escape(key)}</b></td><td>{html.escape(what)}</td></tr>"
                        for key, what in self.shortcut_list())
        QMessageBox.information(self, "Keyboard shortcuts", f"<table>{table}</table>")

    # -- drag and drop ------------------------------------------------------------------------------
    def dragEnterEvent(self, event) -> None:
        urls = event.mimeData().urls()
        if urls and urls[0].isLocalFile():
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        path = event.mimeData().urls()[0].toLocalFile()
        if Path(path).suffix.lower() in SUPPORTED_SUFFIXES:
            self.open_image(path)
        else:
            self.start_source(path)

    # -- shutdown -----------------------------------------------------------------------------------
    def shutdown(self, timeout_ms: int = 1000) -> bool:
        """Stop the worker, release the camera and join the thread; True if it ended in time."""
        if not self.thread.isRunning():
            return True
        self.worker.stopping.set()
        self.request_stop.emit()  # the worker stops its timer, releases the camera, then quits the thread
        if self.thread.wait(timeout_ms):
            return True
        self.thread.quit()
        return self.thread.wait(200)

    def closeEvent(self, event) -> None:
        self.settings.setValue("geometry", self.saveGeometry())
        self.shutdown()
        super().closeEvent(event)
