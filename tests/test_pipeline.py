"""One pipeline: stepping a clip frame by frame gives the numbers of the whole-clip run."""
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from pelvis_tilt import analyze_clip, results
from pelvis_tilt.pipeline import Pipeline
from pelvis_tilt.pose import PoseFrame
from pelvis_tilt.settings import Smoothing, resolve
from pelvis_tilt.tilt import NeutralOutline

SAMPLES = Path(__file__).resolve().parents[1] / "sample_videos"


@pytest.fixture(scope="module")
def isolations():
    """The isolations sample (the tilt swings through all three postures), analysed once."""
    return analyze_clip(SAMPLES / "pelvic_isolations.mp4", None, annotate=False, plot=False, table=False)


def _stepped(pipe: Pipeline, pose: results.PoseArrays, chunk: int, looking: bool = True):
    stream = pipe.stream(chunk)
    if not looking:
        stream.stop_looking()
    parts = []
    for k in range(len(pose.t)):
        pf = PoseFrame(pose.lm[k], pose.world[k], None, int(pose.n_people[k]), bool(pose.detected[k]),
                       int(pose.person[k]))
        out = stream.push(int(pose.frame[k]), float(pose.t[k]), pf, pose.features[k])
        parts += [out] if out is not None else []
    last = stream.finish()
    parts += [last] if last is not None else []
    return results.concat(parts), stream


def _same(a: results.FrameResults, b: results.FrameResults) -> None:
    assert len(a) == len(b)
    for name in ("tilt_raw", "tilt_conf", "tilt_smooth", "baseline"):
        x, y = getattr(a, name), getattr(b, name)
        assert np.array_equal(np.isnan(x), np.isnan(y)), name
        assert np.allclose(x[np.isfinite(x)], y[np.isfinite(y)], rtol=0, atol=1e-9), name
    assert np.array_equal(a.state, b.state)
    assert np.array_equal(a.measures.view, b.measures.view)


@pytest.mark.parametrize("causal", [False, True], ids=["look-ahead", "causal"])
@pytest.mark.parametrize("chunk", [1, 8])
@pytest.mark.parametrize("first_s", [None, 1.0], ids=["fixed-neutral", "first-seconds"])
def test_frame_by_frame_equals_whole_clip(isolations, causal, chunk, first_s):
    pose = isolations.frames
    # a neutral in the middle of the swings and a narrow band: every posture state occurs
    middle = float(np.nanmedian(pose.tilt_raw))
    settings = replace(resolve(baseline=middle, band=2.0, baseline_first=first_s), smoothing=Smoothing(causal=causal))
    pipe = Pipeline(settings, pose.image_size, isolations.info.fps)
    whole = pipe.run(pose)
    stepped, stream = _stepped(pipe, pose, chunk)
    _same(stepped, whole.frames)
    # the same neutral, to the rounding of the sums it is made of (as `_same` compares the rows)
    assert replace(stream.neutral, baseline_deg=0.0) == replace(whole.neutral, baseline_deg=0.0)
    assert stream.neutral.baseline_deg == pytest.approx(whole.neutral.baseline_deg, rel=0, abs=1e-9)
    # the clip swings through the postures, so the comparison covers state changes
    assert len(set(np.unique(whole.frames.state)) & {4, 5, 6}) >= (2 if first_s else 3)
    if first_s:
        assert whole.neutral.label == "first-1s" and whole.frames.baseline[0] != settings.neutral.baseline_deg
        assert whole.neutral.outline is not None   # the rest is read against the first second's outline


def test_analyze_streams_the_same_numbers_as_a_whole_clip_run(isolations):
    """analyze draws each frame as its row becomes final (streaming, chunks of 8): its
    table is the whole-clip run's."""
    pose = isolations.frames
    whole = Pipeline(resolve(), pose.image_size, isolations.info.fps).run(pose)
    _same(isolations.frames, whole.frames)


