"""The shipped model: its card matches the real model, and its measured accuracy is what the card says."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from conftest import FER, MODEL, cli, need
from emotion_cam.emotion.classifier import EmotionClassifier, ModelError, load_card
from emotion_cam.emotion.labels import EMOTIONS


@pytest.fixture(scope="module")
def card():
    if not MODEL.exists():
        pytest.fail(f"the shipped model {MODEL} is missing")
    return load_card(MODEL)


def test_card_matches_the_model(card):
    from ai_edge_litert.interpreter import Interpreter

    interp = Interpreter(model_path=str(MODEL))
    inp, out = interp.get_input_details()[0], interp.get_output_details()[0]
    assert card.labels == EMOTIONS
    assert list(inp["shape"]) == [1, *card.input.size, card.input.channels]
    assert inp["dtype"] == np.int8 and out["dtype"] == np.int8  # full-integer quantisation
    assert inp["quantization"] == pytest.approx((card.input.scale, card.input.zero_point))
    assert out["shape"][-1] == len(EMOTIONS)
    assert card.size_bytes == MODEL.stat().st_size
    assert MODEL.stat().st_size <= 1_000_000
    for g in card.crop_geometry.values():
        assert g.left_eye[0] < 0.5 < g.right_eye[0] and g.left_eye[1] < g.nose[1]
    assert set(card.crop_geometry) == {"dlib", "yunet"}


def test_pruning_removed_work_where_it_was_applied(card):
    pr, arch = card.pruning, card.architecture
    if pr.applied:
        assert pr.after.macs < pr.before.macs and pr.after.params < pr.before.params
        assert arch.widths != arch.widths_before_pruning
    else:
        assert arch.widths == arch.widths_before_pruning
        assert pr.after.macs == pr.before.macs == card.macs


def test_eval_reproduces_the_card(card, fer_root):
    """The card's figures are what `emotion-cam eval` measures: against FER-2013's labels, or (for a model
    trained on the FER+ votes) against the votes' plurality, with the FER-2013 labels beside it."""
    cal = card.calibration
    if card.training is not None and card.training.labels is not None:
        votes = need(FER / "ferplus" / "votes_val.csv")
        run = cli("eval", str(fer_root / "val"), "--votes", str(votes), "--json")
        assert run.returncode == 0, run.stderr
        whole = json.loads(run.stdout)
        full = whole["votes"]
        report = {**full["plurality"], "mirror_average": whole["mirror_average"]}
        assert full["with_plurality"] == sum(card.metrics.support)
        assert full["fer2013_labels"]["accuracy"] == pytest.approx(card.metrics_fer2013_labels.accuracy, abs=0.002)
        assert full["unsure_below"] == cal.unsure_below
    else:
        run = cli("eval", str(fer_root / "val"), "--json")
        assert run.returncode == 0, run.stderr
        report = json.loads(run.stdout)
        assert sum(report["support"]) == 3589 and np.array(report["confusion"]).sum() == 3589
    assert report["accuracy"] == pytest.approx(card.metrics.accuracy, abs=0.002)
    assert report["macro_f1"] == pytest.approx(card.metrics.macro_f1, abs=0.002)
    # eval runs the classifier as the app does (the card's mirror-averaging choice) and says how calibrated it is
    assert report["mirror_average"] == cal.mirror_average
    assert report["accuracy"] == pytest.approx(cal.shown.accuracy, abs=0.002)
    assert report["ece"] == pytest.approx(cal.shown.ece, abs=0.002) and report["nll"] == pytest.approx(cal.shown.nll, abs=0.002)
    # mirror averaging is on only where it did not cost val accuracy
    assert cal.mirror_average == (cal.val_int8_mirror_average.accuracy >= cal.val_int8_single.accuracy)


def test_mirror_averaging_is_symmetric(fer_root):
    """A face and its mirror image get the same probabilities; without averaging they differ."""
    import cv2

    paths = sorted((fer_root / "val" / "sad").glob("*.jpg"))[:16]
    crops = np.stack([cv2.imread(str(p), cv2.IMREAD_GRAYSCALE) for p in paths])
    flipped = crops[:, :, ::-1]
    averaged = EmotionClassifier(mirror=True)
    np.testing.assert_allclose(averaged.predict(crops), averaged.predict(flipped), atol=1e-6)
    single = EmotionClassifier(mirror=False)
    assert np.abs(single.predict(crops) - single.predict(flipped)).max() > 0.01


