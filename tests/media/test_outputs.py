"""Outputs never destroy data and every write failure is one message (emotion_cam.media.outputs, and the CLI on top)."""
from __future__ import annotations

import csv
import hashlib
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from conftest import DATA_CLIP, cli
from emotion_cam.emotion.labels import EMOTIONS
from emotion_cam.media.outputs import OutputError, check_outputs, replacing, write_image


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# -- the module ------------------------------------------------------------------------------------

def test_an_output_that_is_an_input_or_another_output_is_refused(tmp_path):
    src = tmp_path / "in.mp4"
    src.write_bytes(b"video")
    (tmp_path / "link.mp4").symlink_to(src)
    for out in (src, tmp_path / "link.mp4", tmp_path / "sub" / ".." / "in.mp4"):
        (tmp_path / "sub").mkdir(exist_ok=True)
        with pytest.raises(OutputError, match="also an input"):
            check_outputs([out], inputs=[src], force=True)
    with pytest.raises(OutputError, match="two outputs"):
        check_outputs([tmp_path / "a.csv", tmp_path / "a.csv"], force=True)
    assert check_outputs([None, tmp_path / "new.csv"], inputs=[src]) == [tmp_path / "new.csv"]


def test_a_failed_write_leaves_the_old_file_and_no_temporary_file(tmp_path):
    target = tmp_path / "faces.csv"
    target.write_text("old\n")
    with pytest.raises(RuntimeError):
        with replacing(target) as tmp, open(tmp, "w") as f:
            f.write("half")
            raise RuntimeError("the run failed")
    assert target.read_text() == "old\n" and sorted(p.name for p in tmp_path.iterdir()) == ["faces.csv"]
    with replacing(target) as tmp:
        tmp.write_text("new\n")
        assert target.read_text() == "old\n"  # until the block ends
    assert target.read_text() == "new\n" and len(list(tmp_path.iterdir())) == 1


def test_an_interrupted_run_keeps_what_it_wrote_when_asked(tmp_path):
    target = tmp_path / "faces.csv"
    with pytest.raises(KeyboardInterrupt):
        with replacing(target, keep_partial=True) as tmp:
            tmp.write_text("rows so far\n")
            raise KeyboardInterrupt
    assert target.read_text() == "rows so far\n"


def test_a_full_device_is_one_error_naming_the_path():
    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full on this system")
    with pytest.raises(OutputError, match="/dev/full: cannot write: No space left on device"):
        with replacing("/dev/full") as path, open(path, "w") as f:
            f.write("x" * 100_000)
    assert Path("/dev/full").is_char_device()  # written in place, never renamed over


def test_images_are_written_whole_in_the_format_their_suffix_names(tmp_path, read_only_dir):
    image = np.full((40, 60, 3), 128, np.uint8)
    assert write_image(tmp_path / "a.png", image).read_bytes()[:4] == b"\x89PNG"
    assert write_image(tmp_path / "a.jpg", image).read_bytes()[:2] == b"\xff\xd8"
    with pytest.raises(OutputError, match="Read-only file system|Permission denied"):
        write_image(read_only_dir / "a.png", image)


# -- the command line ------------------------------------------------------------------------------

def test_video_never_destroys_its_input(tmp_path):
    src = tmp_path / "in.mp4"
    shutil.copy(DATA_CLIP, src)
    before = digest(src)
    run = cli("video", str(src), "--out", str(src), "--force", "--frames", "5")
    assert run.returncode == 2 and "also an input" in run.stderr and "Traceback" not in run.stderr
    run = cli("video", str(src), "--csv", str(tmp_path / ".." / tmp_path.name / "in.mp4"), "--force", "--frames", "5")
    assert run.returncode == 2 and "also an input" in run.stderr
    assert digest(src) == before
    run = cli("video", str(src), "--out", str(tmp_path / "same.mp4"), "--csv", str(tmp_path / "same.mp4"), "--frames", "5")
    assert run.returncode == 2 and "two outputs" in run.stderr and not (tmp_path / "same.mp4").exists()


def test_a_failed_video_run_keeps_the_old_outputs(tmp_path):
    out = tmp_path / "faces.csv"
    out.write_text("yesterday's rows\n")
    (tmp_path / "notes.mp4").write_text("not a video\n")
    run = cli("video", str(tmp_path / "notes.mp4"), "--csv", str(out), "--force")
    assert run.returncode == 2 and out.read_text() == "yesterday's rows\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["faces.csv", "notes.mp4"]


def test_write_errors_are_one_message_with_status_1(tmp_path, faces_dir, read_only_dir):
    video, photo = str(DATA_CLIP), str(faces_dir / "dogs.jpg")
    cases = [
        (["video", video, "--csv", "/dev/full", "--frames", "3"], "/dev/full: cannot write: No space left on device"),
        (["video", video, "--out", str(read_only_dir / "x.mp4"), "--csv", str(read_only_dir / "x.csv")], "x.mp4: cannot write in"),
        (["video", video, "--csv", str(read_only_dir / "x.csv")], "x.csv: cannot write in"),
        (["predict", photo, "--annotate", str(read_only_dir)], "cannot write in this folder"),
        (["predict", photo, "--annotate", str(read_only_dir / "sub")], "cannot make this folder"),
    ]
    for args, says in cases:
        run = cli(*args)
        assert run.returncode == 1 and says in run.stderr and "Traceback" not in run.stderr, (args, run.stderr)
    assert not any(read_only_dir.iterdir())


@pytest.mark.parametrize("args", [["predict", "PHOTO"], ["predict", "PHOTO", "--json"],
                                  ["eval", "FER_VAL", "--json"]], ids=["predict", "predict-json", "eval-json"])