@pytest.mark.parametrize("causal", [False, True], ids=["look-ahead", "causal"])
def test_a_neutral_outline_is_read_the_same_frame_by_frame(isolations, causal):
    """A profile's neutral outline (standing frames read against it by the change trees) goes
    through the stream as through the whole-clip run, and changes the reading."""
    pose = isolations.frames
    pipe0 = Pipeline(resolve(), pose.image_size, isolations.info.fps)
    est = pipe0.estimator
    first = slice(0, 10)
    inputs = est.change_inputs(pose.features[first], pose.lm[first], pipe0.measure(pose.lm[first]))
    neutral = replace(resolve(baseline=8.0).neutral, outline=NeutralOutline(tuple(np.median(inputs, axis=0)), 8.0))
    settings = replace(resolve(), neutral=neutral, smoothing=Smoothing(causal=causal))
    pipe = Pipeline(settings, pose.image_size, isolations.info.fps)
    whole = pipe.run(pose)
    stepped, _ = _stepped(pipe, pose, 8)
    _same(stepped, whole.frames)
    # each frame alone (no outline, no first-seconds reference): the ridge
    plain = Pipeline(replace(settings, neutral=replace(neutral, outline=None), reference_s=0.0), pose.image_size,
                     isolations.info.fps).run(pose)
    read = np.isfinite(whole.frames.tilt_raw)
    assert read.mean() > 0.9
    assert np.abs(whole.frames.tilt_raw[read] - plain.frames.tilt_raw[read]).mean() > 0.3
    # the stated SD is the trees' own curve
    assert not np.allclose(whole.frames.change_sd[read], plain.frames.change_sd[read])


def test_a_clip_without_a_calibrated_outline_is_read_against_its_first_seconds(isolations):
    """By default a clip's standing frames are read against the outline of its first 2 s (the
    neutral stays the population's); ``reference_s=0`` reads each frame alone; a profile's
    outline comes first."""
    pose = isolations.frames
    fps = isolations.info.fps
    default = Pipeline(resolve(), pose.image_size, fps)
    run = default.run(pose)
    first = (pose.t - pose.t[0] < 2.0) & np.isfinite(run.frames.tilt_raw)
    assert run.neutral.label == "population" and run.neutral.outline is not None
    # the reference's tilt is the median of those seconds' frames read alone, not pulled toward
    # the population as a calibrated neutral is: they need not be neutral
    alone = Pipeline(resolve(reference_s=0.0), pose.image_size, fps)
    plain = alone.run(pose)
    assert plain.neutral.outline is None
    ridge = float(np.median(plain.frames.tilt_raw[first]))
    assert run.neutral.outline.tilt_deg == pytest.approx(ridge, abs=1e-9)
    # seconds said to be neutral (--baseline-first) are pulled toward the population, as a calibration's hold
    said = Pipeline(resolve(baseline_first=2.0), pose.image_size, fps).run(pose)
    pull = default.estimator.params["neutral_pull"]
    assert 0.0 < pull["slope"] < 1.0
    assert said.neutral.outline.tilt_deg == pytest.approx(pull["mean"] + pull["slope"] * (ridge - pull["mean"]),
                                                          abs=1e-9)
    read = np.isfinite(run.frames.tilt_raw)
    assert np.abs(run.frames.tilt_raw[read] - plain.frames.tilt_raw[read]).mean() > 0.3
    assert default.read_against(run.neutral) == "the outline of the clip's first 2 s"
    assert alone.read_against(plain.neutral) == "each frame alone"
    live = Pipeline(resolve(causal=True), pose.image_size, fps)
    assert live.reference_after and live.run(pose).neutral.outline == run.neutral.outline
    # a calibrated outline is used as it is, not replaced by the first seconds'
    own = NeutralOutline(run.neutral.outline.inputs, 3.0)
    prof = Pipeline(replace(resolve(), neutral=replace(resolve().neutral, outline=own)), pose.image_size, fps)
    assert prof.reference_s is None and prof.run(pose).neutral.outline is own
    assert prof.read_against(prof.settings.neutral) == "the calibrated neutral's outline"


