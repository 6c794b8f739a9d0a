"""Training pipeline on real FER-2013 images: loaders, and a one-epoch train -> prune -> int8 -> export smoke run."""
from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from emotion_cam.emotion.card import ModelCard
from emotion_cam.emotion.dataset import Split, load_csv, load_folder, load_split
from emotion_cam.emotion.labels import EMOTIONS

pytest.importorskip("tensorflow", reason="training tests need the 'train' extra (pip install -e '.[dev]')")
pytest.importorskip("torch", reason="training tests need the 'train' extra (pip install -e '.[dev]')")


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
    from training.split_cache import load_cached as load

    first = load(small_folder, "val", tmp_path)
    assert len(list(tmp_path.glob("*.npz"))) == 1
    second = load(small_folder, "val", tmp_path)
    np.testing.assert_array_equal(first.x, second.x)


def test_class_weights_favour_rare_classes():
    from training.train import class_weights

    counts = np.array([3995, 436, 4097, 7215, 4965, 4830, 3171])
    w = class_weights(counts, 0.5)
    assert w.argmax() == 1 and w.argmin() == 3
    assert np.sum(w * counts) == pytest.approx(counts.sum())


def test_class_offsets_give_a_starved_class_back(fer_root):
    """Offsets tuned on one half of val lift macro-F1 on the other half, and folding them into the bias is exact."""
    from emotion_cam.emotion.classifier import EmotionClassifier
    from emotion_cam.emotion.evaluate import predict_all
    from training.calibrate import choose_offsets, fold_into_model, score
    from training.models import build

    val = load_folder(fer_root / "val")
    log_probs = np.log(np.clip(predict_all(EmotionClassifier(mirror=False), val.x), 1e-7, 1))
    starved = log_probs.copy()
    for shift in (2.0, 3.0, 4.0, 6.0, 8.0):  # disgust all but never predicted, as after a careless fine-tune
        starved[:, 1] = log_probs[:, 1] - shift
        if (starved.argmax(1) == 1).sum() <= 5:
            break
    assert (starved.argmax(1) == 1).sum() <= 5 < (log_probs.argmax(1) == 1).sum()
    full_f1 = score(log_probs, val.y, np.zeros(7))[1]
    assert score(starved, val.y, np.zeros(7))[1] < full_f1 - 0.02
    offsets, est = choose_offsets(starved, val.y)
    # Out of sample, the offsets win back a good share of the macro-F1 that starving disgust cost.
    assert est.applied and est.macro_f1_after > est.macro_f1_before + 0.4 * (full_f1 - est.macro_f1_before)
    assert est.accuracy_after > est.accuracy_before - 0.02
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


@pytest.mark.parametrize("arch", ["compact", "separable"])
def test_pytorch_and_keras_models_compute_the_same_probabilities(arch, fer_root):
    """The weights trained in PyTorch reach the TFLite converter through the Keras build: both must agree on real faces."""
    import torch

    from training.convert import from_keras, to_keras
    from training.net import Net
    from training.train import logits

    torch.manual_seed(0)
    net = Net(arch)
    faces = load_folder(fer_root / "val", limit_per_class=10).x
    with torch.no_grad():  # BatchNorm statistics of real faces and affine terms away from 1 and 0, as after training
        for bn in net.bns:
            bn.momentum = None  # a plain average over the batch below
            bn.weight.uniform_(0.5, 1.5)
            bn.bias.uniform_(-0.3, 0.3)
        net.train()(torch.from_numpy(faces[:, None]).float())
    expected = torch.softmax(logits(net, faces), 1).numpy()
    assert expected.std(0).max() > 0.005  # not a degenerate net that says the same for every face
    model = to_keras(net)
    np.testing.assert_allclose(np.asarray(model(faces[..., None].astype(np.float32), training=False)), expected, atol=2e-6)
    np.testing.assert_allclose(logits(from_keras(model, arch), faces).numpy(), logits(net, faces).numpy(), atol=1e-4)