def test_results_to_a_full_disk_are_an_error_not_a_success(args, faces_dir, fer_root, tmp_path):
    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full on this system")
    for name in EMOTIONS:  # a few val faces per class: the results are written once, after all of them
        (tmp_path / name).mkdir()
        for p in sorted((fer_root / "val" / name).glob("*.jpg"))[:3]:
            shutil.copy(p, tmp_path / name / p.name)
    args = [str(faces_dir / "dogs.jpg") if a == "PHOTO" else str(tmp_path) if a == "FER_VAL" else a for a in args]
    with open("/dev/full", "w") as full:
        run = subprocess.run([*cli_command(), *args], stdout=full, stderr=subprocess.PIPE, text=True, timeout=300)
    assert run.returncode == 1 and "standard output: cannot write the results: No space left on device" in run.stderr
    assert "Traceback" not in run.stderr and "Exception ignored" not in run.stderr


def cli_command() -> list[str]:
    import sys

    return [sys.executable, "-m", "emotion_cam"]


def test_ctrl_c_says_how_many_frames_were_saved_and_where(tmp_path, videos_dir):
    import signal
    import time

    from conftest import spawn

    table, out = tmp_path / "faces.csv", tmp_path / "annotated.mp4"
    proc = spawn([*cli_command(), "video", str(videos_dir / "woman2.mp4"), "--csv", str(table), "--out", str(out)])
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None and not list(tmp_path.glob(".faces.*.part.csv")):
        time.sleep(0.05)
    time.sleep(1.0)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and "Traceback" not in err
    last = err.strip().splitlines()[-1]
    assert last.startswith("interrupted after ") and f"faces: {table}" in last, last
    frames = int(last.split()[2])
    rows = list(csv.DictReader(table.open()))
    # The count said is what was saved: frames are numbered from 0 and woman2 has her face in every frame.
    assert frames > 0 and rows and int(rows[-1]["frame"]) == frames - 1 and rows[-1]["pass"] == "1"
    import cv2

    cap = cv2.VideoCapture(str(out))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == frames
    cap.release()


def test_leftovers_of_a_killed_writer_are_removed_and_nothing_else(tmp_path):
    import sys

    from emotion_cam.media.outputs import remove_leftovers

    target, other = tmp_path / "a[1].csv", tmp_path / "b.csv"
    killed = ("import os, signal, sys; from emotion_cam.media.outputs import replacing\n"
              "for t in sys.argv[1:]: open(replacing(t).__enter__(), 'w').write('half')\n"
              "os.kill(os.getpid(), signal.SIGKILL)")
    subprocess.run([sys.executable, "-c", killed, str(target), str(other)])
    assert len(list(tmp_path.iterdir())) == 2  # a temporary file each, nothing renamed
    mine = tmp_path / ".a[1].notes.csv"
    mine.write_text("a hidden file of the user's")
    remove_leftovers(target, None)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([mine.name, *(p.name for p in tmp_path.glob(".b.*"))])
    assert len(list(tmp_path.glob(".b.*.part.csv"))) == 1


def clip_frames(size: tuple[int, int] | None = None) -> list[np.ndarray]:
    import cv2

    cap = cv2.VideoCapture(str(DATA_CLIP))
    frames = []
    while (got := cap.read())[0]:
        frames.append(got[1] if size is None else cv2.resize(got[1], size))
    return frames


def test_an_mp4_is_h264_that_browsers_play_where_pyav_is_installed(tmp_path):
    av = pytest.importorskip("av", reason="the [h264] extra (PyAV) is not installed")
    from emotion_cam.media.outputs import VideoFile

    target = tmp_path / "out.mp4"
    frames = clip_frames((321, 241))  # odd sides: yuv420p needs even ones
    with replacing(target) as tmp, VideoFile(tmp, target, 15.0) as video:
        for frame in frames:
            video.write(frame)
    with av.open(str(target)) as container:
        stream = container.streams.video[0]
        decoded = [f.to_ndarray(format="bgr24") for f in container.decode(stream)]
        assert (stream.codec_context.name, stream.format.name) == ("h264", "yuv420p")
        assert stream.average_rate == 15
    assert len(decoded) == len(frames) and decoded[0].shape == (240, 320, 3)
    assert np.abs(decoded[10].astype(int) - frames[10][:240, :320]).mean() < 4  # the same picture


def test_without_pyav_an_mp4_is_mpeg4_part_2(tmp_path):
    import sys

    import cv2

    blocked = "import sys; sys.modules['av'] = None; from emotion_cam.commands.cli import main; sys.exit(main(sys.argv[1:]))"
    out = tmp_path / "out.mp4"
    run = subprocess.run([sys.executable, "-c", blocked, "video", str(DATA_CLIP), "--out", str(out)], capture_output=True,
                         text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    cap = cv2.VideoCapture(str(out))
    fourcc = int(cap.get(cv2.CAP_PROP_FOURCC)).to_bytes(4, "little").decode()
    assert fourcc.lower() in ("fmp4", "mp4v") and int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 30


def test_a_video_to_a_full_disk_is_an_error_and_leaves_nothing(tmp_path, videos_dir):
    import os

    small = tmp_path / "small"
    small.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(small)],
                                           capture_output=True).returncode:
        pytest.skip("needs root to mount a small file system")
    try:
        run = cli("video", str(videos_dir / "woman2.mp4"), "--out", str(small / "out.mp4"))
        left = list(small.iterdir())
    finally:
        subprocess.run(["umount", str(small)], check=True)
    assert run.returncode == 1 and "out.mp4" in run.stderr and "Traceback" not in run.stderr, run.stderr
    assert "No space left on device" in run.stderr or "is the disk full" in run.stderr, run.stderr
    assert left == [], "a partial video was left behind"
