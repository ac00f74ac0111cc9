"""Rendered exercise routines with known truth (pelvis tilt, knee bend, phase).

Builds on ``calibration.bodygen`` (same body, renderer, truth landmarks) but
poses the whole sagittal chain: whole-body orientation, pelvis, upper trunk,
thigh / knee / foot per side and the arms. Used by
``python -m calibration.make_routine_fixtures``.

Posing (anny ``local-ref``: every local rotation is about the bone's head in
world-aligned axes at rest, so sagittal rotations about x simply add down the
chain). All angles are in degrees in the BODY frame (the frame rotated by
``body_rot``; ``body_rot`` = 0 for standing):

* ``root``          Rx(body_rot + pelvis)         pelvis: + = anterior tilt
* spine03/02/01     Rx((trunk - pelvis) x 0.5/0.3/0.2)   trunk: + = leaning forward
* ``upperleg02.S``  Rx(thigh - pelvis)            thigh = -thigh_fwd (+ thigh_fwd = knee in front of hip)
* ``lowerleg01.S``  Rx(+knee)                     knee flexion, + = shank swings back (verified)
* ``foot.S``        Rx(foot - thigh - knee)       foot = world foot angle, 0 = sole flat
                                                  (+ = toes down / plantar flexion)
* ``upperarm01.S``  shortest-arc rotation from anny's rest arm direction to the
  requested direction (in the trunk frame), ``lowerarm01.S`` Rx(-elbow).

Standing poses are pinned like bodygen: the stance foot (or both) is moved back
to its neutral-stance place with the sole on the floor. Other poses (lying,
kneeling) are put on the floor (lowest vertex z = 0) at a fixed horizontal
anchor.
"""
from __future__ import annotations

import csv
import math
import os
from typing import Callable, Sequence

import numpy as np

from calibration import bodygen as bg
from calibration.bodygen import BodyPoser, Renderer, _rot4, _rot_between, project

SIDES = ("L", "R")
ARM_FOLLOW_LEGS = 1.4   # deg of arm swing per deg of compensating leg lean
ARM_FOLLOW_KNEE = 0.12  # deg of arm swing back per deg of knee bend
ROUTINE_COLUMNS = ["frame", "time_s", "tilt_true_deg", "pelvis_rot_deg", "knee_flex_deg", "phase",
                   "knee_flex_far_deg", "facing", "asis_x", "asis_y", "psis_x", "psis_y"]


def near_side(facing: str) -> str:
    """Camera-side leg: facing 'right' -> camera at -x -> the body's RIGHT side."""
    return "R" if facing == "right" else "L"


def default_spec(**kw) -> dict:
    """A frame's pose: standing, neutral, feet flat (all angles in deg, body frame)."""
    s = {"body_rot": 0.0, "pelvis": 0.0, "trunk": 0.0, "compensate": True,
         "thigh_fwd": {"L": 0.0, "R": 0.0}, "knee": {"L": 0.0, "R": 0.0},
         "foot": {"L": 0.0, "R": 0.0}, "arm_dir": {}, "elbow": {}, "arm_fwd": None, "extra": {},
         "pin": "feet", "stance": ("L", "R"), "anchor": None, "phase": ""}
    for k, v in kw.items():
        if k not in s:
            raise ValueError(f"unknown spec key {k!r}")
        s[k] = {**s[k], **v} if isinstance(s[k], dict) and isinstance(v, dict) else v
    return s


