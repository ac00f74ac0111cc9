"""Damaged-input sweep: broken videos through `analyze` and `batch`.

Makes >= 30 damaged copies of a short clip (random truncation, byte flips in the
header and in the payload, wrong extensions, zero length, absurd declared box
sizes, garbage), then runs every file through ``pelvis-tilt analyze`` (one
process each, with a time limit) and all of them through one ``pelvis-tilt
batch``.  Checks: no traceback, no native log line, time per file bounded,
every file has a batch row and either an analyze result or one stderr line.

    python benchmarks/damaged_inputs.py [--out DIR] [--limit-s 60] [--seed 13]
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import random
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from pelvis_tilt.quiet import NATIVE_LOG  # noqa: E402


def base_clip(path: Path, src: Path = REPO / "sample_videos" / "neutral_stance.mp4", n: int = 45,
              scale: float = 0.5) -> Path:
    """A 1.5 s, half-size copy of a sample clip: the material the damage is done to."""
    cap = cv2.VideoCapture(str(src))
    frames = []
    while len(frames) < n:
        ok, f = cap.read()
        if not ok:
            break
        frames.append(cv2.resize(f, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA))
    h, w = frames[0].shape[:2]
    vw = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 30, (w, h))
    for f in frames:
        vw.write(f)
    vw.release()
    return path


def _boxes(data: bytes) -> list[tuple[int, bytes]]:
    """Top-level MP4 boxes: (offset, type)."""
    out, i = [], 0
    while i + 8 <= len(data):
        size, kind = struct.unpack(">I4s", data[i:i + 8])
        out.append((i, kind))
        if size < 8:
            break
        i += size
    return out


def make_damaged(folder: Path, seed: int = 13) -> dict[str, str]:
    """Write the damaged files into ``folder``; returns {file name: kind of damage}."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    good = base_clip(folder / "_good.mp4").read_bytes()
    (folder / "_good.mp4").unlink()
    made: dict[str, str] = {}

    def put(name: str, data: bytes, kind: str) -> None:
        (folder / name).write_bytes(data)
        made[name] = kind

    for k in range(8):   # random truncation
        cut = rng.randint(1, len(good) - 1)
        put(f"trunc_{k}.mp4", good[:cut], f"truncated at {cut}/{len(good)} bytes")
    boxes = _boxes(good)
    header_end = min(4096, len(good))
    for k in range(6):   # flips in the header (first 4 KiB: ftyp, and moov when it comes first)
        d = bytearray(good)
        for _ in range(rng.randint(1, 20)):
            d[rng.randrange(0, header_end)] ^= rng.randint(1, 255)
        put(f"hdrflip_{k}.mp4", bytes(d), "byte flips in the first 4 KiB")
    moov = next((o for o, t in boxes if t == b"moov"), None)
    if moov is not None:
        for k in range(3):   # flips inside the index (moov), wherever OpenCV put it
            d = bytearray(good)
            for _ in range(rng.randint(1, 30)):
                d[rng.randrange(moov, len(d))] ^= rng.randint(1, 255)
            put(f"moovflip_{k}.mp4", bytes(d), "byte flips in the moov index")
    for k in range(6):   # flips in the payload (mdat)
        d = bytearray(good)
        for _ in range(rng.randint(5, 400)):
            d[rng.randrange(header_end, moov or len(d))] ^= rng.randint(1, 255)
        put(f"payflip_{k}.mp4", bytes(d), "byte flips in the payload")
    # Wrong extensions: a good clip named .avi / .mov, text and a JPEG named .mp4, an AVI named .mp4.
    put("really_mp4.avi", good, "mp4 data with an .avi name")
    put("really_mp4.mov", good, "mp4 data with a .mov name")
    put("notes.mp4", b"these are notes, not a video\n" * 80, "text with an .mp4 name")
    ok, jpg = cv2.imencode(".jpg", cv2.imread(str(REPO / "docs" / "annotated_frame.png")))
    put("photo.mp4", jpg.tobytes(), "a JPEG with an .mp4 name")
    avi = folder / "_mjpg.avi"
    cap = cv2.VideoCapture(str(REPO / "sample_videos" / "anterior_tilt.mp4"))
    frames = [cv2.resize(cap.read()[1], (320, 180)) for _ in range(15)]
    vw = cv2.VideoWriter(str(avi), cv2.VideoWriter_fourcc(*"MJPG"), 30, (320, 180))
    for f in frames:
        vw.write(f)
    vw.release()
    put("mjpg_avi.mp4", avi.read_bytes(), "an MJPG AVI with an .mp4 name")
    avi.unlink()
    put("zero.mp4", b"", "zero length")
    # Huge declared sizes: a box claiming 4 GiB, a 64-bit box claiming 2^62 bytes, a sample table claiming 2^31 samples.
    for k, (o, t) in enumerate(boxes[:2]):
        d = bytearray(good)
        d[o:o + 4] = struct.pack(">I", 0xFFFFFFF0)
        put(f"huge_box_{k}.mp4", bytes(d), f"'{t.decode(errors='replace')}' box declares 4 GiB")
    i = good.find(b"mdat")
    if i >= 4:
        d = bytearray(good)
        d[i - 4:i] = struct.pack(">I", 1)
        d[i + 4:i + 12] = struct.pack(">Q", 1 << 62)
        put("huge_largesize.mp4", bytes(d), "mdat with a 64-bit size of 2^62")
    j = good.find(b"stsz")
    if j >= 0:
        d = bytearray(good)
        d[j + 12:j + 16] = struct.pack(">I", 1 << 31)
        put("huge_stsz.mp4", bytes(d), "sample-size table claims 2^31 samples")
    put("garbage.mp4", bytes(rng.getrandbits(8) for _ in range(50_000)), "random bytes")
    put("ftyp_only.mp4", good[:boxes[1][0]] if len(boxes) > 1 else good[:32], "file-type box only")
    return made


