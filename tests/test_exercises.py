"""Exercise detectors on synthetic signal sequences, with noise and dropped frames."""
import numpy as np
import pytest

from pelvis_tilt.exercises import FrameSignals, Isolations, PelvicLift, PlieTuck, WalkCheck, stretch_hold


def feed(det, t, **cols):
    for i in range(len(t)):
        det.update(FrameSignals(t=float(t[i]), **{k: (v[i] if isinstance(v, np.ndarray) else v) for k, v in cols.items()}))
    return det.result()


def iso_signal(n, period=1.6, amp=10.0, fps=30, noise=0.8, drop=0.1, seed=0, lead_s=1.0):
    rng = np.random.default_rng(seed)
    t = np.arange(0, lead_s * 2 + n * period, 1 / fps)
    phase = np.clip(t - lead_s, 0, n * period)
    x = amp * np.sin(2 * np.pi * phase / period) + rng.normal(0, noise, t.size)
    x[rng.random(t.size) < drop] = np.nan  # dropped frames / unreliable outline
    return t, x


@pytest.mark.parametrize("n", [6, 8, 12])
def test_isolation_reps_counted_exactly_with_noise_and_drops(n):
    t, x = iso_signal(n, seed=n)
    r = feed(Isolations(target=0), t, tilt_dev=x)
    assert r["reps"] == n
    assert all(15 < rng < 24 for rng in r["ranges_deg"])


def test_small_wobbles_are_not_reps():
    t, x = iso_signal(8, amp=2.5, noise=0.5)
    assert feed(Isolations(target=0, min_range=8), t, tilt_dev=x)["reps"] == 0


def test_isolations_with_offset_centre_still_count():
    t, x = iso_signal(8)
    assert feed(Isolations(target=0), t, tilt_dev=x + 6.0)["reps"] == 8


def test_lateral_isolations_use_lateral_signal():
    t, x = iso_signal(8, amp=6.0)
    det = Isolations(signal="lateral", target=8, min_range=6)
    r = feed(det, t, lateral=x, side_on=False, frontal=True)
    assert r["reps"] == 8 and det.done and det.view == "front"


def test_isolations_with_a_personal_range_say_how_far_each_rep_reaches():
    # reps out to +10 and -10 deg from neutral; this user's range: 20 deg forward, 10 deg of tuck
    t, x = iso_signal(6, noise=0.0, drop=0.0)
    det = Isolations(target=0, own_range=(20.0, 10.0))
    r = feed(det, t, tilt_dev=x)
    assert r["reps"] == 6
    reach = np.array(r["reach_pct"])
    assert np.all(np.abs(reach[:, 0] - 50) < 3) and np.all(np.abs(reach[:, 1] - 100) < 6), reach
    assert r["mean_reach_forward_pct"] == pytest.approx(reach[:, 0].mean())
    assert det.status()[1].startswith("last rep 5") and "of your tuck range" in det.status()[1]
    # without a range, or for side-to-side reps, nothing about a range
    assert "reach_pct" not in feed(Isolations(target=0), t, tilt_dev=x)
    assert "reach_pct" not in feed(Isolations(signal="lateral", target=0, own_range=(20.0, 10.0)), t, lateral=x)


def test_rep_extremes_come_from_the_readings_not_the_smoothed_signal():
    # smoothing takes ~12 % off a fast rep; the frames' own readings (median of three) do not
    t, x = iso_signal(6, period=1.5, noise=0.0, drop=0.0)
    raw = x + np.random.default_rng(2).normal(0, 0.6, x.size)
    r = feed(Isolations(target=0), t, tilt_dev=0.88 * x, tilt_dev_raw=raw)
    assert r["reps"] == 6
    assert all(19.0 < rng < 21.5 for rng in r["ranges_deg"]), r["ranges_deg"]       # 2 x 10 deg
    only_smoothed = feed(Isolations(target=0), t, tilt_dev=0.88 * x)
    assert all(rng < 18.0 for rng in only_smoothed["ranges_deg"])                  # 2 x 8.8 deg


