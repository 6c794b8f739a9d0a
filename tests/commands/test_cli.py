"""The emotion-cam command as a user runs it: predict, video, eval, bench, help."""
from __future__ import annotations

import csv
import json

import cv2
import numpy as np
import pytest

from conftest import DATA_CLIP, DATA_PHOTO, MODEL, cli, ground_truth
from emotion_cam.emotion.classifier import load_card
from emotion_cam.emotion.labels import EMOTIONS
from emotion_cam.faces.boxes import iou_matrix


@pytest.fixture(scope="module")
def predictions(faces_dir, tmp_path_factory):
    """One `emotion-cam predict --json --annotate` run over every photo in ../shared/media/faces."""
    out = tmp_path_factory.mktemp("annotated")
    photos = sorted(str(p) for p in faces_dir.glob("*.jpg"))
    run = cli("predict", *photos, "--json", "--annotate", str(out))
    assert run.returncode == 0, run.stderr
    return {entry["image"].rsplit("/", 1)[-1]: entry for entry in json.loads(run.stdout)}


def test_finds_the_hand_marked_faces(predictions, faces_dir):
    """All 43 marked faces (IoU >= 0.4), at most one false detection, none on dogs.jpg."""
    found = marked = false = 0
    for name, truth in ground_truth(faces_dir).items():
        boxes = np.array([f["box"] for f in predictions[name]["faces"]], np.float32).reshape(-1, 4)
        iou = iou_matrix(truth, boxes)
        marked += len(truth)
        found += int((iou.max(1) >= 0.4).sum()) if len(boxes) else 0
        false += int((iou.max(0) < 0.4).sum()) if len(boxes) else 0
    assert marked == 43
    assert found == 43, f"found {found}/43"
    assert false <= 1
    assert predictions["dogs.jpg"]["faces"] == []


def test_faces_in_a_photo_are_numbered_in_reading_order(predictions):
    """The numbers on the boxes, in the panel and in the JSON are one: 1..N, rows from the top, left to right."""
    faces = predictions["bald_guys.jpg"]["faces"]
    assert [f["track_id"] for f in faces] == list(range(1, len(faces) + 1)) and len(faces) >= 20
    centres = [((f["box"][0] + f["box"][2]) / 2, (f["box"][1] + f["box"][3]) / 2) for f in faces]
    rows = 1
    for (xa, ya), (xb, yb) in zip(centres, centres[1:]):
        assert xb > xa or yb > ya, "the next face is neither right of this one nor in a lower row"
        rows += xb < xa
    assert 4 <= rows <= 7  # the collage's rows of faces, not one face a row


def test_every_face_has_seven_probabilities_summing_to_one(predictions):
    unsure_below = load_card(MODEL).unsure_below
    faces = [f for entry in predictions.values() for f in entry["faces"]]
    assert len(faces) >= 43
    for f in faces:
        assert list(f["probabilities"]) == list(EMOTIONS)
        assert abs(sum(f["probabilities"].values()) - 1) < 0.01
        assert f["label"] == max(f["probabilities"], key=f["probabilities"].get)
        assert f["unsure"] == (f["confidence"] < unsure_below)


@pytest.fixture
def doubtful_model(tmp_path):
    """The shipped model with a card that calls every face unsure (above 100%: the int8 output reaches 1.0)."""
    import shutil

    shutil.copy(MODEL, tmp_path / MODEL.name)
    card = json.loads(MODEL.with_suffix(".json").read_text())
    card["calibration"] = {**card.get("calibration", {}), "unsure_below": 1.01}
    (tmp_path / MODEL.name).with_suffix(".json").write_text(json.dumps(card))
    return tmp_path / MODEL.name


def test_a_low_confidence_face_is_flagged_unsure_in_json_and_csv(doubtful_model, tmp_path):
    run = cli("predict", str(DATA_PHOTO), "--json", "--model", str(doubtful_model))
    assert run.returncode == 0, run.stderr
    (face,) = json.loads(run.stdout)[0]["faces"]
    assert face["unsure"] is True and face["confidence"] <= 1.0
    table = tmp_path / "faces.csv"
    run = cli("video", str(DATA_CLIP), "--csv", str(table), "--frames", "10", "--model", str(doubtful_model))
    assert run.returncode == 0, run.stderr
    rows = list(csv.DictReader(table.open()))
    assert rows and all(r["unsure"] == "1" for r in rows)


