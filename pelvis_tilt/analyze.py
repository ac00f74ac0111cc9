"""Analyse a recorded clip: pose on every frame, the pipeline, then the outputs, each written once.

The clip is decoded once.  Frames go through `pipeline.Stream` (look-ahead
smoothing) and each annotated frame is drawn as soon as its row is final, so the
tilt and state drawn on a frame are that frame's row of the table.  When the
neutral comes from the clip itself (``baseline_first``), no row is final before
the first seconds are in; the video is then drawn in a second decoding pass
(MediaPipe is not run again) rather than holding those frames in memory.  So it
is when the reference outline is still being looked for a second after its own
seconds (someone walking into view first).
"""
from __future__ import annotations

import contextlib
import sys
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from . import outputs, overlay, report, results, video_out
from .cues import Band
from .pipeline import Pipeline, RunResult
from .pose import PoseFrame, PoseRunner
from .results import FrameResults
from .settings import NeutralSource, Neutral, Settings, resolve
from .sources import SourceError, SourceInfo, VideoSource, ahead, rgb_ahead
from .video_out import ThreadedWriter

# Frames estimated together (vectorised) while streaming a clip: few while frames wait in memory to be
# drawn, many otherwise (each estimator call has a fixed cost: its gap filling solves a small system).
STREAM_CHUNK, STREAM_CHUNK_UNDRAWN = 8, 256
# Pictures wait in memory for the reference's seconds plus this; longer (the reference is still
# being looked for), the video is drawn in a second decoding pass.
HOLD_EXTRA_S = 1.0
AHEAD_MAX_PIXELS = 4_000_000   # larger frames are decoded on the pose thread (memory: 4K peaked 618 MB, else 572)


@dataclass
class AnalysisResult:
    """One analysed clip.  ``frames`` and ``est`` are the same `results.FrameResults`
    (pose arrays and what the pipeline derived, one row per frame)."""

    clip: str
    info: SourceInfo | None
    frames: FrameResults
    neutral: Neutral
    band: Band
    summary: dict
    outputs: dict[str, Path] = field(default_factory=dict)
    drawn: tuple[np.ndarray, np.ndarray] | None = None  # (tilt, state) drawn on the annotated video

    @property
    def est(self) -> FrameResults:
        return self.frames

    def table(self) -> dict[str, np.ndarray]:
        return results.table(self.frames)


class _Progress:
    """Frames done: a tqdm bar on stderr and/or ``callback(done, total)`` at most twice a second
    (batch workers report to the parent that way)."""

    def __init__(self, total: int, enabled: bool, label: str, callback=None):
        self.total, self.callback, self.last = total, callback, 0.0
        self.bar = None
        if enabled:
            from tqdm import tqdm

            self.bar = tqdm(total=total if total > 0 else None, desc=label, unit="frame", file=sys.stderr,
                            dynamic_ncols=True, leave=True)

    def update(self, done: int, final: bool = False) -> None:
        if self.bar is not None:
            self.bar.update(done - self.bar.n)
        now = time.monotonic()
        if self.callback is not None and (final or now - self.last >= 0.5):
            self.last = now
            self.callback(done, self.total)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


class _Annotator:
    """Writes annotated frames in order as their rows become final; keeps what it drew."""

    def __init__(self, writer: ThreadedWriter):
        self.writer = writer
        self.tilt: list[np.ndarray] = []
        self.state: list[np.ndarray] = []

    def draw(self, frames: Iterator[np.ndarray], r: FrameResults) -> None:
        for k, frame in zip(range(len(r)), frames):
            self.writer.write(frame, overlay.frame_drawer(r, k, extra=f"t={r.t[k]:5.2f}s"))
        self.tilt.append(r.tilt_smooth)
        self.state.append(r.state)

    def drawn(self) -> tuple[np.ndarray, np.ndarray]:
        return np.concatenate(self.tilt or [np.zeros(0)]), np.concatenate(self.state or [np.zeros(0, np.int8)])


def _with_rgb(src: VideoSource) -> Iterator[tuple[int, float, np.ndarray, np.ndarray | None]]:
    """Decoded frames with MediaPipe's RGB copy (`sources.rgb_ahead`), on the decoding thread."""
    for i, t, frame in src:
        yield i, t, frame, rgb_ahead(frame)


def _popleft(q: deque) -> Iterator[np.ndarray]:
    while q:
        yield q.popleft()


def redraw(path: str | Path, r: FrameResults, draw: Callable[[np.ndarray, int], None],
           max_width: int | None = None) -> int:
    """Decode the clip again and call ``draw(frame_bgr, k)`` for row k of ``r`` (by frame index).
    Returns the frames drawn.  For drawing once the whole run's results are known."""
    row = {int(f): k for k, f in enumerate(r.frame)}
    n = 0
    with VideoSource(path, max_width=max_width) as src:
        for i, _, frame in src:
            if i in row:
                draw(frame, row[i])
                n += 1
    return n


