"""Smoothing: a causal One-Euro filter (live) and a zero-lag filter (recorded clips).

Both work on many channels at once.  A missing sample (NaN) stays missing: the
One-Euro filter restarts after a gap, and the zero-lag filter only averages
samples that exist, so nothing is ever invented inside a gap.
"""
from __future__ import annotations

import numpy as np

# Defaults for tilt in degrees.  One-Euro (Casiez et al., CHI 2012): min_cutoff
# sets smoothing at rest, beta how fast it opens up when the signal moves.
ONE_EURO_MIN_CUTOFF = 0.8   # Hz
ONE_EURO_BETA = 0.05        # per (deg/s)
ONE_EURO_D_CUTOFF = 1.0     # Hz
ZERO_LAG_SIGMA_S = 0.12     # Gaussian sigma for recorded clips, seconds


def _alpha(cutoff: np.ndarray, dt: float) -> np.ndarray:
    tau = 1.0 / (2.0 * np.pi * cutoff)
    return 1.0 / (1.0 + tau / dt)


class OneEuro:
    """Causal One-Euro filter over C channels; ``step(x (C,), t) -> (C,)``."""

    def __init__(self, channels: int = 1, min_cutoff: float = ONE_EURO_MIN_CUTOFF,
                 beta: float = ONE_EURO_BETA, d_cutoff: float = ONE_EURO_D_CUTOFF, max_gap_s: float = 0.5):
        self.min_cutoff, self.beta, self.d_cutoff, self.max_gap_s = min_cutoff, beta, d_cutoff, max_gap_s
        self.x = np.full(channels, np.nan)
        self.dx = np.zeros(channels)
        self.t = np.full(channels, np.nan)

    def reset(self) -> None:
        self.x[:] = np.nan
        self.dx[:] = 0.0
        self.t[:] = np.nan

    def step(self, x: np.ndarray | float, t: float) -> np.ndarray:
        x = np.atleast_1d(np.asarray(x, float))
        dt = t - self.t
        fresh = ~np.isfinite(self.x) | ~(dt > 0) | (dt > self.max_gap_s)
        dt = np.where(fresh, 1.0, dt)
        dx = np.where(fresh, 0.0, (x - self.x) / dt)
        a_d = _alpha(np.full_like(x, self.d_cutoff), dt)
        self.dx = np.where(fresh, 0.0, a_d * dx + (1 - a_d) * self.dx)
        a = _alpha(self.min_cutoff + self.beta * np.abs(self.dx), dt)
        out = np.where(fresh, x, a * x + (1 - a) * self.x)
        ok = np.isfinite(x)
        # A missing sample outputs NaN and leaves the state to age; a long gap restarts.
        self.x = np.where(ok, out, self.x)
        self.t = np.where(ok, t, self.t)
        self.dx = np.where(ok, self.dx, 0.0)
        return np.where(ok, out, np.nan)

    def filter(self, x: np.ndarray, t: np.ndarray) -> np.ndarray:
        """Run over a whole series (T, C) or (T,), in order (for tests and replay)."""
        x = np.asarray(x, float)
        flat = x.reshape(len(x), -1)
        out = np.stack([self.step(flat[i], float(t[i])) for i in range(len(flat))]) if len(flat) else flat
        return out.reshape(x.shape)


def _convolve_rows(a: np.ndarray, k: np.ndarray) -> np.ndarray:
    """``a`` (T, C) convolved along T with the odd, symmetric kernel ``k``, zeros beyond the
    ends (numpy only: SciPy's import alone took a quarter of a second of every command's start)."""
    r = len(k) // 2
    windows = np.lib.stride_tricks.sliding_window_view(np.pad(a, ((r, r), (0, 0))), len(k), axis=0)
    return windows @ k


def gaussian_kernel(sigma_frames: float) -> np.ndarray:
    """Normalised Gaussian taps, truncated at 3 sigma (radius = len // 2)."""
    r = max(1, int(np.ceil(3.0 * sigma_frames)))
    k = np.exp(-0.5 * (np.arange(-r, r + 1) / max(sigma_frames, 1e-6)) ** 2)
    return k / k.sum()


def sigma_frames(t: np.ndarray, sigma_s: float = ZERO_LAG_SIGMA_S) -> float:
    """Sigma in frames from the clip's median frame interval."""
    dt = np.diff(np.asarray(t, float))
    dt = dt[np.isfinite(dt) & (dt > 0)]
    return sigma_s / (float(np.median(dt)) if dt.size else 1.0 / 30.0)


