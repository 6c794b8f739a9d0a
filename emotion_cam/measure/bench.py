"""``emotion-cam bench``: per-stage latency, frames per second, cold start, memory and label flicker.

Decode is timed but excluded from the end-to-end figure (a camera delivers
decoded frames); drawing is included. Latencies are each frame's best of a few
identical passes, so that stalls of the machine itself (a virtual machine's host
pausing it) do not pass for pipeline cost; the first pass alone is reported too.
Cold start is from process start to the first classified frame, in fresh
processes, whole and phase by phase. Flicker is the number of changes of the
shown label per second of video, for the raw per-frame argmax and for the
smoothed label. Live recall compares the live boxes on every 5th frame with a
yardstick that is not the live detector alone (``emotion_cam.measure.yardstick``: two
thorough detectors together, corrected by hand marks on the shared videos); a live
box on no reference face with no face under it is a false track.
"""
from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import psutil
from tqdm import tqdm

from emotion_cam.api import Analyzer
from emotion_cam.media.sources import Player, Source, SourceError
from emotion_cam.draw import Annotator
from emotion_cam.pipeline import Pipeline, PipelineConfig
from emotion_cam.results import main_face
from emotion_cam.measure.yardstick import Judged, VideoMarks, Yardstick, live_recall

STAGES = ("decode", "detect", "track", "landmarks", "align", "classify", "smooth", "draw")
MEDIA = Path(__file__).resolve().parents[3] / "shared" / "media" / "videos"
DEFAULT_INPUTS = [("woman2.mp4", (640, 480)), ("short_hamilton_clip.mp4", None), ("crowd_1080p.mp4", None)]


def process_age_s() -> float:
    """Seconds since this process started, to 10 ms (Linux /proc); 0 where unknown.

    Not psutil's create_time(): it adds the boot time, which Linux gives in whole seconds,
    so the age came out up to a second wrong (0.28 s for a process 0.05 s old).
    """
    try:
        start_ticks = int(Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()[19])
        uptime = float(Path("/proc/uptime").read_text().split()[0])
        return uptime - start_ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return 0.0


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def cpu_ticks() -> tuple[float, float]:
    """(steal, total) CPU seconds of the whole machine so far; steal is 0 where the OS does not report it.

    On a virtual machine the host may pause a CPU for hundreds of milliseconds
    (steal time); frames caught in such a pause inflate p95, so the bench reports
    how much time was stolen while it ran.
    """
    times = psutil.cpu_times()
    return getattr(times, "steal", 0.0), sum(times)


def steal_percent(start: tuple[float, float], end: tuple[float, float]) -> float:
    total = end[1] - start[1]
    return round(100.0 * (end[0] - start[0]) / total, 1) if total > 0 else 0.0


def label_changes(labels: list[int | str | None]) -> int:
    shown = [lab for lab in labels if lab is not None]
    return sum(1 for a, b in zip(shown, shown[1:]) if a != b)


@dataclass
class VideoBench:
    source: str
    size: tuple[int, int]
    frames: int
    passes: int = 1
    realtime: bool = False  # played at the video's frame rate with background detection, as the app plays it
    frames_dropped: int = 0  # real-time play: frames the pipeline was too late for
    stages_ms: dict[str, dict[str, float]] = field(default_factory=dict)
    end_to_end_ms: dict[str, float] = field(default_factory=dict)
    end_to_end_first_pass_ms: dict[str, float] = field(default_factory=dict)
    fps: float = 0.0
    frames_with_face: float = 0.0
    mean_faces: float = 0.0
    flicker_raw_per_s: float = 0.0
    flicker_smoothed_per_s: float = 0.0  # the label as shown: an emotion or "unsure"
    flicker_largest_bar_per_s: float = 0.0  # the emotion of the largest smoothed bar, unsure or not
    # Against a thorough detection (HOG at 2x: faces from ~40 px) of every REFERENCE_EVERY-th frame:
    live_recall: float | None = None  # reference faces that have a live box (IoU >= 0.3)
    false_tracks_per_1000_frames: float | None = None  # live boxes that overlap no reference face (IoU < 0.1)
    reference_faces: int = 0
    cuts: int = 0  # scene cuts the pipeline noticed
    detect_every: tuple[int, int] = (0, 0)  # frames between live passes at this size: faces tracked, none tracked
    cpu_steal_percent: float = 0.0

    def to_dict(self) -> dict:
        return self.__dict__.copy()