class ExercisePoser(BodyPoser):
    """BodyPoser that also bends knees/ankles, moves arms and reorients the body."""

    def __init__(self, body: dict | None = None):
        super().__init__(body)
        labels = list(self.model.bone_labels)
        self.idx = {n: labels.index(n) for n in labels}
        h = self.bone_heads
        self.seg = {}
        for s in SIDES:
            hip, knee, ank = (h[self.idx[f"{n}.{s}"]] for n in ("upperleg02", "lowerleg01", "foot"))
            self.seg[s] = {"thigh": (knee - hip)[1:], "shank": (ank - knee)[1:]}
        self.foot_side = {s: np.array([n.startswith(("foot", "toe")) and n.endswith("." + s)
                                       for n in self.dominant_bone]) for s in SIDES}
        self.foot_ref_side = {s: (self.rest_vertices[self.foot_side[s]]).mean(0) for s in SIDES}
        arm = np.array([n.startswith(("upperarm", "lowerarm", "wrist", "finger", "metacarpal"))
                        for n in self.dominant_bone])
        self.arm_mask = arm
        self.hand_mask = np.array([n.startswith(("wrist", "finger", "metacarpal")) for n in self.dominant_bone])
        # zero of the knee bend: the neutral standing pose (posed bone frames,
        # so the measurement uses the same source in every frame)
        self.rest_knee_angle = {s: 0.0 for s in SIDES}
        _, heads0 = self.raw_full(default_spec())
        self.rest_knee_angle = {s: self._knee_angle(heads0, s) for s in SIDES}

    # -- geometry helpers -------------------------------------------------
    def _knee_angle(self, heads: np.ndarray, side: str) -> float:
        hip, knee, ank = (heads[self.idx[f"{n}.{side}"]] for n in ("upperleg02", "lowerleg01", "foot"))
        a, b = knee - hip, ank - knee
        return math.degrees(math.acos(np.clip(np.dot(a, b) / np.linalg.norm(a) / np.linalg.norm(b), -1, 1)))

    def knee_flex(self, heads: np.ndarray, side: str) -> float:
        """Measured knee bend (deg, 0 = as straight as in the neutral standing pose):
        3-D angle between hip->knee and knee->ankle (posed bone heads)."""
        return self._knee_angle(heads, side) - self.rest_knee_angle[side]

    def balanced_thigh_fwd(self, knee_deg: float, side: str = "L", legs_lean: float = 0.0) -> float:
        """Thigh angle (deg, + = knee forward) that keeps the hip over the same
        fore-aft place relative to the ankle as in neutral stance, for a knee
        bend with the foot flat (2-D, rest segment vectors)."""
        th, sh = self.seg[side]["thigh"], self.seg[side]["shank"]

        def rot(v, a):
            c, s_ = math.cos(math.radians(a)), math.sin(math.radians(a))
            return np.array([c * v[0] - s_ * v[1], s_ * v[0] + c * v[1]])

        target = (th + sh)[0]

        def f(t):
            return (rot(th, legs_lean - t) + rot(sh, legs_lean - t + knee_deg))[0] - target

        lo, hi = -10.0, 80.0
        for _ in range(50):
            mid = 0.5 * (lo + hi)
            # hip-to-ankle y grows (ankle further back) as the knee goes forward
            if f(mid) * f(lo) > 0:
                lo = mid
            else:
                hi = mid
        return 0.5 * (lo + hi)

    # -- posing -------------------------------------------------------------
    def pose_params(self, spec: dict) -> dict[str, np.ndarray]:
        p, tr = float(spec["pelvis"]), float(spec["trunk"])
        legs = 0.0
        if spec["compensate"]:
            legs = self.angles(p, "compensated")[2] - 0.0
        pose = {"root": _rot4("x", float(spec["body_rot"]) + p)}
        if tr != p:
            for bone, frac in bg.SPINE_COUNTER.items():
                pose[bone] = _rot4("x", (tr - p) * frac)
        for s in SIDES:
            thigh = legs - float(spec["thigh_fwd"][s])
            knee = float(spec["knee"][s])
            pose[f"upperleg02.{s}"] = _rot4("x", thigh - p)
            if knee:
                pose[f"lowerleg01.{s}"] = _rot4("x", knee)
            foot_local = float(spec["foot"][s]) - thigh - knee
            if abs(foot_local) > 1e-9:
                pose[f"foot.{s}"] = _rot4("x", foot_local)
        for bone, deg in spec["extra"].items():  # any other bone: Rx(deg)
            pose[bone] = _rot4("x", float(deg))
        b = self.body
        # Hanging arms follow the hips a little (fore-aft), so the hands stay
        # inside the pelvis/thigh outline: + arm_fwd swings them forward.
        arm_fwd = spec["arm_fwd"]
        if arm_fwd is None:
            kn = 0.5 * (float(spec["knee"]["L"]) + float(spec["knee"]["R"]))
            arm_fwd = ARM_FOLLOW_LEGS * legs - ARM_FOLLOW_KNEE * kn
        for s, sgn in (("L", 1.0), ("R", -1.0)):
            d1 = spec["arm_dir"].get(s)
            if d1 is None:
                abd = math.radians(float(b["arm_abduction_deg"]))
                fwd = math.radians(float(b["arm_forward_deg"]) + float(arm_fwd))
                d1 = np.array([sgn * math.sin(abd), -math.sin(fwd), -math.cos(abd) * math.cos(fwd)])
            pose[f"upperarm01.{s}"] = _rot_between(self._arm_dir[s], d1)
            pose[f"lowerarm01.{s}"] = _rot4("x", -float(spec["elbow"].get(s, b["elbow_flex_deg"])))
        return pose

    def raw_full(self, spec: dict) -> tuple[np.ndarray, np.ndarray]:
        torch = self._torch
        pose = self.pose_params(spec)
        pp = {k: torch.tensor(v[None], dtype=torch.float32) for k, v in pose.items()}
        with torch.no_grad():
            out = self.model(pose_parameters=pp, phenotype_kwargs=self._ph,
                             local_changes_kwargs=self._lc, return_bone_ends=False)
        v = out["vertices"][0].double().numpy() + self._shift
        heads = out["bone_poses"][0, :, :3, 3].double().numpy() + self._shift
        return v, heads

    def pose_spec(self, spec: dict) -> tuple[bg.PosedBody, np.ndarray]:
        """Posed, pinned body and posed bone heads for a frame spec."""
        v, heads = self.raw_full(spec)
        if spec["pin"] == "feet":
            st = list(spec["stance"])
            m = np.zeros(len(v), bool)
            for s in st:
                m |= self.foot_side[s]
            ref = np.mean([self.foot_ref_side[s] for s in st], axis=0)
            d = np.array([ref[0] - v[m, 0].mean(), ref[1] - v[m, 1].mean(), -v[m, 2].min()])
        elif spec["pin"] == "floor":
            ax, ay = spec["anchor"] if spec["anchor"] is not None else (0.0, 0.0)
            d = np.array([ax, ay, -v[:, 2].min()])
        elif spec["pin"] == "floor_joints":
            # anchor = (names, (x, y)): these bones' mean head at (x, y), lowest vertex on the floor
            names, xy = spec["anchor"]
            c = heads[[self.idx[n] for n in names]].mean(0)
            d = np.array([xy[0] - c[0], xy[1] - c[1], -v[:, 2].min()])
        elif spec["pin"] == "joints":
            # anchor = (names, xyz): the mean posed head of these bones goes to xyz
            names, xyz = spec["anchor"]
            d = np.asarray(xyz, float) - heads[[self.idx[n] for n in names]].mean(0)
        else:
            raise ValueError(spec["pin"])
        return self._measure(v + d), heads + d


