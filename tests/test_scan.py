"""Small faces in large live frames: the detection pass is cut into jobs, and no face falls between them."""
from __future__ import annotations

import numpy as np
import pytest

from emotion_cam.pipeline import Pipeline, PipelineConfig
from emotion_cam.scan import plan_scan
from emotion_cam.track import iou_matrix
from emotion_cam.capture import Source, frames


@pytest.mark.parametrize("shape", [(1080, 1920), (2160, 3840), (720, 1280)])
def test_every_face_lies_whole_in_a_job_that_owns_it(shape):
    jobs = plan_scan(shape, min_face=40, window=80)
    enlarged = [(j.region[2] - j.region[0]) * (j.region[3] - j.region[1]) * j.scale**2 for j in jobs]
    assert len(jobs) > 1 and max(enlarged[1:]) <= 1.3e6 and enlarged[0] <= 1.6e6  # tiles, and the coarse job over the whole frame
    h, w = shape
    rng = np.random.default_rng(0)
    for _ in range(3000):
        size = float(np.exp(rng.uniform(np.log(40), np.log(min(h, w) * 0.9))))
        x, y = rng.uniform(0, w - size), rng.uniform(0, h - size)
        box = np.array([[x, y, x + size, y + size]], np.float32)
        owners = [j for j in jobs if j.owns(box)[0]]
        assert owners, f"a {size:.0f} px face at ({x:.0f}, {y:.0f}) belongs to no job"
        for j in owners:
            x1, y1, x2, y2 = j.region
            assert x1 <= x and y1 <= y and x + size <= x2 and y + size <= y2, "a job owns a face its region cuts"


def test_a_small_frame_is_one_job():
    (job,) = plan_scan((480, 640), min_face=40, window=80)
    assert job.region == (0, 0, 640, 480) and job.scale == 2.0


def test_small_faces_in_1080p_get_live_boxes(videos_dir):
    """crowd_1080p.mp4: after the first pass, the live boxes cover >= 90% of the faces a thorough 2x detection
    finds (11 of 12); 7 of 12 with the old live path, which looked for faces from 80 px every 30 frames."""
    pipeline = Pipeline(PipelineConfig())
    cap = Source.parse(videos_dir / "crowd_1080p.mp4").open()
    found = total = 0
    try:
        for i, (t, frame) in enumerate(frames(cap, 31)):
            result = pipeline.process_frame(frame, t)
            if i >= 10 and i % 10 == 0:
                truth = pipeline.detector.detect(frame, scale=2.0).boxes
                live = np.array([f.box for f in result.faces], np.float32).reshape(-1, 4)
                total += len(truth)
                found += int((iou_matrix(truth, live).max(1) >= 0.3).sum()) if len(live) else 0
    finally:
        cap.release()
    assert total >= 10
    assert found >= 0.9 * total, f"{found} of {total}"


def test_background_detection_keeps_up_with_a_video_played_in_real_time(videos_dir):
    """As the app plays short_hamilton_clip.mp4: detection beside the frames, boxes still on >= 90% of the faces a
    thorough detection finds, none on no face, through its three scene cuts."""
    from emotion_cam.bench import bench_video

    pipeline = Pipeline(PipelineConfig(background_detection=True))
    report = bench_video(pipeline, str(videos_dir / "short_hamilton_clip.mp4"), realtime=True)
    assert report.cuts == 3 and report.reference_faces >= 30
    assert report.live_recall >= 0.9
    assert report.false_tracks_per_1000_frames == 0