@pytest.mark.parametrize("part", ["forward", "tucked"])
def test_a_clip_that_holds_one_posture_reads_it_as_each_frame_alone_does(isolations, part):
    """A clip that starts, and stays, tipped forward (or tucked) is read against its own first
    seconds: its level is what its frames read alone, not pulled toward the population's
    neutral (that pull is for a calibrated neutral hold), so the forward tilt is not read away."""
    pose = isolations.frames
    tilt = pose.tilt_raw
    lo, hi = np.nanpercentile(tilt, [12, 88])
    held = results.take(pose, tilt >= hi if part == "forward" else tilt <= lo)
    fps = isolations.info.fps
    default = Pipeline(resolve(), pose.image_size, fps).run(held)
    plain = Pipeline(resolve(reference_s=0.0), pose.image_size, fps).run(held)
    assert default.neutral.outline is not None
    a, b = np.nanmedian(default.frames.tilt_raw), np.nanmedian(plain.frames.tilt_raw)
    assert abs(a - b) < 1.0, (a, b)
    assert (a > 15.0) if part == "forward" else (a < 5.0)


@pytest.mark.parametrize("chunk", [1, 8])
def test_live_reads_against_its_first_standing_seconds_once_they_are_over(isolations, chunk):
    """Live shows every frame as it comes: those of its first 2 s standing side-on are read
    alone, every later one against the outline of those seconds, as analyze reads it; frame by
    frame gives the same numbers as the whole clip."""
    pose = isolations.frames
    fps = isolations.info.fps
    live = Pipeline(resolve(causal=True), pose.image_size, fps)
    run = live.run(pose)
    clip = Pipeline(resolve(), pose.image_size, fps).run(pose)
    alone = Pipeline(resolve(causal=True, reference_s=0.0), pose.image_size, fps).run(pose)
    assert run.neutral.outline is not None and run.neutral.outline == clip.neutral.outline
    later = pose.t >= pose.t[0] + 2.0
    a, b = run.frames.tilt_raw, alone.frames.tilt_raw
    assert np.array_equal(a[~later], b[~later], equal_nan=True)
    assert np.allclose(a[later], clip.frames.tilt_raw[later], rtol=0, atol=1e-9, equal_nan=True)
    read = later & np.isfinite(a)
    assert read.mean() > 0.5 and np.abs(a[read] - b[read]).mean() > 0.3
    # the stated SD is the trees' curve from then on only
    sd, sd0 = run.frames.change_sd, alone.frames.change_sd
    assert np.array_equal(sd[~later], sd0[~later], equal_nan=True) and not np.allclose(sd[read], sd0[read])
    assert live.read_against(run.neutral) == ("the outline of the first 2 s standing side-on, from 0.0 s in "
                                              "(the frames until they ended: each alone)")
    stepped, stream = _stepped(live, pose, chunk)
    _same(stepped, run.frames)
    assert stream.neutral.outline == run.neutral.outline
    # calibrating (live's 'c') stops the search: the hold's frames are all read one way
    held, stream = _stepped(live, pose, chunk, looking=False)
    _same(held, alone.frames)
    assert stream.neutral.outline is None


def test_reference_first_from_the_command_line(tmp_path):
    """``--reference-first 0`` reads each frame alone and says so; a negative value is one line, exit 1."""
    import json
    import subprocess
    import sys

    def analyze(*extra):
        return subprocess.run([sys.executable, "-m", "pelvis_tilt", "analyze", str(SAMPLES / "neutral_stance.mp4"),
                               "--out", str(tmp_path), "--no-video", "--no-plot", "--quiet", *extra],
                              capture_output=True, text=True)

    for extra, said in (((), "the outline of the clip's first 2 s"), (("--reference-first", "0"), "each frame alone")):
        r = analyze(*extra)
        assert r.returncode == 0, r.stderr
        assert json.loads((tmp_path / "neutral_stance.summary.json").read_text())["read_against"] == said
    bad = analyze("--reference-first", "-1")
    assert bad.returncode == 1 and bad.stderr.strip().count("\n") == 0 and "--reference-first" in bad.stderr


