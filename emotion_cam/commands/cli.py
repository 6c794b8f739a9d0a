"""The ``emotion-cam`` command: the desktop app by default, plus predict, video, eval and bench."""
from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from pathlib import Path

from emotion_cam import __version__
from emotion_cam.media.images import SUPPORTED_NAMES

EPILOG_APP = """examples:
  emotion-cam                       open the window on the default camera
  emotion-cam --source 1            use camera 1
  emotion-cam --source clip.mp4     play a video file through the live view
  emotion-cam --image photo.jpg     open a still image
  emotion-cam predict --help        the other commands: predict, video, eval, bench
"""


def _pipeline_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", help="emotion model (.tflite with its .json card beside it); default: the shipped model")
    from emotion_cam.faces.detectors import DEFAULT_DETECTOR, DETECTORS

    p.add_argument("--detector", choices=tuple(DETECTORS), default=DEFAULT_DETECTOR,
                   help=f"face detector (default: {DEFAULT_DETECTOR}; hog is dlib's, haar OpenCV's cascade)")
    p.add_argument("--landmarks", type=int, choices=(5, 68), default=5,
                   help="68: draw each face's 68 contour points on the annotated output (the emotions do not change)")
    p.add_argument("--threads", type=int, default=1, help="OpenCV and LiteRT threads (default: 1)")
    _mirror_option(p)


def _verbose_option(p: argparse.ArgumentParser, top: bool = False) -> None:
    # SUPPRESS in the sub-commands: their default would otherwise undo `emotion-cam --verbose video …`.
    p.add_argument("--verbose", action="store_true", default=False if top else argparse.SUPPRESS,
                   help="let FFmpeg's and LiteRT's own log lines through to the terminal")


def _mirror_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--no-mirror-average", dest="mirror_average", action="store_false", default=None,
                   help="classify each face once instead of averaging it with its mirror image "
                        "(the default follows the model card: on when it gained on val)")


def _config(args: argparse.Namespace):
    from emotion_cam.pipeline import PipelineConfig

    return PipelineConfig(detector=args.detector, contours=args.landmarks == 68, threads=args.threads,
                          model_path=args.model, mirror_average=args.mirror_average)