def test_annotated_images_are_written(predictions, tmp_path):
    """The photo as it was, and beside a crowd (bald_guys.jpg: 25 faces, some with room for their number only)
    a key naming every face; a photo whose faces all carry their words gets none."""
    crowd = predictions["bald_guys.jpg"]
    img = cv2.imread(crowd["annotated"])
    assert img is not None and img.shape[0] == crowd["height"] and img.shape[1] > crowd["width"]
    out = tmp_path / "one"
    assert cli("predict", str(DATA_PHOTO), "--annotate", str(out)).returncode == 0
    assert cv2.imread(str(out / "astronaut_annotated.png")).shape[:2] == cv2.imread(str(DATA_PHOTO)).shape[:2]


def test_a_bad_file_is_reported_and_the_rest_still_run(tmp_path):
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    run = cli("predict", str(bad), str(DATA_PHOTO))
    assert run.returncode == 1
    assert "broken.jpg" in run.stderr and "Traceback" not in run.stderr
    assert "astronaut.jpg: 1 face(s)" in run.stdout


def test_video_writes_csv_and_annotated_mp4(tmp_path):
    out, table = tmp_path / "annotated.mp4", tmp_path / "faces.csv"
    run = cli("video", str(DATA_CLIP), "--out", str(out), "--csv", str(table), "--frames", "25")
    assert run.returncode == 0, run.stderr
    rows = list(csv.DictReader(table.open()))
    assert len(rows) >= 23  # one smiling face in nearly every frame
    assert {r["track_id"] for r in rows} == {"1"}
    assert abs(sum(float(rows[0][e]) for e in EMOTIONS) - 1) < 0.01
    cap = cv2.VideoCapture(str(out))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 25
    cap.release()


def test_the_label_is_always_the_largest_bar_over_a_real_video(tmp_path, videos_dir):
    """Smoothing keeps labels steady through the probabilities themselves, never by a label that disagrees with its bars."""
    table = tmp_path / "faces.csv"
    run = cli("video", str(videos_dir / "short_hamilton_clip.mp4"), "--csv", str(table), "--frames", "150")
    assert run.returncode == 0, run.stderr
    rows = list(csv.DictReader(table.open()))
    assert len(rows) >= 50  # the performer's face, in the frames where it is frontal
    for r in rows:
        assert r["label"] == max(EMOTIONS, key=lambda e: float(r[e])), r


def test_frames_of_each_video_have_faces(videos_dir, pipeline):
    for video in sorted(videos_dir.glob("*.mp4")):
        cap = cv2.VideoCapture(str(video))
        ok, frame = cap.read()  # the first frame: every video opens on a frontal face
        cap.release()
        assert ok, video
        faces = pipeline.process_image(frame).faces
        assert faces, f"no face in the first frame of {video.name}"
        for f in faces:
            assert f.probs.shape == (7,) and abs(f.probs.sum() - 1) < 1e-3


def test_missing_video_and_camera_are_clear_errors(tmp_path):
    run = cli("video", str(tmp_path / "nothing.mp4"))
    assert run.returncode == 2 and "no such video file" in run.stderr and "Traceback" not in run.stderr
    run = cli("video", "9")
    assert run.returncode == 2 and "cannot open camera 9" in run.stderr


def test_bench_reports_stages_and_flicker():
    run = cli("bench", str(DATA_CLIP), "--frames", "30", "--passes", "2", "--cold-starts", "2", "--json")
    assert run.returncode == 0, run.stderr
    assert "cold start 1/2" in run.stderr and "astronaut_2s.mp4 pass 2/2" in run.stderr  # it says what it is doing
    report = json.loads(run.stdout)
    video = report["videos"][0]
    assert video["frames"] == 30 and video["passes"] == 2
    assert set(video["stages_ms"]) == {"decode", "detect", "track", "landmarks", "align", "classify", "smooth", "draw"}
    assert video["frames_with_face"] > 0.9
    # Each frame's best of two passes can only be as fast as or faster than the first pass.
    assert video["end_to_end_ms"]["p50"] <= video["end_to_end_first_pass_ms"]["p50"]
    assert len(report["cold_starts_s"]) == 2 and report["cold_start_s"] == min(report["cold_starts_s"]) > 0
    assert set(report["cold_start_phases_best_s"]) == {"imports", "init", "open", "first frame"}
    assert 0 < report["cold_start_phases_sum_s"] <= report["cold_start_s"] + 0.001
    assert report["peak_rss_mb"] > 0
    assert 0.0 <= video["cpu_steal_percent"] <= 100.0


@pytest.mark.parametrize("source", ["missing.mp4", "notes.mp4", "5"], ids=["missing", "text", "camera 5"])
def test_bench_on_a_bad_source_is_one_clear_line(source, tmp_path):
    (tmp_path / "notes.mp4").write_text("not a video\n")
    run = cli("bench", source if source == "5" else str(tmp_path / source), "--passes", "1")
    assert run.returncode == 2 and "Traceback" not in run.stderr and run.stderr.count("\n") == 1, run.stderr


