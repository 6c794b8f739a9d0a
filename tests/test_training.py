"""Training pipeline on real FER-2013 images: loaders, and a one-epoch train -> prune -> int8 -> export smoke run."""
from __future__ import annotations

import csv
import json
import shutil

import numpy as np
import pytest

from emotion_cam.dataset import load_csv, load_folder, load_split
from emotion_cam.labels import EMOTIONS

pytest.importorskip("tensorflow", reason="training tests need the 'train' extra (pip install -e '.[dev]')")


@pytest.fixture(scope="module")
def small_folder(fer_root, tmp_path_factory):
    """40 real val faces per class copied into a folder-per-class tree, plus one unreadable file."""
    root = tmp_path_factory.mktemp("fer_small")
    for name in EMOTIONS:
        (root / name).mkdir()
        for p in sorted((fer_root / "val" / name).glob("*.jpg"))[:40]:
            shutil.copy(p, root / name / p.name)
    (root / "angry" / "zz_broken.jpg").write_bytes(b"not a jpeg")
    return root


def test_folder_loader_reads_real_faces_and_reports_bad_files(small_folder):
    split = load_folder(small_folder)
    assert split.x.shape == (280, 48, 48) and split.x.dtype == np.uint8
    assert split.class_counts().tolist() == [40] * 7
    assert len(split.skipped) == 1 and "zz_broken.jpg" in split.skipped[0][0]
    assert split.x.std() > 20  # real faces, not blank arrays


def test_csv_loader_matches_the_folder_and_skips_bad_rows(small_folder, tmp_path):
    split = load_folder(small_folder)
    path = tmp_path / "fer2013.csv"
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["emotion", "pixels", "Usage"])
        for x, y in zip(split.x, split.y):
            w.writerow([int(y), " ".join(map(str, x.ravel())), "PublicTest"])
        w.writerow([3, "1 2 3", "PublicTest"])  # too few pixels
        w.writerow([9, " ".join(["0"] * 2304), "PublicTest"])  # no such class
        w.writerow([0, " ".join(["0"] * 2304), "Training"])  # another split
    from_csv = load_csv(path, "val")
    np.testing.assert_array_equal(from_csv.x, split.x)
    np.testing.assert_array_equal(from_csv.y, split.y)
    assert len(from_csv.skipped) == 2
    assert len(load_csv(path, "train")) == 1
    assert len(load_split(path, "val")) == 280


def test_cache_round_trip(small_folder, tmp_path):
    from training.data import load

    first = load(small_folder, "val", tmp_path)
    assert len(list(tmp_path.glob("*.npz"))) == 1
    second = load(small_folder, "val", tmp_path)
    np.testing.assert_array_equal(first.x, second.x)


def test_class_weights_favour_rare_classes():
    from training.train import class_weights

    counts = np.array([3995, 436, 4097, 7215, 4965, 4830, 3171])
    w = class_weights(counts, 0.5)
    assert w[1] == max(w.values()) and w[3] == min(w.values())
    assert sum(w[i] * c for i, c in enumerate(counts)) == pytest.approx(counts.sum())


def test_class_offsets_give_a_starved_class_back(fer_root):
    """Offsets tuned on one half of val lift macro-F1 on the other half, and folding them into the bias is exact."""
    from emotion_cam.classify import EmotionClassifier
    from emotion_cam.evaluate import predict_all
    from training.calibrate import choose_offsets, fold_into_model, score
    from training.models import build

    val = load_folder(fer_root / "val")
    log_probs = np.log(np.clip(predict_all(EmotionClassifier(mirror=False), val.x), 1e-7, 1))
    starved = log_probs.copy()
    starved[:, 1] -= 2.0  # disgust all but never predicted, as after a careless fine-tune
    assert (starved.argmax(1) == 1).sum() <= 5 < (log_probs.argmax(1) == 1).sum()
    full_f1 = score(log_probs, val.y, np.zeros(7))[1]
    assert score(starved, val.y, np.zeros(7))[1] < full_f1 - 0.02
    offsets, est = choose_offsets(starved, val.y)
    # Out of sample, the offsets win back a good share of the macro-F1 that starving disgust cost.
    assert est["applied"] and est["macro_f1_after"] > est["macro_f1_before"] + 0.4 * (full_f1 - est["macro_f1_before"])
    assert est["accuracy_after"] > est["accuracy_before"] - 0.02
    assert offsets[1] == max(offsets) and abs(offsets.mean()) < 1e-9

    model = build("compact")
    x = np.random.default_rng(0).uniform(0, 255, (4, 48, 48, 1)).astype(np.float32)
    before = np.asarray(model(x, training=False))
    fold_into_model(model, offsets)
    expected = before * np.exp(offsets)
    np.testing.assert_allclose(np.asarray(model(x, training=False)), expected / expected.sum(1, keepdims=True), rtol=1e-4, atol=1e-6)


