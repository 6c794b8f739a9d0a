"""The README's model and speed tables, generated rather than typed: the model table from the shipped model
card, the speed table from the newest `emotion-cam bench --json` run kept in docs/bench/.

    python docs/tables.py                 # rewrite both tables in README.md
    python docs/tables.py --check         # exit 1 if README.md's tables are not what the card and the run say
    python docs/tables.py record [ARGS]   # run `emotion-cam bench --json ARGS` and keep it in docs/bench/,
                                          # headed with its date, commit, CPU and command

A run is kept whole (docs/bench/DATE-CPU.json), so every figure in the speed table can be traced to the
machine and the commit that measured it; docs/benchmarks.md holds the longer story of each change.
"""
from __future__ import annotations

import json
import subprocess
import sys
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from emotion_cam.media.outputs import write_bytes  # noqa: E402  (temporary file, then rename)
from emotion_cam.measure.machine import cpu_name  # noqa: E402
README = ROOT / "README.md"
CARD = ROOT / "models" / "emotion_int8.json"
RUNS = ROOT / "docs" / "bench"
MARKS = {"model": ("<!-- model table: python docs/tables.py -->", "<!-- end of model table -->"),
         "speed": ("<!-- speed table: python docs/tables.py -->", "<!-- end of speed table -->")}


def model_table(card: dict) -> str:
    m, cal = card["metrics"], card["calibration"]
    votes = (card.get("training") or {}).get("labels")  # from model v4 on: trained on, and scored against, the votes
    rows = [
        ("file", f"`models/{card['file']}`, int8, {card['size_bytes'] / 1000:.0f} KB"),
        ("network", f"`{card['architecture']['name']}` CNN, {card['params']:,} parameters, {card['macs'] / 1e6:.1f} M MACs"),
        ("trained on", card["training"]["data"]),
        (f"FER-2013 val, {'the FER+ plurality of ten votes' if votes else 'its own labels'}",
         f"accuracy {m['accuracy']:.1%}, macro-F1 {m['macro_f1']:.3f}" + (", mirror-averaged" if m.get("mirror_average") else "")),
    ]
    if votes and card.get("metrics_fer2013_labels"):
        fer = card["metrics_fer2013_labels"]
        rows.append(("the same faces, FER-2013's one label", f"accuracy {fer['accuracy']:.1%}, macro-F1 {fer['macro_f1']:.3f}"))
    shown = cal["val_int8_mirror_average" if cal["mirror_average"] else "val_int8_single"]
    rows += [
        ("calibration", f"ECE {shown['ece']:.1%} on val; shown as unsure below {cal['unsure_below']:.2f} "
                        f"({cal['val_unsure_fraction']:.0%} of val faces)"),
        ("per face", f"{card['latency_ms_single_thread_median']:.2f} ms, one thread, median "
                     f"({card['training']['machine']})"),
    ]
    lines = ["| | shipped model |", "| --- | --- |"] + [f"| {k} | {v} |" for k, v in rows]
    return "\n".join(lines)


def newest_run() -> Path:
    runs = sorted(RUNS.glob("*.json"))
    if not runs:
        raise SystemExit(f"no bench run in {RUNS}: python docs/tables.py record")
    return runs[-1]


def speed_table(run: dict, name: str) -> str:
    r = run["report"]
    head = (f"Measured {run['date']} at commit {run['commit'][:7]} on {run['cpu']} ({run['cores']} cores), "
            f"`{run['command']}` (docs/bench/{name}): cold start {r['cold_start_s']:.2f} s, "
            f"peak memory {r['peak_rss_mb']:.0f} MB.")
    lines = [head, "", "| video | size | faces a frame | ms a frame, p50 / p95 | live recall |",
             "| --- | --- | ---: | ---: | ---: |"]
    for v in r["videos"]:
        e = v["end_to_end_ms"]
        recall = "" if v.get("live_recall") is None else f"{v['live_recall']:.1%}"
        lines.append(f"| {Path(v['source']).name} | {v['size'][0]}x{v['size'][1]} | {v['mean_faces']:.1f} | "
                     f"{e['p50']:.1f} / {e['p95']:.1f} | {recall} |")
    return "\n".join(lines)


def generated() -> dict[str, str]:
    run = newest_run()
    return {"model": model_table(json.loads(CARD.read_text())), "speed": speed_table(json.loads(run.read_text()), run.name)}


def with_tables(text: str, tables: dict[str, str]) -> str:
    for key, (start, end) in MARKS.items():
        a, b = text.index(start) + len(start), text.index(end)
        text = text[:a] + "\n" + tables[key] + "\n" + text[b:]
    return text


def record(args: list[str]) -> Path:
    command = ["emotion-cam", "bench", "--json", *args]
    out = subprocess.run([sys.executable, "-m", "emotion_cam", *command[1:]], capture_output=True, text=True, check=True)
    commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, cwd=ROOT).stdout.strip()
    import os

    run = {"date": date.today().isoformat(), "commit": commit, "cpu": cpu_name(), "cores": os.cpu_count(),
           "command": " ".join(command), "report": json.loads(out.stdout)}
    RUNS.mkdir(exist_ok=True)
    path = RUNS / f"{run['date']}-{'avx512' if 'AVX512' in run['cpu'] else 'avx2'}.json"
    write_bytes(path, (json.dumps(run, indent=1) + "\n").encode())  # the one checked output path
    return path


def main(argv: list[str]) -> int:
    if argv[:1] == ["record"]:
        print(record(argv[1:]))
        return 0
    text = README.read_text()
    new = with_tables(text, generated())
    if argv[:1] == ["--check"]:
        return 0 if new == text else 1
    write_bytes(README, new.encode())
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