def zero_lag(x: np.ndarray, weights: np.ndarray | None = None, sigma: float = 3.6,
             segments: np.ndarray | None = None) -> np.ndarray:
    """Zero-lag weighted Gaussian smoothing along axis 0 of (T,) or (T, C).

    A normalised convolution: sum(k*w*x) / sum(k*w) over the samples that exist
    (``weights`` e.g. per-frame confidence; NaN samples get weight 0).  Output is
    NaN where the input is NaN.  ``segments`` (T,) labels runs that must not be
    mixed (e.g. two people measured one after the other): each run of equal labels
    is smoothed on its own.  Its value at frame i depends only on frames i-r..i+r,
    so a streaming caller with r frames of lookahead gets the same numbers.
    """
    x = np.asarray(x, float)
    if len(x) == 0:
        return x.copy()
    w = np.ones(len(x)) if weights is None else np.nan_to_num(np.asarray(weights, float), nan=0.0)
    if segments is not None:
        seg = np.asarray(segments)
        cuts = np.flatnonzero(seg[1:] != seg[:-1]) + 1
        if cuts.size:
            return np.concatenate([zero_lag(a, b, sigma) for a, b in zip(np.split(x, cuts), np.split(w, cuts))])
    squeeze = x.ndim == 1
    x2 = x.reshape(len(x), -1)
    w2 = np.where(np.isfinite(x2), w[:, None], 0.0)
    k = gaussian_kernel(sigma)
    num = _convolve_rows(np.nan_to_num(x2) * w2, k)
    den = _convolve_rows(w2, k)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where((den > 1e-9) & np.isfinite(x2), num / np.where(den > 1e-9, den, 1.0), np.nan)
    return out[:, 0] if squeeze else out


class CausalSmoother:
    """One-Euro on one channel, frame by frame (live): each value comes out at once.
    A new segment label (another person) restarts the filter."""

    def __init__(self, min_cutoff: float = ONE_EURO_MIN_CUTOFF, beta: float = ONE_EURO_BETA,
                 d_cutoff: float = ONE_EURO_D_CUTOFF, max_gap_s: float = 0.5):
        self.params = dict(min_cutoff=min_cutoff, beta=beta, d_cutoff=d_cutoff, max_gap_s=max_gap_s)
        self._f = OneEuro(1, **self.params)
        self._seg = None

    def series(self, x: np.ndarray, w: np.ndarray, t: np.ndarray, segments: np.ndarray | None = None) -> np.ndarray:
        """A whole series at once (confidence ``w`` is not used by One-Euro)."""
        return CausalSmoother(**self.params).push(x, w, t, segments)

    def push(self, x: np.ndarray, w: np.ndarray, t: np.ndarray, segments: np.ndarray | None = None) -> np.ndarray:
        """New samples in; the smoothed values of the same samples out."""
        x = np.asarray(x, float)
        seg = np.zeros(len(x), int) if segments is None else np.asarray(segments)
        out = np.empty(len(x))
        for k in range(len(x)):   # a recursive filter: one sample after the other
            if seg[k] != self._seg:
                self._f.reset()
                self._seg = seg[k]
            out[k] = self._f.step(x[k], float(t[k]))[0]
        return out

    def flush(self) -> np.ndarray:
        return np.zeros(0)


class LookAheadSmoother:
    """`zero_lag` frame by frame (clips): a value comes out once the ``radius`` frames
    after it are in, and it is the value `zero_lag` gives on the whole series
    (the same function, run on the window that decides it)."""

    def __init__(self, sigma_frames: float):
        self.sigma = sigma_frames
        self.delay = len(gaussian_kernel(sigma_frames)) // 2
        self._x: list[float] = []   # samples from `_lo` (absolute index) on
        self._w: list[float] = []
        self._s: list = []          # their segment labels
        self._lo = 0                # absolute index of _x[0]
        self._out = 0               # absolute index of the next value to come out

    def series(self, x: np.ndarray, w: np.ndarray, t: np.ndarray | None = None,
               segments: np.ndarray | None = None) -> np.ndarray:
        return zero_lag(x, w, self.sigma, segments)

    def _emit(self, end: int) -> np.ndarray:
        """Values for absolute indices [_out, end), from the window that decides them."""
        if end <= self._out:
            return np.zeros(0)
        y = zero_lag(np.asarray(self._x), np.asarray(self._w), self.sigma, np.asarray(self._s))
        y = y[self._out - self._lo: end - self._lo]
        self._out = end
        keep = max(self._out - self.delay, self._lo) - self._lo   # what later windows still need
        del self._x[:keep], self._w[:keep], self._s[:keep]
        self._lo += keep
        return y

    def push(self, x: np.ndarray, w: np.ndarray, t: np.ndarray | None = None,
             segments: np.ndarray | None = None) -> np.ndarray:
        x = np.asarray(x, float)
        self._x.extend(x.tolist())
        self._w.extend(np.asarray(w, float).tolist())
        self._s.extend((np.zeros(len(x), int) if segments is None else np.asarray(segments)).tolist())
        return self._emit(self._lo + len(self._x) - self.delay)

    def flush(self) -> np.ndarray:
        """The last values, with the clip's end as their window's edge."""
        return self._emit(self._lo + len(self._x))
