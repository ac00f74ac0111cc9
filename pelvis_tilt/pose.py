"""MediaPipe pose (Tasks API) per frame, subject choice, and the outline at pelvis height.

One `PoseRunner` owns the landmarker(s).  For each frame it returns the chosen
subject's landmarks in pixels, world landmarks and the outline edges at
pelvis height; the mask itself is dropped after the profile is taken.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import geometry, outline
from . import landmarks as L
from .model import ModelError, resolve_model
from .quiet import native_stderr_silenced

MAX_PEOPLE = 2


@dataclass
class FramePose:
    """The chosen subject in one frame (NaN arrays when nobody is chosen)."""

    lm: np.ndarray          # (33, 4) x_px, y_px, z_px, visibility
    world: np.ndarray       # (33, 4) metres, hip-centred, + visibility
    features: np.ndarray    # (outline.N_FEATURES,) outline edges at pelvis height
    n_people: int
    detected: bool
    measures: geometry.Measures | None = None  # this frame's measures (camera roll 0), when computed


def _empty_frame(n_people: int = 0) -> FramePose:
    nan = np.full((L.N_LANDMARKS, 4), np.nan)
    return FramePose(nan, nan.copy(), np.full(outline.N_FEATURES, np.nan), n_people, False)


def _to_array(pose_lms, w: float, h: float) -> np.ndarray:
    a = np.array([(p.x, p.y, p.z, p.visibility if p.visibility is not None else np.nan) for p in pose_lms], float)
    a[:, 0] *= w
    a[:, 1] *= h
    a[:, 2] *= w  # MediaPipe's z uses roughly the same scale as x
    return a


@dataclass
class SubjectTracker:
    """Keeps the same person as the subject across frames.

    Candidates are matched to tracks by hip-centre distance (in torso lengths).
    Each track keeps a running score, an exponential average over ``memory_s`` of
    torso length x how side-on the person stands, so the subject is the person
    standing side-on and largest, not whoever the detector lists first.  A
    frontal person alone is still the subject (and is told to turn sideways),
    but gives way within a few frames to someone side-on.  Switching away from
    the current subject needs the other track to lead by ``switch_ratio``.
    """

    max_gap_s: float = 1.0
    memory_s: float = 1.0
    switch_ratio: float = 1.5
    tracks: list = field(default_factory=list)  # dicts: pos, size, score, last_t
    subject: int | None = None

    @staticmethod
    def frame_scores(cands: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per candidate (P,33,4): hip-centre (P,2), torso length px (P,), score (P,)."""
        # Only width and torso are needed here: cheaper than a full view classification.
        width, torso, hip = geometry.width_ratio(cands)
        # Side-on people count fully, frontal ones barely.  Torso length, not the
        # bounding box, measures size: raised arms do not make someone the subject.
        side_weight = np.clip((0.40 - np.nan_to_num(width, nan=1.0)) / 0.25, 0.02, 1.0)
        return hip, torso, np.nan_to_num(torso) * side_weight

    def update(self, cands: np.ndarray, t: float) -> int:
        """Index of the subject among ``cands`` (P,33,4), or -1."""
        keep = [i for i, tr in enumerate(self.tracks) if t - tr["last_t"] <= self.max_gap_s]
        if self.subject is not None:
            self.subject = keep.index(self.subject) if self.subject in keep else None
        self.tracks = [self.tracks[i] for i in keep]
        if len(cands) == 0:
            return -1
        pos, size, score = self.frame_scores(cands)
        assigned: dict[int, int] = {}
        pairs = sorted(
            (np.linalg.norm(pos[c] - tr["pos"]) / max(tr["size"], 1.0), ti, c)
            for ti, tr in enumerate(self.tracks) for c in range(len(cands))
        )
        for d, ti, c in pairs:  # greedy nearest matching (at most 2 x 2 pairs)
            if d < 1.5 and ti not in assigned.values() and c not in assigned:
                assigned[c] = ti
        for c in range(len(cands)):
            if c not in assigned:
                self.tracks.append({"pos": pos[c], "size": 1.0, "score": 0.0, "last_t": t})
                assigned[c] = len(self.tracks) - 1
        for c, ti in assigned.items():
            tr = self.tracks[ti]
            a = min(1.0, max(t - tr["last_t"], 1 / 30) / self.memory_s) if tr["score"] > 0 else 1.0
            tr["score"] += a * (float(score[c]) - tr["score"])
            tr.update(pos=pos[c], size=float(size[c]) if np.isfinite(size[c]) else tr["size"], last_t=t)
        self._merge_duplicates(assigned)
        best = max(range(len(self.tracks)), key=lambda i: self.tracks[i]["score"])
        if self.subject is None or (
            best != self.subject and self.tracks[best]["score"] > self.switch_ratio * self.tracks[self.subject]["score"]
        ):
            self.subject = best
        for c, ti in assigned.items():
            if ti == self.subject:
                return c
        return -1

    def _merge_duplicates(self, assigned: dict[int, int]) -> None:
        """A track left behind by a missed match sits where its person now is: fold it
        into the track that matched there, so one person never holds two tracks."""
        live = set(assigned.values())
        drop = set()
        for ti in live:
            for tj, tr in enumerate(self.tracks):
                if tj in live or tj in drop:
                    continue
                d = np.linalg.norm(tr["pos"] - self.tracks[ti]["pos"]) / max(self.tracks[ti]["size"], 1.0)
                if d < 0.5:
                    if tr["score"] > self.tracks[ti]["score"]:
                        self.tracks[ti]["score"] = tr["score"]
                    if self.subject == tj:
                        self.subject = ti
                    drop.add(tj)
        if drop:
            keep = [i for i in range(len(self.tracks)) if i not in drop]
            remap = {old: new for new, old in enumerate(keep)}
            self.tracks = [self.tracks[i] for i in keep]
            for c in assigned:
                assigned[c] = remap[assigned[c]]
            if self.subject is not None:
                self.subject = remap.get(self.subject)