def test_pruning_keeps_the_function_of_kept_channels():
    """Pruning with keep=1.0 must give the same outputs; keep=0.5 must give fewer MACs and a working model."""
    from training.models import build, count_macs
    from training.prune import prune

    model = build("compact")
    x = np.random.default_rng(0).uniform(0, 255, (4, 48, 48, 1)).astype(np.float32)
    same, widths = prune(model, "compact", 1.0)
    # Eager calls: predict() would trace a tf.function per model, seconds each on 2 cores.
    np.testing.assert_allclose(np.asarray(same(x, training=False)), np.asarray(model(x, training=False)), atol=1e-5)
    half, widths = prune(model, "compact", 0.5)
    assert widths == [8, 8, 16, 16, 32, 32, 64, 64]
    assert count_macs(half) < 0.35 * count_macs(model)


@pytest.fixture(scope="module")
def smoke_run(fer_root, tmp_path_factory):
    """The reproduce command once, on 8 faces per class: train -> prune -> fine-tune -> offsets -> int8 -> export.

    ``--eager`` skips TensorFlow's tracing of the train step, which costs about a minute per fit on 2 cores
    for a run of one step; the stages and files are the same as in a full run.
    """
    from training.reproduce import main

    tmp = tmp_path_factory.mktemp("smoke")
    out, runs = tmp / "models", tmp / "runs"
    assert main(["--data", str(fer_root), "--out", str(out), "--runs", str(runs), "--epochs", "1", "--finetune-epochs", "1",
                 "--limit-per-class", "8", "--geometry-faces", "120", "--calibration", "14", "--keep", "0.5", "--eager"]) == 0
    return out, runs


def test_smoke_run_exports_a_model_that_runs_in_litert(smoke_run):
    from emotion_cam.classify import EmotionClassifier

    out, runs = smoke_run
    card = json.loads((out / "emotion_int8.json").read_text())
    for name in ("emotion_int8.tflite", "confusion_matrix.png", "training_curves.png"):
        assert (out / name).stat().st_size > 1000
    assert card["pruning"]["after"]["macs"] < card["pruning"]["before"]["macs"]
    assert card["labels"] == list(EMOTIONS)
    assert set(card["class_offsets"]["offsets"]) == set(EMOTIONS)
    assert card["quantisation"]["val_accuracy_int8"] == card["metrics"]["accuracy"]
    assert sum(card["metrics"]["support"]) == 56
    clf = EmotionClassifier(out / "emotion_int8.tflite")
    probs = clf.predict(np.full((3, 48, 48), 128, np.uint8))
    assert probs.shape == (3, 7) and np.allclose(probs.sum(1), 1, atol=1e-5)


def test_smoke_run_logs_each_epoch(smoke_run):
    _, runs = smoke_run
    for stage in ("compact", "compact-pruned"):
        assert (runs / stage / "log.csv").read_text().count("\n") == 2  # header + one epoch
        assert list((runs / stage / "tb").rglob("*.tfevents*")), f"no TensorBoard log for {stage}"
        assert (runs / stage / "best.keras").stat().st_size > 10_000


def test_asking_for_one_more_epoch_resumes_from_the_checkpoint(smoke_run, fer_root, tmp_path):
    from training.reproduce import _limited
    from training.train import TrainConfig, train

    run_dir = tmp_path / "compact"
    shutil.copytree(smoke_run[1] / "compact", run_dir)
    assert json.loads((run_dir / "state.json").read_text())["epochs_done"] == 1
    tr, va = _limited(str(fer_root), "train", 8), _limited(str(fer_root), "val", 8)
    train(TrainConfig(epochs=2, batch_size=64, warmup_epochs=0, eager=True), tr, va, run_dir, verbose=0)
    assert (run_dir / "log.csv").read_text().count("\n") == 3
    assert json.loads((run_dir / "state.json").read_text())["epochs_done"] == 2
