"""Ground-truth rendered bodies with a KNOWN sagittal pelvic tilt.

Development tool (never needed at run time). Builds a posed parametric human
with the ``anny`` package (NAVER, Apache-2.0 code, CC0 MakeHuman assets),
renders it side-on with ``pyrender`` through OSMesa, and writes an mp4 plus a
``<stem>.truth.csv`` with the tilt measured on the posed mesh.

Conventions (verified on the posed mesh, see calibration/README.md):

* anny world frame: metres, +z up, +x = the body's LEFT, -y = the body's FRONT.
  In this module the posed mesh is shifted so the floor is z = 0 and the
  midpoint between the ankles (rest pose) is at x = y = 0.
* With anny's default ``pose_parameterization='local-ref'`` a bone's local
  rotation matrix is expressed in world-aligned axes at rest: ``Rx(+a)`` on any
  trunk bone tips everything above it FORWARD (z goes to -y). Applied to the
  root it therefore tips the pelvis ANTERIORLY (ASIS goes down, PSIS up):
  positive pelvis rotation = anterior tilt, and the measured truth increases
  ~1:1 with it.
* Pelvis = ``root`` (its children ``pelvis.L/R``, ``spine05``, ``spine04`` follow
  it). The ASIS/PSIS skin vertices are skinned to pelvis.L/R, spine05, spine04
  and a little to upperleg01, so the counter-rotations that keep the trunk
  upright are placed ABOVE spine04 (spine03, spine02, spine01) and those that
  keep the legs vertical at ``upperleg02.L/R`` (near the anatomical hip-joint
  height; the rig's ``upperleg01`` head sits at ASIS height, right next to the
  landmark). The buttocks move with the pelvis, as in real tilting.
* Feet are pinned: after posing, the mesh is translated so the feet are back
  where they were in the neutral stance, soles on the floor (the legs carry
  no net rotation in either regime, so feet stay flat).

Truth landmarks (vertex ids on the anny default full-body topology, 13718
vertices; left = +x, right = mirror image found by nearest mirrored vertex):

* ASIS.L = 10920, ASIS.R = 4308: the skin point at the front of the hip,
  ~11.5 cm lateral of the midline, at 0.551 x stature above the floor
  (anthropometric ASIS height ~0.55 H), ~7-8 cm above the hip joint bone head,
  lateral to the lower belly, below the waist.
* PSIS.L = mean(10976, 10978), PSIS.R = mean(4374, 4376): the lower-back skin
  points 3.8-5.1 cm either side of the sacral midline (the dimples of Venus),
  at the first vertex ring above the top of the gluteal cleft (0.57 x stature).
  A pair is used so the landmark sits at x = +-4.5 cm (inter-PSIS ~9 cm).

With these the neutral (rest-pose) default body gives ~12 deg anterior, in the
7-15 deg range palpation studies report for healthy adults.
"""
from __future__ import annotations

import csv
import contextlib
import math
import os
import time
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

import numpy as np

from calibration.truth import sagittal_tilt_deg

os.environ.setdefault("PYOPENGL_PLATFORM", "osmesa")

# ----------------------------------------------------------------------------
# Landmarks (see module docstring and calibration/README.md)
ASIS_L = (10920,)
ASIS_R = (4308,)
PSIS_L = (10976, 10978)
PSIS_R = (4374, 4376)
N_VERTICES = 13718

# Extra anny local-change blendshapes we expose (values -1..1) -> body keys.
LOCAL_CHANGES = {
    "buttocks": "buttocks-volume-incr",
    "hip_depth": "hip-scale-depth-incr",
    "belly": "stomach-pregnant-incr",
    "navel": "stomach-navel-out",
}
PHENOTYPES = ("gender", "age", "muscle", "weight", "height", "proportions",
              "cupsize", "firmness", "african", "asian", "caucasian")

DEFAULT_BODY: dict[str, Any] = {
    # anny phenotypes, 0..1. gender: 0 = male, 1 = female. age anchors:
    # 0 = 1 yr, 1/3 = 11 yr, 2/3 = 25 yr, 1 = 90 yr (adults ~0.64-0.85).
    # cupsize = breast size; african/asian/caucasian are blend weights.
    "gender": 0.5, "age": 0.7, "muscle": 0.5, "weight": 0.5, "height": 0.5,
    "proportions": 0.5, "cupsize": 0.5, "firmness": 0.5,
    "african": 1 / 3, "asian": 1 / 3, "caucasian": 1 / 3,
    # local changes, -1..1
    "buttocks": 0.0, "hip_depth": 0.0, "belly": 0.0, "navel": 0.0,
    # posture
    "pelvis_base_deg": 0.0,      # this person's own neutral pelvis rotation
    "arm_abduction_deg": 12.0,   # arms hanging this far from the trunk (0 = touching)
    "arm_forward_deg": 0.0,      # shoulder flexion (+ = arms forward)
    "elbow_flex_deg": 10.0,
    "trunk_keep": 0.5,           # 0..1: share of the trunk's forward shift undone by leaning the legs
    # appearance (RGB 0..1)
    "skin": (0.87, 0.68, 0.56),
    "top": (0.15, 0.32, 0.62),
    "shorts": (0.12, 0.12, 0.14),
    "shorts_length": 0.35,       # 0 = at the hip joint, 1 = down to the ankle (leggings)
    "waist_frac": 0.35,          # waistband height: 0 = hip joint, 1 = neck base
    "sleeves": True,
    "feet": None,                # None = skin (barefoot), else sock/shoe colour
}