def test_augmentation_keeps_faces_in_range_and_crops_to_size(fer_root):
    import torch

    from training.augment import augment_batch

    faces = torch.from_numpy(load_folder(fer_root / "val", limit_per_class=4).x[:, None]).float()
    out = augment_batch(faces, torch.Generator().manual_seed(0))
    assert out.shape == faces.shape and 0 <= float(out.min()) and float(out.max()) <= 255
    assert float((out - faces).abs().mean()) > 5  # it changed them
    again = augment_batch(faces, torch.Generator().manual_seed(0))
    assert torch.equal(out, again)  # the epoch's generator fixes the stream: a resumed epoch sees the same faces
    assert augment_batch(faces, torch.Generator().manual_seed(0), crop=40).shape == (len(faces), 1, 40, 40)


def test_training_with_equalise_sees_faces_as_the_app_classifies_them(fer_root):
    """The batched equalisation is OpenCV's, pixel for pixel (dim, washed-out and one-grey faces too); --equalise
    equalises the splits, re-equalises after the lighting jitter and is part of the schedule."""
    import argparse

    import cv2
    import torch

    from training.augment import augment_batch, equalise
    from training.train import TrainConfig, add_config_arguments, as_seen, config_from

    faces = load_folder(fer_root / "val", limit_per_class=4)
    odd = np.stack([np.round(faces.x[0] * 0.25 + 10), np.round(faces.x[1] * 0.4 + 140), np.full((48, 48), 77)])
    batch = np.concatenate([faces.x, odd.astype(np.uint8)])
    ours = equalise(torch.from_numpy(batch[:, None]).float()).numpy()[:, 0]
    np.testing.assert_array_equal(ours, np.stack([cv2.equalizeHist(f) for f in batch]))

    p = argparse.ArgumentParser()
    add_config_arguments(p)
    assert not config_from(p.parse_args([])).equalise
    cfg = config_from(p.parse_args(["--equalise"]))
    assert cfg.equalise and cfg.schedule()["equalise"] and "equalise" not in TrainConfig().schedule()
    seen = as_seen(cfg, faces)
    np.testing.assert_array_equal(seen.x, np.stack([cv2.equalizeHist(f) for f in faces.x]))
    assert as_seen(TrainConfig(), faces) is faces

    dim = torch.from_numpy(np.round(faces.x[:, None] * 0.3 + 5)).float()
    spread = [float(np.median(augment_batch(dim, torch.Generator().manual_seed(0), crop=44, equalised=on)
                              .std((1, 2, 3)).numpy())) for on in (False, True)]
    assert spread[1] > 60 and spread[1] > 2 * spread[0]  # dim faces come out spread over the grey range, as the app's


@pytest.fixture(scope="module")
def smoke_run(fer_root, tmp_path_factory):
    """The reproduce command once, on 8 faces per class, on the FER+ votes: two tiny teachers -> distilled student ->
    Keras copy -> prune -> fine-tune (distilled) -> offsets -> temperature fitted to the vote shares -> int8 -> export."""
    from training import teachers
    from training.reproduce import main
    from training.train import TrainConfig

    tmp = tmp_path_factory.mktemp("smoke")
    out, runs = tmp / "models", tmp / "runs"
    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(teachers.TEACHERS, "tiny-a", TrainConfig(arch="compact", epochs=1, batch_size=16, seed=1))
        mp.setitem(teachers.TEACHERS, "tiny-b", TrainConfig(arch="compact", epochs=1, batch_size=16, seed=2))
        assert main(["--data", str(fer_root), "--out", str(out), "--runs", str(runs), "--epochs", "1",
                     "--finetune-epochs", "1", "--batch-size", "16", "--limit-per-class", "8", "--geometry-faces", "120",
                     "--calibration", "14", "--keep", "0.5", "--teachers", "tiny-a,tiny-b", "--distill-weight", "0.5",
                     "--teacher-durable", str(tmp / "durable"), "--cache-dir", str(tmp / "cache"),
                     "--labels", "ferplus", "--label-smoothing", "0", "--missing-votes-weight", "0"]) == 0
    return out, runs