@dataclass
class _Pass:
    """Per-frame measurements of one pass over a video."""

    stages: dict[str, list[float]]
    e2e: list[float]
    raw_labels: list[int | str | None]
    shown_labels: list[int | str | None]
    bar_labels: list[int | str | None]
    checked: list[Judged]
    faces: list[int]
    size: tuple[int, int]
    fps: float
    dropped: int = 0  # frames the pipeline was too late for (real-time play only)


def _pct(values) -> dict[str, float]:
    a = np.asarray(values if len(values) else [0.0], dtype=float)
    return {"p50": round(float(np.percentile(a, 50)), 3), "p95": round(float(np.percentile(a, 95)), 3)}


REFERENCE_EVERY = 5


def _one_pass(pipeline: Pipeline, source: str | int, resize: tuple[int, int] | None, limit: int | None,
              reference: Yardstick | None = None, realtime: bool = False) -> _Pass:
    """Every frame as fast as it goes, or with ``realtime`` at the video's frame rate, dropping the frames
    the pipeline is too late for, as the app does: the API's own frame loop, timed."""
    stream = Analyzer.around(pipeline).analyze_video(source, limit, realtime, resize=resize)
    annotator = Annotator()
    run = _Pass({s: [] for s in STAGES}, [], [], [], [], [], [], (0, 0), stream.player.fps or 30.0)
    looks: list[tuple[np.ndarray, np.ndarray, int]] = []  # (frame, live boxes, index) to judge after a real-time pass
    marks: VideoMarks | None = None
    with stream:
        for result in stream:
            frame = result.image
            run.dropped += result.skipped  # the app shows a later frame instead
            run.stages["decode"].append(result.decode_ms)
            sampled = reference is not None and result.frame_index % REFERENCE_EVERY == 0  # the frames the hand marks are on
            clean = frame.copy() if sampled else None  # the overlay is drawn into ``frame``; the yardstick looks at the frame
            t2 = time.perf_counter()
            annotator.draw(frame, result.faces, copy=False)
            draw_ms = (time.perf_counter() - t2) * 1000
            run.size = (frame.shape[1], frame.shape[0])
            run.stages["draw"].append(draw_ms)
            for stage in STAGES[1:-1]:
                run.stages[stage].append(result.timings_ms.get(stage, 0.0))
            run.e2e.append(result.process_ms + draw_ms)
            run.faces.append(len(result.faces))
            main = main_face(result.faces)
            run.raw_labels.append(int(np.argmax(main.raw_probs)) if main is not None else None)
            run.shown_labels.append(main.shown_label if main is not None else None)  # "unsure" is a label too
            run.bar_labels.append(main.label if main is not None else None)
            if sampled:  # untimed: the thorough look is the yardstick
                if marks is None:
                    marks = VideoMarks.load(str(source), run.size) or VideoMarks(REFERENCE_EVERY, {})
                looks.append((clean, np.array([f.box for f in result.faces], np.float32).reshape(-1, 4), result.frame_index))
                if not realtime:  # judged now, so that peak memory is the pipeline's; real-time play cannot wait for it
                    clean, live, at = looks.pop()
                    run.checked.append(reference.judge(clean, live, marks.at(at)))
    run.checked += [reference.judge(clean, live, marks.at(at)) for clean, live, at in looks]
    return run


def bench_video(pipeline: Pipeline, source: str | int, resize: tuple[int, int] | None = None, limit: int | None = None,
                passes: int = 1, realtime: bool = False, bar=None) -> VideoBench:
    """Time every frame of ``source`` in ``passes`` identical passes and keep each frame's fastest time.

    A virtual machine's host can stall it for hundreds of milliseconds at a time, and a stall
    lands on whichever frame is running; across passes it lands on different frames, so the
    per-frame best of a few passes measures the pipeline and the first pass alone shows the
    stalls too. A camera gives different frames each time, so it gets one pass.
    """
    if Source.parse(source).is_camera or realtime:
        passes = 1  # a camera, or real-time play, gives different frames each time
    ticks = cpu_ticks()
    yardstick = Yardstick()
    runs = []
    for k in range(max(1, passes)):
        if bar is not None:
            bar.set_description(f"{Path(str(source)).name} pass {k + 1}/{max(1, passes)}")
        runs.append(_one_pass(pipeline, source, resize, limit, reference=yardstick if k == 0 else None, realtime=realtime))
        if bar is not None:
            bar.update()
    cuts = pipeline.cuts
    first = runs[0]
    if not first.e2e:
        raise SourceError(f"{source}: no frame could be read, nothing to measure")
    n = min(len(r.e2e) for r in runs)

    def best(series: list[list[float]]) -> np.ndarray:
        return np.min([np.asarray(s[:n]) for s in series], axis=0)

    e2e = best([r.e2e for r in runs])
    duration = (len(first.e2e) + first.dropped) / first.fps if first.fps else 1.0
    return VideoBench(
        source=str(source), size=first.size, frames=len(first.e2e) + first.dropped, passes=len(runs),
        realtime=realtime, frames_dropped=first.dropped,
        stages_ms={s: _pct(best([r.stages[s] for r in runs])) for s in STAGES},
        end_to_end_ms=_pct(e2e),
        end_to_end_first_pass_ms=_pct(first.e2e),
        fps=round(1000.0 / max(float(np.mean(e2e)) if n else 1.0, 1e-6), 1),
        frames_with_face=round(float(np.mean([c > 0 for c in first.faces])) if first.faces else 0.0, 4),
        mean_faces=round(float(np.mean(first.faces)) if first.faces else 0.0, 2),
        flicker_raw_per_s=round(label_changes(first.raw_labels) / max(duration, 1e-6), 3),
        flicker_smoothed_per_s=round(label_changes(first.shown_labels) / max(duration, 1e-6), 3),
        flicker_largest_bar_per_s=round(label_changes(first.bar_labels) / max(duration, 1e-6), 3),
        **live_recall(first.checked),
        cuts=cuts,
        detect_every=pipeline.scanner.intervals((first.size[1], first.size[0])),
        cpu_steal_percent=steal_percent(ticks, cpu_ticks()),
    )