def _analyzer(args: argparse.Namespace):
    """The same public ``Analyzer`` a Python user builds."""
    from emotion_cam.api import Analyzer

    return Analyzer(config=_config(args))


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="emotion-cam", description="Recognise facial emotions live from a webcam or in images.",
                                epilog=EPILOG_APP, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    p.add_argument("--source", default=None, help="camera index or video file for the live view (default: the saved camera, else 0)")
    p.add_argument("--image", help="open this image instead of the camera")
    _verbose_option(p, top=True)
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    s = sub.add_parser("predict", help="faces and emotions in images", formatter_class=argparse.RawDescriptionHelpFormatter,
                       description="Find every face in each image and print its emotion probabilities.",
                       epilog="examples:\n  emotion-cam predict group.jpg selfie.png --json --annotate out/\n"
                              "  emotion-cam predict holiday/ --csv faces.csv")
    s.add_argument("images", nargs="+", help=f"image files ({SUPPORTED_NAMES}) and folders of them")
    s.add_argument("--json", action="store_true", help="print JSON instead of text")
    s.add_argument("--csv", help="also write one row per face here, in the video CSV's columns (time and frame empty)")
    s.add_argument("--annotate", metavar="OUTDIR", help="also write each image with boxes, labels and bars into OUTDIR "
                                                        "as NAME_annotated.png (NAME-2_annotated.png for a second NAME)")
    s.add_argument("--force", action="store_true", help="overwrite annotated images that already exist")
    _pipeline_options(s)

    s = sub.add_parser("video", help="process videos or a camera headless", formatter_class=argparse.RawDescriptionHelpFormatter,
                       description="Run the live pipeline (tracking, smoothing) over a video file or camera without a window; "
                                   "or over many videos at once (--out-dir), on several processes.",
                       epilog="examples:\n  emotion-cam video clip.mp4 --out annotated.mp4 --csv faces.csv\n"
                              "  emotion-cam video 0 --frames 300 --csv webcam.csv\n"
                              "  emotion-cam video interviews/ extra.mp4 --out-dir results/ --jobs 2\n"
                              "    (results/NAME.csv per video; rerun it after a stop and it does only what is left)\n"
                              "  emotion-cam video /shared/interviews/ --out-dir /shared/results/ --scheduler tcp://10.0.0.5:8786")
    s.add_argument("sources", nargs="+", metavar="source", help="video file or camera index; with --out-dir, any number "
                                                                  "of video files and folders of videos")
    s.add_argument("--out", help="write the annotated video here (.mp4): H.264, which browsers play, with the [h264] "
                                 "extra (pip install 'emotion-cam[h264]'); else MPEG-4 Part 2, for VLC, mpv or QuickTime")
    s.add_argument("--csv", help="write one row per face per frame here")
    s.add_argument("--frames", type=int, help="stop after this many frames (needed for a camera unless you press Ctrl+C)")
    s.add_argument("--force", action="store_true", help="overwrite outputs that already exist (with --out-dir: redo "
                                                        "videos whose outputs exist)")
    s.add_argument("--out-dir", help="many videos: write NAME.csv for each into this folder")
    s.add_argument("--mp4", action="store_true", help="with --out-dir: also write NAME_annotated.mp4 for each")
    s.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                   help="with --out-dir: videos processed at once, one process each (default: the number of cores)")
    s.add_argument("--scheduler", metavar="ADDRESS", help="with --out-dir: one task per video on the Dask cluster at "
                   "ADDRESS (tcp://HOST:8786), or 'local' for a local one of --jobs processes; --out-dir must then be a "
                   "folder every worker sees (a shared file system). Needs: pip install 'emotion-cam[cluster]'")
    _pipeline_options(s)

    s = sub.add_parser("eval", help="accuracy of the classifier on labelled face crops", formatter_class=argparse.RawDescriptionHelpFormatter,
                       description="Evaluate the emotion classifier alone on FER-2013-style crops: a folder with one sub-folder per "
                                   "class, a dataset root holding SPLIT/, or fer2013.csv.",
                       epilog="examples:\n  emotion-cam eval ../shared/datasets/fer2013/val\n"
                              "  emotion-cam eval ../shared/datasets/fer2013/val --votes ../shared/datasets/fer2013/ferplus/votes_val.csv\n"
                              "  emotion-cam eval fer2013.csv --split test --json")
    s.add_argument("data", help="folder of class folders, dataset root, or fer2013.csv")
    s.add_argument("--split", default="val", help="split to use from a dataset root or CSV (train, val, test; default val)")
    s.add_argument("--votes", metavar="CSV", help="score against ten people's FER+ votes (a votes_SPLIT.csv keyed by the "
                                                  "faces' file names) as well as against the folder labels")
    s.add_argument("--json", action="store_true")
    s.add_argument("--model", help="model to evaluate (default: the shipped model)")
    _mirror_option(s)

    s = sub.add_parser("bench", help="measure per-stage latency, FPS, start-up time and memory", formatter_class=argparse.RawDescriptionHelpFormatter,
                       description="Benchmark the live pipeline. Without SOURCE: ../shared/media/videos/woman2.mp4 at 640x480, "
                                   "short_hamilton_clip.mp4 and crowd_1080p.mp4.",
                       epilog="example:\n  emotion-cam bench\n  emotion-cam bench clip.mp4 --threads 2 --json")
    s.add_argument("sources", nargs="*", help="video files or camera indices (default: the shared demo videos)")
    s.add_argument("--frames", type=int, help="at most this many frames per source")
    s.add_argument("--detect-every", type=int, default=None, help="frames between full detections (default: pipeline's)")
    s.add_argument("--passes", type=int, default=3, help="passes over each video; each frame's fastest counts (default: 3)")
    s.add_argument("--realtime", action="store_true",
                   help="play each video at its frame rate as the app does: detection in the background, late frames "
                        "dropped, one pass")
    s.add_argument("--cold-starts", type=int, default=3, help="fresh processes timed to their first classified frame; the fastest counts (default: 3, 0 skips)")
    s.add_argument("--json", action="store_true")
    _pipeline_options(s)
    for command in sub.choices.values():
        _verbose_option(command)
    return p