def analyze_clip(path: str | Path, out_dir: str | Path | None = None, settings: Settings | None = None, *,
                 band: Band | None = None, model: str | Path | None = None, annotate: bool = True,
                 plot: bool = True, table: bool = True, progress: bool | Callable[[int, int], None] = False,
                 max_width: int | None = None, overlap: bool = True) -> AnalysisResult:
    """Analyse one clip; write outputs into ``out_dir`` (if given) and return the result.

    ``settings`` (`settings.resolve`) decide the numbers; without them, ``band`` and
    ``model`` (a pose .task bundle) are resolved the same way the command line does.
    ``progress``: True draws a bar on stderr; a callable gets ``(frames_done, frames_total)``.
    ``overlap``: decoding and MediaPipe each on a thread of their own, overlapping the rest
    (about 1.4 cores busy; batch workers, one per core, pass False).
    Raises `SourceError` (unreadable input), `ModelError` or `report.OutputError`; a clip
    with nobody or no side view is *not* an error: its summary says why nothing was measured.
    """
    path = Path(path)
    if settings is None:
        settings = resolve(baseline=band.baseline if band else None, band=band.half_width if band else None,
                           pose_model=str(model) if model else None)
    out_dir = Path(out_dir) if out_dir is not None else None
    stem = path.stem
    written: dict[str, Path] = {}
    warnings: list[str] = []
    video_final = out_dir / f"{stem}.annotated.mp4" if (annotate and out_dir is not None) else None
    # With a first-seconds neutral no row is final until those seconds are in: draw afterwards.
    draw_later = settings.neutral.source == NeutralSource.FIRST_SECONDS

    parts: list[FrameResults] = []
    with contextlib.ExitStack() as stack:
        src = stack.enter_context(VideoSource(path, max_width=max_width))
        if out_dir is not None:
            report.ensure_writable_dir(out_dir)
        runner = stack.enter_context(PoseRunner(settings.pose_model, follow=settings.follow))
        info = src.info
        video_tmp = stack.enter_context(report.atomic_path(video_final)) if video_final else None
        bar = _Progress(info.frame_count, progress is True, stem, progress if callable(progress) else None)
        stack.callback(bar.close)
        pipe = stream = annot = None
        pending: deque = deque()   # frames waiting for their row to be final
        drawing_now = video_tmp is not None and not draw_later

        def posed() -> Iterator[tuple[int, float, tuple[int, int], np.ndarray | None, PoseFrame]]:
            """Frames with their pose; a frame to be drawn is kept at about the video's size."""
            # decoding on a third thread, but not for frames above ~4 Mpx: each one queued is 25 MB at 4K
            read_ahead = overlap and info.width * info.height <= AHEAD_MAX_PIXELS
            frames = ahead(_with_rgb(src), depth=1) if read_ahead else ((i, t, f, None) for i, t, f in src)
            for i, t, frame, rgb in frames:
                pf = runner.process_bgr(frame, t) if rgb is None else runner.process(rgb, t)
                yield i, t, frame.shape[:2], video_out.held(frame) if drawing_now else None, pf

        for i, t, (h, w), frame, pf in (ahead(posed()) if overlap else posed()):
            if pipe is None:
                t_first = t
                pipe = Pipeline(settings, (w, h), info.fps)
                stream = pipe.stream(STREAM_CHUNK if drawing_now else STREAM_CHUNK_UNDRAWN)
                if video_tmp is not None:
                    writer = ThreadedWriter(video_tmp, info.fps, (w, h))
                    stack.callback(writer.close)
                    annot = _Annotator(writer)
            if drawing_now:
                pending.append(frame)
            done = stream.push(i, t, pf)
            if done is not None:
                parts.append(done)
                if annot is not None and not draw_later:
                    annot.draw(_popleft(pending), done)
            elif drawing_now and stream.neutral is None and t - t_first > stream.wait_s + HOLD_EXTRA_S:
                # still looking for the reference (someone walking into view first): stop holding
                # pictures, draw the video in a second decoding pass instead
                drawing_now, draw_later = False, True
                pending.clear()
            bar.update(i + 1)
        bar.update(src.frames_read, final=True)
        if src.frames_read == 0:
            raise SourceError(f"no frames could be decoded from {path}")
        if src.ended_early:
            warnings.append(f"video ended early: decoded {src.frames_read} of {info.frame_count} frames (truncated?)")
        done = stream.finish()
        if done is not None:
            parts.append(done)
            if annot is not None and not draw_later:
                annot.draw(_popleft(pending), done)
        run = RunResult(results.concat(parts), stream.neutral, stream.notes)
        if annot is not None:
            if draw_later:
                redraw(path, run.frames, lambda frame, k: annot.draw(iter([frame]), results.take(run.frames, [k])),
                       max_width)
            writer.close()
            written["annotated"] = video_final
    return _finish(path, out_dir, settings, info, run, warnings, written, plot=plot, table=table,
                   drawn=annot.drawn() if annot is not None else None)


def _finish(path: Path, out_dir: Path | None, settings: Settings, info: SourceInfo, run: RunResult,
            warnings: list[str], written: dict[str, Path], *, plot: bool, table: bool,
            drawn: tuple[np.ndarray, np.ndarray] | None) -> AnalysisResult:
    """Summary and files of an analysed clip (each file written once)."""
    stem = path.stem
    band = settings.band(run.neutral.baseline_deg)
    r = run.frames
    tab = results.table(r)
    summary = results.summarise(tab, band, source=str(path), neutral=run.neutral.label,
                                estimator=settings.estimator().kind,
                                read_against=Pipeline(settings, r.image_size, info.fps).read_against(run.neutral),
                                fps=info.fps, image_size=r.image_size, warnings=run.notes + warnings)
    if out_dir is not None:
        outputs.clear_stale(out_dir, {f"{stem}.annotated.mp4": "annotated" in written, f"{stem}.tilt.png": plot,
                                      f"{stem}.frames.csv": table}, summary["warnings"])
        if table:
            written["frames_csv"] = outputs.write_table(out_dir / f"{stem}.frames.csv", tab)
        if plot:
            written["plot"] = outputs.write_tilt_plot(out_dir / f"{stem}.tilt.png", r, band, summary, path.name)
        written["summary"] = out_dir / f"{stem}.summary.json"
        # file names: the summary sits beside them, wherever the folder is moved
        summary["outputs"] = {k: p.name for k, p in written.items()}
        outputs.write_summary(written["summary"], summary)
    return AnalysisResult(str(path), info, r, run.neutral, band, summary, written, drawn)
