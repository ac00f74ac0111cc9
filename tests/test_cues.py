import numpy as np

from pelvis_tilt import cues, geometry

SIDE = geometry.VIEW_SIDE_RIGHT


def run(tilt, t=None, view=SIDE, dwell=0.4, band=None):
    tilt = np.asarray(tilt, float)
    t = np.arange(len(tilt)) / 30.0 if t is None else t
    v = np.full(len(tilt), view)
    return cues.CueMachine(band or cues.Band(10, 5, 1), dwell).run(t, tilt, v, np.ones(len(tilt), bool), np.ones(len(tilt), bool))


def test_states_for_clear_postures():
    s = run(np.r_[np.full(60, 10.0), np.full(60, 22.0), np.full(60, -2.0)])
    assert s[30] == cues.NEUTRAL and s[100] == cues.ANTERIOR and s[170] == cues.POSTERIOR
    assert cues.CUES[cues.ANTERIOR] == "Tuck under"


def test_no_flicker_at_band_edge():
    rng = np.random.default_rng(0)
    tilt = 15.0 + rng.normal(0, 0.7, 30 * 20)  # 20 s sitting right on the anterior edge
    s = run(tilt)
    changes = np.count_nonzero(np.diff(s))
    assert changes <= 20  # at most one change per second
    assert changes <= 2


def test_dwell_ignores_short_excursions():
    tilt = np.full(90, 10.0)
    tilt[40:46] = 25.0  # 0.2 s spike
    assert np.all(run(tilt) == cues.NEUTRAL)


def test_view_and_presence_states():
    m = cues.CueMachine(cues.Band(), 0.0)
    assert m.update(0.0, np.nan, geometry.VIEW_FRONTAL) == cues.FRONTAL
    assert m.update(0.1, 10.0, SIDE, in_frame=False) == cues.OUT_OF_FRAME
    assert m.update(0.2, np.nan, SIDE, detected=False) == cues.ABSENT


def test_band_classify():
    b = cues.Band(12, 4)
    assert list(b.classify(np.array([12, 16.5, 7.9, np.nan]))) == [cues.NEUTRAL, cues.ANTERIOR, cues.POSTERIOR, cues.UNCLEAR]


def test_flickering_view_does_not_keep_a_stale_cue():
    """Frontal for 1 s, then side-on frames that alternate with 'unknown' ones (as a walker's do):
    'Turn sideways' is gone within the dwell, although no single proposal lasts that long."""
    t = np.arange(90) / 30.0
    view = np.where(t < 1.0, geometry.VIEW_FRONTAL, np.where(np.arange(90) % 2, SIDE, geometry.VIEW_UNKNOWN))
    tilt = np.where(view == SIDE, 3.0, np.nan)   # tucked, where it is read
    s = cues.CueMachine(cues.Band(10, 5, 1), 0.4).run(t, tilt, view, np.ones(90, bool), np.ones(90, bool))
    assert np.all(s[t >= 1.0 + 0.4 + 1 / 30] != cues.FRONTAL)


def test_detected_person_is_never_absent_and_a_new_person_gets_a_fresh_cue():
    m = cues.CueMachine(cues.Band(10, 5, 1), 0.4)
    assert m.update(0.0, np.nan, SIDE, detected=False) == cues.ABSENT
    assert m.update(1 / 30, np.nan, geometry.VIEW_FRONTAL, person=0) == cues.FRONTAL   # at once
    for k in range(2, 30):
        m.update(k / 30, np.nan, geometry.VIEW_FRONTAL, person=0)
    # another person, side-on and tucked: not "Turn sideways" for another dwell
    assert m.update(30 / 30, 0.0, SIDE, person=1) == cues.POSTERIOR


def test_posture_warning_dropped_once_the_tilt_is_back():
    """'Too tucked' ends as soon as the tilt is back inside the band past the hysteresis,
    even on its way to the other side (the warning would point the wrong way)."""
    t = np.arange(60) / 30.0
    tilt = np.where(t < 1.0, 0.0, 10.0 + 30 * (t - 1.0))   # tucked, then swings through neutral to forward
    s = run(tilt, t)
    back = t[(tilt - 10 > -4) & (t >= 1.0)]
    assert s[np.searchsorted(t, back[0])] != cues.POSTERIOR