def cmd_predict(args: argparse.Namespace) -> int:
    from emotion_cam.draw import Annotator
    from emotion_cam.media.images import ImageError
    from emotion_cam.media.outputs import OutputError, check_outputs, make_folder, write_image, write_stdout

    args.images = image_files(args.images)
    targets = {}
    if args.annotate:
        outdir = make_folder(args.annotate)
        targets = annotated_names(args.images, outdir)
    check_outputs([*targets.values(), args.csv], inputs=args.images, force=args.force)
    analyzer = _analyzer(args)
    annotator = Annotator(landmarks=args.landmarks == 68)
    failed = 0
    results, shown = [], []
    for i, name in enumerate(args.images):
        try:
            result = analyzer.analyze_image(name)
        except ImageError as exc:
            failed += 1
            print(f"error: {exc}", file=sys.stderr)
            results.append({"image": name, "error": exc.reason})
            continue
        image = result.image
        shown.append((name, result.faces))
        entry = {"image": name, "width": image.shape[1], "height": image.shape[0], "faces": [f.to_dict() for f in result.faces]}
        if targets:
            try:
                entry["annotated"] = str(write_image(targets[i], annotator.with_key(image, result.faces)))
            except OutputError as exc:  # a full disk half-way through: this image failed, the others go on
                failed += 1
                print(f"error: {exc}", file=sys.stderr)
                entry["error"] = exc.reason
        results.append(entry)
        if not args.json:
            write_stdout(format_faces(name, result.faces))
    if args.json:
        write_stdout(json.dumps(results, indent=2) + "\n")
    if args.csv:
        write_face_csv(args.csv, [(name, faces) for name, faces in shown])
    return 1 if failed else 0


def image_files(inputs: list[str]) -> list[str]:
    """The inputs, each folder replaced by the images in it (sorted; not its sub-folders)."""
    from emotion_cam.media.images import SUPPORTED_SUFFIXES

    files = []
    for item in inputs:
        folder = Path(item)
        if folder.is_dir():
            found = sorted(str(p) for p in folder.iterdir() if p.is_file() and p.suffix.lower() in SUPPORTED_SUFFIXES)
            if not found:
                raise ValueError(f"{item}: no image in this folder ({SUPPORTED_NAMES})")
            files += found
        else:
            files.append(item)
    return files


def write_face_csv(path: str, shown) -> None:
    """The faces of every photo read, in the face CSV (through the checked output path)."""
    from emotion_cam.sinks.face_csv import FaceCsv
    from emotion_cam.media.outputs import replacing

    with replacing(path) as tmp, open(tmp, "w", newline="") as f:
        table = FaceCsv(f)
        for name, faces in shown:
            table.write(None, None, name, faces)


def format_faces(name: str, faces) -> str:
    lines = [f"{name}: {len(faces)} face(s)"]
    for f in faces:
        top3 = sorted(f.to_dict()["probabilities"].items(), key=lambda kv: -kv[1])[:3]
        x1, y1, x2, y2 = (int(v) for v in f.box)
        lines.append(f"  {f.track_id}. {f.title:<12}  box ({x1},{y1})-({x2},{y2})  " + ", ".join(f"{k} {v:.0%}" for k, v in top3))
    return "\n".join(lines) + "\n"


def annotated_names(images: list[str], outdir: Path) -> dict[int, Path]:
    """One output file per input image; images that share a name get -2, -3 ... instead of overwriting each other."""
    names: dict[int, Path] = {}
    used: set[str] = set()
    for i, image in enumerate(images):
        stem, k = Path(image).stem, 1
        while (name := f"{stem}{'' if k == 1 else f'-{k}'}_annotated.png") in used:
            k += 1
        used.add(name)
        names[i] = outdir / name
    return names


def _terminated(signum, frame) -> None:
    from emotion_cam.commands.video import Terminated

    raise Terminated()