DEFAULT_CAMERA: dict[str, Any] = {
    "facing": "right",        # where the person's FRONT points in the image
    "distance_m": 2.6,        # horizontal camera-to-body distance; None = from fill_frac
    "fill_frac": 0.7,         # (distance_m None) stature / image height, distance clipped to 1.5-3.5 m
    "cam_height_m": 0.85,     # camera height above the floor
    "pitch_deg": None,        # + = looking down; None = aim at aim_height_frac
    "pitch_offset_deg": 0.0,  # (pitch_deg None) added to the aim pitch, total clipped to +-12 deg
    "aim_height_frac": 0.5,   # aim point height as fraction of stature (pitch=None)
    "roll_deg": 0.0,
    "yaw_deg": 0.0,           # deviation from a pure side view (body rotation about z)
    "yfov_deg": 60.0,
    "image_size": (640, 480),
    "offset_x_frac": 0.0,     # shift the person horizontally (fraction of image width)
}

DEFAULT_SCENE: dict[str, Any] = {
    "background": "wall",     # 'wall' (noisy wall + floor) | 'gradient' | 'plain' (alias 'grey') | 'none' (bg colour only)
    "wall_color": (0.62, 0.62, 0.60),
    "floor_color": (0.45, 0.40, 0.36),
    "wall_distance_m": 1.6,   # wall behind the person (from the body plane)
    "noise": 0.05,            # wall/floor colour noise amplitude
    "light_intensity": 3.0,
    "light_azimuth_deg": 30.0,   # key light direction relative to the camera axis
    "light_elevation_deg": 35.0,
    "ambient": 0.35,
    "supersample": 1,         # render at k x size then downsample (anti-aliasing)
}

REGIMES = ("compensated", "uncompensated")
# How the compensating counter-rotations are spread (fractions sum to 1).
SPINE_COUNTER = {"spine03": 0.5, "spine02": 0.3, "spine01": 0.2}
HIP_COUNTER = {"upperleg02": 1.0}


# ----------------------------------------------------------------------------
# Model
_MODEL = None
_MODEL_CACHE: dict[str, Any] = {}


def get_model():
    """The anny model (built once per process; first build compiles warp kernels)."""
    global _MODEL
    if _MODEL is None:
        import anny  # noqa: WPS433 (optional dependency)

        _MODEL = anny.Anny(phenotypes="all", local_changes=list(LOCAL_CHANGES.values()))
        if _MODEL.template_vertices.shape[0] != N_VERTICES:
            raise RuntimeError("unexpected anny topology: landmark vertex ids would be wrong")
    return _MODEL


def _rot4(axis: str, deg: float) -> np.ndarray:
    a = math.radians(deg)
    c, s = math.cos(a), math.sin(a)
    m = np.eye(4)
    if axis == "x":
        m[1:3, 1:3] = [[c, -s], [s, c]]
    elif axis == "y":
        m[0, 0], m[0, 2], m[2, 0], m[2, 2] = c, s, -s, c
    elif axis == "z":
        m[0:2, 0:2] = [[c, -s], [s, c]]
    else:
        raise ValueError(axis)
    return m


def _rot_between(a, b) -> np.ndarray:
    """4x4 rotation taking direction a to direction b (shortest arc)."""
    a = np.asarray(a, float) / np.linalg.norm(a)
    b = np.asarray(b, float) / np.linalg.norm(b)
    v = np.cross(a, b)
    c = float(np.dot(a, b))
    k = np.array([[0, -v[2], v[1]], [v[2], 0, -v[0]], [-v[1], v[0], 0]])
    r = np.eye(3) + k + k @ k / (1.0 + c)
    m = np.eye(4)
    m[:3, :3] = r
    return m


def _compose(*ms: np.ndarray) -> np.ndarray:
    out = np.eye(4)
    for m in ms:
        out = out @ m
    return out


def body_kwargs(body: dict) -> tuple[dict, dict]:
    b = {**DEFAULT_BODY, **(body or {})}
    unknown = set(body or {}) - set(DEFAULT_BODY)
    if unknown:
        raise ValueError(f"unknown body keys: {sorted(unknown)}")
    ph = {k: float(b[k]) for k in PHENOTYPES}
    lc = {v: float(b[k]) for k, v in LOCAL_CHANGES.items()}
    return ph, lc


