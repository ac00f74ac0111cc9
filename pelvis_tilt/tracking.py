"""Which detected person is the subject, kept across frames (numpy only).

Composed around any pose model (`pose.PoseRunner` feeds it every frame's
candidates): the model finds people, this decides which one is measured.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import geometry
from . import landmarks as L


@dataclass(eq=False)   # a track is itself: compared by identity (its fields hold arrays)
class Track:
    """One person seen over time; ``id`` is never reused (a merge keeps the older id)."""

    id: int
    pos: np.ndarray          # hip centre, pixels
    size: float              # torso length, pixels
    score: float             # running average of size x how side-on
    last_t: float


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
    After `update`, ``subject`` is the subject's track id (None: nobody) and
    ``subject_side_on`` whether that person stood side-on in this frame.
    """

    max_gap_s: float = 1.0
    memory_s: float = 1.0
    switch_ratio: float = 1.5
    tracks: list[Track] = field(default_factory=list)
    subject: int | None = None
    subject_side_on: bool = False
    _next_id: int = 0

    @staticmethod
    def frame_scores(cands: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Per candidate (P,33,4): hip-centre (P,2), torso length px (P,), score (P,), side-on (P,)."""
        view, _, width, _, torso = geometry.classify_view(cands)
        hip = geometry.midpoint(cands, L.HIP)
        # Side-on people count fully, frontal ones barely.  Torso length, not the
        # bounding box, measures size: raised arms do not make someone the subject.
        side_weight = geometry.clip((0.40 - np.where(np.isnan(width), 1.0, width)) / 0.25, 0.02, 1.0)
        side_on = (view == geometry.VIEW_SIDE_LEFT) | (view == geometry.VIEW_SIDE_RIGHT)
        return hip, torso, geometry.nan0(torso) * side_weight, side_on

    def reset(self) -> None:
        self.tracks, self.subject, self.subject_side_on = [], None, False

    def update(self, cands: np.ndarray, t: float) -> int:
        """Index of the subject among ``cands`` (P,33,4), or -1."""
        self.tracks = [tr for tr in self.tracks if t - tr.last_t <= self.max_gap_s]
        if self.subject not in {tr.id for tr in self.tracks}:
            self.subject = None
        self.subject_side_on = False
        if len(cands) == 0:
            return -1
        pos, size, score, side_on = self.frame_scores(cands)
        assigned: dict[int, Track] = {}
        pairs = sorted(
            (np.linalg.norm(pos[c] - tr.pos) / max(tr.size, 1.0), k, c)
            for k, tr in enumerate(self.tracks) for c in range(len(cands))
        )
        taken: set[int] = set()
        for d, k, c in pairs:  # greedy nearest matching (at most 2 x 2 pairs)
            if d < 1.5 and k not in taken and c not in assigned:
                assigned[c], taken = self.tracks[k], taken | {k}
        for c in range(len(cands)):
            if c not in assigned:
                tr = Track(self._next_id, pos[c], 1.0, 0.0, t)
                self._next_id += 1
                self.tracks.append(tr)
                assigned[c] = tr
        for c, tr in assigned.items():
            a = min(1.0, max(t - tr.last_t, 1 / 30) / self.memory_s) if tr.score > 0 else 1.0
            tr.score += a * (float(score[c]) - tr.score)
            tr.pos, tr.last_t = pos[c], t
            if np.isfinite(size[c]):
                tr.size = float(size[c])
        self._merge_duplicates(assigned)
        best = max(self.tracks, key=lambda tr: tr.score)
        current = next((tr for tr in self.tracks if tr.id == self.subject), None)
        if current is None or (best is not current and best.score > self.switch_ratio * current.score):
            self.subject = best.id
        for c, tr in assigned.items():
            if tr.id == self.subject:
                self.subject_side_on = bool(side_on[c])
                return c
        return -1

    def in_view(self, t: float) -> int:
        """People tracked within ``max_gap_s`` of ``t`` (those seen at the last look count on)."""
        return sum(t - tr.last_t <= self.max_gap_s for tr in self.tracks)

    def follow(self, cand: np.ndarray, t: float) -> bool:
        """Update the subject's track alone from one person (33, 4) seen where the subject was
        followed (a crop around them): True if it is the subject (near the track), else False
        (the subject is then lost until the next `update`).  Other tracks wait for the next
        `update` of the whole picture."""
        current = next((tr for tr in self.tracks if tr.id == self.subject), None)
        self.subject_side_on = False
        if current is None:
            return False
        pos, size, score, side_on = self.frame_scores(cand[None])
        if not np.all(np.isfinite(pos[0])) or np.linalg.norm(pos[0] - current.pos) / max(current.size, 1.0) >= 1.5:
            return False
        a = min(1.0, max(t - current.last_t, 1 / 30) / self.memory_s)
        current.score += a * (float(score[0]) - current.score)
        current.pos, current.last_t = pos[0], t
        if np.isfinite(size[0]):
            current.size = float(size[0])
        self.subject_side_on = bool(side_on[0])
        return True

    def _merge_duplicates(self, assigned: dict[int, Track]) -> None:
        """A track left behind by a missed match sits where its person now is: fold it
        into the track that matched there (keeping the older id), so one person never
        holds two tracks."""
        live = {id(tr) for tr in assigned.values()}
        for tr in list(assigned.values()):
            for old in [o for o in self.tracks if id(o) not in live]:
                if np.linalg.norm(old.pos - tr.pos) / max(tr.size, 1.0) < 0.5:
                    tr.score = max(tr.score, old.score)
                    if old.id < tr.id:   # the person keeps the id they had before the missed match
                        if self.subject == tr.id:
                            self.subject = old.id
                        tr.id = old.id
                    elif self.subject == old.id:
                        self.subject = tr.id
                    self.tracks.remove(old)