def test_smoke_run_exports_a_model_that_runs_in_litert(smoke_run):
    from emotion_cam.emotion.classifier import EmotionClassifier

    out, runs = smoke_run
    card = ModelCard.read(out / "emotion_int8.json")  # typed: every field the app reads is there
    for name in ("emotion_int8.tflite", card.plots.confusion_matrix, card.plots.reliability, card.plots.training_curves):
        assert (out / name).stat().st_size > 1000
    assert card.pruning.applied and card.pruning.after.macs < card.pruning.before.macs
    assert card.macs == card.pruning.after.macs and card.architecture.widths != card.architecture.widths_before_pruning
    assert card.labels == EMOTIONS and set(card.class_offsets.offsets) == set(EMOTIONS)
    assert card.metrics.accuracy == card.calibration.shown.accuracy
    assert card.quantisation.val_accuracy_int8 == card.calibration.val_int8_single.accuracy
    assert card.conversion.max_probability_difference_on_val < 1e-4
    # Val is the faces with a plurality of votes, trained on the faces with readable votes.
    assert 30 < sum(card.metrics.support) < 56 and 30 < card.training.faces < 56 and "plurality" in card.metrics.split
    labels = card.training.labels
    assert labels.rules["missing_votes_weight"] == 0 and labels.summary["trained_on"] == card.training.faces
    assert "MIT" in labels.licence and card.training.config["labels"] == "ferplus"
    assert 0 <= card.metrics_fer2013_labels.accuracy <= 1 and card.calibration.val_vote_cross_entropy > 0
    assert "ten people" in card.calibration.unsure_rule
    d = card.distillation  # the student learnt from the teachers, and so did its pruned fine-tune
    assert set(d.teachers) == {"tiny-a", "tiny-b"} and d.weight == 0.5 and card.pruning.finetune_loss == "distillation"
    assert 0 <= d.ensemble_val_accuracy_mirror_average <= 1 and card.training.config["distill_weight"] == 0.5
    clf = EmotionClassifier(out / "emotion_int8.tflite")
    probs = clf.predict(np.full((3, 48, 48), 128, np.uint8))
    assert probs.shape == (3, 7) and np.allclose(probs.sum(1), 1, atol=1e-5)


def test_smoke_run_logs_each_epoch(smoke_run):
    _, runs = smoke_run
    for stage in ("compact", "compact-pruned"):
        assert (runs / stage / "log.csv").read_text().count("\n") == 2  # header + one epoch
        assert list((runs / stage / "tb").rglob("*.tfevents*")), f"no TensorBoard log for {stage}"
        assert (runs / stage / "best.pt").stat().st_size > 10_000


@pytest.fixture(scope="module")
def tiny_fer(fer_root, tmp_path_factory):
    """A FER-2013-shaped root (train/ and val/) with 12 real faces per class in each."""
    root = tmp_path_factory.mktemp("tiny_fer")
    for split in ("train", "val"):
        for name in EMOTIONS:
            (root / split / name).mkdir(parents=True)
            for p in sorted((fer_root / split / name).glob("*.jpg"))[:12]:
                shutil.copy(p, root / split / name / p.name)
    return root


