"""Help → About model: what the shipped model is, how well it measured and what its bars mean (from its card)."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QGuiApplication, QPixmap
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QHBoxLayout, QLabel, QScrollArea, QVBoxLayout, QWidget

from emotion_cam.emotion.card import Calibration, Distillation, ModelCard, Pruning


def calibration_text(cal: Calibration) -> str:
    """What the bars mean and when a face is called unsure, from the card's calibration block."""
    shown = cal.shown
    if shown is None:
        return ""
    t = cal.temperature
    sure, unsure = cal.val_accuracy_sure or 0.0, cal.val_accuracy_unsure or 0.0
    return (f"<br>Bars are probabilities{f' (temperature {t:.2f})' if t else ''}: expected calibration error "
            f"{shown.ece:.1%} on val{', each face averaged with its mirror image' if cal.mirror_average else ''}. "
            f"Below {cal.unsure_below:.0%} a face is shown as unsure ({cal.val_unsure_fraction or 0:.0%} of val faces, "
            f"right {unsure:.0%} of the time; the others {sure:.0%}).")


def distillation_text(d: Distillation | None) -> str:
    """Which teachers the model learnt from, and how well they did on their own."""
    if d is None:
        return ""
    each = ", ".join(f"{name} {t.val_accuracy_mirror_average:.1%}" for name, t in d.teachers.items())
    return (f"<br>Distilled from an ensemble of {len(d.teachers)} larger networks ({each}; together "
            f"{d.ensemble_val_accuracy_mirror_average:.1%} on val), soft targets weighted {d.weight:.0%} at temperature {d.temperature:g}.")


def pruning_text(p: Pruning | None) -> str:
    if p is None or not p.applied:
        return ""
    return (f"<br>Pruned to {p.keep_fraction:.0%} of its channels: {p.before.macs / 1e6:.1f} → {p.after.macs / 1e6:.1f} M MACs, "
            f"val accuracy (int8) {p.before.val_accuracy_int8:.1%} → {p.after.val_accuracy_int8:.1%}.")


class ModelCardDialog(QDialog):
    """Help → About model: what the shipped model is and how well it measured."""

    def __init__(self, model_path: Path, model_card: ModelCard, parent=None):
        super().__init__(parent)
        self.setWindowTitle("About the emotion model")
        layout = QVBoxLayout(self)
        card, m = model_card, model_card.metrics
        rows = "" if m is None else "".join(
            f"<tr><td>{name}</td><td>{p:.2f}</td><td>{r:.2f}</td><td>{f:.2f}</td><td>{n}</td></tr>"
            for name, p, r, f, n in zip(card.labels, m.precision, m.recall, m.f1, m.support))
        size_kb = (card.size_bytes or (model_path.stat().st_size if model_path.exists() else 0)) / 1000  # as the README
        cost = (f", {card.params:,} parameters" if card.params else "") + (f", {card.macs / 1e6:.1f} M MACs" if card.macs else "")
        latency = card.latency_ms_single_thread_median
        text = (f"<b>{card.name}</b><br>{model_path}<br>"
                f"Labels: {', '.join(card.labels)}<br>"
                f"Size: {size_kb:.0f} KB{cost}{f', {latency:.2f} ms per face (1 thread)' if latency else ''}<br>"
                + (f"Accuracy {m.accuracy:.1%}, macro-F1 {m.macro_f1:.3f} on {m.split}" if m else "Not measured on validation data")
                + distillation_text(card.distillation) + pruning_text(card.pruning)
                + calibration_text(card.calibration)
                + f"<table cellspacing=6><tr><th align=left>emotion</th><th>precision</th><th>recall</th><th>F1</th><th>faces</th></tr>{rows}</table>")
        label = QLabel(text)
        label.setTextFormat(Qt.TextFormat.RichText)
        label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        label.setWordWrap(True)  # long sentences wrap instead of widening the dialog past the screen
        body = QWidget()
        inner = QVBoxLayout(body)
        inner.addWidget(label)
        pictures = QHBoxLayout()
        plots = card.plots
        for name, width in ((plots.confusion_matrix, 460), (plots.reliability, 340)) if plots else ():
            png = model_path.parent / name
            if png.is_file():
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
