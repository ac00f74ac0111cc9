"""Drawing: trusted-side skeleton, the pelvis "basket", tilt, state and cue text."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np

from . import cues
from . import landmarks as L
from .fonts import font_path_for

if TYPE_CHECKING:
    from .results import FrameResults


def _pt(p: np.ndarray) -> tuple[int, int]:
    return int(round(p[0])), int(round(p[1]))


@lru_cache(maxsize=16)
def _font(path: Path, px: int):
    from PIL import ImageFont

    return ImageFont.truetype(str(path), px)


def _pil_text(img: np.ndarray, text: str, org: tuple[int, int], scale: float, colour, thick: int,
              outline: bool) -> None:
    """Non-ASCII text through Pillow, drawn in a small region around it (cheap on big frames)."""
    from PIL import Image, ImageDraw

    # OpenCV's Hershey fonts are ASCII only; DejaVu Sans or Noto Sans CJK draw the rest
    font = _font(font_path_for(text), max(8, int(round(30 * scale))))
    x0, y0, x1, y1 = font.getbbox(text, anchor="ls", stroke_width=thick + 2 if outline else 0)
    X0, Y0 = max(0, org[0] + x0), max(0, org[1] + y0)
    X1, Y1 = min(img.shape[1], org[0] + x1 + 1), min(img.shape[0], org[1] + y1 + 1)
    if X1 <= X0 or Y1 <= Y0:
        return
    roi = Image.fromarray(np.ascontiguousarray(img[Y0:Y1, X0:X1]))
    ImageDraw.Draw(roi).text((org[0] - X0, org[1] - Y0), text, font=font, anchor="ls", fill=tuple(int(c) for c in colour),
                             stroke_width=thick + 1 if outline else 0, stroke_fill=(0, 0, 0))
    img[Y0:Y1, X0:X1] = np.asarray(roi)


_FONT = cv2.FONT_HERSHEY_SIMPLEX
OUTLINE_PX = 3      # the black outline is this much thicker than the text


@lru_cache(maxsize=128)
def _outlined(text: str, scale: float, thick: int) -> tuple[np.ndarray, np.ndarray, int, int]:
    """Anti-aliased coverage (0..255) of a line of text and of its black outline, drawn once:
    (text, outline, x, y of the text's origin in them).  Outlined lines (the live view's
    routine and notice lines) change rarely, and OpenCV draws a thick anti-aliased outline as
    filled polygons, ~2 ms a line per frame on this project's 2-core machine."""
    (w, h), base = cv2.getTextSize(text, _FONT, scale, thick + OUTLINE_PX)
    pad = thick + OUTLINE_PX + 2
    x, y = pad, pad + h

    def cover(t: int) -> np.ndarray:
        m = np.zeros((h + base + 2 * pad, w + 2 * pad), np.uint8)
        cv2.putText(m, text, (x, y), _FONT, scale, 255, t, cv2.LINE_AA)
        return m

    return cover(thick), cover(thick + OUTLINE_PX), x, y


def _blend_outlined(img: np.ndarray, text: str, org: tuple[int, int], scale: float, colour, thick: int) -> None:
    """Outlined text as putText would draw it (outline in black, then the text), from `_outlined`."""
    cover, rim, x, y = _outlined(text, round(float(scale), 3), int(thick))
    x0, y0 = org[0] - x, org[1] - y
    X0, Y0 = max(x0, 0), max(y0, 0)
    X1, Y1 = min(x0 + cover.shape[1], img.shape[1]), min(y0 + cover.shape[0], img.shape[0])
    if X1 <= X0 or Y1 <= Y0:
        return
    part = (slice(Y0 - y0, Y1 - y0), slice(X0 - x0, X1 - x0))
    roi = img[Y0:Y1, X0:X1].astype(np.float32)
    roi *= 1.0 - rim[part][..., None] * np.float32(1 / 255)
    roi += cover[part][..., None] * np.float32(1 / 255) * (np.asarray(colour, np.float32) - roi)
    img[Y0:Y1, X0:X1] = np.rint(roi).astype(np.uint8)