class PoseRunner:
    """MediaPipe PoseLandmarker (VIDEO mode) + subject choice + silhouette features.

    Use as a context manager; ``process(frame_rgb, t_s)`` per frame, in time order.

    ``num_poses=1`` (live) makes MediaPipe skip its person detector while it can
    track the one person it has (about half the cost per frame), but it then
    keeps whoever it found first.  So a second landmarker that looks for
    ``MAX_PEOPLE`` people takes over while the subject is missing or not side-on
    (``search_after_s``), and hands back once it has seen one side-on person and
    nobody else for ``settle_s``: with someone else in view the subject choice
    stays with the tracker, which prefers the side-on person.
    """

    search_after_s = 0.5
    settle_s = 1.0

    def __init__(self, model: str | Path | None = None, num_poses: int = MAX_PEOPLE):
        self.model_path = resolve_model(model)
        self.num_poses = num_poses
        self.tracker = SubjectTracker()
        self._lms: dict[int, object] = {}   # num_poses -> landmarker
        self._fresh: set[int] = set()       # landmarkers not yet run (they log on first use)
        self._last_ms = -1
        self.searching = False              # using the MAX_PEOPLE landmarker (read by `infer`)
        self._since: float | None = None    # when the condition for switching mode began

    def __enter__(self) -> "PoseRunner":
        from mediapipe.tasks.python import BaseOptions, vision

        for n in {self.num_poses, MAX_PEOPLE}:
            opts = vision.PoseLandmarkerOptions(
                base_options=BaseOptions(model_asset_path=str(self.model_path)),
                running_mode=vision.RunningMode.VIDEO,
                num_poses=n,
                output_segmentation_masks=True,
            )
            try:
                with native_stderr_silenced():
                    self._lms[n] = vision.PoseLandmarker.create_from_options(opts)
            except (RuntimeError, ValueError) as exc:
                self.close()
                raise ModelError(f"cannot load pose model {self.model_path}: {str(exc).splitlines()[0]}") from exc
            self._fresh.add(n)
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        for lm in self._lms.values():
            lm.close()
        self._lms.clear()

    def infer(self, frame_rgb: np.ndarray, t_s: float):
        """Bare MediaPipe inference (also used by the benchmarks as the baseline)."""
        import mediapipe as mp

        # VIDEO mode needs strictly increasing integer milliseconds (per landmarker;
        # one clock for both keeps that true across switches).
        t_ms = max(int(round(t_s * 1000.0)), self._last_ms + 1)
        self._last_ms = t_ms
        image = mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(frame_rgb))
        n = MAX_PEOPLE if self.searching else self.num_poses
        if n in self._fresh:  # the graph logs its set-up on the first frame
            self._fresh.discard(n)
            with native_stderr_silenced():
                return self._lms[n].detect_for_video(image, t_ms)
        return self._lms[n].detect_for_video(image, t_ms)

    def _update_mode(self, n_people: int, side_on: bool, t_s: float) -> None:
        """Switch between the one-person and the search landmarker (see the class doc)."""
        if self.num_poses >= MAX_PEOPLE:
            return
        want_change = (n_people == 1 and side_on) if self.searching else not side_on
        if not want_change:
            self._since = None
        elif self._since is None:
            self._since = t_s
        elif t_s - self._since >= (self.settle_s if self.searching else self.search_after_s):
            self.searching, self._since = not self.searching, None

    def process(self, frame_rgb: np.ndarray, t_s: float) -> FramePose:
        """Landmarks, world landmarks and silhouette profile of the subject."""
        h, w = frame_rgb.shape[:2]
        return self.from_result(self.infer(frame_rgb, t_s), w, h, t_s)

    def from_result(self, res, w: int, h: int, t_s: float) -> FramePose:
        """The subject's arrays from one inference result (split from `infer` so the
        live loop can run this on another thread while the next frame is inferred)."""
        n = len(res.pose_landmarks)
        if n == 0:
            self.tracker.update(np.zeros((0, L.N_LANDMARKS, 4)), t_s)
            self._update_mode(0, False, t_s)
            return _empty_frame(0)
        cands = np.stack([_to_array(p, w, h) for p in res.pose_landmarks])
        c = self.tracker.update(cands, t_s)
        if c < 0:
            self._update_mode(n, False, t_s)
            return _empty_frame(n)
        lm = cands[c]
        world = np.array([(p.x, p.y, p.z, p.visibility or 0.0) for p in res.pose_world_landmarks[c]], float)
        feats = np.full(outline.N_FEATURES, np.nan)
        m = geometry.compute_measures(lm[None], (w, h))
        self._update_mode(n, bool(m.is_side_on()[0]), t_s)
        if res.segmentation_masks:
            mask = res.segmentation_masks[min(c, len(res.segmentation_masks) - 1)].numpy_view()
            feats = outline.frame_edges(mask, lm, float(m.facing[0]), float(m.torso_px[0]))
        return FramePose(lm, world, feats, n, True, m)
