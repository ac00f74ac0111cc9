"""Accuracy of the tilt estimator against known truth, and its jitter on a still person.

    python benchmarks/accuracy.py [--report FILE]

1. **From pixels**: the whole pipeline (`pelvis_tilt.analyze_clip`: decode,
   MediaPipe, outline, estimator) on the rendered fixtures that carry truth —
   ``tests/fixtures/tilt_varied.mp4`` (the varied generator's *test-only*
   deformation mechanism, a loose top over the waist, a photograph behind,
   H.264 at a webcam bitrate) and ``tests/fixtures/tilt_steps.mp4`` (the first
   renderer) — change from the clip's own neutral per step, against truth; then
   read against that neutral's outline, as after `calibrate` (change trees).
2. **Held-out groups**: `calibration.fit_tilt`'s leave-one-group-out validation,
   degradation and continuous-clip tables on the cached truth sets
   (``python -m calibration.truthset`` makes them, hours on 2 cores; skipped with
   a note when absent), scoring the shipped model file.
3. **Jitter**: SD of the smoothed and per-frame tilt on the still sample clip,
   with fresh per-frame sensor noise (sigma 4 grey levels) so it is not just
   MediaPipe's determinism on identical frames.
4. **The sample clips' absolute error** (``sample_videos/``, the first renderer's
   body, per-frame truth CSVs): `analyze` as it reads by default (against the
   clip's first 2 s), each frame alone, and with ``--baseline-first 1``.
"""
from __future__ import annotations

import argparse
import csv
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pelvis_tilt import analyze_clip, geometry  # noqa: E402
from pelvis_tilt.settings import load_estimator, resolve  # noqa: E402

FIX = ROOT / "tests" / "fixtures"


def fixture_steps(clip: Path, reading: str = "default") -> tuple[np.ndarray, np.ndarray, float, float]:
    """(estimated change per frame, true change per frame, measured share, absolute MAE) of a truth
    clip, read ``alone`` (each frame by the ridge, ``--reference-first 0``), by ``default`` (a clip:
    against its first 2 s' outline, here the whole short clip) or against its ``neutral`` frames'
    outline, as after `calibrate` (`TiltModel.neutral_outline` of them, as a calibration hold keeps it)."""
    with open(clip.with_suffix(".truth.csv")) as fh:
        rows = list(csv.DictReader(fh))
    truth = np.array([float(r["tilt_true_deg"]) for r in rows])
    neutral = (np.array([int(r["neutral"]) for r in rows]) == 1) if "neutral" in rows[0] else np.arange(len(rows)) < 3
    r = analyze_clip(clip, None, resolve(reference_s=0.0) if reading != "default" else None, annotate=False,
                     plot=False, table=False)
    if reading == "neutral":
        f = r.est
        hold = neutral & np.isfinite(f.tilt_raw)
        m = geometry.Measures(**{k: v[hold] for k, v in f.measures.__dict__.items()})
        est = load_estimator(None)
        ref = est.neutral_outline(est.change_inputs(f.features[hold], f.lm[hold], m))
        settings = resolve()
        settings = replace(settings, neutral=replace(settings.neutral, outline=ref))
        r = analyze_clip(clip, None, settings, annotate=False, plot=False, table=False)
    tilt = r.est.tilt_raw
    est = tilt - np.nanmedian(tilt[neutral])
    tru = truth - np.median(truth[neutral])
    return est[~neutral], tru[~neutral], float(np.mean(np.isfinite(tilt))), float(np.nanmean(np.abs(tilt - truth)))


def noisy_copy(clip: Path, out: Path, sigma: float = 4.0) -> Path:
    """The clip with fresh per-frame sensor-like noise: a still person, a live camera."""
    from benchmarks.real_clips import rewrite

    rng = np.random.default_rng(0)
    return rewrite(clip, out, lambda f: np.clip(f + rng.normal(0, sigma, f.shape), 0, 255).astype(np.uint8))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--report", type=Path, help="also write the held-out tables as Markdown here")
    a = ap.parse_args(argv)

    print("1. From pixels (analyze_clip), change from the clip's own neutral frames: each frame read alone,")
    print("   as a clip is read by default (against its first 2 s), and against its neutral's outline (calibrate):")
    for name in ("tilt_varied.mp4", "tilt_steps.mp4"):
        for reading in ("alone", "default", "neutral"):
            est, tru, measured, abs_mae = fixture_steps(FIX / name, reading)
            ok = np.isfinite(est)
            gain = np.polyfit(tru[ok], est[ok], 1)[0]
            print(f"   {name} {reading}: measured {100 * measured:.0f}% of "
                  f"frames, change MAE {np.mean(np.abs(est[ok] - tru[ok])):.2f} deg, "
                  f"max {np.max(np.abs(est[ok] - tru[ok])):.2f}, gain {gain:.2f}, absolute MAE {abs_mae:.2f}")
            if reading == "alone":
                print("     true  " + " ".join(f"{v:+5.1f}" for v in tru))
            print("     read  " + " ".join(f"{v:+5.1f}" for v in est))

    print("\n2. Held-out groups (calibration.fit_tilt on the cached truth sets):")
    try:
        from calibration import fit_tilt

        args = ["--no-write", "--model", str(ROOT / "pelvis_tilt" / "data" / "tilt_model.json")]
        if a.report:
            args += ["--report", str(a.report)]
        fit_tilt.main(args)
    except FileNotFoundError as exc:
        print(f"   skipped: {exc}")
    except ImportError as exc:   # the refits fit trees: scikit-learn (calibration/requirements.txt)
        print(f"   skipped: {exc}; run this in the calibration venv (calibration/install.sh)")

    print("\n3. Jitter on a still person:")
    with tempfile.TemporaryDirectory() as tmp:
        clip = noisy_copy(ROOT / "sample_videos" / "neutral_stance.mp4", Path(tmp) / "noisy.mp4")
        r = analyze_clip(clip, None, annotate=False, plot=False, table=False)
        print(f"   neutral_stance + noise sigma 4: SD {np.nanstd(r.est.tilt_smooth):.3f} deg smoothed, "
              f"{np.nanstd(r.est.tilt_raw):.3f} deg per frame, measured {100 * np.mean(r.est.reliable):.0f}%")

    print("\n4. The sample clips' absolute error (per-frame MAE against their truth CSVs; median read):")
    samples = ROOT / "sample_videos"
    for name in ("neutral_stance", "anterior_tilt", "pelvic_isolations"):
        with open(samples / f"{name}.truth.csv", newline="") as fh:
            truth = np.array([float(row["tilt_true_deg"]) for row in csv.DictReader(fh)])
        cells = []
        for label, st in (("default", resolve()), ("alone", resolve(reference_s=0)),
                          ("--baseline-first 1", resolve(baseline_first=1))):
            tilt = analyze_clip(samples / f"{name}.mp4", None, st, annotate=False, plot=False, table=False).est.tilt_raw
            n = min(len(tilt), len(truth))
            ok = np.isfinite(tilt[:n])
            cells.append(f"{label} {np.mean(np.abs(tilt[:n][ok] - truth[:n][ok])):.2f} ({np.nanmedian(tilt):+.1f})")
        print(f"   {name} (true median {np.median(truth):+.1f}): " + ", ".join(cells))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
