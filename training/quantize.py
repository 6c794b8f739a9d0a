"""Full-integer int8 post-training quantisation: int8 weights, activations, input and output.

The representative data are real training faces (not noise), so the activation
ranges match what the model sees at run time.
"""
from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np


@contextmanager
def saved_model(model) -> Iterator[Path]:
    """The model exported as a SavedModel in a temporary folder.

    Exporting traces the model and costs as much as a conversion, so convert it as often as needed from one export.
    """
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "saved_model"
        model.export(str(path), format="tf_saved_model", verbose=False)
        yield path


def to_tflite(saved: Path, representative: np.ndarray | None = None) -> bytes:
    """Convert a SavedModel to TFLite: int8 when ``representative`` faces (N, 48, 48) uint8 are given, else float32."""
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_saved_model(str(saved))
    if representative is not None:
        faces = representative.astype(np.float32)[..., None]

        def samples():
            for face in faces:
                yield [face[None]]

        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = samples
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.int8
        converter.inference_output_type = tf.int8
    return converter.convert()


def representative_faces(x: np.ndarray, y: np.ndarray, n: int = 500, seed: int = 0) -> np.ndarray:
    """A class-stratified sample of training faces for calibration."""
    rng = np.random.default_rng(seed)
    per_class = max(1, n // len(np.unique(y)))
    idx = np.concatenate([rng.permutation(np.flatnonzero(y == c))[:per_class] for c in np.unique(y)])
    return x[rng.permutation(idx)]