def put_text(img: np.ndarray, text: str, org: tuple[int, int], scale: float, colour, thick: int = 2,
             outline: bool = True) -> None:
    """Text; with a black outline when it sits on the picture (readable on any background)."""
    if not text.isascii():
        _pil_text(img, text, org, scale, colour, thick, outline)
        return
    if outline and text.strip() and img.ndim == 3 and img.dtype == np.uint8:
        _blend_outlined(img, text, org, scale, colour, thick)
        return
    if outline:
        cv2.putText(img, text, org, _FONT, scale, (0, 0, 0), thick + OUTLINE_PX, cv2.LINE_AA)
    cv2.putText(img, text, org, _FONT, scale, colour, thick, cv2.LINE_AA)


@lru_cache(maxsize=64)
def _sprite(text: str, scale: float, colour: tuple, thick: int) -> tuple[np.ndarray, np.ndarray, int]:
    """Pre-rendered text (image, mask, baseline): big cue words change rarely, and
    anti-aliased putText at that size costs ~1 ms a frame."""
    (w, h), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thick)
    img = np.zeros((h + base + 4, w + 4, 3), np.uint8)
    cv2.putText(img, text, (2, h + 2), cv2.FONT_HERSHEY_SIMPLEX, scale, colour, thick, cv2.LINE_AA)
    return img, img.max(axis=2) > 0, h + 2


def blit_text(img: np.ndarray, text: str, org: tuple[int, int], scale: float, colour, thick: int) -> None:
    if not text.isascii():
        put_text(img, text, org, scale, colour, thick, outline=False)
        return
    spr, mask, top = _sprite(text, round(scale, 3), tuple(int(c) for c in colour), thick)
    x, y = org[0], org[1] - top
    h, w = spr.shape[:2]
    if x < 0 or y < 0 or y + h > img.shape[0] or x + w > img.shape[1]:
        put_text(img, text, org, scale, colour, thick, outline=False)
        return
    roi = img[y:y + h, x:x + w]
    roi[mask] = spr[mask]


