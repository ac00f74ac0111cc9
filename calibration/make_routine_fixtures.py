"""Render the exercise-routine fixtures in tests/fixtures/routine/.

    PYOPENGL_PLATFORM=osmesa python -m calibration.make_routine_fixtures [--out DIR]
        [--only iso_6,plie_kept] [--check] [--png-dir /tmp/routine_png]

Each clip: ``<name>.mp4`` (mp4v, 15 fps; 10 fps for stretch_hold) and
``<name>.truth.csv`` (frame, time_s, tilt_true_deg, pelvis_rot_deg,
knee_flex_deg, phase, ...; see calibration/exercises.py). ``expected.json``
holds the expected detector results per clip, computed from the truth CSVs.
All bodies are in the compensated regime (trunk upright, feet flat), side-on,
camera at hip height. ``--check`` runs MediaPipe Pose (legacy, complexity 1)
on the written clips and reports the detection rate.
Deterministic: same command, same truth CSVs.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import time

import numpy as np

FPS = 15.0
SIZE = (480, 360)
SCENE = {"background": "wall", "wall_color": (0.60, 0.61, 0.60), "floor_color": (0.42, 0.38, 0.34),
         "noise": 0.015, "light_intensity": 2.6}

SKIN = [(0.96, 0.80, 0.69), (0.87, 0.68, 0.56), (0.74, 0.53, 0.40), (0.55, 0.37, 0.26), (0.36, 0.23, 0.16)]
ARMS = {"arm_abduction_deg": 18.0, "arm_forward_deg": 0.0, "elbow_flex_deg": 2.0}

# One phenotype per clip (anny: gender 0 = male, 1 = female; age 0.7 ~ 30 yr).
BODIES = {
    "iso_6": {"gender": 0.9, "age": 0.68, "weight": 0.35, "muscle": 0.45, "height": 0.45, "cupsize": 0.5,
              "skin": SKIN[0], "top": (0.62, 0.16, 0.18), "shorts": (0.12, 0.12, 0.14), "buttocks": 0.3},
    "iso_8": {"gender": 0.1, "age": 0.72, "weight": 0.55, "muscle": 0.6, "height": 0.6,
              "skin": SKIN[2], "top": (0.15, 0.32, 0.62), "shorts": (0.35, 0.35, 0.38)},
    "iso_12": {"gender": 0.55, "age": 0.75, "weight": 0.5, "muscle": 0.5, "height": 0.7, "belly": 0.2,
               "skin": SKIN[1], "top": (0.18, 0.45, 0.30), "shorts": (0.12, 0.12, 0.14), "shorts_length": 1.0},
    "find_neutral": {"gender": 0.75, "age": 0.7, "weight": 0.62, "muscle": 0.4, "height": 0.4, "buttocks": 0.4,
                     "skin": SKIN[3], "top": (0.80, 0.80, 0.78), "shorts": (0.15, 0.32, 0.62)},
    "plie_kept": {"gender": 0.3, "age": 0.66, "weight": 0.4, "muscle": 0.65, "height": 0.55,
                  "skin": SKIN[0], "top": (0.55, 0.50, 0.65), "shorts": (0.12, 0.12, 0.14)},
    "plie_lost": {"gender": 0.85, "age": 0.8, "weight": 0.45, "muscle": 0.5, "height": 0.35, "hip_depth": 0.3,
                  "skin": SKIN[4], "top": (0.90, 0.55, 0.20), "shorts": (0.35, 0.35, 0.38), "shorts_length": 1.0},
    "stretch_hold": {"gender": 0.2, "age": 0.7, "weight": 0.5, "muscle": 0.55, "height": 0.5,
                     "skin": SKIN[1], "top": (0.15, 0.32, 0.62), "shorts": (0.62, 0.16, 0.18)},
    "pelvic_lift": {"gender": 0.65, "age": 0.7, "weight": 0.45, "muscle": 0.5, "height": 0.5,
                    "skin": SKIN[2], "top": (0.62, 0.16, 0.18), "shorts": (0.12, 0.12, 0.14)},
    "child_pose": {"gender": 0.4, "age": 0.72, "weight": 0.5, "muscle": 0.5, "height": 0.5,
                   "skin": SKIN[0], "top": (0.18, 0.45, 0.30), "shorts": (0.35, 0.35, 0.38)},
}
FACING = {"iso_6": "right", "iso_8": "left", "iso_12": "right", "find_neutral": "left", "plie_kept": "right",
          "plie_lost": "left", "stretch_hold": "right", "pelvic_lift": "right", "child_pose": "left"}
ISO_PERIOD = {"iso_6": 1.8, "iso_8": 1.6, "iso_12": 1.4}
ORDER = ["iso_6", "iso_8", "iso_12", "find_neutral", "plie_kept", "plie_lost", "stretch_hold",
         "pelvic_lift", "child_pose"]


def tune_arms(poser, camera: dict, extra_specs=(), candidates=(-8, -6, -4, -2, 0, 2)) -> float:
    """Pick this body's arm_forward_deg (shoulder flexion of the hanging arms)
    that keeps the hands/arms inside the pelvis outline over neutral, +-10 deg
    pelvis rotation (and any extra poses). Sets it on the poser; returns it."""
    from calibration.bodygen import resolve_camera, camera_pose
    from calibration.exercises import default_spec, hand_outline_overlap

    cam = resolve_camera(camera, poser.stature)
    cp = camera_pose(cam, poser.stature)
    specs = [default_spec(), default_spec(pelvis=10.0), default_spec(pelvis=-10.0), *extra_specs]
    best = None
    for a in candidates:
        poser.body["arm_forward_deg"] = float(a)
        worst = max(hand_outline_overlap(poser, poser.pose_spec(s)[0], cp, cam) for s in specs)
        if best is None or worst < best[0] - 0.5:
            best = (worst, a)
    poser.body["arm_forward_deg"] = float(best[1])
    return float(best[1])


def standing_camera(poser, facing: str, fill: float = 0.76) -> dict:
    """Plain side-on camera at hip height, person ~fill of the image height."""
    return {"facing": facing, "distance_m": None, "fill_frac": fill, "cam_height_m": 0.52 * poser.stature,
            "pitch_deg": None, "aim_height_frac": 0.5, "yfov_deg": 55.0, "image_size": SIZE}


# ----------------------------------------------------------------------------
# Timelines

def iso_specs(poser, n: int, period: float, fps: float = FPS):
    from calibration.exercises import Timeline, default_spec

    tl = Timeline(fps)
    tl.add(1.0, lambda u: default_spec(), "still", ramp=False)
    tl.add(n * period, lambda u: default_spec(pelvis=10.0 * math.sin(2 * math.pi * n * u)),
           lambda u: f"iso{min(int(u * n) + 1, n)}", ramp=False)
    tl.add(1.0, lambda u: default_spec(), "still", ramp=False)
    return tl.specs


def find_neutral_specs(poser, fps: float = FPS):
    from calibration.exercises import Timeline, default_spec, smooth01

    tl = Timeline(fps)
    tl.add(2.0, lambda u: default_spec(), "calib", ramp=False)
    tl.add(2 * 1.6, lambda u: default_spec(pelvis=10.0 * math.sin(2 * math.pi * 2 * u)),
           lambda u: f"iso{min(int(u * 2) + 1, 2)}", ramp=False)
    tl.add(0.6, lambda u: default_spec(pelvis=4.0 * float(smooth01(u))), "to_hold")
    tl.add(3.0, lambda u: default_spec(pelvis=4.0), "hold", ramp=False)
    return tl.specs


def plie_specs(poser, tuck_end: float, fps: float = FPS, knee_deg: float = 35.0, tuck: float = -10.0):
    from calibration.exercises import Timeline, default_spec, smooth01

    def legs(k):
        t = poser.balanced_thigh_fwd(k)
        return {"knee": {"L": k, "R": k}, "thigh_fwd": {"L": t, "R": t}}

    tl = Timeline(fps)
    tl.add(1.0, lambda u: default_spec(), "stand", ramp=False)
    tl.add(1.0, lambda u: default_spec(**legs(knee_deg * float(smooth01(u)))), "plie_down")
    tl.add(0.5, lambda u: default_spec(**legs(knee_deg)), "plie_hold", ramp=False)
    tl.add(1.0, lambda u: default_spec(pelvis=tuck * float(smooth01(u)), **legs(knee_deg)), "tuck")
    tl.add(0.5, lambda u: default_spec(pelvis=tuck, **legs(knee_deg)), "tuck_hold", ramp=False)
    tl.add(1.0, lambda u: default_spec(pelvis=tuck + (tuck_end - tuck) * float(smooth01(u)),
                                       **legs(knee_deg * (1 - float(smooth01(u))))), "straighten")
    tl.add(1.0, lambda u: default_spec(pelvis=tuck_end), "end_hold", ramp=False)
    return tl.specs


def stretch_specs(poser, facing: str, fps: float = 10.0, knee_deg: float = 140.0, thigh_back: float = 3.0):
    """Camera-side leg folded back (knee ~135 deg, thigh ~vertical, slightly behind),
    foot towards the buttock, held at the ankle by the camera-side hand; standing
    on the far leg (pinned to the far foot throughout)."""
    from calibration.exercises import Timeline, default_spec, near_side, smooth01

    near = near_side(facing)
    far = "L" if near == "R" else "R"
    idx = poser.idx
    # where the ankle ends up, to aim the holding arm at it
    full = default_spec(knee={near: knee_deg}, thigh_fwd={near: -thigh_back},
                        foot={near: thigh_back + knee_deg + 70.0}, stance=(far,))
    _, heads = poser.pose_spec(full)
    sh = heads[idx[f"upperarm01.{near}"]]
    ank = heads[idx[f"foot.{near}"]]
    d_target = (ank - sh) / np.linalg.norm(ank - sh)
    b = poser.body
    sgn = 1.0 if near == "L" else -1.0
    abd = math.radians(float(b["arm_abduction_deg"]))
    d_hang = np.array([sgn * math.sin(abd), 0.0, -math.cos(abd)])

    def fold(u):
        u = float(u)
        if u <= 0:
            return default_spec(stance=(far,))
        d = (1 - u) * d_hang + u * d_target
        # foot pointed (70 deg plantar flexion relative to the shank) when folded
        shank_rx = thigh_back * u + knee_deg * u  # thigh Rx + knee flexion
        return default_spec(knee={near: knee_deg * u}, thigh_fwd={near: -thigh_back * u},
                            foot={near: shank_rx + 70.0 * u}, stance=(far,),
                            arm_dir={near: d / np.linalg.norm(d)}, elbow={near: 0.0})

    tl = Timeline(fps)
    tl.add(1.0, lambda u: fold(0), "stand", ramp=False)
    tl.add(0.6, lambda u: fold(smooth01(u)), "lift")
    tl.add(4.0, lambda u: fold(1), "hold", ramp=False)
    tl.add(0.6, lambda u: fold(1 - smooth01(u)), "lower")
    tl.add(3.0, lambda u: fold(0), "lost", ramp=False)
    tl.add(0.6, lambda u: fold(smooth01(u)), "lift")
    tl.add(4.0, lambda u: fold(1), "hold", ramp=False)
    tl.add(0.6, lambda u: fold(1 - smooth01(u)), "lower")
    tl.add(1.0, lambda u: fold(0), "stand", ramp=False)
    return tl.specs


def bridge_specs(poser, fps: float = FPS, reps: int = 3, hip_flex: float = 45.0, knee: float = 90.0):
    """Pelvic lift (bridge), lying on the back, head towards +y, camera side-on.

    Start: hips flexed 45 deg, knees 90 deg, feet flat. Lift: the trunk and
    pelvis rotate as one about the shoulders (which stay on the floor) by beta;
    the legs are solved by 2-D IK so the ankles stay where they were, feet flat;
    the neck flexes by beta so the head stays down; the arms stay on the floor.
    beta_max puts shoulders, hips and knees in line."""
    from calibration.exercises import Timeline, default_spec, leg_ik, smooth01

    idx = poser.idx
    sh_names = ("upperarm01.L", "upperarm01.R")

    def spec_for(beta: float, legs: dict | None = None, pin=None):
        br = -90.0 - beta
        arm_body = np.array([0.0, math.sin(math.radians(beta)), -math.cos(math.radians(beta))])
        if legs is None:
            legs = {"thigh_fwd": {"L": hip_flex, "R": hip_flex}, "knee": {"L": knee, "R": knee}}
        sp = default_spec(body_rot=br, compensate=False, foot={"L": -br, "R": -br},
                          arm_dir={"L": arm_body + [0.12, 0, 0], "R": arm_body + [-0.12, 0, 0]},
                          elbow={"L": 0.0, "R": 0.0},
                          extra={"neck01": 0.5 * beta, "neck02": 0.5 * beta}, **legs)
        if pin is None:
            sp["pin"], sp["anchor"] = "floor", (0.0, 0.0)
        else:
            sp["pin"], sp["anchor"] = "joints", (sh_names, pin)
        return sp

    pb0, h0 = poser.pose_spec(spec_for(0.0))
    centre_y = 0.5 * (pb0.vertices[:, 1].min() + pb0.vertices[:, 1].max())
    s0 = h0[[idx[n] for n in sh_names]].mean(0) - [0.0, centre_y, 0.0]
    ank0 = {s: h0[idx[f"foot.{s}"]] - [0.0, centre_y, 0.0] for s in "LR"}

    cache: dict = {}

    def lifted(beta: float):
        key = round(beta, 6)
        if key in cache:
            return cache[key]
        probe = spec_for(beta, pin=s0)
        _, h = poser.pose_spec(probe)
        legs = {"thigh_fwd": {}, "knee": {}}
        br = -90.0 - beta
        for s in "LR":
            hip = h[idx[f"upperleg02.{s}"]]
            a, k = leg_ik(poser, s, hip[1:], ank0[s][1:], guess=(br - hip_flex, knee))
            legs["thigh_fwd"][s] = -(a - br)
            legs["knee"][s] = k
        cache[key] = spec_for(beta, legs, pin=s0)
        return cache[key]

    # beta that puts shoulder, hip and knee in line
    def bend(beta):
        pb, h = poser.pose_spec(lifted(beta))
        sh = h[[idx[n] for n in sh_names]].mean(0)
        hip = h[[idx["upperleg02.L"], idx["upperleg02.R"]]].mean(0)
        kn = h[[idx["lowerleg01.L"], idx["lowerleg01.R"]]].mean(0)
        a1 = math.degrees(math.atan2(hip[2] - sh[2], sh[1] - hip[1]))
        a2 = math.degrees(math.atan2(kn[2] - hip[2], hip[1] - kn[1]))
        return a2 - a1

    lo, hi = 0.0, 60.0
    for _ in range(14):
        mid = 0.5 * (lo + hi)
        if bend(mid) > 0:
            lo = mid
        else:
            hi = mid
    beta_max = 0.5 * (lo + hi)
    bridge_specs.beta_max = beta_max

    def at(u):
        return dict(lifted(beta_max * float(u)))

    tl = Timeline(fps)
    tl.add(1.0, lambda u: at(0), "rest", ramp=False)
    for r in range(1, reps + 1):
        tl.add(1.0, lambda u: at(smooth01(u)), f"lift{r}")
        tl.add(2.0, lambda u: at(1), f"hold{r}", ramp=False)
        tl.add(1.0, lambda u: at(1 - smooth01(u)), f"lower{r}")
        tl.add(1.0, lambda u: at(0), "rest", ramp=False)
    return tl.specs


CHILD_KNEEL = {"pelvis": 0.0, "trunk": 0.0, "thigh": 0.0, "knee": 90.0, "arm": 0.0}
CHILD_FOLD = {"pelvis": 70.0, "trunk": 105.0, "thigh": 58.0, "knee": 148.0, "arm": 1.0}


def child_specs(poser, fps: float = FPS, kneel_s: float = 1.0, fold_s: float = 1.5, hold_s: float = 4.0,
                end_s: float = 1.0):
    """Kneeling upright (thighs vertical, knees 90 deg, shins and the tops of the
    feet on the floor), then folding into child pose: sitting back on the heels
    (knees ~148 deg, shins flat, thighs resting on the calves), pelvis and trunk folded
    forward over the thighs, arms reaching forward, held. The knees stay put."""
    from calibration.exercises import Timeline, default_spec, smooth01

    def at(u):
        u = float(u)
        g = {k: CHILD_KNEEL[k] + u * (CHILD_FOLD[k] - CHILD_KNEEL[k]) for k in CHILD_KNEEL}
        shank_rx = -g["thigh"] + g["knee"]
        # arms: hanging (trunk frame) -> reaching beyond the head, a little forward
        hang = np.array([0.0, 0.0, -1.0])
        reach = np.array([0.0, 0.15, 1.0]) / np.linalg.norm([0.0, 0.15, 1.0])
        d = (1 - g["arm"]) * hang + g["arm"] * reach + np.array([0.0, -0.6, 0.0]) * math.sin(math.pi * g["arm"])
        d = d / np.linalg.norm(d)
        legs = {"thigh_fwd": {"L": g["thigh"], "R": g["thigh"]}, "knee": {"L": g["knee"], "R": g["knee"]},
                # tops of the feet on the floor: foot in line with the shank (+90 plantar flexion)
                "foot": {"L": shank_rx + 90.0, "R": shank_rx + 90.0}}
        sp = default_spec(pelvis=g["pelvis"], trunk=g["trunk"], compensate=False,
                          arm_dir={"L": d + [0.15, 0, 0], "R": d + [-0.15, 0, 0]}, elbow={"L": 5.0, "R": 5.0},
                          **legs)
        sp["pin"], sp["anchor"] = "floor_joints", (("lowerleg01.L", "lowerleg01.R"), (0.0, 0.1))
        return sp

    tl = Timeline(fps)
    tl.add(kneel_s, lambda u: at(0), "kneel", ramp=False)
    tl.add(fold_s, lambda u: at(smooth01(u)), "fold")
    tl.add(hold_s, lambda u: at(1), "child_pose", ramp=False)
    tl.add(end_s, lambda u: at(1 - smooth01(u)), "unfold")
    return tl.specs


# ----------------------------------------------------------------------------

def _mean_truth(rows, phases) -> float:
    v = [r["tilt_true_deg"] for r in rows if r["phase"] in phases]
    return float(np.mean(v))


def build(name: str, out_dir: str, log=print) -> dict:
    """Render one clip; returns its expected.json entry."""
    from calibration.bodygen import DEFAULT_BODY
    from calibration.exercises import ExercisePoser, render_routine

    body = {**ARMS, **BODIES[name]}
    assert not set(body) - set(DEFAULT_BODY)
    poser = ExercisePoser(body)
    facing = FACING[name]
    camera = standing_camera(poser, facing)
    fps = FPS
    seed = ORDER.index(name) + 1
    exp: dict = {}
    extra = []
    if name.startswith("plie"):
        sp = plie_specs(poser, tuck_end=-10.0)
        extra = [sp[int(2.2 * FPS)], sp[int(3.9 * FPS)]]
    arm_fwd = tune_arms(poser, camera, extra) if name not in ("pelvic_lift", "child_pose") else 0.0
    if name.startswith("iso_"):
        n = int(name.split("_")[1])
        specs = iso_specs(poser, n, ISO_PERIOD[name])
        exp = {"reps": n, "range_deg": 20.0, "period_s": ISO_PERIOD[name]}
    elif name == "find_neutral":
        specs = find_neutral_specs(poser)
    elif name in ("plie_kept", "plie_lost"):
        specs = plie_specs(poser, tuck_end=-10.0 if name == "plie_kept" else -2.0)
    elif name == "stretch_hold":
        fps = 10.0
        specs = stretch_specs(poser, facing, fps=fps)
        camera = standing_camera(poser, facing, fill=0.72)
    elif name == "pelvic_lift":
        specs = bridge_specs(poser)
        camera = {"facing": facing, "distance_m": 2.1, "cam_height_m": 0.4, "pitch_deg": 5.0, "yfov_deg": 55.0,
                  "image_size": SIZE}
    elif name == "child_pose":
        specs = child_specs(poser)
        camera = {"facing": facing, "distance_m": 2.3, "cam_height_m": 0.55, "pitch_deg": 0.0, "yfov_deg": 55.0,
                  "image_size": SIZE}
    else:
        raise ValueError(name)
    out = os.path.join(out_dir, name + ".mp4")
    t0 = time.perf_counter()
    res = render_routine(out, specs, camera=camera, scene=SCENE, fps=fps, seed=seed, poser=poser)
    rows = res["rows"]
    tr = np.array([r["tilt_true_deg"] for r in rows])
    if name.startswith("iso_"):
        iso = tr[[r["phase"].startswith("iso") for r in rows]]
        neutral = _mean_truth(rows, {"still"})
        exp["range_deg_truth"] = round(float(iso.max() - iso.min()), 2)
        exp["neutral_tilt_true_deg"] = round(neutral, 2)
    elif name == "find_neutral":
        calib = _mean_truth(rows, {"calib"})
        hold = _mean_truth(rows, {"hold"})
        exp = {"neutral_error_deg": round(hold - calib, 2), "calib_s": [0.0, 2.0],
               "hold_s": [rows[[r["phase"] for r in rows].index("hold")]["time_s"], round(len(rows) / fps, 4)],
               "neutral_tilt_true_deg": round(calib, 2), "hold_tilt_true_deg": round(hold, 2),
               "commanded_offset_deg": 4.0}
    elif name.startswith("plie"):
        neutral = _mean_truth(rows, {"stand"})
        in_plie = _mean_truth(rows, {"tuck_hold"}) - neutral
        after = _mean_truth(rows, {"end_hold"}) - neutral
        knees = [r["knee_flex_deg"] for r in rows if r["phase"] in ("plie_hold", "tuck_hold")]
        exp = {"tuck_kept": name == "plie_kept", "tuck_deg_in_plie": round(in_plie, 2),
               "tuck_deg_after_straighten": round(after, 2), "knee_flex_deg_in_plie": round(float(np.mean(knees)), 1),
               "neutral_tilt_true_deg": round(neutral, 2)}
    elif name == "stretch_hold":
        n_hold = sum(r["phase"] == "hold" for r in rows)
        n_lost = sum(r["phase"] == "lost" for r in rows)
        knees = [r["knee_flex_deg"] for r in rows if r["phase"] == "hold"]
        exp = {"hold_s": round(n_hold / fps, 2), "lost_s": round(n_lost / fps, 2), "holds": 2,
               "folded_leg": "camera-side", "knee_flex_deg_in_hold": round(float(np.mean(knees)), 1),
               "transition_s": 0.6}
    elif name == "pelvic_lift":
        holds = [sum(r["phase"] == f"hold{k}" for r in rows) / fps for k in (1, 2, 3)]
        rest = _mean_truth(rows, {"rest"})
        held = _mean_truth(rows, {"hold1", "hold2", "hold3"})
        exp = {"reps": 3, "hold_s_each": 2.0, "hold_s_measured": holds, "lift_s": 1.0, "lower_s": 1.0,
               "rest_s": 1.0, "trunk_rotation_deg_at_top": round(bridge_specs.beta_max, 1),
               "tilt_true_deg_rest": round(rest, 2), "tilt_true_deg_hold": round(held, 2),
               "note": "lying on the back, head towards the image "
                       + ("left" if facing == "right" else "right") + "; tilt is the pelvis angle to the horizontal"}
    elif name == "child_pose":
        n = sum(r["phase"] == "child_pose" for r in rows)
        exp = {"child_pose_s": round(n / fps, 2), "kneel_s": 1.0, "fold_s": 1.5, "unfold_s": 1.0}
    exp.update({"fps": fps, "frames": len(rows), "facing": facing, "size": list(SIZE)})
    log(f"{name}: {len(rows)} frames, {os.path.getsize(out) / 1e6:.2f} MB, {time.perf_counter() - t0:.0f} s, "
        f"arm_forward {arm_fwd:+.0f} deg, arms beyond pelvis outline max {res['arm_overlap_px']:.0f} px; "
        f"expected {exp}")
    return exp


def check(out_dir: str, names, png_dir: str | None = None) -> dict:
    from calibration.check_mediapipe import check_clip

    rates = {}
    for name in names:
        mp4 = os.path.join(out_dir, name + ".mp4")
        r = check_clip(mp4, png_dir, png_frames=set(range(0, 400, 12)) if png_dir else ())
        rates[name] = r["detected"] / max(r["frames"], 1)
        print(f"{name}: MediaPipe detected {r['detected']}/{r['frames']} ({100 * rates[name]:.1f} %), "
              f"min near-side core visibility {r['min_vis_core_near']:.2f}")
    return rates


def main(argv=None) -> int:
    os.environ.setdefault("PYOPENGL_PLATFORM", "osmesa")
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(here, "tests", "fixtures", "routine"))
    ap.add_argument("--only", default="", help="comma-separated clip names (default: all)")
    ap.add_argument("--check", action="store_true", help="run MediaPipe on the clips afterwards")
    ap.add_argument("--check-only", action="store_true", help="only run the MediaPipe check")
    ap.add_argument("--png-dir", default=None)
    args = ap.parse_args(argv)
    names = [n for n in args.only.split(",") if n] or list(ORDER)
    os.makedirs(args.out, exist_ok=True)
    if not args.check_only:
        exp_path = os.path.join(args.out, "expected.json")
        expected = {}
        if os.path.exists(exp_path):
            with open(exp_path) as fh:
                expected = json.load(fh)
        for name in names:
            expected[name] = build(name, args.out)
            expected = {k: expected[k] for k in ORDER if k in expected}
            with open(exp_path + ".tmp", "w") as fh:
                json.dump(expected, fh, indent=1)
            os.replace(exp_path + ".tmp", exp_path)
    if args.check or args.check_only:
        check(args.out, names, args.png_dir)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