def test_a_run_killed_and_resumed_on_a_new_machine_continues_where_it_stopped(tiny_fer, tmp_path):
    """Kill a run mid-schedule, lose its run folder, resume from the durable copy: same epochs, learning rates, weights."""
    import signal
    import subprocess
    import sys
    import time

    import torch

    def command(run, durable):
        return [sys.executable, "-m", "training.train", "--data", str(tiny_fer), "--cache-dir", str(tmp_path / "cache"),
                "--run", str(run), "--durable", str(durable), "--epochs", "6", "--batch-size", "12", "--warmup-epochs", "2",
                "--arch", "compact", "--threads", "1"]

    def rows(run):
        with open(run / "log.csv", newline="") as f:
            return list(csv.DictReader(f))

    root = Path(__file__).resolve().parent.parent
    subprocess.run(command(tmp_path / "straight", tmp_path / "straight-durable"), check=True, cwd=root, capture_output=True)
    proc = subprocess.Popen(command(tmp_path / "cut", tmp_path / "durable"), cwd=root, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    log_path = tmp_path / "durable" / "log.csv"
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None and not (log_path.exists() and log_path.read_text().count("\n") >= 3):
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done = len(rows(tmp_path / "durable"))
    assert 2 <= done < 6, f"the run should have been cut mid-schedule, it had done {done} epochs"

    shutil.rmtree(tmp_path / "cut")  # a new machine: runs/ is gone, the committed durable copy is all there is
    result = subprocess.run(command(tmp_path / "cut", tmp_path / "durable"), cwd=root, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    assert f"resuming {tmp_path / 'cut'} at epoch {done + 1} of 6" in result.stderr

    straight, resumed = rows(tmp_path / "straight"), rows(tmp_path / "cut")
    assert [r["epoch"] for r in resumed] == [str(e) for e in range(1, 7)]
    assert [r["lr"] for r in resumed] == [r["lr"] for r in straight]
    a = torch.load(tmp_path / "straight" / "last.pt", weights_only=False)
    b = torch.load(tmp_path / "cut" / "last.pt", weights_only=False)
    for name, value in a["net"].items():
        torch.testing.assert_close(b["net"][name], value, msg=f"{name} differs after resuming")

    # Finished: the committed copy keeps best.pt but no weights or optimizer in last.pt, and is still recognised as done.
    assert (tmp_path / "durable" / "last.pt").stat().st_size < 10_000
    shutil.rmtree(tmp_path / "cut")
    again = subprocess.run(command(tmp_path / "cut", tmp_path / "durable"), cwd=root, capture_output=True, text=True)
    assert again.returncode == 0 and "already trained for 6 epochs" in again.stderr, again.stderr[-2000:]
    assert rows(tmp_path / "cut") == resumed


def test_a_changed_schedule_is_refused_rather_than_restarted(tiny_fer, tmp_path):
    from training.split_cache import load_cached as load
    from training.train import TrainConfig, train

    tr, va = load(tiny_fer, "train", None), load(tiny_fer, "val", None)
    train(TrainConfig(epochs=1, batch_size=12, threads=1), tr, va, tmp_path / "run")
    with pytest.raises(ValueError, match="was made with"):
        train(TrainConfig(epochs=3, batch_size=12, threads=1), tr, va, tmp_path / "run")


def test_temperature_folding_divides_the_logits_and_keeps_the_argmax(fer_root):
    from training.calibrate import fold_temperature, softmax
    from training.models import build

    model = build("compact")
    kernel, bias = model.get_layer("probs").get_weights()
    model.get_layer("probs").set_weights([kernel * 30, bias])  # spread the softmax, as a trained model's is
    faces = load_folder(fer_root / "val", limit_per_class=6).x[..., None].astype(np.float32)
    before = np.asarray(model(faces, training=False))
    fold_temperature(model, 2.5)
    after = np.asarray(model(faces, training=False))
    np.testing.assert_allclose(after, softmax(np.log(before), 2.5), rtol=1e-5, atol=1e-7)
    np.testing.assert_array_equal(after.argmax(1), before.argmax(1))
    assert after.max(1).mean() < before.max(1).mean()  # T > 1 softens


def test_fitted_temperature_undoes_a_known_distortion(fer_root):
    """Logits made half as sharp need half the temperature, and scaling brings the NLL back down (half: the
    shipped model is calibrated against the FER+ plurality, so on FER-2013's labels it already needs T > 2)."""
    from emotion_cam.emotion.classifier import EmotionClassifier
    from emotion_cam.emotion.evaluate import predict_all
    from emotion_cam.emotion.metrics import negative_log_likelihood
    from training.calibrate import fit_temperature, scaled, softmax, unsure_threshold

    val = load_folder(fer_root / "val")
    log_probs = np.log(np.clip(predict_all(EmotionClassifier(mirror=False), val.x), 1e-4, 1))
    t0 = fit_temperature(log_probs, val.y)
    flat = log_probs * 0.5
    t2 = fit_temperature(flat, val.y)
    assert 0.3 < t2 < 3.5 and t2 == pytest.approx(t0 / 2, rel=0.02)
    assert negative_log_likelihood(scaled(flat, t2), val.y) < negative_log_likelihood(softmax(flat), val.y) - 0.05

    probs = scaled(log_probs, t0)
    t = unsure_threshold(probs, val.y)
    conf, right = probs.max(1), probs.argmax(1) == val.y
    assert 0.2 < t < 0.9
    # the rule: just below t (faces within 0.05 of t - 0.01) the model is right less than half the time; above, more
    assert right[np.abs(conf - (t - 0.01)) < 0.05].mean() < 0.5 and right[conf >= t].mean() > 0.6


def test_the_soft_loss_is_zero_when_the_student_agrees_and_pulls_it_toward_the_teachers():
    import torch

    from training.train import soft_loss

    teacher = torch.tensor([[0.7, 0.05, 0.05, 0.1, 0.05, 0.03, 0.02]])
    agreeing = torch.log(teacher).requires_grad_()
    assert float(soft_loss(agreeing, teacher, 4.0).detach()) == pytest.approx(0.0, abs=1e-6)
    flat = torch.zeros(1, 7, requires_grad=True)
    soft_loss(flat, teacher, 4.0).sum().backward()
    assert int(torch.argmin(flat.grad)) == 0  # gradient descent raises the class the teachers favour


def test_the_soft_loss_is_cross_entropy_when_the_teacher_is_one_hot():
    import torch
    import torch.nn.functional as F

    from training.train import soft_loss

    student = torch.randn(5, 7, generator=torch.Generator().manual_seed(0))
    labels = torch.tensor([0, 3, 4, 5, 6])
    one_hot = F.one_hot(labels, 7).float()
    np.testing.assert_allclose(soft_loss(student, one_hot, 1.0).numpy(),
                               F.cross_entropy(student, labels, reduction="none").numpy(), rtol=1e-5, atol=1e-5)


def test_a_student_is_distilled_from_a_teacher_ensemble(tiny_fer, tmp_path, monkeypatch):
    """Teachers train (and load when done), their mirror-averaged ensemble gives each training face a cached soft
    target, and a student trains on it; its schedule includes the distillation, so a changed weight is refused."""
    from training import teachers
    from training.split_cache import load_cached as load
    from training.train import TrainConfig, train

    monkeypatch.setitem(teachers.TEACHERS, "tiny-a", TrainConfig(arch="compact", epochs=1, batch_size=12, seed=1))
    monkeypatch.setitem(teachers.TEACHERS, "tiny-b", TrainConfig(arch="compact", epochs=1, batch_size=12, seed=2, mixup=0.2))
    tr, va = load(tiny_fer, "train", None), load(tiny_fer, "val", None)
    nets = teachers.train_teachers(["tiny-a", "tiny-b"], tr, va, tmp_path / "runs", tmp_path / "durable", threads=1)
    assert (tmp_path / "durable" / "teacher-tiny-a" / "best.pt").exists()
    again = teachers.train_teachers(["tiny-a"], tr, va, tmp_path / "runs", tmp_path / "durable", threads=1)  # done: loaded
    assert again["tiny-a"].state_dict()["head.bias"].tolist() == nets["tiny-a"].state_dict()["head.bias"].tolist()

    q = teachers.soft_targets(nets, tr.x, tmp_path / "runs", tmp_path / "cache")
    assert q.shape == (len(tr), 7) and np.allclose(q.sum(1), 1, atol=1e-5)
    mirrored = teachers.ensemble_probs(list(nets.values()), np.ascontiguousarray(tr.x[:, :, ::-1]))
    np.testing.assert_allclose(q, mirrored, atol=1e-5)  # mirror-averaged: the same target for a flipped face
    assert len(list((tmp_path / "cache").glob("soft_targets_*.npy"))) == 1
    np.testing.assert_array_equal(teachers.soft_targets(nets, tr.x, tmp_path / "runs", tmp_path / "cache"), q)

    student = TrainConfig(arch="compact", epochs=1, batch_size=12, threads=1, distill_weight=0.7, mixup=0.2)
    with pytest.raises(ValueError, match="teachers' probabilities"):
        train(student, tr, va, tmp_path / "student")
    train(student, tr, va, tmp_path / "student", soft_targets=q)
    with pytest.raises(ValueError, match="was made with"):
        train(TrainConfig(arch="compact", epochs=1, batch_size=12, threads=1, distill_weight=0.5), tr, va,
              tmp_path / "student", soft_targets=q)


def test_the_distillation_pilot_compares_each_setting_with_hard_labels(tiny_fer, tmp_path, monkeypatch):
    """One run per (weight, temperature) and one hard-label baseline, each scored on val and written down."""
    from training import teachers
    from training.distill_pilot import main, settings
    from training.train import TrainConfig

    assert settings([0, 0.5, 0.8], [2, 4]) == [(0, 2), (0.5, 2), (0.5, 4), (0.8, 2), (0.8, 4)]
    monkeypatch.setitem(teachers.TEACHERS, "tiny-a", TrainConfig(arch="compact", epochs=1, batch_size=12, seed=1))
    assert main(["--data", str(tiny_fer), "--teachers", "tiny-a", "--weights", "0,0.7", "--temperatures", "3",
                 "--arch", "compact", "--epochs", "1", "--batch-size", "12", "--threads", "1", "--runs", str(tmp_path / "runs"),
                 "--durable", str(tmp_path / "durable"), "--cache-dir", str(tmp_path / "cache")]) == 0
    rows = json.loads((tmp_path / "runs" / "pilot" / "results.json").read_text())["rows"]
    assert [(r["run"], r["weight"], r["temperature"]) for r in rows] == [("hard-labels", 0, None), ("w0.7-t3", 0.7, 3)]
    assert all(0 <= r["val_accuracy_mirror_average"] <= 1 for r in rows)
    assert (tmp_path / "runs" / "pilot" / "w0.7-t3" / "best.pt").exists()
    assert json.loads((tmp_path / "durable" / "pilot" / "results.json").read_text())["rows"] == rows
    kept = (tmp_path / "durable" / "pilot" / "w0.7-t3" / "best.pt").stat().st_mtime_ns
    shutil.rmtree(tmp_path / "runs")  # a new machine: the pilot's runs come back from their durable copies, untrained
    assert main(["--data", str(tiny_fer), "--teachers", "tiny-a", "--weights", "0,0.7", "--temperatures", "3",
                 "--arch", "compact", "--epochs", "1", "--batch-size", "12", "--threads", "1", "--runs", str(tmp_path / "runs"),
                 "--durable", str(tmp_path / "durable"), "--cache-dir", str(tmp_path / "cache")]) == 0
    assert json.loads((tmp_path / "runs" / "pilot" / "results.json").read_text())["rows"] == rows
    assert (tmp_path / "durable" / "pilot" / "w0.7-t3" / "best.pt").stat().st_mtime_ns == kept


def test_val_curves_of_separate_runs_are_drawn_on_one_axis(tmp_path):
    """``python -m training.report NAME=LOG ... --out`` (the README's model v3 figure): one PNG from several logs,
    a log without averaged weights drawn from its plain val accuracy."""
    import cv2

    from training.report import main

    header = "epoch,lr,loss,accuracy,val_loss,val_accuracy,ema_val_loss,ema_val_accuracy,seconds\n"
    (tmp_path / "a.csv").write_text(header + "1,1e-3,1.5,0.4,1.4,0.45,1.3,0.5,30\n2,1e-3,1.2,0.5,1.2,0.55,1.1,0.6,30\n")
    (tmp_path / "b.csv").write_text(header + "1,1e-3,1.5,0.4,1.4,0.42,0,0,30\n")
    out = tmp_path / "curves.png"
    assert main([f"a={tmp_path / 'a.csv'}", f"b={tmp_path / 'b.csv'}", "--out", str(out)]) == 0
    image = cv2.imread(str(out))
    assert image is not None and image.shape[0] > 300 and image.shape[1] > 600
    assert main([f"a={tmp_path / 'a.csv'}", "--out", str(tmp_path / "no_such_folder" / "c.png")]) == 1  # one message
    with pytest.raises(SystemExit):
        main([f"a={tmp_path / 'missing.csv'}", "--out", str(out)])
    assert cv2.imread(str(out)) is not None  # the earlier figure is still whole


def test_the_label_pilot_trains_on_the_votes_and_scores_against_the_plurality(tiny_fer, fer_root, tmp_path):
    """FER+ votes as targets, end to end on 12 faces a class: each setting trains, is scored on val's plurality
    faces, and says what it trained on (faces without votes kept or not, unreadable ones dropped)."""
    import csv as csv_

    from training.label_pilot import main

    data = tmp_path / "fer"
    shutil.copytree(tiny_fer, data)
    (data / "ferplus").mkdir()
    for split in ("train", "val"):
        ours = {p.name for p in (data / split).rglob("*.jpg")}
        with open(fer_root / "ferplus" / f"votes_{split}.csv", newline="") as src, \
                open(data / "ferplus" / f"votes_{split}.csv", "w", newline="") as dst:
            reader = csv_.DictReader(src)
            writer = csv_.DictWriter(dst, reader.fieldnames)
            writer.writeheader()
            writer.writerows(r for r in reader if r["our_file"] in ours)
    assert main(["--data", str(data), "--settings", "votes,votes-unvoted-dropped", "--arch", "compact", "--epochs", "1",
                 "--batch-size", "12", "--threads", "1", "--runs", str(tmp_path / "runs"), "--durable",
                 str(tmp_path / "durable"), "--cache-dir", str(tmp_path / "cache")]) == 0
    rows = json.loads((tmp_path / "durable" / "label-pilot" / "results.json").read_text())["rows"]
    assert [r["run"] for r in rows] == ["votes", "votes-unvoted-dropped"]
    for r in rows:
        assert 0 <= r["val_plurality_accuracy_mirror_average"] <= 1 and r["val_vote_cross_entropy"] > 0
        assert r["trained_on"]["faces"] == 84 and r["trained_on"]["with_votes"] > 60
    kept, dropped = rows[0]["trained_on"], rows[1]["trained_on"]
    assert kept["trained_on"] - dropped["trained_on"] == kept["without_votes_kept"]


def test_a_temperature_fitted_to_vote_shares_makes_the_bars_read_as_shares():
    """Logits that are the log of the vote shares times 3 (an overconfident model): fitted to the shares, T is 3."""
    from training.calibrate import fit_temperature, unsure_threshold

    rng = np.random.default_rng(0)
    shares = rng.dirichlet(np.ones(7) * 0.7, size=400)
    log_probs = 3.0 * np.log(np.clip(shares, 1e-6, 1))
    assert fit_temperature(log_probs, shares) == pytest.approx(3.0, rel=0.05)
    # "Unsure" from agreement: below where faces have, on average, less than half their votes on one emotion.
    conf = np.linspace(0.2, 0.95, 400)
    probs = np.c_[conf, np.tile(((1 - conf) / 6)[:, None], 6)]
    agreement = np.clip(conf - 0.1, 0, 1)  # people agree a little less than the bars say
    assert unsure_threshold(probs, np.zeros(400, int), agreement=agreement) == pytest.approx(0.60, abs=0.02)


def test_a_pruned_net_can_be_fine_tuned_towards_the_net_it_was_cut_from(fer_root):
    """--finetune-distill: the fine-tune's soft targets are the unpruned net's mirror-averaged probabilities, its
    schedule carries the weight, and the card says what it learnt from; teachers and it exclude each other."""
    from training.net import Net
    from training.reproduce import Data, Recipe, finetune_loss, unpruned_targets
    from training.train import TrainConfig

    faces = load_folder(fer_root / "val", limit_per_class=3)
    data, net = Data(faces, faces), Net("compact")
    recipe = Recipe(train=TrainConfig(arch="compact", distill_temperature=2.0), keep=0.5, finetune_distill=0.4)

    q = unpruned_targets(recipe, net, data, None)
    assert q.shape == (len(faces), 7) and np.allclose(q.sum(1), 1, atol=1e-5)
    flipped = unpruned_targets(recipe, net, Data(Split(np.ascontiguousarray(faces.x[:, :, ::-1]), faces.y, ""), faces),
                               None)
    np.testing.assert_allclose(q, flipped, atol=1e-5)  # a face and its mirror image get one target
    cfg = recipe.finetune([8] * 8)
    assert cfg.distill_weight == 0.4 and "distill_weight" in cfg.schedule() and recipe.train.distill_weight == 0
    assert cfg.ema_decay == 0 and Recipe(train=recipe.train, finetune_ema=True).finetune([8] * 8).ema_decay == 0.999
    said = finetune_loss(recipe, None)
    assert "unpruned network" in said and "0.4" in said and "temperature 2" in said

    unpruned = Recipe(train=recipe.train, keep=1.0, finetune_distill=0.4)
    assert unpruned_targets(unpruned, net, data, None) is None  # nothing is pruned, nothing to distil
    with pytest.raises(ValueError, match="--teachers"):
        unpruned_targets(Recipe(train=recipe.train, teachers=("wide",), keep=0.5, finetune_distill=0.4), net, data, None)


def test_a_teacher_that_learnt_from_the_votes_needs_the_same_vote_targets(fer_root, tmp_path):
    """Its targets must be the votes made with its own rules: without them it would load or train on something
    else than it was made with. With them, the committed finished run loads."""
    from training import teachers
    from training.targets import Targets

    tr, va = load_folder(fer_root / "train", limit_per_class=20), load_folder(fer_root / "val", limit_per_class=3)
    with pytest.raises(ValueError, match="learnt from the votes"):
        teachers.train_teachers(["wide-votes"], tr, va, tmp_path / "runs", tmp_path / "durable")
    other = Targets(tr, np.full((len(tr), 7), 1 / 7, np.float32), np.ones(len(tr), np.float32), {},
                    {"min_votes": 1, "missing_votes_weight": 0.5, "fer_mix": 0.0})
    with pytest.raises(ValueError, match="missing_votes_weight"):
        teachers.train_teachers(["wide-votes"], tr, va, tmp_path / "runs", tmp_path / "durable", targets=other)
    same = Targets(tr, other.probs, other.weights, {}, {"min_votes": 1, "missing_votes_weight": 0.0, "fer_mix": 0.0})
    committed = Path(__file__).resolve().parents[1] / "training" / "checkpoints"
    net = teachers.train_teachers(["wide-votes"], tr, va, tmp_path / "runs", committed, targets=same)["wide-votes"]
    assert net.arch.name == "wide"  # the finished run's weights, loaded rather than trained again