def pose_dict(pelvis_deg: float, trunk_deg: float = 0.0, legs_deg: float = 0.0, body: dict | None = None,
              rest_arm_dir: dict | None = None) -> dict[str, np.ndarray]:
    """Per-bone 4x4 local rotations (world-aligned axes, see module doc).

    World rotations about the left-right axis (deg, + = tipping forward):
    ``pelvis_deg`` of the pelvis (root), ``trunk_deg`` of the upper trunk,
    ``legs_deg`` of the legs about the ankles (feet always stay flat).

    root Rx(pelvis); spine03/02/01 share Rx(trunk - pelvis); upperleg02.L/R
    Rx(legs - pelvis); foot.L/R Rx(-legs).
    """
    b = {**DEFAULT_BODY, **(body or {})}
    th = float(pelvis_deg)
    pose: dict[str, np.ndarray] = {"root": _rot4("x", th)}
    for bone, frac in HIP_COUNTER.items():
        for side in ("L", "R"):
            pose[f"{bone}.{side}"] = _rot4("x", (float(legs_deg) - th) * frac)
    if legs_deg:
        for side in ("L", "R"):
            pose[f"foot.{side}"] = _rot4("x", -float(legs_deg))
    if trunk_deg != th:
        for bone, frac in SPINE_COUNTER.items():
            pose[bone] = _rot4("x", (float(trunk_deg) - th) * frac)
    # arms: swing the upper arm from anny's rest A-pose to hang at the side
    # (abduction from vertical, optional flexion forward), flex the elbows.
    for side, sgn in (("L", 1.0), ("R", -1.0)):
        d0 = (rest_arm_dir or {}).get(side)
        if d0 is None:
            continue
        abd = math.radians(float(b["arm_abduction_deg"]))
        fwd = math.radians(float(b["arm_forward_deg"]))
        d1 = np.array([sgn * math.sin(abd), -math.sin(fwd), -math.cos(abd) * math.cos(fwd)])
        pose[f"upperarm01.{side}"] = _rot_between(d0, d1)
        pose[f"lowerarm01.{side}"] = _rot4("x", -float(b["elbow_flex_deg"]))
    return pose


@dataclass
class PosedBody:
    vertices: np.ndarray       # (N, 3) world, floor z = 0
    asis: np.ndarray           # (3,) mean of L/R
    psis: np.ndarray           # (3,)
    asis_lr: np.ndarray        # (2, 3)
    psis_lr: np.ndarray        # (2, 3)
    tilt_deg: float            # truth, positive = anterior


