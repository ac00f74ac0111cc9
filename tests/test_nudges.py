"""The watch's nudge rule on small synthetic sequences (no video): timing, quiet period, resets."""
import numpy as np
import pytest

from pelvis_tilt import cues
from pelvis_tilt.nudges import (BAD, GOOD, HEAD, SLUMP, TIP, UNKNOWN, NudgeMachine, NudgeSettings, SamplingPlan,
                                nudge_times, posture_flags, sample_status)


def stream(t, status, flags, s):
    m = NudgeMachine(s)
    return [n for n in (m.update(float(a), int(b), int(c)) for a, b, c in zip(t, status, flags)) if n]


def test_sustained_problem_nudges_after_delay_then_every_quiet_period():
    s = NudgeSettings(after_s=5.0, quiet_s=12.0)
    t = np.arange(0, 40, 0.25)
    status = np.where(t >= 3.0, BAD, GOOD)  # bad from 3 s to the end
    flags = np.where(status == BAD, TIP, 0)
    got = [n.t for n in nudge_times(t, status, flags, s)]
    # first at 3 + 5; then quiet 12 s -> 20, 32 (the run restarts at each nudge, 5 <= 12)
    assert got == pytest.approx([8.0, 20.0, 32.0])
    assert [n.t for n in stream(t, status, flags, s)] == got


def test_good_sample_restarts_the_clock_but_short_unclear_gaps_do_not():
    s = NudgeSettings(after_s=4.0, quiet_s=100.0, max_gap_s=1.0)
    t = np.arange(0, 20, 0.5)
    status = np.full(t.size, BAD)
    status[(t >= 2.0) & (t < 2.5)] = GOOD      # one good sample at 2.0: restart at 2.5
    status[(t >= 4.0) & (t < 5.0)] = UNKNOWN   # 1 s unclear (gap 4.0 -> 5.0 from last bad 3.5 = 1.5 s > 1): restart
    got = nudge_times(t, status, None, s)
    assert [n.t for n in got] == [9.0]          # run restarted at 5.0
    s2 = NudgeSettings(after_s=4.0, quiet_s=100.0, max_gap_s=2.0)   # the same gap tolerated: run from 2.5
    assert [n.t for n in nudge_times(t, status, None, s2)] == [6.5]
    assert [n.t for n in stream(t, status, np.zeros(t.size), s2)] == [6.5]


def test_quiet_period_spans_separate_runs():
    s = NudgeSettings(after_s=2.0, quiet_s=10.0)
    t = np.arange(0, 30, 0.5)
    status = np.where(((t >= 1) & (t < 5)) | ((t >= 6) & (t < 10)) | ((t >= 14) & (t < 20)), BAD, GOOD)
    # run 1 nudges at 3; run 2 reaches 2 s at 8 but quiet until 13: no nudge; run 3 at 16
    assert [n.t for n in nudge_times(t, status, None, s)] == [3.0, 16.0]


@pytest.mark.parametrize("seed", range(6))
def test_streaming_machine_equals_vectorised_rule_on_random_sequences(seed):
    rng = np.random.default_rng(seed)
    n = 3000
    t = np.cumsum(rng.choice([0.2, 0.5, 2.0], n, p=[0.5, 0.4, 0.1]))
    # persistent random regimes so that long runs happen
    status = np.repeat(rng.choice([GOOD, BAD, UNKNOWN], n // 30 + 1, p=[0.3, 0.55, 0.15]), 30)[:n]
    status = np.where(rng.random(n) < 0.05, UNKNOWN, status)
    flags = np.where(status == BAD, rng.choice([TIP, SLUMP, HEAD, SLUMP | HEAD], n), 0)
    s = NudgeSettings(after_s=float(rng.uniform(1, 8)), quiet_s=float(rng.uniform(0, 20)),
                      max_gap_s=float(rng.uniform(0.5, 3)))
    a, b = nudge_times(t, status, flags, s), stream(t, status, flags, s)
    assert len(a) >= 2
    assert a == b


def test_flags_status_and_reasons():
    s = NudgeSettings(slump_deg=15, head_deg=30)
    state = np.array([cues.ANTERIOR, cues.NEUTRAL, cues.NEUTRAL, cues.NEUTRAL, cues.ABSENT, cues.POSTERIOR, cues.UNCLEAR])
    side = np.array([True, True, True, True, False, True, True])
    lean = np.array([0, 20, 0, np.nan, 40, 0, 0.0])
    head = np.array([17, 17, 35, 17, 40, 17, 17.0])
    f = posture_flags(state, side, lean, head, s)
    assert f.tolist() == [TIP, SLUMP, HEAD, 0, 0, 0, 0]
    assert sample_status(state, side, f).tolist() == [BAD, BAD, BAD, GOOD, UNKNOWN, GOOD, UNKNOWN]
    t = np.arange(7.0)
    st = np.array([BAD] * 7)
    for bit, name in ((TIP | HEAD, "tip"), (SLUMP | HEAD, "slump"), (HEAD, "head")):
        got = nudge_times(t, st, np.full(7, bit), NudgeSettings(after_s=2, quiet_s=100))
        assert [(n.t, n.reason) for n in got] == [(2.0, name)]


def test_sampling_plan_slows_down_when_away_and_when_calm():
    p = SamplingPlan(away_s=2.0, calm_s=0.5, alert_s=0.2)
    assert p.interval(False, True) == 2.0
    assert p.interval(True, False) == 0.5
    assert p.interval(True, True) == 0.2
