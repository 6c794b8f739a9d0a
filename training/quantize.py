"""Full-integer int8 post-training quantisation: int8 weights, activations, input and output.

The representative data are real training faces (not noise), so the activation
ranges match what the model sees at run time.
"""
from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np


def to_tflite(model, representative: np.ndarray | None = None, also_float: bool = False):
    """Convert a Keras model to TFLite: int8 when ``representative`` faces (N, 48, 48) uint8 are given, else float32.

    With ``also_float`` it returns ``(int8, float32)`` from one SavedModel export: the export traces the
    model and costs as much as a conversion, so the float copy for the report should not pay for it twice.
    """
    import tensorflow as tf

    with tempfile.TemporaryDirectory() as tmp:
        saved = Path(tmp) / "saved_model"
        model.export(str(saved), format="tf_saved_model", verbose=False)
        converter = tf.lite.TFLiteConverter.from_saved_model(str(saved))
        if representative is None:
            return converter.convert()
        faces = representative.astype(np.float32)[..., None]

        def samples():
            for face in faces:
                yield [face[None]]

        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = samples
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.int8
        converter.inference_output_type = tf.int8
        int8 = converter.convert()
        if not also_float:
            return int8
        return int8, tf.lite.TFLiteConverter.from_saved_model(str(saved)).convert()


def representative_faces(x: np.ndarray, y: np.ndarray, n: int = 500, seed: int = 0) -> np.ndarray:
    """A class-stratified sample of training faces for calibration."""
    rng = np.random.default_rng(seed)
    per_class = max(1, n // len(np.unique(y)))
    idx = np.concatenate([rng.permutation(np.flatnonzero(y == c))[:per_class] for c in np.unique(y)])
    return x[rng.permutation(idx)]