class BodyPoser:
    """Poses one body (fixed phenotype) for any pelvis rotation and regime."""

    def __init__(self, body: dict | None = None):
        import torch

        self._arm_dir: dict = {}
        self.body = {**DEFAULT_BODY, **(body or {})}
        self.model = get_model()
        self._torch = torch
        ph, lc = body_kwargs(body or {})
        self._ph = {k: torch.tensor([v], dtype=torch.float32) for k, v in ph.items()}
        self._lc = {k: torch.tensor([v], dtype=torch.float32) for k, v in lc.items()}
        labels = list(self.model.bone_labels)
        bi = self.model.vertex_bone_indices.cpu().numpy()
        bw = self.model.vertex_bone_weights.cpu().numpy()
        dom = bi[np.arange(len(bi)), bw.argmax(1)]
        self.dominant_bone = np.array([labels[i] for i in dom])
        self.foot_mask = np.array([n.startswith(("foot", "toe")) for n in self.dominant_bone])
        rest = self._raw(0.0, 0.0, 0.0, arms=False)
        self.rest_raw = rest
        self._arm_dir = {}
        for side in ("L", "R"):
            sh = rest["bone_heads"][labels.index(f"upperarm01.{side}")]
            wr = rest["bone_heads"][labels.index(f"wrist.{side}")]
            self._arm_dir[side] = (wr - sh) / np.linalg.norm(wr - sh)
        # world shift: floor at z=0, ankles' midpoint at x=y=0 (neutral stance)
        ankle = rest["bone_heads"][[labels.index("foot.L"), labels.index("foot.R")]].mean(0)
        self._shift = np.array([-ankle[0], -ankle[1], -rest["vertices"][self.foot_mask, 2].min()])
        self.bone_heads = rest["bone_heads"] + self._shift
        self.rest_vertices = rest["vertices"] + self._shift
        self.stature = float(self.rest_vertices[:, 2].max())
        self._foot_ref = (rest["vertices"][self.foot_mask] + self._shift).mean(0)
        self._foot_ref[2] = 0.0
        # Upper-trunk forward shift per radian of pelvis rotation in each regime
        # (legs vertical), used to lean the legs so that a fraction
        # ``trunk_keep`` of that shift is cancelled (hips move back while the
        # pelvis tips forward, as people keep their balance).
        upper = np.array([n.startswith(("neck", "clavicle", "spine01")) for n in self.dominant_bone])
        self._leg_len = float(self.bone_heads[labels.index("upperleg02.L"), 2]
                              - self.bone_heads[labels.index("foot.L"), 2])
        self._shift_per_rad = {}
        for regime in REGIMES:
            v = self._pin(self._raw(4.0, 4.0 if regime == "uncompensated" else 0.0, 0.0)["vertices"] + self._shift)
            dy = float(v[upper, 1].mean() - self.rest_vertices[upper, 1].mean())
            self._shift_per_rad[regime] = dy / math.radians(4.0)
        self.region = self._regions()

    def _raw(self, pelvis: float, trunk: float, legs: float, arms: bool = True) -> dict:
        torch = self._torch
        pose = pose_dict(pelvis, trunk, legs, self.body, self._arm_dir if arms else None)
        pp = {k: torch.tensor(v[None], dtype=torch.float32) for k, v in pose.items()}
        with torch.no_grad():
            out = self.model(pose_parameters=pp, phenotype_kwargs=self._ph,
                             local_changes_kwargs=self._lc, return_bone_ends=False)
        # The root pose parameter is the root's WORLD pose: with a zero
        # translation the posed mesh has the root head at the origin, so the
        # rest bone heads are expressed in that frame by subtracting it.
        root = out["rest_bone_poses"][0, 0, :3, 3].double().numpy()
        return {"vertices": out["vertices"][0].double().numpy(),
                "bone_heads": out["rest_bone_heads"][0].double().numpy() - root}

    def _pin(self, v: np.ndarray) -> np.ndarray:
        """Translate so the feet are where they are in the neutral stance, soles on the floor."""
        foot = v[self.foot_mask]
        return v + np.array([self._foot_ref[0] - foot[:, 0].mean(),
                             self._foot_ref[1] - foot[:, 1].mean(), -foot[:, 2].min()])

    def angles(self, pelvis_rot_deg: float, regime: str = "compensated", sway_deg: float = 0.0):
        """World (pelvis, trunk, legs) rotations in deg for a commanded pelvis rotation."""
        if regime not in REGIMES:
            raise ValueError(f"regime must be one of {REGIMES}")
        th = float(pelvis_rot_deg)
        trunk = th if regime == "uncompensated" else 0.0
        keep = float(self.body["trunk_keep"])
        legs = math.degrees(keep * self._shift_per_rad[regime] * math.radians(th) / self._leg_len)
        s = float(sway_deg)
        return th + s, trunk + s, legs + s

    def pose(self, pelvis_rot_deg: float, regime: str = "compensated", sway_deg: float = 0.0) -> PosedBody:
        """Posed body for a TOTAL pelvis rotation (deg, + = anterior) relative to rest.

        ``sway_deg`` rotates the whole body about the ankles (feet stay flat);
        it changes the pelvis angle to the horizontal, so the truth includes it.
        """
        p, t, l = self.angles(pelvis_rot_deg, regime, sway_deg)
        v = self._pin(self._raw(p, t, l)["vertices"] + self._shift)
        return self._measure(v)

    def _measure(self, v: np.ndarray) -> PosedBody:
        asis_lr = np.stack([v[list(ASIS_L)].mean(0), v[list(ASIS_R)].mean(0)])
        psis_lr = np.stack([v[list(PSIS_L)].mean(0), v[list(PSIS_R)].mean(0)])
        asis, psis = asis_lr.mean(0), psis_lr.mean(0)
        tilt = float(sagittal_tilt_deg(asis, psis))
        return PosedBody(v, asis, psis, asis_lr, psis_lr, tilt)

    def _regions(self) -> np.ndarray:
        """Per-vertex clothing region: 0 skin, 1 top, 2 shorts, 3 feet."""
        b = self.body
        labels = list(self.model.bone_labels)
        heads = self.bone_heads
        z = self.rest_vertices[:, 2]
        name = self.dominant_bone
        hip_z = heads[labels.index("upperleg02.L"), 2]
        ankle_z = heads[labels.index("foot.L"), 2]
        neck_z = heads[labels.index("neck01"), 2]
        # waistband between the hip-joint height and the neck base (natural waist ~0.35)
        waist_z = hip_z + float(b["waist_frac"]) * (neck_z - hip_z)
        shorts_bottom = hip_z - float(b["shorts_length"]) * (hip_z - ankle_z)
        is_arm = np.array([n.startswith(("shoulder", "upperarm", "lowerarm", "wrist", "finger",
                                         "metacarpal")) for n in name])
        is_head = np.array([n.startswith(("neck", "head", "eye")) for n in name])
        is_foot = self.foot_mask
        region = np.zeros(len(z), dtype=np.int8)
        trunk = ~is_arm & ~is_head & ~is_foot
        region[trunk & (z >= waist_z) & (z < neck_z - 0.02)] = 1
        region[trunk & (z < waist_z) & (z >= shorts_bottom)] = 2
        if b["sleeves"]:
            sleeve = np.array([n.startswith(("shoulder", "upperarm01")) for n in name])
            region[sleeve] = 1
        region[is_foot] = 3 if b["feet"] is not None else 0
        return region

    def vertex_colors(self, rng: np.random.Generator | None = None) -> np.ndarray:
        b = self.body
        pal = np.array([b["skin"], b["top"], b["shorts"],
                        b["feet"] if b["feet"] is not None else b["skin"]], dtype=float)
        col = pal[self.region]
        if rng is not None:  # faint fabric/skin mottling
            col = col * (1.0 + 0.03 * rng.standard_normal((len(col), 1)))
        return np.clip(col, 0, 1)


def tilt_for_rotation(rot_deg: float, regime: str = "compensated", body: dict | None = None) -> float:
    """Convenience: truth tilt (deg) for a total pelvis rotation."""
    return BodyPoser(body).pose(rot_deg, regime).tilt_deg


