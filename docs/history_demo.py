"""Make docs/history_page.png: six weeks of made-up practice in a throw-away history, drawn by
`pelvis-tilt history --html` and photographed by headless Chromium.

The sessions are synthetic (seeded random numbers shaped like a person practising most days);
real sessions from the sample clips last only seconds.  Needs `chromium` on PATH.

    python docs/history_demo.py
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from pelvis_tilt import history  # noqa: E402
from pelvis_tilt.history import ExerciseRecord, SessionRecord  # noqa: E402

DAY = 86400.0


def fill(db: Path, seed: int = 3) -> None:
    rng = np.random.default_rng(seed)
    start = time.mktime(time.strptime("2026-10-12 08:00", "%Y-%m-%d %H:%M"))
    neutral = 12.0
    for d in range(42):
        day = start + d * DAY
        progress = d / 41
        if d % 7 == 0:  # weekly calibration
            neutral += rng.normal(-0.15, 0.3)
            history.record_session(SessionRecord("calibrate", day, 6.0, "me", "camera0", neutral, 5.0, 0.6, 6, 6), db)
        if rng.random() < 0.8:  # morning routine
            done = rng.random() < 0.5 + 0.45 * progress
            ex = [ExerciseRecord(n, True, bool(done or rng.random() < 0.7), r, h) for n, r, h in
                  (("plie_tuck", None, None), ("isolations_front_back", 8, None), ("hip_flexor_stretch", None, 30.0),
                   ("pelvic_lift", 3, None), ("child_pose", None, 30.0))]
            rng_deg = 9 + 7 * progress + rng.normal(0, 1.2)
            history.record_session(SessionRecord(
                "routine", day + 600, 900, "me", "camera0", neutral, 5.0, rng_deg, 700, 420 + 200 * progress,
                0, abs(rng.normal(2.5 - 1.5 * progress, 0.6)), exercises=ex), db)
        if d % 7 < 5:  # a watch while working on weekdays
            hours = rng.uniform(1.5, 4.0)
            side = hours * 3600 * rng.uniform(0.6, 0.85)
            rate = max(0.3, 3.2 - 2.4 * progress + rng.normal(0, 0.4))
            n = int(round(rate * hours))
            history.record_session(SessionRecord(
                "watch", day + 3600 * 2, hours * 3600, "me", "camera0", neutral, 5.0, 9.0, side,
                side * (0.55 + 0.3 * progress + rng.normal(0, 0.04)), n,
                nudge_events=[(float(x), "tip") for x in np.sort(rng.uniform(0, hours * 3600, n))]), db)


def main() -> None:
    chrome = shutil.which("chromium") or shutil.which("chromium-browser")
    if not chrome:
        sys.exit("history_demo: chromium is not installed (apt-get install -y chromium)")
    with tempfile.TemporaryDirectory() as d:
        cfg = Path(d) / "config"
        fill(cfg / "history.sqlite3")
        page = Path(d) / "history.html"
        env = dict(os.environ, PELVIS_TILT_CONFIG=str(cfg), PYTHONPATH=str(REPO))
        subprocess.run([sys.executable, "-m", "pelvis_tilt", "history", "--profile", "me", "--html", str(page)],
                       check=True, env=env)
        out = REPO / "docs" / "history_page.png"
        subprocess.run([chrome, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                        "--disable-background-networking", "--disable-component-update", "--disable-sync",
                        f"--user-data-dir={Path(d) / 'chromium'}", "--hide-scrollbars", "--window-size=1240,1000",
                        f"--screenshot={out}", page.as_uri()], check=True, capture_output=True, timeout=120)
        print(f"wrote {out}")


if __name__ == "__main__":
    main()