def draw_skeleton(img: np.ndarray, lm: np.ndarray, side: int, colour=(255, 255, 255)) -> None:
    """Bones and joints of one body side (the side facing the camera)."""
    if side < 0 or not np.isfinite(lm[L.HIP[side], 0]):
        return
    t = max(2, img.shape[1] // 320)
    # every point rounded and checked once (drawn live for every frame)
    ok = np.isfinite(lm[:, :2]).all(axis=1).tolist()
    pts = np.round(np.where(np.isfinite(lm[:, :2]), lm[:, :2], 0.0)).astype(int).tolist()
    chain = L.side_chain(side)
    for a, b in chain:
        if ok[a] and ok[b]:
            cv2.line(img, pts[a], pts[b], colour, t, cv2.LINE_AA)
    for a, _ in chain:
        if ok[a]:
            cv2.circle(img, pts[a], t + 2, (0, 220, 255), -1, cv2.LINE_AA)


def draw_basket(img: np.ndarray, hip: np.ndarray, facing: float, tilt_deg: float, torso_px: float, colour) -> None:
    """The pelvis as a bowl whose rim is the PSIS->ASIS line, tipped by ``tilt_deg``.

    Anterior tilt lowers the front of the rim, like a basket tipping its contents
    forward.
    """
    if not (np.all(np.isfinite(hip)) and np.isfinite(torso_px) and np.isfinite(tilt_deg)):
        return
    f = 1.0 if facing >= 0 else -1.0
    a = np.deg2rad(tilt_deg)
    along = np.array([f * np.cos(a), np.sin(a)])      # rim, back -> front (y down: + = lower)
    down = np.array([-f * np.sin(a), np.cos(a)])      # perpendicular to the rim, into the bowl
    half, depth = 0.28 * torso_px, 0.22 * torso_px
    centre = hip + np.array([0.0, -0.12 * torso_px])
    rim_back, rim_front = centre - half * along, centre + half * along
    base_back = centre - 0.55 * half * along + depth * down
    base_front = centre + 0.55 * half * along + depth * down
    poly = np.array([rim_back, rim_front, base_front, base_back], np.int32)
    # Translucent fill, blended only inside the basket's bounding box (cheap on big frames).
    x0, y0 = np.maximum(poly.min(axis=0) - 2, 0)
    x1, y1 = np.minimum(poly.max(axis=0) + 3, [img.shape[1], img.shape[0]])
    if x1 > x0 and y1 > y0:
        roi = img[y0:y1, x0:x1]
        layer = roi.copy()
        cv2.fillPoly(layer, [poly - [x0, y0]], colour, cv2.LINE_AA)
        cv2.addWeighted(layer, 0.35, roi, 0.65, 0, dst=roi)
    t = max(2, img.shape[1] // 320)
    cv2.polylines(img, [poly], True, colour, t, cv2.LINE_AA)
    cv2.line(img, _pt(rim_back), _pt(rim_front), (255, 255, 255), t, cv2.LINE_AA)
    # Horizontal reference through the rim's centre.
    cv2.line(img, _pt(centre - 1.2 * half * np.array([1.0, 0.0])), _pt(centre + 1.2 * half * np.array([1.0, 0.0])),
             (200, 200, 200), 1, cv2.LINE_AA)


def draw_banner(img: np.ndarray, state: int, tilt_deg: float, dev_deg: float | None = None, extra: str = "") -> None:
    """Big cue text in the state's colour, with the tilt value underneath."""
    h, w = img.shape[:2]
    s = w / 640.0
    colour = cues.COLOURS[state]
    # A dark banner: its text needs no outline.
    cv2.rectangle(img, (0, 0), (w, int(78 * s)), (30, 30, 30), -1)
    blit_text(img, cues.CUES[state], (int(12 * s), int(44 * s)), 1.3 * s, colour, max(2, int(3 * s)))
    if np.isfinite(tilt_deg):
        line = f"tilt {tilt_deg:+.1f} deg"
        if dev_deg is not None and np.isfinite(dev_deg):
            line += f"  ({dev_deg:+.1f} from neutral)"
        put_text(img, line, (int(12 * s), int(70 * s)), 0.6 * s, (235, 235, 235), max(1, int(2 * s)), outline=False)
    if extra:
        put_text(img, extra, (int(w - 12 * s - cv2.getTextSize(extra, cv2.FONT_HERSHEY_SIMPLEX, 0.55 * s, 1)[0][0]), int(70 * s)),
              0.55 * s, (235, 235, 235), max(1, int(1.5 * s)), outline=False)


def draw_frame(img: np.ndarray, lm: np.ndarray, side: int, facing: float, torso_px: float,
               tilt_deg: float, state: int, dev_deg: float | None = None, extra: str = "") -> np.ndarray:
    """Full annotation of one frame (in place; also returned)."""
    if side >= 0:
        draw_skeleton(img, lm, side)
        draw_basket(img, lm[L.HIP[side], :2], facing, tilt_deg, torso_px, cues.COLOURS[state])
    draw_banner(img, state, tilt_deg, dev_deg, extra)
    return img


def strip_heights(width: int) -> tuple[int, int]:
    """Heights of the dark strips the live view adds above (cue banner) and below (gauge) the
    picture, so neither covers the head or the feet."""
    s = width / 640.0
    return int(78 * s) + 1, int(58 * s) + 1


def with_strips(img: np.ndarray) -> tuple[np.ndarray, int]:
    """The picture with the banner and gauge strips added; returns (canvas, top strip height)."""
    top, bottom = strip_heights(img.shape[1])
    return cv2.copyMakeBorder(img, top, bottom, 0, 0, cv2.BORDER_CONSTANT, value=(30, 30, 30)), top


def draw_gauge(img: np.ndarray, tilt: float, band: cues.Band) -> None:
    """Horizontal gauge: neutral band in green, posterior left, anterior right."""
    h, w = img.shape[:2]
    s = w / 640.0
    x0, x1, y = int(40 * s), int(w - 40 * s), int(h - 28 * s)
    span = 3.0 * band.half_width
    lo, hi = band.baseline - span, band.baseline + span

    def x_of(v: float) -> int:
        return int(x0 + (np.clip(v, lo, hi) - lo) / (hi - lo) * (x1 - x0))

    # A dark strip behind the gauge so its labels need no outline.
    cv2.rectangle(img, (0, y - int(30 * s)), (w, h), (30, 30, 30), -1)
    cv2.rectangle(img, (x0, y - int(8 * s)), (x1, y + int(8 * s)), (70, 70, 70), -1)
    cv2.rectangle(img, (x_of(band.baseline - band.half_width), y - int(8 * s)),
                  (x_of(band.baseline + band.half_width), y + int(8 * s)), (60, 170, 60), -1)
    blit_text(img, "too tucked", (x0, y - int(13 * s)), 0.45 * s, (235, 140, 30), 1)
    blit_text(img, "tipped forward", (x1 - int(110 * s), y - int(13 * s)), 0.45 * s, (80, 80, 235), 1)
    if np.isfinite(tilt):
        cx = x_of(tilt)
        cv2.circle(img, (cx, y), int(11 * s), (255, 255, 255), -1, cv2.LINE_AA)
        cv2.circle(img, (cx, y), int(11 * s), (0, 0, 0), 2, cv2.LINE_AA)


def draw_lines(img: np.ndarray, lines: list[str], top: int, colour=(255, 255, 255)) -> None:
    s = img.shape[1] / 640.0
    for k, line in enumerate(lines):
        put_text(img, line, (int(14 * s), int(top + 24 * s * (k + 1))), 0.6 * s, colour, max(1, int(2 * s)))


def frame_drawer(r: "FrameResults", k: int, extra: str = ""):
    """``draw(img, scale)`` that annotates a picture with row ``k`` of ``r`` (skeleton of the
    trusted side, the pelvis basket, the cue of that frame's state and its tilt)."""
    m = r.measures
    lm, side, facing, torso = r.lm[k].copy(), int(m.side[k]), float(m.facing[k]), float(m.torso_px[k])
    tilt, state, dev = float(r.tilt_smooth[k]), int(r.state[k]), float(r.tilt_smooth[k] - r.baseline[k])

    def draw(img: np.ndarray, scale: float = 1.0) -> None:
        pts = lm.copy()
        pts[:, :2] *= scale
        draw_frame(img, pts, side, facing, torso * scale, tilt, state, dev, extra=extra)

    return draw


def session_picture(frame: np.ndarray, r: "FrameResults", k: int, band: cues.Band, lines: list[str],
                    status: str = "", mirror: bool = False) -> np.ndarray:
    """The live / routine picture of row ``k``: the frame between a cue banner above and the
    gauge below (neither covers the body), mirrored if asked, with ``lines`` of text."""
    m = r.measures
    side, facing, torso = int(m.side[k]), float(m.facing[k]), float(m.torso_px[k])
    tilt, state = float(r.tilt_smooth[k]), int(r.state[k])
    img, top = with_strips(cv2.flip(frame, 1) if mirror else frame)
    pts = r.lm[k].copy()
    pts[:, 1] += top
    if mirror:  # a mirror: flip the picture, then draw text the right way round
        pts[:, 0] = frame.shape[1] - 1 - pts[:, 0]
        facing = -facing
    draw_frame(img, pts, side, facing, torso, tilt, state, tilt - band.baseline, extra=status)
    draw_gauge(img, tilt, band)
    if lines:
        draw_lines(img, lines, top, (255, 255, 255))
    return img