# ----------------------------------------------------------------------------
# Camera & rendering

def look_at(eye, target, up=(0.0, 0.0, 1.0)) -> np.ndarray:
    eye = np.asarray(eye, float)
    z = eye - np.asarray(target, float)
    z /= np.linalg.norm(z)
    x = np.cross(up, z)
    x /= np.linalg.norm(x)
    y = np.cross(z, x)
    m = np.eye(4)
    m[:3, 0], m[:3, 1], m[:3, 2], m[:3, 3] = x, y, z, eye
    return m


def resolve_camera(camera: dict, stature: float) -> dict:
    """Camera dict with defaults filled in and distance_m resolved (fill_frac)."""
    c = {**DEFAULT_CAMERA, **(camera or {})}
    if c["distance_m"] is None:
        t = math.tan(math.radians(c["yfov_deg"]) / 2)
        c["distance_m"] = float(np.clip(stature / (2 * float(c["fill_frac"]) * t), 1.5, 3.5))
    return c


def resolved_pitch_deg(camera: dict, stature: float) -> float:
    """The camera's pitch in degrees (+ = looking down), whichever way it was given."""
    c = resolve_camera(camera, stature)
    if c["pitch_deg"] is not None:
        return float(c["pitch_deg"])
    aim = math.degrees(math.atan2(c["cam_height_m"] - c["aim_height_frac"] * stature, c["distance_m"]))
    if not c.get("pitch_offset_deg"):
        return aim
    # aim pitch plus a deliberate deviation, kept within the +-12 deg studied
    return float(np.clip(aim + c["pitch_offset_deg"], -12.0, 12.0))


def camera_pose(camera: dict, stature: float) -> np.ndarray:
    """4x4 camera-to-world pose (OpenGL: camera looks along its -z)."""
    c = resolve_camera(camera, stature)
    side = 1.0 if c["facing"] == "left" else -1.0  # camera on the body's left (+x) side
    yaw = math.radians(c["yaw_deg"])
    # camera position on a circle around the body (yaw = deviation from side-on)
    dirv = np.array([side * math.cos(yaw), math.sin(yaw), 0.0])
    eye = dirv * c["distance_m"] + np.array([0, 0, c["cam_height_m"]])
    pitch = c["pitch_deg"]
    if pitch is None and c.get("pitch_offset_deg"):
        pitch = resolved_pitch_deg(c, stature)
    if pitch is None:
        target = np.array([0.0, 0.0, c["aim_height_frac"] * stature])
        pose = look_at(eye, target)
    else:
        p = math.radians(pitch)
        fwd = -dirv * math.cos(p) + np.array([0, 0, -math.sin(p)])
        pose = look_at(eye, eye + fwd)
    if c["roll_deg"]:
        pose = pose @ _rot4("z", c["roll_deg"])
    if c["offset_x_frac"]:
        # shift the camera sideways so the person appears off-centre
        w, h = c["image_size"]
        f = 1.0 / math.tan(math.radians(c["yfov_deg"]) / 2)
        half_w_m = c["distance_m"] * (w / h) / f
        pose[:3, 3] -= pose[:3, 0] * c["offset_x_frac"] * 2 * half_w_m
    return pose


def project(points: np.ndarray, cam_pose: np.ndarray, camera: dict) -> np.ndarray:
    """World points (..., 3) -> pixel (x right, y down), shape (..., 2)."""
    c = {**DEFAULT_CAMERA, **camera}
    w, h = c["image_size"]
    f = 1.0 / math.tan(math.radians(c["yfov_deg"]) / 2)
    inv = np.linalg.inv(cam_pose)
    p = np.asarray(points, float) @ inv[:3, :3].T + inv[:3, 3]
    depth = -p[..., 2]
    xn = f * p[..., 0] / depth / (w / h)
    yn = f * p[..., 1] / depth
    return np.stack([(xn + 1) * 0.5 * w, (1 - yn) * 0.5 * h], axis=-1)


def _grid_mesh(corner, ex, ey, nx, ny, base_rgb, noise, rng, gradient=0.0, facing=None):
    """A subdivided quad with noisy vertex colours; front face toward ``facing`` (a direction)."""
    import trimesh

    us, vs = np.meshgrid(np.linspace(0, 1, nx + 1), np.linspace(0, 1, ny + 1))
    pts = corner + us.reshape(-1, 1) * ex + vs.reshape(-1, 1) * ey
    faces = []
    for j in range(ny):
        for i in range(nx):
            a = j * (nx + 1) + i
            faces += [[a, a + 1, a + nx + 2], [a, a + nx + 2, a + nx + 1]]
    shade = 1.0 + gradient * (vs.reshape(-1, 1) - 0.5)
    col = np.asarray(base_rgb) * shade * (1 + noise * rng.standard_normal((len(pts), 1)))
    col = col + 0.5 * noise * rng.standard_normal((len(pts), 3)) * np.asarray(base_rgb)
    faces = np.array(faces)
    if facing is not None and np.dot(np.cross(ex, ey), facing) < 0:
        faces = faces[:, ::-1]
    tm = trimesh.Trimesh(pts, faces, process=False)
    tm.visual.vertex_colors = (np.clip(col, 0, 1) * 255).astype(np.uint8)
    return tm