def test_a_face_in_a_dim_washed_out_frame_reads_as_in_good_light(fer_root):
    """The training faces were histogram-equalised, so the classifier equalises each crop: a face a quarter as
    bright and contrasty (a dim room) gets the reading it gets in good light; without the step it often does not."""
    import dataclasses

    import cv2

    paths = [p for name in EMOTIONS for p in sorted((fer_root / "val" / name).glob("*.jpg"))[:12]]
    crops = np.stack([cv2.imread(str(p), cv2.IMREAD_GRAYSCALE) for p in paths])
    dim = np.round(crops * 0.25 + 10).astype(np.uint8)
    clf = EmotionClassifier()
    assert clf.card.input.equalise_histogram
    same = float((clf.predict(dim).argmax(1) == clf.predict(crops).argmax(1)).mean())
    card = dataclasses.replace(clf.card, input=dataclasses.replace(clf.card.input, equalise_histogram=False))
    raw = EmotionClassifier(card=card)
    same_raw = float((raw.predict(dim).argmax(1) == raw.predict(crops).argmax(1)).mean())
    assert same >= 0.9 and same > same_raw + 0.05, (same, same_raw)


def test_predict_is_a_distribution_and_batches_agree(fer_root):
    import cv2

    clf = EmotionClassifier()
    paths = sorted((fer_root / "val" / "happy").glob("*.jpg"))[:8]
    crops = np.stack([cv2.imread(str(p), cv2.IMREAD_GRAYSCALE) for p in paths])
    batch = clf.predict(crops)
    assert batch.shape == (8, 7)
    np.testing.assert_allclose(batch.sum(1), 1, atol=1e-5)
    single = np.stack([clf.predict(c) for c in crops])
    np.testing.assert_allclose(single, batch, atol=1e-6)


def test_missing_or_broken_model_is_a_clear_error(tmp_path):
    with pytest.raises(ModelError, match="not found"):
        EmotionClassifier(tmp_path / "missing.tflite")
    broken = tmp_path / "broken.tflite"
    broken.write_bytes(b"garbage")
    (tmp_path / "broken.json").write_text(json.dumps({"labels": list(EMOTIONS)}))
    with pytest.raises(ModelError, match="broken.tflite"):
        EmotionClassifier(broken)


def test_runtime_never_imports_tensorflow():
    code = ("import sys, emotion_cam.pipeline, emotion_cam.commands.cli, emotion_cam.measure.bench, emotion_cam.commands.video, emotion_cam.gui.main_window\n"
            "from emotion_cam.pipeline import Pipeline\nPipeline()\n"
            "print('tensorflow' in sys.modules, 'keras' in sys.modules)")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == ["False", "False"]


def test_the_pipeline_takes_its_parts_as_objects(faces_dir):
    import cv2

    from emotion_cam.emotion.classifier import load_classifier
    from emotion_cam.faces.detectors import HaarDetector
    from emotion_cam.faces.landmarks import LandmarkPredictor
    from emotion_cam.pipeline import Pipeline

    classifier = load_classifier(MODEL, mirror=False)
    pipeline = Pipeline(detector=HaarDetector(), landmarks=LandmarkPredictor(68), classifier=classifier)
    assert pipeline.detector.name == "haar" and pipeline.classifier is classifier
    (face,) = pipeline.process_image(cv2.imread(str(faces_dir / "Tom_Cruise_avp_2014_4.jpg"))).faces
    assert face.landmarks.shape == (68, 2) and abs(face.probs.sum() - 1) < 1e-3


def test_load_classifier_chooses_the_implementation_by_suffix(tmp_path):
    from emotion_cam.emotion.classifier import load_classifier

    assert isinstance(load_classifier(MODEL), EmotionClassifier)
    other = tmp_path / "model.onnx"
    other.write_bytes(b"not yet supported")
    with pytest.raises(ModelError, match=r"unsupported model format \.onnx; supported: \.tflite"):
        load_classifier(other)