COLD_PHASES = ("imports", "init", "open", "first frame")


def readable_source(source: str | int) -> None:
    """``SourceError`` unless ``source`` opens and gives a first frame."""
    src = Source.parse(source)
    cap = src.open()
    try:
        if Player(cap, src.is_camera, realtime=False).read() is None:
            raise SourceError(f"{source}: no frame could be read (not a video, or a damaged one)")
    finally:
        cap.release()


def cold_start_phases(source: str | int, resize: tuple[int, int] | None, config: PipelineConfig) -> dict[str, float]:
    """Seconds spent in each phase from process start to the first classified frame of ``source``.

    imports: interpreter start and importing NumPy and OpenCV; init: loading LiteRT with the
    classifier, and dlib with the detector and landmark model; open: opening the source and
    decoding one frame; first frame: detecting, aligning and classifying it.
    """
    marks = [process_age_s(), time.perf_counter()]
    pipeline = Pipeline(config)
    marks.append(time.perf_counter())
    cap = Source.parse(source).open()
    try:
        frame = Player(cap, Source.parse(source).is_camera, realtime=False, resize=resize).read().image
    finally:
        cap.release()
    marks.append(time.perf_counter())
    pipeline.process_frame(frame, 0.0)
    marks.append(time.perf_counter())
    return dict(zip(COLD_PHASES, [marks[0], *np.diff(marks[1:]).tolist()]))


def cold_starts(source: str | int, resize: tuple[int, int] | None, config: PipelineConfig, runs: int,
                bar=None) -> list[dict[str, float]]:
    """Cold-start phases measured in ``runs`` fresh processes, as a user starting the program meets them."""
    spec = json.dumps({"source": source, "resize": resize, "config": asdict(config)})
    results = []
    for k in range(runs):
        if bar is not None:
            bar.set_description(f"cold start {k + 1}/{runs}")
        child = subprocess.run([sys.executable, "-m", "emotion_cam.measure.bench", spec], capture_output=True, text=True, timeout=300)
        if child.returncode != 0:
            raise RuntimeError(f"cold-start process failed: {child.stderr.strip()[-500:]}")
        results.append(json.loads(child.stdout.strip().splitlines()[-1]))
        if bar is not None:
            bar.update()
    return results


def summarise_cold_starts(runs: list[dict[str, float]]) -> dict:
    """The best whole start, and the sum of each phase's best: a machine that stalls now and then
    (a virtual machine's host pausing it) rarely lets a whole start through untouched, but it does
    let each phase through in one start or another."""
    if not runs:
        return {"cold_start_s": None, "cold_starts_s": [], "cold_start_phases_best_s": {}, "cold_start_phases_sum_s": None}
    totals = [round(sum(r.values()), 3) for r in runs]
    best = {phase: round(min(r[phase] for r in runs), 3) for phase in COLD_PHASES}
    return {"cold_start_s": min(totals), "cold_starts_s": totals, "cold_start_phases_best_s": best,
            "cold_start_phases_sum_s": round(sum(best.values()), 3)}


