"""The crop follower against the whole frame: same subject, same features, same tilt?

For each clip, `analyze_clip` runs in this process with the subject followed in
a crop (``Settings.follow``: every command's default) and, as references, on the
whole frame:

* ``whole-2p``: the two-person landmarker on every whole frame (``follow=False``,
  the path before issue 12; with one person in view MediaPipe runs its person
  detector on every frame, so each frame's region of interest comes from the detector);
* ``whole-1p``: exactly the crop path's logic with the crop made the whole frame
  (the one-person landmarker tracks the person from frame to frame): the crop
  path minus the crop, so the difference to it is what cropping itself changes.

Printed per clip and reference: frames with the subject in both runs, the share
of those where both runs measure the same person (mid-hips within 0.1 torso
lengths), the median tilt of each over the frames of that person (target: within
0.3 deg), the median of the per-frame signed tilt difference over the frames both
read ("paired": the systematic part, apart from which frames each run reads), the
per-frame tilt and feature differences (median, 90th pct), and the mid-hip
landmark difference in pixels.

    python benchmarks/crop_equivalence.py [CLIP ...]
"""
from __future__ import annotations

import argparse
import os
import sys
from unittest import mock
from dataclasses import replace
from pathlib import Path

os.environ.setdefault("GLOG_minloglevel", "2")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from pelvis_tilt import analyze_clip, crop  # noqa: E402
from pelvis_tilt.settings import resolve  # noqa: E402


def default_clips() -> list[Path]:
    from tests.conftest import _sports2d_demo

    real = ROOT.parent / "shared" / "real_media"
    clips = sorted((ROOT / "sample_videos").glob("*.mp4"))
    clips += [ROOT / "tests" / "fixtures" / f for f in ("tilt_varied.mp4", "tilt_steps.mp4")]
    clips += sorted(real.glob("*.mp4")) if real.is_dir() else []
    return clips + [_sports2d_demo()]


def run(clip: Path, how: str):
    """Per-frame results of one path: "crop", "whole-1p" or "whole-2p"."""
    if how == "whole-1p":
        def whole(prev, lm, size, max_body_px=None):
            return crop.whole(*size)
        with mock.patch.object(crop, "follow", whole):
            return run(clip, "crop")
    s = replace(resolve(), follow=how != "whole-2p")
    return analyze_clip(clip, None, s, annotate=False, plot=False, table=False).frames


def compare(a, b, clip: Path) -> dict:
    """Crop run ``a`` against reference run ``b``."""
    both = a.detected & b.detected
    ta, tb = a.tilt_raw, b.tilt_raw
    fin = both & np.isfinite(ta) & np.isfinite(tb)
    df = np.abs(a.features[both] - b.features[both])
    hip = lambda r: r.lm[both][:, 23:25, :2].mean(axis=1)  # noqa: E731
    dh = np.linalg.norm(hip(a) - hip(b), axis=1)
    # the same person: the subject's hips within a tenth of a torso length of each other
    torso = np.nanmedian(b.measures.torso_px[both]) if both.any() else np.nan
    same = np.zeros(len(a), bool)
    same[both] = dh < 0.1 * torso
    return dict(clip=clip.name, frames=len(a), both=int(both.sum()), only_crop=int((a.detected & ~b.detected).sum()),
                only_whole=int((~a.detected & b.detected).sum()), same_person=float(same[both].mean()) if both.any() else np.nan,
                med_crop=float(np.nanmedian(ta[same])) if same.any() else np.nan,
                med_whole=float(np.nanmedian(tb[same])) if same.any() else np.nan,
                measured=(int(np.isfinite(ta).sum()), int(np.isfinite(tb).sum())),
                paired=float(np.median((ta - tb)[fin & same])) if (fin & same).any() else np.nan,
                dtilt=np.abs(ta - tb)[fin], dfeat=df[np.isfinite(df)], dhip=dh)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("clips", nargs="*", type=Path)
    a = ap.parse_args()
    print(f"{'clip':<34}{'ref':>9}{'frames':>7}{'both':>6}{'same':>6}{'med crop':>9}{'whole':>7}{'diff':>7}{'paired':>7}"
          f"{'|dtilt| med/p90':>17}{'|dfeat| med/p90':>19}{'hip px med/p90':>16}  measured crop/whole")
    worst = {"whole-2p": 0.0, "whole-1p": 0.0}
    q = lambda v: (np.median(v), np.percentile(v, 90)) if len(v) else (np.nan, np.nan)  # noqa: E731
    for clip in a.clips or default_clips():
        cropped = run(clip, "crop")
        for ref in ("whole-2p", "whole-1p"):
            r = compare(cropped, run(clip, ref), clip)
            d = r["med_crop"] - r["med_whole"]
            worst[ref] = max(worst[ref], abs(d)) if np.isfinite(d) else worst[ref]
            print(f"{r['clip'][:33]:<34}{ref:>9}{r['frames']:>7}{r['both']:>6}{r['same_person']:>6.2f}"
                  f"{r['med_crop']:>9.2f}{r['med_whole']:>7.2f}{d:>+7.2f}{r['paired']:>+7.2f}"
                  f"{'%.2f / %.2f' % q(r['dtilt']):>17}"
                  f"{'%.4f / %.4f' % q(r['dfeat']):>19}{'%.1f / %.1f' % q(r['dhip']):>16}"
                  f"  {r['measured'][0]}/{r['measured'][1]}"
                  + (f"  (subject only in crop run: {r['only_crop']}, only in whole: {r['only_whole']})"
                     if r['only_crop'] or r['only_whole'] else ""))
    for ref, w in worst.items():
        print(f"largest median tilt difference, crop - {ref}: {w:.2f} deg (target <= 0.3)")


if __name__ == "__main__":
    main()
