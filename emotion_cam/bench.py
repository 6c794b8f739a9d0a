"""``emotion-cam bench``: per-stage latency, frames per second, cold start, memory and label flicker.

Decode is timed but excluded from the end-to-end figure (a camera delivers
decoded frames); drawing is included. Cold start is from process start to the
first classified frame. Flicker is the number of changes of the shown label per
second of video, for the raw per-frame argmax and for the smoothed label.
"""
from __future__ import annotations

import os
import resource
import time
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from emotion_cam.draw import Annotator
from emotion_cam.pipeline import Pipeline, PipelineConfig
from emotion_cam.video import frames, open_capture

STAGES = ("decode", "detect", "track", "landmarks", "align", "classify", "smooth", "draw")
MEDIA = Path(__file__).resolve().parent.parent.parent / "shared" / "media" / "videos"
DEFAULT_INPUTS = [("woman2.mp4", (640, 480)), ("short_hamilton_clip.mp4", None)]


def process_age_s() -> float:
    """Seconds since this process started (Linux /proc); 0 where unknown."""
    try:
        start_ticks = int(Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()[19])
        uptime = float(Path("/proc/uptime").read_text().split()[0])
        return uptime - start_ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return 0.0


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def cpu_ticks() -> tuple[int, int]:
    """(steal, total) jiffies of the whole machine from /proc/stat; (0, 0) where unknown.

    On a virtual machine the host may pause a CPU for hundreds of milliseconds
    (steal time); frames caught in such a pause inflate p95, so the bench reports
    how much time was stolen while it ran.
    """
    try:
        fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
        return (fields[7] if len(fields) > 7 else 0), sum(fields[:8])
    except (OSError, ValueError, IndexError):
        return 0, 0


def steal_percent(start: tuple[int, int], end: tuple[int, int]) -> float:
    total = end[1] - start[1]
    return round(100.0 * (end[0] - start[0]) / total, 1) if total > 0 else 0.0


def label_changes(labels: list[int | None]) -> int:
    shown = [lab for lab in labels if lab is not None]
    return sum(1 for a, b in zip(shown, shown[1:]) if a != b)


@dataclass
class VideoBench:
    source: str
    size: tuple[int, int]
    frames: int
    stages_ms: dict[str, dict[str, float]] = field(default_factory=dict)
    end_to_end_ms: dict[str, float] = field(default_factory=dict)
    fps: float = 0.0
    frames_with_face: float = 0.0
    mean_faces: float = 0.0
    flicker_raw_per_s: float = 0.0
    flicker_smoothed_per_s: float = 0.0
    cpu_steal_percent: float = 0.0

    def to_dict(self) -> dict:
        return self.__dict__.copy()


def _pct(values: list[float]) -> dict[str, float]:
    a = np.asarray(values or [0.0])
    return {"p50": round(float(np.percentile(a, 50)), 3), "p95": round(float(np.percentile(a, 95)), 3)}