class Renderer:
    """Offscreen side-on renderer for one body/camera/scene (one OSMesa context)."""

    def __init__(self, poser: BodyPoser, camera: dict, scene: dict | None = None, seed: int = 0):
        import pyrender

        self.pyrender = pyrender
        self.poser = poser
        self.camera = resolve_camera(camera, poser.stature)
        self.scene_cfg = {**DEFAULT_SCENE, **(scene or {})}
        unknown = (set(camera or {}) - set(DEFAULT_CAMERA)) | (set(scene or {}) - set(DEFAULT_SCENE))
        if unknown:
            raise ValueError(f"unknown camera/scene keys: {sorted(unknown)}")
        if self.camera["facing"] not in ("left", "right"):
            raise ValueError("facing must be 'left' or 'right'")
        rng = np.random.default_rng(seed)
        s = self.scene_cfg
        w, h = self.camera["image_size"]
        self.k = int(s["supersample"])
        if s["background"] not in ("wall", "gradient", "plain", "grey", "none"):
            raise ValueError(f"unknown background {s['background']!r}")
        bg = tuple(s["wall_color"])
        sc = pyrender.Scene(bg_color=[*bg, 1.0], ambient_light=[s["ambient"]] * 3)
        self.cam_pose = camera_pose(self.camera, poser.stature)
        # yaw: rotate the BODY, not the world axes -> we instead move the camera (done in camera_pose)
        cam = pyrender.PerspectiveCamera(yfov=math.radians(self.camera["yfov_deg"]), aspectRatio=w / h,
                                         znear=0.05, zfar=50.0)
        sc.add(cam, pose=self.cam_pose)
        if s["background"] != "none":
            side = 1.0 if self.camera["facing"] == "left" else -1.0
            wx = -side * s["wall_distance_m"]
            size = 14.0
            grad = {"gradient": 0.35, "wall": 0.12}.get(s["background"], 0.0)
            noise = s["noise"] if s["background"] == "wall" else 0.0
            wall = _grid_mesh(np.array([wx, -size / 2, 0.0]), np.array([0, size, 0.0]),
                              np.array([0, 0, 6.0]), 40, 16, s["wall_color"], noise, rng, gradient=-grad,
                              facing=np.array([side, 0.0, 0.0]))
            floor = _grid_mesh(np.array([wx, -size / 2, 0.0]), np.array([0, size, 0.0]),
                               np.array([side * size, 0, 0.0]), 40, 40, s["floor_color"], noise, rng,
                               facing=np.array([0.0, 0.0, 1.0]))
            for tm in (wall, floor):
                sc.add(pyrender.Mesh.from_trimesh(tm, smooth=True))
        # key light relative to camera, plus a weak fill from the other side
        az, el = math.radians(s["light_azimuth_deg"]), math.radians(s["light_elevation_deg"])
        key = self.cam_pose @ _rot4("y", math.degrees(az)) @ _rot4("x", -math.degrees(el))
        sc.add(pyrender.DirectionalLight(intensity=float(s["light_intensity"])), pose=key)
        fill = self.cam_pose @ _rot4("y", -math.degrees(az) * 1.5) @ _rot4("x", -10)
        sc.add(pyrender.DirectionalLight(intensity=0.35 * float(s["light_intensity"])), pose=fill)
        self.scene = sc
        self.colors = (poser.vertex_colors(rng) * 255).astype(np.uint8)
        self.faces = poser.model.faces.cpu().numpy()
        self.renderer = pyrender.OffscreenRenderer(w * self.k, h * self.k)
        self._node = None
        self._mat = pyrender.MetallicRoughnessMaterial(metallicFactor=0.0, roughnessFactor=0.8)

    def render(self, vertices: np.ndarray) -> np.ndarray:
        """RGB uint8 image (h, w, 3) of the body with the given vertices."""
        import trimesh

        pyr = self.pyrender
        if self._node is not None:
            self.scene.remove_node(self._node)
        tm = trimesh.Trimesh(vertices, self.faces, process=False)
        tm.visual.vertex_colors = self.colors
        mesh = pyr.Mesh.from_trimesh(tm, smooth=True, material=None)
        self._node = self.scene.add(mesh)
        col, _ = self.renderer.render(self.scene)
        if self.k > 1:
            import cv2

            w, h = self.camera["image_size"]
            col = cv2.resize(col, (w, h), interpolation=cv2.INTER_AREA)
        return np.ascontiguousarray(col[..., :3])

    def close(self):
        if self.renderer is not None:
            self.renderer.delete()
            self.renderer = None


# ----------------------------------------------------------------------------
# Clips

TRUTH_COLUMNS = ["frame", "time_s", "tilt_true_deg", "pelvis_rot_deg", "regime", "facing",
                 "asis_x", "asis_y", "psis_x", "psis_y"]


