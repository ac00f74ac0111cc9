"""Rendered people that vary in everything a real user does: the v2 ground truth.

Development tool (never needed at run time).  Built on `bodygen` (anny body,
pyrender/OSMesa), it draws, independently per clip:

* **how the body carries a tilt** (`MECHANISMS`): where the lumbar
  counter-rotation sits, how much of the soft tissue of the lower back, buttock
  and belly follows the pelvis (skinning re-bound), hips shifting back and soft
  knees, and any mix of the compensated (trunk upright) and uncompensated
  (trunk leans with the pelvis) regimes.  ``lag`` is written for testing only:
  it moves soft tissue by blending vertex *positions* towards the un-tipped
  body, a mechanism the fit never sees;
* **arms** (`ARMS`): at the side, in front of the thigh, slightly behind,
  folded, on the hips, swinging;
* **clothes and hair** (`CLOTHES`): tight shorts, leggings, a loose top whose
  hem hangs over the waist, loose trousers, long hair;
* **bodies** across anny's adult phenotype range;
* **legs**: standing, or (the ``walk`` sets only) caught mid-stride:
  one thigh forward, the other back, the knee behind bent, a new stride phase
  every frame, swinging arms in opposition to the legs;
* **cameras as people place them** (`PLACEMENTS`): laptop on a desk aimed up,
  eye level, phone on the floor, high shelf, hip height; 1-4.5 m, roll, pitch,
  yaw, portrait and landscape, 320-1920 px.

The body is rendered on a transparent background; the scene (`BACKGROUNDS`:
flat, gradient, real photographs, clutter) and the image quality
(`DEGRADATIONS`: H.264 at a webcam bitrate, noise, blur, low light, backlight)
are applied afterwards (`compose`), so one render serves several scenes.

**Truth is bony**: the rest-pose ASIS/PSIS landmarks (bodygen) carried rigidly by
the pelvis (root) rotation, so it is the same whatever the skin does:
``tilt = rest_tilt + pelvis world rotation`` (sagittal, + = anterior).
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from calibration import bodygen as bg
from calibration.truth import sagittal_tilt_deg

os.environ.setdefault("PYOPENGL_PLATFORM", "osmesa")

FIT_MECHANISMS = ("spine_high", "spine_low", "rebind", "hips_back")
TEST_ONLY_MECHANISMS = ("lag",)
MECHANISMS = FIT_MECHANISMS + TEST_ONLY_MECHANISMS
ARMS = ("side", "front", "behind", "folded", "hips", "swing")
CLOTHES = ("shorts", "leggings", "loose_top", "loose_trousers", "long_hair")
PLACEMENTS = ("hip", "laptop", "eye", "floor", "shelf")
BACKGROUNDS = ("flat", "gradient", "photo", "clutter")
DEGRADATIONS = ("clean", "h264", "noise", "blur", "lowlight", "backlight")

# Lumbar counter-rotation (keeps the trunk at its world angle) spread over the spine.
_COUNTER = {
    "high": {"spine03": 0.5, "spine02": 0.3, "spine01": 0.2},
    "low": {"spine05": 0.3, "spine04": 0.35, "spine03": 0.35},
    "mid": {"spine04": 0.3, "spine03": 0.4, "spine02": 0.3},
    "even": {"spine05": 0.2, "spine04": 0.2, "spine03": 0.2, "spine02": 0.2, "spine01": 0.2},
}
_PELVIS_BONES = ("root", "pelvis.L", "pelvis.R", "spine05", "spine04")


def _smoothstep(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3 - 2 * x)


# ----------------------------------------------------------------------------
# Random specification of one clip

def draw_spec(seed: int, test: bool = False, walk: bool = False) -> dict[str, Any]:
    """Everything about one clip, drawn from ``seed`` (JSON-serialisable).

    ``test`` lets the test-only mechanism be drawn (a fifth of test clips); ``walk``
    poses the legs mid-stride (`_draw_stride`), drawn from a stream of its own so the
    rest of a seed's spec is the same either way.
    """
    rng = np.random.default_rng([seed, 2])
    u = rng.uniform
    mech = (TEST_ONLY_MECHANISMS[0] if (test and rng.uniform() < 0.2)
            else FIT_MECHANISMS[rng.integers(len(FIT_MECHANISMS))])
    arms = ARMS[rng.integers(len(ARMS))]
    clothes = CLOTHES[rng.integers(len(CLOTHES))]
    placement = PLACEMENTS[rng.integers(len(PLACEMENTS))]
    race = rng.dirichlet([1, 1, 1])
    # Whole adult phenotype range: heavy, muscular, older, short, tall.
    body = {
        "gender": u(0, 1), "age": u(0.62, 0.95), "muscle": u(0.0, 1.0), "weight": u(0.0, 1.0),
        "height": u(0.0, 1.0), "proportions": u(0.2, 0.8), "cupsize": u(0.1, 0.9), "firmness": u(0.2, 0.8),
        "african": race[0], "asian": race[1], "caucasian": race[2],
        "buttocks": u(-0.8, 1.0), "hip_depth": u(-0.6, 0.8), "belly": u(-0.4, 0.9), "navel": u(-0.5, 0.5),
        "pelvis_base_deg": rng.normal(0, 4.0), "trunk_keep": u(0.2, 0.7),
    }
    skin_tones = [(0.96, 0.80, 0.69), (0.87, 0.68, 0.56), (0.74, 0.53, 0.40), (0.55, 0.37, 0.26),
                  (0.36, 0.23, 0.16)]
    body["skin"] = skin_tones[rng.integers(len(skin_tones))]
    col = lambda: tuple(float(c) for c in np.clip(rng.uniform(0.05, 0.9, 3) * u(0.5, 1.1), 0, 1))  # noqa: E731
    body["top"], body["shorts"] = col(), col()
    body["shorts_length"] = {"shorts": float(rng.choice([0.25, 0.4, 0.55])), "leggings": 1.0,
                             "loose_top": float(rng.choice([0.3, 1.0])), "loose_trousers": 1.0,
                             "long_hair": float(rng.choice([0.3, 1.0]))}[clothes]
    # a loose top ends at the waist, or (a long T-shirt, a tunic) over the top of the buttock and hips
    body["waist_frac"] = u(-0.12, 0.15) if clothes == "loose_top" else u(0.2, 0.42)
    body["sleeves"] = bool(rng.integers(2))
    body["feet"] = None if rng.uniform() < 0.5 else col()
    mechanism = {
        "name": mech,
        "counter": {"spine_high": "high", "spine_low": "low", "rebind": ["high", "mid"][rng.integers(2)],
                    "hips_back": ["high", "mid"][rng.integers(2)], "lag": "even"}[mech],
        "rebind": u(0.3, 0.65) if mech == "rebind" else 0.0,
        "lag": u(0.3, 0.5) if mech == "lag" else 0.0,
        "trunk_keep": u(0.8, 1.0) if mech == "hips_back" else body["trunk_keep"],
        "knee_deg": u(4, 14) if mech == "hips_back" else (u(0, 6) if rng.uniform() < 0.3 else 0.0),
        # 0 = compensated (trunk stays upright), 1 = uncompensated (trunk leans with the pelvis)
        "trunk_follow": float(rng.choice([0.0, 1.0, u(0, 1)], p=[0.4, 0.3, 0.3])),
    }
    arm = {"kind": arms, **_draw_arms(arms, rng)}
    garment = {"kind": clothes, "ease_m": u(0.005, 0.035), "hem_frac": body["waist_frac"],
               "hair_len_m": u(0.15, 0.35), "hair_color": tuple(float(c) for c in rng.uniform(0.05, 0.5, 3))}
    camera = _draw_camera(placement, rng)
    light = {"light_intensity": u(1.8, 3.4), "light_azimuth_deg": u(-70, 70), "light_elevation_deg": u(5, 60),
             "ambient": u(0.2, 0.5)}
    legs = {"kind": "stand"}
    if walk:
        wr = np.random.default_rng([seed, 12])
        legs = _draw_stride(wr)
        if wr.uniform() < 0.7:   # most walkers swing their arms, against the legs (left arm back as the left leg leads)
            arm = {"kind": "swing", **_draw_arms("swing", wr)}
            arm["L"]["fwd"], arm["R"]["fwd"] = -abs(arm["L"]["fwd"]), abs(arm["R"]["fwd"])
    return {"seed": int(seed), "mechanism": mechanism, "arms": arm, "clothes": garment, "placement": placement,
            "legs": legs, "camera": camera, "light": light, "body": {k: (float(v) if isinstance(v, np.floating) else v)
                                                        for k, v in body.items()}}


def _draw_arms(kind: str, rng: np.random.Generator) -> dict:
    """Per-side shoulder abduction / flexion, elbow flexion and upper-arm twist (deg)."""
    u = rng.uniform
    base = {
        "side": dict(abd=(2, 12), fwd=(-6, 8), elbow=(5, 20), twist=(0, 10)),
        "front": dict(abd=(-4, 4), fwd=(4, 14), elbow=(10, 30), twist=(30, 60)),
        "behind": dict(abd=(2, 10), fwd=(-22, -8), elbow=(0, 15), twist=(0, 15)),
        "folded": dict(abd=(-5, 8), fwd=(10, 25), elbow=(100, 125), twist=(55, 80)),
        "hips": dict(abd=(40, 55), fwd=(-10, 2), elbow=(68, 85), twist=(80, 95)),
        "swing": dict(abd=(3, 10), fwd=(-25, 25), elbow=(10, 35), twist=(0, 15)),
    }[kind]
    out = {}
    for side in ("L", "R"):
        out[side] = {k: float(u(*r)) for k, r in base.items()}
    if kind == "swing":  # arms swing in opposition
        out["R"]["fwd"] = -out["L"]["fwd"] * float(u(0.7, 1.0))
    return out


def _draw_stride(rng: np.random.Generator) -> dict:
    """A walking stride (deg): how far the thighs reach forward and back (hip flexion ~20-30 deg
    and extension ~10-20 deg in adult gait), and the knee bend of the leg behind (up to ~60 deg
    early in swing) and in front (~0-15 deg at heel strike)."""
    u = rng.uniform
    return {"kind": "stride", "hip_fwd": float(u(12, 28)), "hip_back": float(u(6, 18)),
            "knee_back": float(u(10, 55)), "knee_front": float(u(0, 12))}


def stride_angles(legs: dict, phase: float) -> dict[str, tuple[float, float]]:
    """Per side, (thigh angle forward of the standing leg line, knee bend), deg, at a stride
    phase (rad): the left leg leads at phase 0, the right at pi."""
    if legs.get("kind") != "stride":
        return {"L": (0.0, 0.0), "R": (0.0, 0.0)}
    mid, half = 0.5 * (legs["hip_fwd"] - legs["hip_back"]), 0.5 * (legs["hip_fwd"] + legs["hip_back"])
    out = {}
    for side, ph in (("L", phase), ("R", phase + math.pi)):
        c = math.cos(ph)
        # the knee is bent most just after the leg leaves the ground behind (sin > 0: moving forward)
        behind = max(0.0, -c) * (0.6 + 0.4 * max(0.0, math.sin(ph)))
        bend = legs["knee_front"] + (legs["knee_back"] - legs["knee_front"]) * behind
        out[side] = (mid + half * c, bend)
    return out


_SIZES = {"landscape": [(320, 240), (640, 480), (960, 540), (1280, 720), (1920, 1080)],
          "portrait": [(360, 640), (480, 640), (720, 1280), (1080, 1920)]}


def _draw_camera(placement: str, rng: np.random.Generator) -> dict:
    u = rng.uniform
    orient = "portrait" if rng.uniform() < (0.6 if placement in ("floor", "shelf") else 0.3) else "landscape"
    size = _SIZES[orient][rng.integers(len(_SIZES[orient]))]
    height = {"hip": (0.7, 1.0), "laptop": (0.95, 1.2), "eye": (1.3, 1.65), "floor": (0.08, 0.35),
              "shelf": (1.6, 2.0)}[placement]
    return {"facing": ["left", "right"][rng.integers(2)], "cam_height_m": u(*height),
            "fill_frac": u(0.5, 0.88), "aim_height_frac": u(0.42, 0.58), "aim_dev_deg": u(-4, 4),
            "roll_deg": float(rng.normal(0, 4)), "yaw_deg": u(-10, 10), "yfov_deg": u(50, 75),
            "image_size": tuple(int(s) for s in size), "offset_x_frac": u(-0.1, 0.1)}


def resolve_camera(cam: dict, stature: float) -> dict:
    """bodygen camera dict: distance from the fill fraction (1-4.5 m), pitch aimed at the body."""
    w, h = cam["image_size"]
    fov_v = math.radians(cam["yfov_deg"])
    # the body spans the shorter way in landscape: fill the image height either way
    t = math.tan(fov_v / 2)
    dist = float(np.clip(stature / (2 * cam["fill_frac"] * t), 1.0, 4.5))
    aim = cam["aim_height_frac"] * stature
    pitch = math.degrees(math.atan2(cam["cam_height_m"] - aim, dist)) + cam["aim_dev_deg"]
    return {"facing": cam["facing"], "distance_m": dist, "cam_height_m": cam["cam_height_m"],
            "pitch_deg": float(pitch), "roll_deg": cam["roll_deg"], "yaw_deg": cam["yaw_deg"],
            "yfov_deg": cam["yfov_deg"], "image_size": tuple(cam["image_size"]),
            "offset_x_frac": cam["offset_x_frac"]}


# ----------------------------------------------------------------------------
# Posing with a deformation mechanism, arms and clothes

@dataclass
class Frame:
    vertices: np.ndarray    # (N, 3) world, floor z = 0
    hair: np.ndarray | None  # (M, 3) hair hull points or None
    tilt_true: float        # bony truth, deg, + = anterior
    tilt_skin: float        # the skin-landmark tilt (bodygen's definition), for reference
    pelvis_deg: float       # pelvis world rotation used


class VariedPoser(bg.BodyPoser):
    """A `bodygen.BodyPoser` with a deformation mechanism, arm pose and garment from a spec."""

    def __init__(self, spec: dict):
        self.spec = spec
        body = {k: v for k, v in spec["body"].items() if k in bg.DEFAULT_BODY}
        super().__init__(body)
        labels = list(self.model.bone_labels)
        self._labels = labels
        self._orig_w = self.model.vertex_bone_weights.clone()
        self._orig_i = self.model.vertex_bone_indices.clone()
        self._weights = self._rebound_weights(float(spec["mechanism"]["rebind"]))
        zr = self.rest_vertices[:, 2]
        b = self.bone_heads
        self.hip_z = float(b[labels.index("upperleg02.L"), 2])
        self.root_z = float(b[labels.index("root"), 2])
        self.neck_z = float(b[labels.index("neck01"), 2])
        arm = np.array([n.startswith(("shoulder", "upperarm", "lowerarm", "wrist", "finger", "metacarpal"))
                        for n in self.dominant_bone])
        self.is_arm = arm
        # Soft tissue of the lower back, buttock and belly: a smooth band around the pelvis.
        lo, hi = self.hip_z - 0.14, float(b[labels.index("spine03"), 2]) + 0.02
        ramp = np.minimum(_smoothstep((zr - lo) / 0.06), _smoothstep((hi - zr) / 0.06))
        self.soft = np.where(arm | self.foot_mask, 0.0, ramp)
        a_rest = np.stack([self.rest_vertices[list(bg.ASIS_L)].mean(0), self.rest_vertices[list(bg.ASIS_R)].mean(0)])
        p_rest = np.stack([self.rest_vertices[list(bg.PSIS_L)].mean(0), self.rest_vertices[list(bg.PSIS_R)].mean(0)])
        self.rest_tilt = float(sagittal_tilt_deg(a_rest.mean(0), p_rest.mean(0)))
        head = np.array([n.startswith("head") for n in self.dominant_bone])
        self._head = head
        unit = lambda v: v / np.linalg.norm(v)  # noqa: E731
        self._upper_dir = {s: unit(b[labels.index(f"lowerarm01.{s}")] - b[labels.index(f"upperarm01.{s}")])
                           for s in ("L", "R")}
        self._fore_dir = {s: unit(b[labels.index(f"wrist.{s}")] - b[labels.index(f"lowerarm01.{s}")])
                          for s in ("L", "R")}

    # -- skinning
    def _rebound_weights(self, frac: float):
        """Skinning weights with ``frac`` of the pelvis bones' weight on the soft tissue moved to
        the thigh (below the root) or to spine03 (above), blended smoothly by height."""
        if frac <= 0:
            return None
        import torch

        labels = self._labels
        W = np.zeros((self.rest_vertices.shape[0], len(labels)))
        idx = self._orig_i.cpu().numpy()
        np.add.at(W, (np.arange(len(W))[:, None].repeat(idx.shape[1], 1), idx), self._orig_w.cpu().numpy())
        pel = [labels.index(n) for n in _PELVIS_BONES]
        z = self.rest_vertices[:, 2]
        b = self.bone_heads
        root_z = b[labels.index("root"), 2]
        hip_z = b[labels.index("upperleg02.L"), 2]
        lo, hi = hip_z - 0.14, b[labels.index("spine03"), 2] + 0.02
        band = np.minimum(_smoothstep((z - lo) / 0.06), _smoothstep((hi - z) / 0.06))
        arm_or_foot = np.array([n.startswith(("shoulder", "upperarm", "lowerarm", "wrist", "finger", "metacarpal",
                                              "foot", "toe")) for n in self.dominant_bone])
        f = frac * np.where(arm_or_foot, 0.0, band)
        moved = W[:, pel].sum(1) * f
        W[:, pel] *= (1 - f)[:, None]
        below = _smoothstep((root_z - z) / 0.08)     # 1 well below the root, 0 above it
        x = self.rest_vertices[:, 0]
        leg = np.where(x >= 0, labels.index("upperleg01.L"), labels.index("upperleg01.R"))
        W[np.arange(len(W)), leg] += moved * below
        W[:, labels.index("spine03")] += moved * (1 - below)
        k = self._orig_i.shape[1]
        top = np.argsort(-W, axis=1)[:, :k]
        wt = np.take_along_axis(W, top, 1)
        wt /= wt.sum(1, keepdims=True)
        return (torch.as_tensor(wt, dtype=self._orig_w.dtype), torch.as_tensor(top, dtype=self._orig_i.dtype))

    def _forward(self, pose: dict) -> np.ndarray:
        torch = self._torch
        pp = {k: torch.tensor(v[None], dtype=torch.float32) for k, v in pose.items()}
        m = self.model
        if self._weights is not None:
            m.vertex_bone_weights, m.vertex_bone_indices = self._weights
        try:
            with torch.no_grad():
                out = m(pose_parameters=pp, phenotype_kwargs=self._ph, local_changes_kwargs=self._lc,
                        return_bone_ends=False)
        finally:
            m.vertex_bone_weights, m.vertex_bone_indices = self._orig_w, self._orig_i
        return out["vertices"][0].double().numpy() + self._shift

    # -- pose
    def pose_for(self, pelvis_rot: float, arms_t: float = 0.0, sway: float = 0.0) -> dict:
        """Per-bone local rotations for a total pelvis rotation (deg, + = anterior); ``arms_t``
        is the swing phase (rad) of arms and, when walking, of the stride."""
        mech = self.spec["mechanism"]
        th = float(pelvis_rot) + sway
        trunk = float(mech["trunk_follow"]) * float(pelvis_rot) + sway
        # legs lean back so that trunk_keep of the upper body's forward shift is undone
        shift = ((1 - mech["trunk_follow"]) * self._shift_per_rad["compensated"]
                 + mech["trunk_follow"] * self._shift_per_rad["uncompensated"])
        legs = math.degrees(float(mech["trunk_keep"]) * shift * math.radians(pelvis_rot) / self._leg_len) + sway
        knee = float(mech["knee_deg"])
        pose: dict[str, np.ndarray] = {"root": bg._rot4("x", th)}
        stride = stride_angles(self.spec.get("legs", {}), arms_t)
        # soft knees: thigh forward, shank back, so the ankle stays under the hip
        for s in ("L", "R"):
            hip, bend = stride[s]
            k = knee + bend
            # Rx(-a) on a hanging segment swings its lower end forward (knee ahead); the foot flat
            pose[f"upperleg02.{s}"] = bg._rot4("x", (legs - th) - 0.5 * knee - hip)
            if k:
                pose[f"lowerleg01.{s}"] = bg._rot4("x", k)
            if k or legs or hip:
                pose[f"foot.{s}"] = bg._rot4("x", -(legs + 0.5 * knee - hip + bend))
        if trunk != th:
            for bone, frac in _COUNTER[mech["counter"]].items():
                pose[bone] = bg._rot4("x", (trunk - th) * frac)
        arm = self.spec["arms"]
        trunk_r = bg._rot4("x", trunk)[:3, :3]
        for side, sgn in (("L", 1.0), ("R", -1.0)):
            a = arm[side]
            fwd = a["fwd"] * (math.cos(arms_t) if arm["kind"] == "swing" else 1.0)
            abd, fl = math.radians(a["abd"]), math.radians(fwd)
            # upper arm direction in the trunk's frame, then tipped with the trunk
            d1 = trunk_r @ np.array([sgn * math.sin(abd), -math.sin(fl) * math.cos(abd),
                                     -math.cos(abd) * math.cos(fl)])
            u0, f0 = self._upper_dir[side], self._fore_dir[side]
            up = bg._rot_between(u0, d1)
            # the shoulder's parent chain already carries the trunk rotation: remove it
            pose[f"upperarm01.{side}"] = bg._rot4("x", -trunk) @ up
            # forearm: flexed by `elbow` towards the front of the arm, turned towards the
            # midline by `twist` (internal rotation: hands in front, folded, on the hips)
            front = trunk_r @ np.array([0.0, -1.0, 0.0])
            medial = trunk_r @ np.array([-sgn, 0.0, 0.0])
            fd = front - d1 * (front @ d1)
            md = medial - d1 * (medial @ d1) - fd * (medial @ fd) / max(fd @ fd, 1e-9)
            fd, md = fd / np.linalg.norm(fd), md / np.linalg.norm(md)
            tw, el = math.radians(a["twist"]), math.radians(a["elbow"])
            f1 = math.cos(el) * d1 + math.sin(el) * (math.cos(tw) * fd + math.sin(tw) * md)
            P = up[:3, :3]
            loc = np.eye(4)
            loc[:3, :3] = P.T @ bg._rot_between(P @ f0, f1)[:3, :3] @ P
            pose[f"lowerarm01.{side}"] = loc
        return pose

    def frame(self, offset_deg: float, sway: float = 0.0, arms_t: float = 0.0) -> Frame:
        """The posed (and dressed) body for a pelvis offset from this body's own neutral."""
        mech = self.spec["mechanism"]
        rot = float(self.body["pelvis_base_deg"]) + float(offset_deg)
        v = self._forward(self.pose_for(rot, arms_t, sway))
        if mech["lag"] > 0:
            # test-only mechanism: soft tissue lags behind the pelvis (position blend towards
            # the same body with the pelvis left at the trunk's angle)
            trunk = float(mech["trunk_follow"]) * rot
            ref = self._forward(self.pose_for(trunk, arms_t, sway))
            lam = (float(mech["lag"]) * self.soft)[:, None]
            v = (1 - lam) * v + lam * ref
        v = self._pin(v)
        asis_lr = np.stack([v[list(bg.ASIS_L)].mean(0), v[list(bg.ASIS_R)].mean(0)])
        psis_lr = np.stack([v[list(bg.PSIS_L)].mean(0), v[list(bg.PSIS_R)].mean(0)])
        skin = float(sagittal_tilt_deg(asis_lr.mean(0), psis_lr.mean(0)))
        v, hair = self._dress(v)
        return Frame(v, hair, self.rest_tilt + rot + sway, skin, rot + sway)

    # -- clothes
    def _dress(self, v: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        g = self.spec["clothes"]
        kind, ease = g["kind"], float(g["ease_m"])
        zr = self.rest_vertices[:, 2]
        trunk_sel = ~self.is_arm & ~self.foot_mask & ~self._head
        hair = None
        if kind == "loose_top":
            hem = self.hip_z + float(g["hem_frac"]) * (self.neck_z - self.hip_z)
            sel = trunk_sel & (zr >= hem) & (zr < self.neck_z - 0.03)
            v = _drape(v, sel, ease=ease, slope=0.12)
        elif kind == "loose_trousers":
            waist = self.hip_z + float(self.body["waist_frac"]) * (self.neck_z - self.hip_z)
            sel = trunk_sel & (zr < waist)
            v = _drape(v, sel, ease=ease, slope=0.9)
        elif kind == "long_hair":
            hv = v[self._head]
            c = hv.mean(0)
            top = hv[hv[:, 2] > c[2] - 0.04]
            shell = c + (top - c) * 1.12
            back = shell[(shell[:, 1] - c[1]) > 0.02].copy()   # +y = behind the head
            drop = back.copy()
            drop[:, 2] -= float(g["hair_len_m"])
            drop[:, 1] += 0.03
            drop[:, 0] = c[0] + 0.8 * (drop[:, 0] - c[0])
            hair = np.concatenate([shell, drop])
        return v, hair


def _drape(v: np.ndarray, sel: np.ndarray, ease: float, slope: float) -> np.ndarray:
    """Loose fabric: each garment vertex moves out by ``ease`` and, on the back and the
    front, no further in than the most prominent garment point above it in the same
    lateral slice less ``slope`` per metre of drop (the cloth hangs from the chest,
    shoulder blades or buttock and closes in slowly instead of following the hollows)."""
    out = v.copy()
    idx = np.flatnonzero(sel)
    if idx.size == 0:
        return out
    p = v[idx]
    cx, cy = np.median(p[:, 0]), np.median(p[:, 1])
    bins = np.floor((p[:, 0] - cx) / 0.03).astype(int)   # lateral slices; legs separate by x
    back = p[:, 1] > cy                                    # +y = behind the body
    order = np.lexsort((-p[:, 2], bins))                   # by slice, then top to bottom
    new_y = p[:, 1].copy()
    for side_sel, sign in ((back, 1.0), (~back, -1.0)):
        o = order[side_sel[order]]
        b, z = bins[o], p[o, 2]
        y = sign * p[o, 1]                                 # larger = further out on this side
        key = y - slope * z
        run = np.empty_like(y)
        starts = np.r_[0, np.flatnonzero(np.diff(b)) + 1]
        for s, e in zip(starts, np.r_[starts[1:], len(o)]):
            run[s:e] = np.maximum.accumulate(key[s:e])
        new_y[o] = sign * np.maximum(y + ease, run + slope * z)
    out[idx, 1] = new_y
    out[idx, 0] = p[:, 0] + 0.6 * ease * np.sign(p[:, 0] - cx)
    return out