def _env() -> dict:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    for k in ("GLOG_minloglevel", "TF_CPP_MIN_LOG_LEVEL", "PELVIS_TILT_DEBUG"):
        env.pop(k, None)
    return env


def check_analyze(path: Path, out: Path, limit_s: float) -> dict:
    """One file through `pelvis-tilt analyze`: exit code, time, and whether the output is well-formed."""
    t0 = time.monotonic()
    try:
        r = subprocess.run([sys.executable, "-m", "pelvis_tilt", "analyze", str(path), "--out", str(out),
                            "--no-video", "--no-plot"], capture_output=True, text=True, env=_env(), timeout=limit_s)
    except subprocess.TimeoutExpired:
        return {"file": path.name, "rc": None, "s": limit_s, "ok": False, "why": "time limit"}
    el = time.monotonic() - t0
    err = [ln for ln in r.stderr.splitlines() if ln.strip()]
    problems = []
    if "Traceback" in r.stderr + r.stdout:
        problems.append("traceback")
    if any(NATIVE_LOG.match(ln.encode()) for ln in err):
        problems.append("native log line")
    if r.returncode == 2:
        if len(err) != 1 or not err[0].startswith("pelvis-tilt: error:"):
            problems.append("not one error line")
    elif r.returncode in (0, 3):
        summ = out / f"{path.stem}.summary.json"
        if not summ.is_file():
            problems.append("no summary")
        else:
            json.loads(summ.read_text())
    else:
        problems.append(f"exit {r.returncode}")
    return {"file": path.name, "rc": r.returncode, "s": round(el, 2), "ok": not problems, "why": ", ".join(problems),
            "line": err[0] if r.returncode == 2 and err else ""}


def check_batch(folder: Path, out: Path, names: list[str], limit_s: float, workers: int = 2) -> dict:
    """All files through one `pelvis-tilt batch`: a row per file, no traceback."""
    t0 = time.monotonic()
    try:
        r = subprocess.run([sys.executable, "-m", "pelvis_tilt", "batch", str(folder), *[str(folder / n) for n in names
                            if Path(n).suffix.lower() not in (".mp4", ".avi", ".mov")],
                            "--out", str(out), "--workers", str(workers), "--quiet"],
                           capture_output=True, text=True, env=_env(), timeout=limit_s)
    except subprocess.TimeoutExpired:
        return {"ok": False, "why": "time limit", "s": limit_s, "rows": 0}
    rows = list(csv.DictReader(open(out / "scores.csv"))) if (out / "scores.csv").is_file() else []
    got = {Path(row["path"]).name for row in rows}
    problems = []
    if r.returncode != 0:
        problems.append(f"exit {r.returncode}")
    if "Traceback" in r.stderr + r.stdout:
        problems.append("traceback")
    if any(NATIVE_LOG.match(ln.encode()) for ln in r.stderr.splitlines()):
        problems.append("native log line")
    missing = sorted(set(names) - got)
    if missing:
        problems.append(f"no row for {missing}")
    statuses: dict[str, int] = {}
    for row in rows:
        k = row["status"]
        statuses[k] = statuses.get(k, 0) + 1
    per_clip = [float(row["elapsed_s"]) for row in rows if row["elapsed_s"]]
    return {"ok": not problems, "why": ", ".join(problems), "s": round(time.monotonic() - t0, 1), "rows": len(rows),
            "statuses": statuses, "max_clip_s": max(per_clip) if per_clip else 0.0}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=None, help="work folder (default: a temporary one)")
    ap.add_argument("--limit-s", type=float, default=60.0, help="time limit per analyze run (default 60)")
    ap.add_argument("--seed", type=int, default=13)
    a = ap.parse_args()
    work = a.out or Path(tempfile.mkdtemp(prefix="damaged-"))
    folder = work / "inputs"
    made = make_damaged(folder, a.seed)
    print(f"{len(made)} damaged files in {folder}")
    results = []
    for name in sorted(made):
        res = check_analyze(folder / name, work / "analyze", a.limit_s)
        results.append(res)
        print(f"  {name:<22} exit {res['rc']}  {res['s']:5.1f} s  {'ok' if res['ok'] else 'FAIL: ' + res['why']}"
              f"  {made[name]}{'  | ' + res['line'] if res.get('line') else ''}")
    codes: dict = {}
    for res in results:
        codes[res["rc"]] = codes.get(res["rc"], 0) + 1
    times = sorted(res["s"] for res in results)
    print(f"analyze: {sum(r['ok'] for r in results)}/{len(results)} well-formed; exit codes {codes}; "
          f"time per file median {times[len(times) // 2]:.1f} s, max {times[-1]:.1f} s (limit {a.limit_s:g} s)")
    b = check_batch(folder, work / "batch", sorted(made), a.limit_s * len(made))
    print(f"batch: {'ok' if b['ok'] else 'FAIL: ' + b['why']}; {b['rows']}/{len(made)} rows, statuses {b.get('statuses')}, "
          f"{b['s']:.1f} s in all, slowest clip {b.get('max_clip_s', 0):.1f} s")
    return 0 if all(r["ok"] for r in results) and b["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