def _smooth_noise(n: int, fps: float, rng: np.random.Generator, amp: float) -> np.ndarray:
    """Smooth zero-mean noise (sum of slow sinusoids), peak ~amp."""
    if amp == 0 or n == 0:
        return np.zeros(n)
    t = np.arange(n) / fps
    out = np.zeros(n)
    for f in (0.11, 0.23, 0.37, 0.61):
        out += np.sin(2 * math.pi * f * rng.uniform(0.8, 1.25) * t + rng.uniform(0, 2 * math.pi))
    return amp * out / 2.0


def in_frame(points_px: np.ndarray, image_size, margin: float = 0.0) -> bool:
    w, h = image_size
    p = np.asarray(points_px)
    return bool(np.all((p[:, 0] >= margin) & (p[:, 0] < w - margin) & (p[:, 1] >= margin) & (p[:, 1] < h - margin)))



@contextlib.contextmanager
def atomic_video(out_mp4: str, fps: float, size: tuple[int, int]):
    """An mp4v `cv2.VideoWriter` on a temporary name, renamed over ``out_mp4`` when the
    block succeeds and removed when it fails (no half-written clip is ever left)."""
    import cv2

    stem = out_mp4[:-4] if out_mp4.lower().endswith(".mp4") else out_mp4
    tmp = f"{stem}.tmp{os.getpid()}.mp4"
    writer = cv2.VideoWriter(tmp, cv2.VideoWriter_fourcc(*"mp4v"), float(fps), tuple(size))
    if not writer.isOpened():
        raise RuntimeError(f"cannot open video writer for {tmp}")
    try:
        yield writer
        writer.release()
        os.replace(tmp, out_mp4)
    except BaseException:
        writer.release()
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def projected_landmarks(pb, rend, camera: dict) -> dict:
    """ASIS/PSIS (mean of L and R) projected to pixels, as truth-CSV columns."""
    a_px, p_px = project(np.stack([pb.asis, pb.psis]), rend.cam_pose, camera)
    return {"asis_x": round(float(a_px[0]), 2), "asis_y": round(float(a_px[1]), 2),
            "psis_x": round(float(p_px[0]), 2), "psis_y": round(float(p_px[1]), 2)}


