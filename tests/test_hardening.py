"""Faults a user can cause: each gives a clear message and an honest exit status, never a traceback or a hang."""
from __future__ import annotations

import csv
import os
import signal
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from conftest import DATA_CLIP, DATA_PHOTO, cli, spawn
from emotion_cam.media.images import ImageError, decode_image, read_image


# -- images of any format, size and aspect -----------------------------------------------------------

@pytest.fixture(scope="module")
def odd_images(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("odd")
    blank = np.zeros((7000, 8000), np.uint8)  # 56 MP: compresses to little, would decode to gigabytes of work
    cv2.imwrite(str(tmp / "huge.tif"), blank)
    cv2.imwrite(str(tmp / "huge.webp"), cv2.cvtColor(blank, cv2.COLOR_GRAY2BGR), [cv2.IMWRITE_WEBP_QUALITY, 101])
    cv2.imwrite(str(tmp / "tall.png"), np.full((10000, 1, 3), 90, np.uint8))
    cv2.imwrite(str(tmp / "wide.png"), np.full((1, 10000, 3), 90, np.uint8))
    return tmp


@pytest.mark.parametrize("name", ["huge.tif", "huge.webp"])
def test_huge_tiff_and_webp_are_refused_before_decoding(odd_images, name):
    start = time.perf_counter()
    with pytest.raises(ImageError, match="8000x7000 pixels, more than the 50 megapixels"):
        read_image(odd_images / name)
    assert time.perf_counter() - start < 0.5  # refused from the header, not after decoding 56 MP


def test_a_batch_with_odd_images_goes_on_and_says_which_failed(odd_images):
    photo = DATA_PHOTO
    names = ["huge.tif", "tall.png", "wide.png", "huge.webp"]
    run = cli("predict", *(str(odd_images / n) for n in names), str(photo))
    assert run.returncode == 1 and "Traceback" not in run.stderr
    assert run.stderr.count("megapixels") == 2
    assert "tall.png: 0 face(s)" in run.stdout and "wide.png: 0 face(s)" in run.stdout
    assert f"{photo}: 1 face(s)" in run.stdout


def test_annotated_images_with_the_same_name_do_not_overwrite_each_other(tmp_path):
    photo = DATA_PHOTO
    for d in ("d1", "d2"):
        (tmp_path / d).mkdir()
        (tmp_path / d / "face.jpg").write_bytes(photo.read_bytes())
    cv2.imwrite(str(tmp_path / "d2" / "face.png"), cv2.imread(str(photo)))
    images = [str(tmp_path / "d1" / "face.jpg"), str(tmp_path / "d2" / "face.jpg"), str(tmp_path / "d2" / "face.png")]
    run = cli("predict", *images, "--annotate", str(tmp_path / "out"))
    assert run.returncode == 0, run.stderr
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["face-2_annotated.png", "face-3_annotated.png", "face_annotated.png"]
    # A second run refuses to overwrite them unless asked to.
    run = cli("predict", images[0], "--annotate", str(tmp_path / "out"))
    assert run.returncode == 2 and "exists; use --force" in run.stderr and "Traceback" not in run.stderr
    assert cli("predict", images[0], "--annotate", str(tmp_path / "out"), "--force").returncode == 0


def test_outputs_that_are_folders_or_files_are_refused_clearly(tmp_path):
    photo = DATA_PHOTO
    run = cli("predict", str(photo), "--annotate", str(photo))
    assert run.returncode == 2 and "is not a folder" in run.stderr and "Traceback" not in run.stderr
    run = cli("video", str(DATA_CLIP), "--csv", str(tmp_path), "--frames", "3")
    assert run.returncode == 2 and "is a folder" in run.stderr and "Traceback" not in run.stderr
    (tmp_path / "taken.csv").write_text("someone's data\n")
    run = cli("video", str(DATA_CLIP), "--csv", str(tmp_path / "taken.csv"), "--frames", "3")
    assert run.returncode == 2 and "exists" in run.stderr
    assert (tmp_path / "taken.csv").read_text() == "someone's data\n"


# -- videos that are not videos, or end early ---------------------------------------------------------

@pytest.fixture(scope="module")
def cut_video(tmp_path_factory):
    """An MJPEG AVI of 60 real frames, cut in half: its header still says 60 frames."""
    tmp = tmp_path_factory.mktemp("cut")
    cap = cv2.VideoCapture(str(DATA_CLIP))
    writer = None
    for _ in range(60):  # the 30-frame clip twice
        ok, frame = cap.read()
        if not ok:
            cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
            ok, frame = cap.read()
        assert ok
        if writer is None:
            writer = cv2.VideoWriter(str(tmp / "full.avi"), cv2.VideoWriter_fourcc(*"MJPG"), 25, frame.shape[1::-1])
        writer.write(frame)
    writer.release()
    cap.release()
    data = (tmp / "full.avi").read_bytes()
    (tmp / "cut.avi").write_bytes(data[: len(data) // 2])
    return tmp / "cut.avi"


def test_a_truncated_video_ends_with_an_error_and_keeps_what_was_read(cut_video, tmp_path):
    run = cli("video", str(cut_video), "--csv", str(tmp_path / "faces.csv"))
    assert run.returncode == 2 and "Traceback" not in run.stderr
    assert "of 60: the file is truncated or damaged" in run.stderr
    rows = list(csv.DictReader((tmp_path / "faces.csv").open()))
    assert 10 < len(rows) < 60


@pytest.mark.parametrize("command", ["video", "bench"])
def test_a_text_file_or_a_photo_is_not_a_video(command, tmp_path, faces_dir):
    (tmp_path / "notes.mp4").write_text("not a video\n")
    for source, says in ((tmp_path / "notes.mp4", "not a video"), (faces_dir / "dogs.jpg", "still image")):
        run = cli(command, str(source), *(["--cold-starts", "0"] if command == "bench" else []))
        assert run.returncode == 2, (source, run.stdout)
        assert says in run.stderr and "Traceback" not in run.stderr and "fps" not in run.stdout
        assert "File →" not in run.stderr  # the window's menus mean nothing on the command line


def test_a_folder_and_a_video_without_frames_are_named_as_such(tmp_path):
    import cv2

    empty = tmp_path / "empty.mp4"
    writer = cv2.VideoWriter(str(empty), cv2.VideoWriter_fourcc(*"mp4v"), 25, (64, 64))
    writer.release()  # a valid MP4 holding no frame
    for source, says in ((tmp_path, "is a folder, not a video"), (empty, "the video has no frames")):
        run = cli("video", str(source), "--csv", str(tmp_path / "faces.csv"))
        assert run.returncode == 2 and says in run.stderr and "Traceback" not in run.stderr, run.stderr
    assert not (tmp_path / "faces.csv").exists()


def test_ffmpeg_and_litert_keep_their_log_lines_to_themselves_unless_verbose(tmp_path, videos_dir):
    cut = tmp_path / "cut.mp4"
    cut.write_bytes((videos_dir / "test.mp4").read_bytes()[:200_000])  # the index (moov) is lost
    run = cli("video", str(cut))
    assert run.returncode == 2 and "damaged" in run.stderr
    said = run.stdout + run.stderr  # OpenCV sends FFmpeg's lines to stdout, where they would spoil --json
    assert "moov atom" not in said and "XNNPACK" not in said, said
    run = cli("video", str(cut), "--verbose")
    assert "moov atom not found" in run.stdout + run.stderr


def test_sigterm_leaves_a_playable_video_and_a_complete_csv(tmp_path, videos_dir):
    out, table = tmp_path / "annotated.mp4", tmp_path / "faces.csv"
    proc = spawn([sys.executable, "-m", "emotion_cam", "video", str(videos_dir / "woman2.mp4"), "--out", str(out),
                   "--csv", str(table)])
    deadline = time.time() + 120
    # Written under a temporary name beside the target until the run ends.
    while time.time() < deadline and proc.poll() is None and not any(p.stat().st_size > 20_000 for p in tmp_path.glob(".faces.*.csv")):
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143 and "terminated" in err and "Traceback" not in err
    with table.open(newline="") as f:
        rows = list(csv.reader(f))
    assert len(rows) > 20 and all(len(r) == len(rows[0]) for r in rows)  # no half-written last row
    cap = cv2.VideoCapture(str(out))
    frames = 0
    while cap.read()[0]:
        frames += 1
    cap.release()
    assert frames >= int(rows[-1][1])  # the MP4 was finalised: every frame written is playable


# -- the desktop app -------------------------------------------------------------------------------

@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_the_app_closes_on_ctrl_c_and_sigterm_as_on_ctrl_q(sig, tmp_path, videos_dir):
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "XDG_CONFIG_HOME": str(tmp_path)}
    proc = spawn([sys.executable, "-m", "emotion_cam", "--source", str(videos_dir / "woman2.mp4")], env=env)
    time.sleep(6)  # the handlers are in place before the window exists; any moment of the start-up will do
    assert proc.poll() is None, proc.communicate()
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=20)
    assert proc.returncode == 0 and "Traceback" not in err
    conf = tmp_path / "EmotionCam" / "EmotionCam.conf"
    assert "geometry" in conf.read_text()  # closeEvent ran: settings saved as Ctrl+Q saves them


# -- fuzzing the readers ---------------------------------------------------------------------------

hypothesis = pytest.importorskip("hypothesis", reason="the fuzz tests need hypothesis (dev extra)")
from hypothesis import HealthCheck, given, settings, strategies as st  # noqa: E402


@pytest.fixture(scope="module")
def seeds():
    photo = cv2.imread(str(DATA_PHOTO))
    small = cv2.resize(photo, (160, 120))
    files = {ext: cv2.imencode(ext, small)[1].tobytes() for ext in (".jpg", ".png", ".bmp", ".webp", ".tiff")}
    return list(files.values())


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_fuzzed_images_give_an_image_or_an_image_error(seeds, data):
    blob = bytearray(data.draw(st.sampled_from(seeds)))
    for _ in range(data.draw(st.integers(1, 8))):
        at = data.draw(st.integers(0, len(blob) - 1))
        kind = data.draw(st.sampled_from(["flip", "cut", "insert", "big"]))
        if kind == "flip":
            blob[at] = data.draw(st.integers(0, 255))
        elif kind == "cut":
            del blob[at:at + data.draw(st.integers(1, 64))]
        elif kind == "insert":
            blob[at:at] = data.draw(st.binary(min_size=1, max_size=16))
        else:  # a size field (or anything) set to a large value
            blob[at:at + 4] = b"\xff\xff\x7f\x00"
        if not blob:
            blob = bytearray(b"\x00")
    try:
        img = decode_image(bytes(blob), "fuzzed")
    except ImageError:
        return
    assert img.dtype == np.uint8 and img.ndim == 3 and img.shape[2] == 3 and img.size > 0


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_fuzzed_videos_give_frames_or_a_source_error(tmp_path, videos_dir, data):
    from emotion_cam.media.sources import Player, Source, SourceError

    blob = bytearray((videos_dir / "test.mp4").read_bytes()[:200_000])
    for _ in range(data.draw(st.integers(1, 6))):
        at = data.draw(st.integers(0, len(blob) - 1))
        blob[at:at + 4] = data.draw(st.binary(min_size=4, max_size=4))
    path = Path(tmp_path) / "fuzzed.mp4"
    path.write_bytes(bytes(blob))
    try:
        cap = Source.parse(str(path)).open()
    except SourceError:
        return
    try:
        for _, got in zip(range(5), Player(cap, is_camera=False, realtime=False)):
            assert got.image.dtype == np.uint8 and got.image.ndim == 3
    finally:
        cap.release()