def run_bench(sources: list[str] | None = None, config: PipelineConfig | None = None, limit: int | None = None,
              passes: int = 3, cold_runs: int = 3, realtime: bool = False, progress: bool = False) -> dict:
    """Benchmark the given sources, or the default videos from ``../shared/media/videos``."""
    config = config or PipelineConfig()
    if realtime:
        config = replace(config, background_detection=True)
    if sources:
        inputs = [(s, None) for s in sources]
    else:
        inputs = [(str(MEDIA / name), size) for name, size in DEFAULT_INPUTS]
        missing = [p for p, _ in inputs if not Path(p).exists()]
        if missing:
            raise FileNotFoundError(f"default benchmark videos not found ({', '.join(missing)}); pass a video or camera index")
    for source, _ in inputs:  # a bad source is one clear error here, not a failed child process's traceback
        readable_source(source)
    per_video = 1 if realtime else max(1, passes)
    with tqdm(total=cold_runs + per_video * len(inputs), unit="step", file=sys.stderr, disable=not progress,
              leave=False) as bar:  # a minute or more: say what it is doing
        colds = summarise_cold_starts(cold_starts(*inputs[0], config, cold_runs, bar))
        pipeline = Pipeline(config)
        videos = [bench_video(pipeline, src, size, limit, passes, realtime, bar).to_dict() for src, size in inputs]
    return {
        "threads": pipeline.config.threads,
        "detector": pipeline.config.detector,
        "realtime": realtime,
        **colds,
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "videos": videos,
    }


def format_bench(report: dict) -> str:
    lines = [f"threads {report['threads']}, detector {report['detector']}" + (", played in real time" if report.get('realtime') else "")]
    if report["cold_starts_s"]:
        runs = report["cold_starts_s"]
        lines.append(f"cold start (process start -> first classified frame): {report['cold_start_s']:.2f} s, best of {len(runs)} "
                     f"fresh processes ({', '.join(f'{v:.2f}' for v in runs)} s)")
        phases = " + ".join(f"{name} {v:.2f}" for name, v in report["cold_start_phases_best_s"].items())
        lines.append(f"  each phase's best: {phases} = {report['cold_start_phases_sum_s']:.2f} s")
    lines += [f"peak RSS while processing: {report['peak_rss_mb']:.0f} MB", ""]
    for v in report["videos"]:
        lines.append(f"{Path(v['source']).name} at {v['size'][0]}x{v['size'][1]}, {v['frames']} frames, "
                     f"face in {v['frames_with_face']:.1%} of frames, {v['mean_faces']:.1f} faces/frame, a detection pass "
                     f"every {v['detect_every'][0]} frames ({v['detect_every'][1]} with no face)")
        if v.get("realtime"):
            lines.append(f"  played at its frame rate, detection in the background: {v['frames_dropped']} frames dropped "
                         "(the pipeline was too late for them)")
        best = f"   (each frame's best of {v['passes']} passes)" if v["passes"] > 1 else ""
        lines.append(f"  {'stage':<10} {'p50 ms':>8} {'p95 ms':>8}{best}")
        for stage, p in v["stages_ms"].items():
            lines.append(f"  {stage:<10} {p['p50']:8.2f} {p['p95']:8.2f}")
        e = v["end_to_end_ms"]
        lines.append(f"  {'end-to-end':<10} {e['p50']:8.2f} {e['p95']:8.2f}   ({v['fps']:.0f} fps; decode excluded, draw included)")
        if v["passes"] > 1:
            f = v["end_to_end_first_pass_ms"]
            lines.append(f"  {'first pass':<10} {f['p50']:8.2f} {f['p95']:8.2f}   (one pass alone, host stalls included)")
        if v["live_recall"] is not None:
            lines.append(f"  live recall {v['live_recall']:.1%} of {v['reference_faces']} faces found by a thorough detection "
                         f"(every {REFERENCE_EVERY}th frame), {v['false_tracks_per_1000_frames']:.0f} boxes on no face per 1,000 "
                         f"frames; {v['cuts']} scene cuts")
        lines.append(f"  label changes per second: raw {v['flicker_raw_per_s']:.2f}, shown {v['flicker_smoothed_per_s']:.2f} "
                     f"(largest bar {v['flicker_largest_bar_per_s']:.2f}; 'unsure' counts as a label)")
        if v["cpu_steal_percent"] >= 1.0:
            lines.append(f"  note: the host reported {v['cpu_steal_percent']:.0f}% of CPU time stolen during this run")
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    from emotion_cam.process import configure

    # A fresh process for cold_starts(): prints the seconds of each phase up to its first classified frame.
    _spec = json.loads(sys.argv[1])
    configure(_spec["config"]["threads"])  # as the command line sets it for its own process
    print(json.dumps(cold_start_phases(_spec["source"], tuple(_spec["resize"]) if _spec["resize"] else None, PipelineConfig(**_spec["config"]))))