@pytest.mark.parametrize("causal", [False, True], ids=["look-ahead", "causal"])
@pytest.mark.parametrize("chunk", [1, 8])
def test_someone_walking_into_view_is_read_against_their_first_standing_seconds(isolations, chunk, causal):
    """Nobody stands side-on in the first 3 s: the reference is the 2 s from the first standing,
    side-on frame; frame by frame gives the whole-clip run's numbers (live too)."""
    pose = isolations.frames
    late = pose.t - pose.t[0] >= 3.0
    walk_in = replace(pose, detected=pose.detected & late,
                      features=np.where(late[:, None], pose.features, np.nan))
    pipe = Pipeline(resolve(causal=causal), pose.image_size, isolations.info.fps)
    whole = pipe.run(walk_in)
    start = float(pose.t[np.argmax(late & pose.detected)] - pose.t[0])
    assert whole.neutral.outline is not None and whole.neutral.outline.start_s == pytest.approx(start, abs=0.1)
    assert pipe.read_against(whole.neutral).startswith(
        f"the outline of the first 2 s standing side-on, from {start:.1f} s in" if causal else
        f"the outline of 2 s from {start:.1f} s into the clip")
    stepped, stream = _stepped(pipe, walk_in, chunk)
    _same(stepped, whole.frames)
    assert stream.neutral.outline == whole.neutral.outline
    # a reference found late reads the standing frames as one found at the start of that clip would
    cut = Pipeline(resolve(causal=causal), pose.image_size, isolations.info.fps).run(results.take(pose, late))
    assert whole.neutral.outline.inputs == pytest.approx(cut.neutral.outline.inputs, abs=1e-9)
    # none in the first REFERENCE_SEARCH_S: each frame alone
    from pelvis_tilt import settings as S

    short = replace(resolve(), reference_s=2.0)
    assert Pipeline(short, pose.image_size, isolations.info.fps).reference_window(
        replace(walk_in, t=walk_in.t * (S.REFERENCE_SEARCH_S / 2.0))) is None


def test_analyze_a_clip_that_starts_with_nobody_in_view(tmp_path, monkeypatch):
    """3 s of an empty picture, then the forward-tilt sample: read against 2 s from 3 s in, the
    same reading as the sample alone; the annotated video (drawn in a second pass, as the
    pictures are not held while the reference is looked for) has every frame and the table's values."""
    import cv2

    from pelvis_tilt.sources import VideoSource

    clip = tmp_path / "walk_in.mp4"
    with VideoSource(SAMPLES / "anterior_tilt.mp4") as src:
        frames, fps = [f for _, _, f in src], src.info.fps
    h, w = frames[0].shape[:2]
    vw = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
    empty = np.full_like(frames[0], 128)
    for f in [empty] * round(3 * fps) + frames:
        vw.write(f)
    vw.release()
    from pelvis_tilt import analyze

    real, passes = analyze.redraw, []
    monkeypatch.setattr(analyze, "redraw", lambda *a, **k: (passes.append(1), real(*a, **k))[1])
    r = analyze_clip(clip, tmp_path / "out")
    assert passes == [1]
    assert r.summary["read_against"].startswith("the outline of 2 s from 3.0 s into the clip")
    cap = cv2.VideoCapture(str(r.outputs["annotated"]))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == len(frames) + round(3 * fps) == len(r.frames)
    tilt, state = r.drawn
    shown = np.isfinite(r.frames.tilt_smooth)
    assert np.allclose(tilt[shown], r.frames.tilt_smooth[shown], atol=0.05) and np.array_equal(state, r.frames.state)
    alone = analyze_clip(SAMPLES / "anterior_tilt.mp4", None, annotate=False, plot=False, table=False)
    late = r.frames.tilt_raw[round(3 * fps):]
    both = np.isfinite(late) & np.isfinite(alone.frames.tilt_raw)
    assert both.mean() > 0.8
    assert np.median(np.abs(late[both] - alone.frames.tilt_raw[both])) < 0.3