def cmd_video(args: argparse.Namespace) -> int:
    from emotion_cam.media.outputs import check_outputs
    from emotion_cam.commands.video import Terminated, process_video

    # SIGTERM (a service manager, `kill`) ends the run like Ctrl+C: what is open is finalised or removed.
    signal.signal(signal.SIGTERM, _terminated)
    if args.out_dir or len(args.sources) > 1 or args.scheduler:
        return _video_batch(args)
    source = args.sources[0]
    if not args.out and not args.csv:
        print("note: neither --out nor --csv given; the video is processed but nothing is saved", file=sys.stderr)
    check_outputs([args.out, args.csv], inputs=[source], force=args.force, regular_only=[args.out] if args.out else [])
    saved = (f"video: {args.out}" if args.out else "") + ("; " if args.out and args.csv else "") + (f"faces: {args.csv}" if args.csv else "")
    try:
        n = process_video(_analyzer(args), source, args.out, args.csv, args.frames)
    except (KeyboardInterrupt, Terminated) as exc:
        n = getattr(exc, "frames_saved", 0)
        what = "interrupted" if isinstance(exc, KeyboardInterrupt) else "terminated"
        print(f"{what} after {n} frames" + (f"; the frames so far were saved ({saved})" if saved and n else ""), file=sys.stderr)
        return 130 if isinstance(exc, KeyboardInterrupt) else 143
    print(f"{n} frames processed" + (f"; {saved}" if saved else ""))
    return 0


def _video_batch(args: argparse.Namespace) -> int:
    from emotion_cam.commands.batch import plan, run_batch
    from emotion_cam.media.outputs import write_stdout
    from emotion_cam.commands.video import Terminated

    if not args.out_dir:
        what = "--scheduler is for a batch" if args.scheduler else "several videos"
        raise ValueError(f"{what}: give --out-dir FOLDER (NAME.csv for each video goes there)")
    if args.out or args.csv or args.frames:
        raise ValueError("--out, --csv and --frames are for one video; with --out-dir each video gets NAME.csv "
                         "(and NAME_annotated.mp4 with --mp4)")
    if any(s.isdigit() for s in args.sources):
        raise ValueError("a camera cannot be part of a batch: run `emotion-cam video 0 --csv FILE` for it")
    if args.scheduler:
        from emotion_cam.commands.cluster import require

        require()
    jobs = plan(args.sources, args.out_dir, mp4=args.mp4)
    if not jobs:
        raise ValueError(f"no video found in {' '.join(args.sources)}")
    config = _config(args)
    try:
        outcomes = run_batch(jobs, max(1, args.jobs), config, force=args.force, scheduler=args.scheduler)
    except (KeyboardInterrupt, Terminated) as exc:
        done = sum(j.done() for j in jobs)
        print(f"{'interrupted' if isinstance(exc, KeyboardInterrupt) else 'terminated'}: {done} of {len(jobs)} videos "
              f"have complete outputs in {args.out_dir}; run the same command again to do the rest", file=sys.stderr)
        return 130 if isinstance(exc, KeyboardInterrupt) else 143
    failed = [o for o in outcomes if o.error]
    for o in failed:
        print(f"error: {o.error}", file=sys.stderr)
    frames = sum(o.frames for o in outcomes)
    write_stdout(f"{len(outcomes) - len(failed)} of {len(outcomes)} videos processed ({frames} frames) into {args.out_dir}"
                 + (f"; {len(failed)} failed" if failed else "") + "\n")
    return 1 if failed else 0


