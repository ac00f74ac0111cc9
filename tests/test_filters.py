import numpy as np
import pytest

from pelvis_tilt import filters


def test_zero_lag_has_no_delay_on_a_ramp_and_keeps_gaps():
    t = np.arange(300) / 30.0
    x = 2.0 * t  # a ramp: any lag would show as an offset
    x[100:110] = np.nan
    y = filters.zero_lag(x, sigma=4.0)
    inner = np.r_[20:88, 122:288]  # windows (radius 12) that do not touch the gap or ends
    assert np.max(np.abs(y[inner] - x[inner])) < 1e-9
    assert np.all(np.isnan(y[100:110]))  # nothing invented in the gap


def test_zero_lag_reduces_noise_and_is_vectorised_over_channels():
    rng = np.random.default_rng(1)
    x = 10 + rng.normal(0, 1.0, (600, 3))
    y = filters.zero_lag(x, sigma=4.0)
    assert y.shape == x.shape
    assert np.std(y[20:-20], axis=0).max() < 0.4
    assert np.allclose(filters.zero_lag(x[:, 1], sigma=4.0), y[:, 1])


def test_zero_lag_weights_downweight_low_confidence():
    x = np.full(101, 10.0)
    x[50] = 40.0
    w = np.ones(101)
    w[50] = 0.0
    assert filters.zero_lag(x, w, sigma=3.0)[50] == pytest.approx(10.0)


def test_zero_lag_short_series():
    x = np.array([1.0, 2.0, 3.0])
    assert filters.zero_lag(x, sigma=10.0).shape == (3,)
    assert filters.zero_lag(np.zeros(0), sigma=3.0).shape == (0,)


def test_one_euro_smooths_still_signal_and_follows_a_step():
    rng = np.random.default_rng(2)
    t = np.arange(240) / 30.0
    x = np.where(t < 4, 10.0, 20.0) + rng.normal(0, 0.8, t.size)
    f = filters.OneEuro(1)
    y = f.filter(x, t)
    assert np.std(y[60:110]) < 0.5 * np.std(x[60:110])
    assert abs(np.mean(y[200:]) - 20.0) < 0.6  # caught up within ~2 s


def test_one_euro_gap_is_nan_and_restarts():
    t = np.arange(100) / 30.0
    x = np.ones((100, 2))
    x[40:70] = np.nan
    x[70:, 0] = 50.0
    y = filters.OneEuro(2, max_gap_s=0.5).filter(x, t)
    assert np.all(np.isnan(y[40:70]))
    assert y[70, 0] == pytest.approx(50.0)  # restarted after a 1 s gap, not dragged from 1.0


def test_sigma_frames_from_timestamps():
    assert filters.sigma_frames(np.arange(10) / 30.0, 0.1) == pytest.approx(3.0)


def test_segments_are_smoothed_apart_and_streamed_alike():
    rng = np.random.default_rng(3)
    x = np.r_[np.full(50, 10.0), np.full(50, 30.0)] + rng.normal(0, 0.5, 100)
    seg = np.r_[np.zeros(50, int), np.ones(50, int)]   # two people, one after the other
    y = filters.zero_lag(x, sigma=4.0, segments=seg)
    assert abs(y[49] - 10.0) < 1.0 and abs(y[50] - 30.0) < 1.0   # no blend across the change
    s = filters.LookAheadSmoother(4.0)
    out = [s.push(x[i:i + 7], np.ones(len(x[i:i + 7])), None, seg[i:i + 7]) for i in range(0, 100, 7)]
    assert np.allclose(np.concatenate(out + [s.flush()]), y, atol=1e-12)
    c = filters.CausalSmoother()
    z = c.series(x, np.ones(100), np.arange(100) / 30.0, seg)
    assert z[50] == pytest.approx(x[50])   # restarted for the new person