def render_clip(out_mp4: str, tilt_offsets_deg: Sequence[float], body: dict | None = None,
                camera: dict | None = None, regime: str = "compensated", fps: float = 30.0,
                seed: int = 0, scene: dict | None = None, sway_deg: float = 0.0,
                require_in_frame: bool = True) -> list[dict]:
    """Render a clip and write ``out_mp4`` plus ``<stem>.truth.csv`` beside it.

    tilt_offsets_deg: per-frame commanded pelvis rotation (deg, + = anterior)
    relative to this body's own neutral (``body['pelvis_base_deg']``).
    Returns the truth rows (dicts with TRUTH_COLUMNS). Both files are written
    atomically (temp name then os.replace). Deterministic for a given seed.
    """
    import cv2

    offsets = np.asarray(tilt_offsets_deg, dtype=float).ravel()
    camera = {**DEFAULT_CAMERA, **(camera or {})}
    rng = np.random.default_rng(seed)
    poser = BodyPoser(body)
    rend = Renderer(poser, camera, scene, seed=int(rng.integers(2**31)))
    camera = rend.camera  # defaults filled, distance resolved
    sway = _smooth_noise(len(offsets), fps, np.random.default_rng(int(rng.integers(2**31))), sway_deg)
    w, h = camera["image_size"]
    out_mp4 = os.fspath(out_mp4)
    stem = out_mp4[:-4] if out_mp4.lower().endswith(".mp4") else out_mp4
    rows: list[dict] = []
    last_key, last_img, last_pb = None, None, None
    base = float(poser.body["pelvis_base_deg"])
    try:
        with atomic_video(out_mp4, fps, (w, h)) as writer:
            for i, off in enumerate(offsets):
                rot = base + float(off)
                key = (round(rot, 9), round(float(sway[i]), 9))
                if key != last_key:
                    pb = poser.pose(rot, regime, sway_deg=float(sway[i]))
                    img = rend.render(pb.vertices)
                    if require_in_frame and (i == 0 or i % 15 == 0):
                        pts = project(pb.vertices[::7], rend.cam_pose, camera)
                        if not in_frame(pts, (w, h)):
                            raise ValueError("person not fully in frame; change camera distance/fov/height")
                    last_key, last_img, last_pb = key, img, pb
                else:
                    img, pb = last_img, last_pb
                writer.write(cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
                rows.append({"frame": i, "time_s": round(i / fps, 6), "tilt_true_deg": round(pb.tilt_deg, 4),
                             "pelvis_rot_deg": round(rot, 4), "regime": regime, "facing": camera["facing"],
                             **projected_landmarks(pb, rend, camera)})
    finally:
        rend.close()
    write_truth_csv(stem + ".truth.csv", rows)
    return rows


def write_truth_csv(path: str, rows: Iterable[dict]) -> None:
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w", newline="") as fh:
        wr = csv.DictWriter(fh, fieldnames=TRUTH_COLUMNS)
        wr.writeheader()
        for r in rows:
            wr.writerow(r)
    os.replace(tmp, path)


def _render_job(job: dict) -> dict:
    t0 = time.perf_counter()
    rows = render_clip(**job)
    return {"out_mp4": os.fspath(job["out_mp4"]), "frames": len(rows), "seconds": time.perf_counter() - t0}


def render_many(jobs: Sequence[dict], workers: int = 2) -> list[dict]:
    """Render many clips; each job is a dict of render_clip keyword arguments.

    Uses a 'spawn' process pool (each worker builds its own anny model and
    OSMesa context). workers=1 renders in this process.
    """
    jobs = list(jobs)
    if workers <= 1 or len(jobs) <= 1:
        return [_render_job(j) for j in jobs]
    import multiprocessing as mp

    ctx = mp.get_context("spawn")
    with ctx.Pool(processes=min(workers, len(jobs))) as pool:
        return pool.map(_render_job, jobs, chunksize=1)


# ----------------------------------------------------------------------------
# Random variation (for fitting / validation sets)

def sample_job(seed: int, out_mp4: str, tilt_offsets_deg: Sequence[float], regime: str | None = None,
               image_size=None, fps: float = 30.0) -> dict:
    """A render_clip job with body, camera and scene drawn from ``seed``."""
    rng = np.random.default_rng(seed)
    u = rng.uniform
    skin_tones = [(0.96, 0.80, 0.69), (0.87, 0.68, 0.56), (0.74, 0.53, 0.40), (0.55, 0.37, 0.26),
                  (0.36, 0.23, 0.16)]
    cloth = [(0.12, 0.12, 0.14), (0.15, 0.32, 0.62), (0.62, 0.16, 0.18), (0.18, 0.45, 0.30),
             (0.80, 0.80, 0.78), (0.55, 0.50, 0.65), (0.90, 0.55, 0.20), (0.35, 0.35, 0.38)]
    race = rng.dirichlet([1, 1, 1])
    top, shorts = rng.choice(len(cloth), 2, replace=False)
    body = {
        "gender": u(0, 1), "age": u(0.64, 0.85), "muscle": u(0.2, 0.8), "weight": u(0.2, 0.8),
        "height": u(0.2, 0.8), "proportions": u(0.3, 0.7), "cupsize": u(0.2, 0.8), "firmness": u(0.3, 0.7),
        "african": race[0], "asian": race[1], "caucasian": race[2],
        "buttocks": u(-0.5, 0.8), "hip_depth": u(-0.4, 0.6), "belly": u(-0.3, 0.5), "navel": u(-0.5, 0.5),
        "pelvis_base_deg": rng.normal(0, 4), "arm_abduction_deg": u(5, 20), "arm_forward_deg": u(-10, 15),
        "elbow_flex_deg": u(0, 25), "skin": skin_tones[rng.integers(len(skin_tones))],
        "top": cloth[top], "shorts": cloth[shorts], "shorts_length": float(rng.choice([0.3, 0.45, 1.0])),
        "waist_frac": u(0.28, 0.42),
        "sleeves": bool(rng.integers(2)), "feet": None,
    }
    body = {k: (float(v) if isinstance(v, (np.floating,)) else v) for k, v in body.items()}
    if image_size is None:
        image_size = [(640, 480), (960, 540), (1280, 720), (1920, 1080)][rng.integers(4)]
    yfov = u(55, 80)
    camera = {"facing": ["left", "right"][rng.integers(2)], "distance_m": None, "fill_frac": u(0.5, 0.85),
              "cam_height_m": u(0.7, 1.0), "pitch_deg": None, "aim_height_frac": u(0.45, 0.55),
              "roll_deg": u(-7, 7), "yaw_deg": u(-8, 8), "yfov_deg": yfov, "image_size": tuple(image_size),
              "offset_x_frac": u(-0.12, 0.12)}
    g = u(0.35, 0.75)
    tint = rng.normal(0, 0.03, 3)
    f = u(0.25, 0.55)
    scene = {"background": ["plain", "gradient", "wall", "wall"][rng.integers(4)],
             "wall_color": tuple(np.clip(g + tint, 0, 1)),
             "floor_color": tuple(np.clip(f + np.array([0.03, 0.0, -0.03]) * rng.uniform(-1, 2) + tint, 0, 1)),
             "wall_distance_m": u(0.8, 2.5), "noise": u(0.0, 0.06), "light_intensity": u(1.8, 3.2),
             "light_azimuth_deg": u(-60, 60), "light_elevation_deg": u(10, 60), "ambient": u(0.2, 0.45),
             "supersample": 1}
    # Drawn last so the draws above (and older datasets) stay the same for a seed.
    # Camera pitch +-12 deg: the aim pitch plus a deviation small enough to keep the
    # whole person in frame (the free margin is (1 - fill) / 2 of the field of view).
    pitch_dev = u(-1, 1) * 0.8 * (1 - camera["fill_frac"]) / 2 * yfov
    if rng.uniform() < 0.7:
        camera["pitch_offset_deg"] = float(pitch_dev)
    return {"out_mp4": out_mp4, "tilt_offsets_deg": list(map(float, tilt_offsets_deg)), "body": body,
            "camera": camera, "scene": scene, "regime": regime or ["compensated", "uncompensated"][rng.integers(2)],
            "fps": fps, "seed": int(seed)}
