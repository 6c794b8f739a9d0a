"""Help → About model: what the shipped model is, how well it measured and what its bars mean (from its card)."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QGuiApplication, QPixmap
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QHBoxLayout, QLabel, QScrollArea, QVBoxLayout, QWidget

from emotion_cam.card import ModelCard


def calibration_text(cal: dict) -> str:
    """What the bars mean and when a face is called unsure, from the card's calibration block."""
    if not cal:
        return ""
    shown = cal.get("val_int8_mirror_average" if cal.get("mirror_average") else "val_int8_single", {})
    t = cal.get("temperature")
    return (f"<br>Bars are probabilities{f' (temperature {t:.2f})' if t else ''}: expected calibration error "
            f"{shown.get('ece', 0):.1%} on val{', each face averaged with its mirror image' if cal.get('mirror_average') else ''}. "
            f"Below {cal.get('unsure_below', 0):.0%} a face is shown as unsure ({cal.get('val_unsure_fraction', 0):.0%} of val faces, "
            f"right {cal.get('val_accuracy_unsure') or 0:.0%} of the time; the others {cal.get('val_accuracy_sure') or 0:.0%}).")


class ModelCardDialog(QDialog):
    """Help → About model: what the shipped model is and how well it measured."""

    def __init__(self, model_path: Path, model_card: ModelCard, parent=None):
        super().__init__(parent)
        self.setWindowTitle("About the emotion model")
        layout = QVBoxLayout(self)
        card = model_card.details
        m = model_card.metrics
        rows = "".join(
            f"<tr><td>{name}</td><td>{pc['precision']:.2f}</td><td>{pc['recall']:.2f}</td><td>{pc['f1']:.2f}</td><td>{pc['support']}</td></tr>"
            for name, pc in m.get("per_class", {}).items())
        size_kb = card.get("size_bytes", model_path.stat().st_size if model_path.exists() else 0) / 1024
        text = (f"<b>{card.get('name', model_path.name)}</b><br>{model_path}<br>"
                f"Labels: {', '.join(model_card.labels)}<br>"
                f"Size: {size_kb:.0f} KB, {card.get('params', 0):,} parameters, {card.get('macs', 0) / 1e6:.1f} M MACs, "
                f"{card.get('latency_ms_single_thread_median', 0):.2f} ms per face (1 thread)<br>"
                f"Accuracy {m.get('accuracy', 0):.1%}, macro-F1 {m.get('macro_f1', 0):.3f} on {m.get('split', 'validation data')}"
                f"{calibration_text(model_card.calibration)}"
                f"<table cellspacing=6><tr><th align=left>emotion</th><th>precision</th><th>recall</th><th>F1</th><th>faces</th></tr>{rows}</table>")
        label = QLabel(text)
        label.setTextFormat(Qt.TextFormat.RichText)
        label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        label.setWordWrap(True)  # long sentences wrap instead of widening the dialog past the screen
        body = QWidget()
        inner = QVBoxLayout(body)
        inner.addWidget(label)
        pictures = QHBoxLayout()
        for name, width in (("confusion_matrix.png", 460), ("reliability.png", 340)):
            png = model_path.parent / name
            if png.exists():
                pic = QLabel()
                pic.setPixmap(QPixmap(str(png)).scaledToWidth(width, Qt.TransformationMode.SmoothTransformation))
                pictures.addWidget(pic)
        inner.addLayout(pictures)
        scroll = QScrollArea()  # on a small screen the content scrolls; the Close button stays in view
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setWidget(body)
        layout.addWidget(scroll)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        buttons.accepted.connect(self.accept)
        layout.addWidget(buttons)
        screen = (parent.screen() if parent is not None else None) or QGuiApplication.primaryScreen()
        free = screen.availableGeometry() if screen is not None else None
        want = body.sizeHint() + QSize(40, buttons.sizeHint().height() + 40)
        if free is not None:
            self.resize(min(want.width(), int(free.width() * 0.9)), min(want.height(), int(free.height() * 0.9)))