def cmd_eval(args: argparse.Namespace) -> int:
    from emotion_cam.emotion.classifier import load_classifier
    from emotion_cam.emotion.dataset import load_split
    from emotion_cam.emotion.evaluate import format_vote_report, predict_all, vote_report
    from emotion_cam.emotion.unsure import UnsureRule
    from emotion_cam.emotion.votes import load_votes
    from emotion_cam.emotion.metrics import classification_report, expected_calibration_error, negative_log_likelihood
    from emotion_cam.media.outputs import write_stdout

    votes = load_votes(args.votes) if args.votes else None  # a bad votes file is an error before any work
    split = load_split(args.data, args.split)
    for where, why in split.skipped:
        print(f"skipped {where}: {why}", file=sys.stderr)
    if votes is not None and not split.names:
        raise ValueError(f"{split.source}: the votes are keyed by file name; give a folder of class folders, not a CSV")
    classifier = load_classifier(args.model, mirror=args.mirror_average)
    probs = predict_all(classifier, split.x)
    report = classification_report(split.y, probs.argmax(1))
    ece, nll = expected_calibration_error(probs, split.y), negative_log_likelihood(probs, split.y)
    against_votes = None if votes is None else vote_report(probs, split.names, split.y, votes,
                                                           UnsureRule(classifier.unsure_below))
    if args.json:
        extra = {} if against_votes is None else {"votes": {"file": votes.source, **against_votes}}
        write_stdout(json.dumps({"data": split.source, "skipped": len(split.skipped), "mirror_average": classifier.mirror,
                                 "ece": ece, "nll": nll, **report.to_dict(), **extra}, indent=2) + "\n")
        return 0
    head = f"{split.source}: {len(split)} faces" + (f" ({len(split.skipped)} skipped)" if split.skipped else "") \
        + (", each averaged with its mirror image" if classifier.mirror else "")
    text = [head, "", "Against the folder labels (FER-2013's, one person's call per face):",
            report.format().replace("\n", f"   ECE {ece:.4f}   NLL {nll:.4f}\n", 1)]
    if against_votes is not None:
        text += ["", f"Against the FER+ votes in {votes.source}:", format_vote_report(against_votes)]
    write_stdout("\n".join(text) + "\n")
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from emotion_cam.measure.bench import format_bench, run_bench

    config = _config(args)
    if args.detect_every:
        config.detect_every = args.detect_every
    report = run_bench(args.sources or None, config, args.frames, passes=args.passes, cold_runs=args.cold_starts,
                       realtime=args.realtime, progress=True)
    print(json.dumps(report, indent=2) if args.json else format_bench(report))
    return 0


def cmd_app(args: argparse.Namespace) -> int:
    import threading

    # Ctrl+C in the terminal and SIGTERM close the window as Ctrl+Q does (settings saved, camera released),
    # instead of a KeyboardInterrupt traceback from whatever Python code runs at that moment. Installed
    # before the heavy imports, so a signal during start-up is honoured too.
    quit_requested = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: quit_requested.set())
    from emotion_cam.gui.app import run_app

    if args.source and not args.image and is_photo(args.source):  # a photo given as the source: open it as one
        args.image, args.source = args.source, None
    return run_app(source=args.source, image=args.image, quit_requested=quit_requested)


def is_photo(path: str) -> bool:
    from emotion_cam.media.images import looks_like_image

    try:
        with open(path, "rb") as f:
            return looks_like_image(f.read(16))
    except OSError:
        return False


COMMANDS = {"predict": cmd_predict, "video": cmd_video, "eval": cmd_eval, "bench": cmd_bench}


def main(argv: list[str] | None = None) -> int:
    from emotion_cam.media.sources import SourceError
    from emotion_cam.emotion.classifier import ModelError
    from emotion_cam.model_files import ModelFileError
    from emotion_cam.media.outputs import OutputError, silence_stdout, write_stdout
    from emotion_cam.process import configure, set_verbose
    from emotion_cam.commands.video import Terminated
    from emotion_cam.commands.cluster import ClusterError

    args = build_parser().parse_args(argv)
    set_verbose(args.verbose)
    configure(getattr(args, "threads", 1))  # this process's OpenCV threads and heap: the library leaves them alone
    try:
        status = COMMANDS.get(args.command, cmd_app)(args)
        write_stdout("")  # flush now: a full disk behind `> file` is an error, not a success
        return status
    except OutputError as exc:
        print(f"emotion-cam: error: {exc}", file=sys.stderr)
        if exc.path == "standard output":
            silence_stdout()
        return exc.status
    except BrokenPipeError:  # `emotion-cam predict … | head`: the reader has what it wanted
        silence_stdout()
        return 1
    except SourceError as exc:
        advice = f"; for a photo use: emotion-cam predict {exc.photo}" if exc.photo else ""
        print(f"emotion-cam: error: {exc}{advice}", file=sys.stderr)
        return 2
    except (ModelError, ModelFileError, ClusterError, FileNotFoundError, ValueError) as exc:  # VotesError is a ValueError
        print(f"emotion-cam: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Terminated:
        print("terminated", file=sys.stderr)
        return 143


if __name__ == "__main__":
    raise SystemExit(main())