def bench_video(pipeline: Pipeline, source: str | int, resize: tuple[int, int] | None = None, limit: int | None = None) -> VideoBench:
    cap = open_capture(source)
    fps_video = cap.get(cv2.CAP_PROP_FPS) or 30.0
    annotator = Annotator()
    pipeline.reset()
    per_stage: dict[str, list[float]] = {s: [] for s in STAGES}
    e2e, raw_labels, shown_labels, faces_count = [], [], [], []
    size = (0, 0)
    ticks = cpu_ticks()
    it = frames(cap, limit, resize)
    try:
        while True:
            t0 = time.perf_counter()
            try:
                t, frame = next(it)
            except StopIteration:
                break
            t1 = time.perf_counter()
            result = pipeline.process_frame(frame, t)
            t2 = time.perf_counter()
            annotator.draw(frame, result.faces, copy=False)
            t3 = time.perf_counter()
            size = (frame.shape[1], frame.shape[0])
            per_stage["decode"].append((t1 - t0) * 1000)
            per_stage["draw"].append((t3 - t2) * 1000)
            for stage in STAGES[1:-1]:
                per_stage[stage].append(result.timings_ms.get(stage, 0.0))
            e2e.append((t3 - t1) * 1000)
            faces_count.append(len(result.faces))
            main = max(result.faces, key=lambda f: (f.box[2] - f.box[0]) * (f.box[3] - f.box[1]), default=None)
            raw_labels.append(int(np.argmax(main.raw_probs)) if main is not None else None)
            shown_labels.append(main.top if main is not None else None)
    finally:
        cap.release()
    n = len(e2e)
    duration = n / fps_video if fps_video else 1.0
    return VideoBench(
        source=str(source), size=size, frames=n,
        stages_ms={s: _pct(v) for s, v in per_stage.items()},
        end_to_end_ms=_pct(e2e),
        fps=round(1000.0 / max(float(np.mean(e2e)) if e2e else 1.0, 1e-6), 1),
        frames_with_face=round(float(np.mean([c > 0 for c in faces_count])) if n else 0.0, 4),
        mean_faces=round(float(np.mean(faces_count)) if n else 0.0, 2),
        flicker_raw_per_s=round(label_changes(raw_labels) / max(duration, 1e-6), 3),
        flicker_smoothed_per_s=round(label_changes(shown_labels) / max(duration, 1e-6), 3),
        cpu_steal_percent=steal_percent(ticks, cpu_ticks()),
    )


def run_bench(sources: list[str] | None = None, config: PipelineConfig | None = None, limit: int | None = None) -> dict:
    """Benchmark the given sources, or the default videos from ``../shared/media/videos``."""
    pipeline = Pipeline(config)
    if sources:
        inputs = [(s, None) for s in sources]
    else:
        inputs = [(str(MEDIA / name), size) for name, size in DEFAULT_INPUTS]
        missing = [p for p, _ in inputs if not Path(p).exists()]
        if missing:
            raise FileNotFoundError(f"default benchmark videos not found ({', '.join(missing)}); pass a video or camera index")
    # Cold start: one frame through a fresh pipeline state, timed from process start.
    first_src, first_size = inputs[0]
    cap = open_capture(first_src)
    try:
        _, frame = next(frames(cap, 1, first_size))
    finally:
        cap.release()
    pipeline.process_frame(frame, 0.0)
    cold = process_age_s()
    videos = [bench_video(pipeline, src, size, limit).to_dict() for src, size in inputs]
    return {
        "threads": pipeline.config.threads,
        "detector": pipeline.config.detector,
        "detect_every": pipeline.config.detect_every,
        "cold_start_s": round(cold, 3),
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "videos": videos,
    }


def format_bench(report: dict) -> str:
    lines = [f"threads {report['threads']}, detector {report['detector']}, full detection every {report['detect_every']} frames",
             f"cold start (process start -> first classified frame): {report['cold_start_s']:.2f} s; peak RSS {report['peak_rss_mb']:.0f} MB", ""]
    for v in report["videos"]:
        lines.append(f"{Path(v['source']).name} at {v['size'][0]}x{v['size'][1]}, {v['frames']} frames, "
                     f"face in {v['frames_with_face']:.1%} of frames, {v['mean_faces']:.1f} faces/frame")
        lines.append(f"  {'stage':<10} {'p50 ms':>8} {'p95 ms':>8}")
        for stage, p in v["stages_ms"].items():
            lines.append(f"  {stage:<10} {p['p50']:8.2f} {p['p95']:8.2f}")
        e = v["end_to_end_ms"]
        lines.append(f"  {'end-to-end':<10} {e['p50']:8.2f} {e['p95']:8.2f}   ({v['fps']:.0f} fps; decode excluded, draw included)")
        lines.append(f"  label changes per second: raw {v['flicker_raw_per_s']:.2f}, smoothed {v['flicker_smoothed_per_s']:.2f}")
        if v["cpu_steal_percent"] >= 1.0:
            lines.append(f"  note: the host stole {v['cpu_steal_percent']:.0f}% of CPU time during this run; p95 includes those pauses")
        lines.append("")
    return "\n".join(lines)