@pytest.mark.parametrize("command", ["predict", "video", "eval", "bench"])
def test_help_explains_with_an_example(command):
    run = cli(command, "--help")
    assert run.returncode == 0 and "example" in run.stdout


def test_missing_model_names_the_path(tmp_path, faces_dir):
    run = cli("predict", str(faces_dir / "dogs.jpg"), "--model", str(tmp_path / "gone.tflite"))
    assert run.returncode == 2
    assert "gone.tflite" in run.stderr and "not found" in run.stderr and "Traceback" not in run.stderr


def test_eval_against_votes_scores_the_plurality_the_shares_and_says_how_often_calm_faces_are_unsure(fer_root, tmp_path):
    """Ten votes each for the folder's own label: then the plurality is that label, the vote cross-entropy is the
    NLL against it, the votes' own entropy is 0, and a face with no votes is counted out."""
    import shutil

    from conftest import VOTES_HEADER as HEADER

    columns = ("neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear")
    ours = {"angry": "anger", "disgust": "disgust", "fear": "fear", "happy": "happiness", "neutral": "neutral",
            "sad": "sadness", "surprise": "surprise"}
    rows = []
    for name in EMOTIONS:
        (tmp_path / "val" / name).mkdir(parents=True)
        for src in sorted((fer_root / "val" / name).glob("*.jpg"))[:4]:
            shutil.copy(src, tmp_path / "val" / name / src.name)
            counts = [10 if c == ours[name] else 0 for c in columns] + [0, 0, 0]
            rows.append(f"{src.name},{name},x.png,0.99,0.5,{','.join(map(str, counts))}\n")
    (tmp_path / "votes.csv").write_text(HEADER + "".join(rows[1:]))  # the first face has no votes
    run = cli("eval", str(tmp_path / "val"), "--votes", str(tmp_path / "votes.csv"), "--json")
    assert run.returncode == 0, run.stderr
    r = json.loads(run.stdout)
    v = r["votes"]
    assert (v["faces"], v["with_votes"], v["with_plurality"]) == (28, 27, 27)
    assert v["plurality"]["accuracy"] == pytest.approx(v["fer2013_labels"]["accuracy"])
    assert v["vote_cross_entropy"] == pytest.approx(v["plurality"]["nll"], abs=1e-6) and v["vote_entropy"] == 0
    assert v["neutral_by_7_of_10"] == 4 and 0 <= v["neutral_by_7_of_10_shown_unsure"] <= 1
    text = cli("eval", str(tmp_path / "val"), "--votes", str(tmp_path / "votes.csv"))
    assert "Against the plurality" in text.stdout and "7 or more of 10 people call neutral" in text.stdout
    bad = cli("eval", str(tmp_path / "val"), "--votes", str(tmp_path / "nothing.csv"))
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "nothing.csv" in bad.stderr


def test_predict_takes_a_folder_and_writes_the_face_csv(faces_dir, tmp_path):
    import shutil

    for name in ("2008_002470.jpg", "dogs.jpg"):
        shutil.copy(faces_dir / name, tmp_path / name)
    (tmp_path / "notes.txt").write_text("not an image")
    table = tmp_path / "out" / "faces.csv"
    table.parent.mkdir()
    run = cli("predict", str(tmp_path), "--csv", str(table))
    assert run.returncode == 0, run.stderr
    assert "2008_002470.jpg: 6 face(s)" in run.stdout and "dogs.jpg: 0 face(s)" in run.stdout
    rows = list(csv.DictReader(table.open()))
    assert len(rows) == 6 and {(r["time_s"], r["frame"]) for r in rows} == {("", "")}
    assert [int(r["track_id"]) for r in rows] == list(range(1, 7)) and rows[0]["source"].endswith("2008_002470.jpg")
    again = cli("predict", str(tmp_path), "--csv", str(table))
    assert again.returncode == 2 and "exists" in again.stderr  # nothing overwritten without --force
    empty = tmp_path / "empty"
    empty.mkdir()
    assert cli("predict", str(empty)).returncode == 2


def test_a_photo_given_as_the_windows_source_is_opened_as_a_photo(faces_dir):
    from emotion_cam.commands.cli import is_photo

    assert is_photo(str(faces_dir / "dogs.jpg")) and not is_photo(str(DATA_CLIP))
    assert not is_photo("0") and not is_photo("missing.jpg")