def test_find_neutral_scores_the_held_value():
    t, x = iso_signal(2, noise=0.3, drop=0.05, lead_s=1.0)
    t2 = np.arange(t[-1] + 1 / 30, t[-1] + 4, 1 / 30)
    hold = 4.0 + np.random.default_rng(1).normal(0, 0.3, t2.size)
    det = Isolations(target=2, find_neutral=True)
    r = feed(det, np.r_[t, t2], tilt_dev=np.r_[x, hold])
    assert r["reps"] == 2
    assert r["neutral_error_deg"] == pytest.approx(4.0, abs=0.6)


def plie_seq(kept: bool, fps=30, noise=0.5, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(0, 7.0, 1 / fps)
    knee = np.interp(t, [0, 1, 2, 4, 5, 7], [2, 2, 35, 35, 3, 3])
    tuck = np.interp(t, [0, 2.5, 3.5, 4, 5, 7], [0, 0, -10, -10, -10 if kept else -2, -10 if kept else -2])
    return t, knee + rng.normal(0, 1, t.size), tuck + rng.normal(0, noise, t.size)


def test_plie_tuck_kept_and_lost_are_told_apart():
    t, k, d = plie_seq(True)
    kept = feed(PlieTuck(), t, knee_flex=k, tilt_dev=d, heel_lift=0.0)
    t, k, d = plie_seq(False)
    lost = feed(PlieTuck(), t, knee_flex=k, tilt_dev=d, heel_lift=0.0)
    assert kept["tuck_kept"] is True and kept["missed"] == []
    assert lost["tuck_kept"] is False and "lost when the knees straightened" in lost["message"]
    assert lost["tuck_in_plie_deg"] == pytest.approx(10, abs=1.5)
    assert lost["tuck_after_straighten_deg"] == pytest.approx(2, abs=1.5)


def test_plie_without_tuck_reports_the_missed_step():
    t, k, _ = plie_seq(True)
    r = feed(PlieTuck(), t, knee_flex=k, tilt_dev=np.zeros(t.size))
    assert r["missed"] == ["plie"] or r["missed"] == ["tuck"]
    assert r["tuck_kept"] is None


def test_hold_timer_pauses_when_the_pose_is_lost():
    fps = 15
    t = np.arange(0, 13.0, 1 / fps)
    folded = ((t >= 1) & (t < 5)) | ((t >= 8) & (t < 12))  # 8 s held, 3 s lost in between
    knee_max = np.where(folded, 130.0, 5.0) + np.random.default_rng(0).normal(0, 3, t.size)
    knee_max[np.random.default_rng(1).random(t.size) < 0.05] = np.nan  # dropped frames
    r = feed(stretch_hold(target_s=60), t, knee_max=knee_max, knee_min=np.full(t.size, 4.0))
    assert r["held_s"] == pytest.approx(8.0, abs=0.5)
    assert r["times_lost"] == 2 and len(r["segments_s"]) == 2  # lost mid-way and at the end


def test_pelvic_lift_reps_and_holds():
    t = np.arange(0, 16, 1 / 15)
    knots_t, knots_v = [0], [0.0]
    for k in range(3):
        s = 1 + 5 * k
        knots_t += [s, s + 1, s + 3, s + 4]
        knots_v += [0.0, 0.5, 0.5, 0.0]
    lift = np.interp(t, knots_t, knots_v) + np.random.default_rng(0).normal(0, 0.01, t.size)
    r = feed(PelvicLift(), t, lift=lift)
    assert r["reps"] == 3
    assert all(abs(h - 2.0) < 0.5 for h in r["holds_s"])


def test_walk_check_counts_strides_and_pelvis_lead():
    t = np.arange(0, 6, 1 / 30)
    sep = 0.5 * np.sin(2 * np.pi * t / 1.0)  # one stride per second (two steps)
    r = feed(WalkCheck(), t, ankle_sep=sep, pelvis_lead=np.full(t.size, 0.05), trunk_lean=np.full(t.size, 3.0),
             head_fwd=np.full(t.size, 12.0))
    assert r["steps"] in (11, 12) and r["strides"] == (r["steps"] - 1) // 2
    assert r["cadence_steps_per_min"] == pytest.approx(120, rel=0.05)
    assert r["pelvis_leads_fraction"] == 1.0