def _mask(px: np.ndarray, faces: np.ndarray, size) -> np.ndarray:
    import cv2

    w, h = size
    m = np.zeros((h, w), np.uint8)
    if len(faces):
        cv2.fillPoly(m, list(np.round(px[faces] * 4).astype(np.int32)), 1, lineType=cv2.LINE_8, shift=2)
    return m


def hand_outline_overlap(poser: ExercisePoser, pb: bg.PosedBody, cam_pose: np.ndarray, camera: dict) -> float:
    """How far (px) the arms change the person's silhouette outline around the
    pelvis: max over image rows of how far the front/back edge of the full
    silhouette lies beyond the silhouette without the arms. Hands are checked
    from the waist (PSIS + 0.06 H) down to the crotch (ASIS - 0.09 H), the rest
    of the arm (the elbow sits beside the waist) from just above the PSIS
    (+ 0.02 H). 0 = the buttock and belly outline stay visible."""
    px = project(pb.vertices, cam_pose, camera)
    if getattr(poser, "_faces", None) is None:
        poser._faces = poser.model.faces.cpu().numpy()
    faces = poser._faces
    arm_face = poser.arm_mask[faces].any(1)
    hand_face = poser.hand_mask[faces].any(1)
    size = camera["image_size"]
    body = _mask(px, faces[~arm_face], size)
    z_hi = [pb.psis[2] + 0.06 * poser.stature, pb.psis[2] + 0.02 * poser.stature]
    worst = 0.0
    for sel, zh in ((hand_face, z_hi[0]), (arm_face & ~hand_face, z_hi[1])):
        full = body | _mask(px, faces[sel], size)
        rows = project(np.array([[pb.psis[0], pb.psis[1], zh],
                                 [pb.asis[0], pb.asis[1], pb.asis[2] - 0.09 * poser.stature]]), cam_pose, camera)[:, 1]
        for r in range(max(int(rows.min()), 0), min(int(rows.max()) + 1, size[1])):
            cb, cf = np.flatnonzero(body[r]), np.flatnonzero(full[r])
            if len(cb) == 0 or len(cf) == 0:
                continue
            worst = max(worst, float(cb[0] - cf[0]), float(cf[-1] - cb[-1]))
    return worst


