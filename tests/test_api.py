"""The public API (emotion_cam.analyze, analyze_video, Analyzer, to_rows): the same answers as the CLI."""
from __future__ import annotations

import csv
import json
import subprocess
import sys

import cv2
import numpy as np
import pytest

import emotion_cam
from conftest import DATA_CLIP, DATA_PHOTO, ROOT, cli


def test_analyze_a_path_or_an_array_gives_what_predict_prints(faces_dir):
    photo = faces_dir / "2008_002470.jpg"
    run = cli("predict", str(photo), "--json")
    assert run.returncode == 0, run.stderr
    printed = json.loads(run.stdout)[0]["faces"]
    for given in (str(photo), cv2.imread(str(photo))):
        faces = emotion_cam.analyze(given)
        assert [f.to_dict() for f in faces] == printed
    grey = cv2.cvtColor(cv2.imread(str(photo)), cv2.COLOR_BGR2GRAY)
    assert len(emotion_cam.analyze(grey)) == len(printed)
    with pytest.raises(ValueError, match="shape"):
        emotion_cam.analyze(np.zeros((4, 4, 2), np.uint8))


def test_analyze_video_gives_the_rows_video_writes(tmp_path):
    source = str(DATA_CLIP)
    run = cli("video", source, "--csv", str(tmp_path / "faces.csv"), "--frames", "40")
    assert run.returncode == 0, run.stderr
    written = list(csv.DictReader((tmp_path / "faces.csv").open()))
    rows = emotion_cam.to_rows(emotion_cam.analyze_video(source, limit=40), source=source)
    assert len(rows) == len(written) >= 28
    for mine, theirs in zip(rows, written):
        assert mine.keys() == theirs.keys()
        assert (mine["frame"], mine["track_id"], mine["label"]) == (int(theirs["frame"]), int(theirs["track_id"]), theirs["label"])
        assert mine["happy"] == pytest.approx(float(theirs["happy"]), abs=1e-4)


def test_a_video_iterator_closes_its_capture():
    analyzer = emotion_cam.Analyzer()
    frames = analyzer.analyze_video(DATA_CLIP)
    for i, frame in enumerate(frames):
        assert frame.image is not None and frame.image.ndim == 3
        if i == 4:
            break
    assert not frames.closed
    frames.close()
    assert frames.closed
    with analyzer.analyze_video(DATA_CLIP) as frames:
        next(frames)
    assert frames.closed
    assert len(list(analyzer.analyze_video(DATA_CLIP, limit=7))) == 7


def test_to_dataframe_or_a_clear_message_without_pandas():
    faces = emotion_cam.analyze(DATA_PHOTO)
    try:
        import pandas  # noqa: F401
    except ImportError:
        with pytest.raises(ImportError, match="pip install pandas"):
            emotion_cam.to_dataframe(faces)
        return
    table = emotion_cam.to_dataframe(faces)
    assert list(table.columns)[:4] == ["time_s", "frame", "source", "track_id"] and len(table) == len(faces)


def test_importing_emotion_cam_stays_light_and_explains_itself():
    code = ("import sys, emotion_cam; heavy = [m for m in ('cv2', 'PySide6', 'tensorflow', 'ai_edge_litert') if m in sys.modules];"
            "print(heavy); help(emotion_cam.analyze)")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines()[0] == "[]"
    assert "BGR" in run.stdout and "probabilities" in run.stdout


def test_analyze_takes_a_files_bytes_and_refuses_other_things_plainly():
    path = DATA_PHOTO
    from_bytes = emotion_cam.analyze(path.read_bytes())
    assert [f.label for f in from_bytes] == [f.label for f in emotion_cam.analyze(path)] and from_bytes
    with pytest.raises(TypeError, match="a path, an encoded file's bytes or a numpy array"):
        emotion_cam.analyze(12345)


def test_the_package_namespace_holds_the_api_and_no_stray_modules():
    assert not hasattr(emotion_cam, "os") and {"analyze", "analyze_video", "Analyzer"} <= set(dir(emotion_cam))


def test_a_photos_dataframe_has_the_same_column_types_as_a_videos(faces_dir):
    pytest.importorskip("pandas")
    table = emotion_cam.to_dataframe(emotion_cam.analyze(faces_dir / "2008_002470.jpg"))
    assert str(table["time_s"].dtype) == "float64" and str(table["frame"].dtype) == "Int64"