def render_routine(out_mp4: str, specs: Sequence[dict], body: dict | None = None, camera: dict | None = None,
                   scene: dict | None = None, fps: float = 15.0, seed: int = 0,
                   require_in_frame: bool = True, poser: ExercisePoser | None = None,
                   log: Callable[[str], None] | None = None) -> dict:
    """Render one routine clip (one spec per frame) + ``<stem>.truth.csv``.

    CSV columns: ROUTINE_COLUMNS (tilt_true_deg = PSIS->ASIS truth on the mesh,
    knee_flex_deg = measured bend of the camera-side knee, knee_flex_far_deg the
    other one, phase = the spec's label). Written atomically. Returns
    {"rows": [...], "arm_overlap_px": max px a hand/arm sticks out of the
    pelvis outline over the frames with hanging arms}.
    """
    import cv2

    camera = {**bg.DEFAULT_CAMERA, **(camera or {})}
    rng = np.random.default_rng(seed)
    poser = poser or ExercisePoser(body)
    rend = Renderer(poser, camera, scene, seed=int(rng.integers(2**31)))
    camera = rend.camera
    near = near_side(camera["facing"])
    far = "L" if near == "R" else "R"
    w, h = camera["image_size"]
    stem = out_mp4[:-4] if out_mp4.lower().endswith(".mp4") else out_mp4
    rows, last_key, last = [], None, None
    overlap = 0.0
    try:
        with bg.atomic_video(out_mp4, fps, (w, h)) as writer:
            for i, spec in enumerate(specs):
                key = repr({k: v for k, v in spec.items() if k != "phase"})
                if key != last_key:
                    pb, heads = poser.pose_spec(spec)
                    img = rend.render(pb.vertices)
                    if require_in_frame and (i == 0 or i % 5 == 0):
                        pts = project(pb.vertices[::5], rend.cam_pose, camera)
                        if not bg.in_frame(pts, (w, h), margin=2):
                            raise ValueError(f"{os.path.basename(out_mp4)} frame {i}: person not fully in frame")
                    if spec["pin"] == "feet" and spec["body_rot"] == 0 and not spec["arm_dir"]:
                        overlap = max(overlap, hand_outline_overlap(poser, pb, rend.cam_pose, camera))
                    last_key, last = key, (img, pb, heads)
                img, pb, heads = last
                writer.write(cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
                rows.append({"frame": i, "time_s": round(i / fps, 6), "tilt_true_deg": round(pb.tilt_deg, 4),
                             "pelvis_rot_deg": round(float(poser.body["pelvis_base_deg"]) + float(spec["pelvis"]), 4),
                             "knee_flex_deg": round(poser.knee_flex(heads, near), 2), "phase": spec["phase"],
                             "knee_flex_far_deg": round(poser.knee_flex(heads, far), 2),
                             "facing": camera["facing"], **bg.projected_landmarks(pb, rend, camera)})
    finally:
        rend.close()
    path = stem + ".truth.csv"
    with open(path + ".tmp", "w", newline="") as fh:
        wr = csv.DictWriter(fh, fieldnames=ROUTINE_COLUMNS)
        wr.writeheader()
        wr.writerows(rows)
    os.replace(path + ".tmp", path)
    if log:
        log(f"{os.path.basename(out_mp4)}: {len(rows)} frames, arm outside pelvis outline max {overlap:.1f} px")
    return {"rows": rows, "arm_overlap_px": overlap}


# ----------------------------------------------------------------------------
# Timelines: each returns a list of per-frame specs

def smooth01(x):
    x = np.clip(np.asarray(x, float), 0.0, 1.0)
    return 0.5 - 0.5 * np.cos(np.pi * x)


class Timeline:
    """Builds per-frame values from segments; ``add(dur, fn(u) -> spec, phase)``."""

    def __init__(self, fps: float):
        self.fps = fps
        self.specs: list[dict] = []
        self.t = 0.0

    def add(self, dur: float, fn: Callable[[float], dict], phase: str | Callable[[float], str],
            ramp: bool = True):
        """Frames for ``dur`` seconds. ``fn(u)`` gets u in (0, 1] ending exactly at 1
        (ramp=True: a transition that reaches its target on its last frame) or
        u = elapsed/dur in [0, 1) (ramp=False: holds, periodic motion)."""
        n0 = int(round(self.t * self.fps))
        self.t += dur
        n1 = int(round(self.t * self.fps))
        n = max(n1 - n0, 1)
        for i in range(n0, n1):
            u = (i - n0 + 1) / n if ramp else (i - n0) / n
            spec = fn(float(u))
            spec["phase"] = phase(float(u)) if callable(phase) else phase
            self.specs.append(spec)
        return self


# ----------------------------------------------------------------------------
# Lying / kneeling helpers

def _r2(a_deg: float, v) -> np.ndarray:
    """2-D version of Rx(a) acting on (y, z)."""
    c, s = math.cos(math.radians(a_deg)), math.sin(math.radians(a_deg))
    return np.array([c * v[0] - s * v[1], s * v[0] + c * v[1]])


def leg_ik(poser: ExercisePoser, side: str, hip_yz, ankle_yz, guess=(0.0, 90.0)) -> tuple[float, float]:
    """World thigh angle a (Rx, deg) and knee flexion k (deg) that put the ankle
    at ankle_yz from hip_yz in the sagittal plane (Newton, knee bending +)."""
    t0, s0 = poser.seg[side]["thigh"], poser.seg[side]["shank"]
    d = np.asarray(ankle_yz, float) - np.asarray(hip_yz, float)
    x = np.array(guess, float)
    for _ in range(40):
        f = _r2(x[0], t0) + _r2(x[0] + x[1], s0) - d
        if np.linalg.norm(f) < 1e-7:
            break
        J = np.zeros((2, 2))
        for j in range(2):
            dx = np.zeros(2)
            dx[j] = 1e-3
            J[:, j] = (_r2(x[0] + dx[0], t0) + _r2(x[0] + dx[0] + x[1] + dx[1], s0) - d - f) / 1e-3
        x = x - np.linalg.lstsq(J, f, rcond=None)[0]
    return float(x[0]), float(x[1])
