"""Scenes and image quality for rendered bodies (numpy + OpenCV only).

`compose` puts an RGBA body render on a background (`variety.BACKGROUNDS`) and
`degrade` applies one image degradation (`variety.DEGRADATIONS`) to a whole clip.
Real photographs come from scikit-image's bundled sample images (shipped in its
wheel, nothing downloaded); clutter is procedural (shelves, frames, furniture).
"""
from __future__ import annotations

import numpy as np

_PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "immunohistochemistry", "motorcycle_left",
           "retina", "colorwheel", "logo", "cat", "brick", "grass", "gravel", "camera", "text", "coins",
           "moon", "page")


def _photo(rng: np.random.Generator, w: int, h: int) -> np.ndarray:
    import cv2
    from skimage import data

    names = [n for n in _PHOTOS if hasattr(data, n)]
    for _ in range(8):
        name = names[rng.integers(len(names))]
        try:
            img = np.asarray(getattr(data, name)())
        except Exception:  # an image the installed wheel does not ship: try another
            continue
        if img.ndim == 2:
            img = np.repeat(img[..., None], 3, 2)
        img = img[..., :3].astype(np.uint8)
        ih, iw = img.shape[:2]
        # random crop with the target aspect, then resize
        ar = w / h
        cw = int(min(iw, ih * ar) * rng.uniform(0.6, 1.0))
        ch = int(cw / ar)
        x0, y0 = rng.integers(0, iw - cw + 1), rng.integers(0, ih - ch + 1)
        crop = img[y0:y0 + ch, x0:x0 + cw]
        if rng.uniform() < 0.5:
            crop = crop[:, ::-1]
        return cv2.resize(np.ascontiguousarray(crop), (w, h), interpolation=cv2.INTER_LINEAR)
    return np.full((h, w, 3), 128, np.uint8)


def _clutter(rng: np.random.Generator, w: int, h: int) -> np.ndarray:
    import cv2

    base = rng.uniform(60, 220, 3)
    img = np.empty((h, w, 3), np.float32)
    img[:] = base
    s = max(w, h) / 640
    for _ in range(int(rng.integers(12, 40))):
        c = tuple(float(v) for v in rng.uniform(0, 255, 3))
        kind = rng.integers(4)
        x, y = int(rng.uniform(0, w)), int(rng.uniform(0, h))
        if kind == 0:   # furniture / box
            cv2.rectangle(img, (x, y), (x + int(rng.uniform(20, 250) * s), y + int(rng.uniform(20, 250) * s)), c, -1)
        elif kind == 1:  # shelf / door frame
            cv2.line(img, (x, y), (x + int(rng.uniform(-300, 300) * s), y + int(rng.uniform(-30, 30) * s)), c,
                     int(rng.uniform(2, 14) * s))
        elif kind == 2:  # lamp / plant
            cv2.circle(img, (x, y), int(rng.uniform(8, 70) * s), c, -1)
        else:            # picture frame
            cv2.rectangle(img, (x, y), (x + int(rng.uniform(30, 160) * s), y + int(rng.uniform(30, 160) * s)), c,
                          int(rng.uniform(2, 8) * s))
    img += rng.normal(0, 6, img.shape).astype(np.float32)
    return np.clip(cv2.GaussianBlur(img, (0, 0), 1.0 * s), 0, 255).astype(np.uint8)


def background(kind: str, rng: np.random.Generator, w: int, h: int) -> np.ndarray:
    """A (h, w, 3) uint8 background of the given kind."""
    if kind == "photo":
        return _photo(rng, w, h)
    if kind == "clutter":
        return _clutter(rng, w, h)
    col = rng.uniform(50, 230, 3)
    if kind == "gradient":
        g = np.linspace(rng.uniform(0.6, 1.0), rng.uniform(0.6, 1.3), h)[:, None, None]
        return np.clip(col * g * np.ones((1, w, 1)), 0, 255).astype(np.uint8)
    img = np.ones((h, w, 3)) * col + rng.normal(0, rng.uniform(0, 6), (h, w, 3))
    return np.clip(img, 0, 255).astype(np.uint8)


def compose(rgba: np.ndarray, bg: np.ndarray, floor_row: int | None, floor_rgb, person_gain: float = 1.0,
            bg_gain: float = 1.0) -> np.ndarray:
    """Body over background (alpha blend); a floor from ``floor_row`` down unless None."""
    out = bg.astype(np.float32) * bg_gain
    if floor_row is not None and 0 <= floor_row < out.shape[0]:
        out[floor_row:] = 0.5 * out[floor_row:] + 0.5 * np.asarray(floor_rgb, np.float32)
    a = rgba[..., 3:4].astype(np.float32) / 255.0
    out = out * (1 - a) + rgba[..., :3].astype(np.float32) * person_gain * a
    return np.clip(out, 0, 255).astype(np.uint8)


def degrade(frames: list[np.ndarray], kind: str, rng: np.random.Generator, fps: float) -> list[np.ndarray]:
    """Apply one image degradation to a clip of RGB uint8 frames."""
    import cv2

    if kind in ("clean", "backlight"):   # backlight is applied in `compose` (gains)
        return frames
    if kind == "h264":
        return _h264(frames, fps, rng)
    out = []
    if kind == "noise":
        sd = rng.uniform(6, 14)
        for f in frames:
            n = rng.normal(0, sd, f.shape) + rng.normal(0, sd / 2, f.shape[:2])[..., None]
            out.append(np.clip(f + n, 0, 255).astype(np.uint8))
    elif kind == "blur":
        h = frames[0].shape[0]
        if rng.uniform() < 0.5:
            sig = rng.uniform(1.0, 2.5) * h / 480
            out = [cv2.GaussianBlur(f, (0, 0), sig) for f in frames]
        else:   # motion blur along a random direction
            n = max(3, int(rng.uniform(5, 13) * h / 480)) | 1
            k = np.zeros((n, n), np.float32)
            k[n // 2] = 1.0 / n
            rot = cv2.getRotationMatrix2D((n / 2 - 0.5, n / 2 - 0.5), float(rng.uniform(0, 180)), 1.0)
            k = cv2.warpAffine(k, rot, (n, n))
            k /= max(k.sum(), 1e-6)
            out = [cv2.filter2D(f, -1, k) for f in frames]
    elif kind == "lowlight":
        gain, gamma, sd = rng.uniform(0.15, 0.3), rng.uniform(1.0, 1.4), rng.uniform(3, 7)
        for f in frames:
            x = 255.0 * (gain * f / 255.0) ** gamma
            x = x + rng.normal(0, sd, f.shape)
            out.append(np.clip(np.round(x), 0, 255).astype(np.uint8))
    else:
        raise ValueError(f"unknown degradation {kind!r}")
    return out


def _h264(frames: list[np.ndarray], fps: float, rng: np.random.Generator) -> list[np.ndarray]:
    """Encode and decode with libx264 at a webcam-like low bitrate (imageio-ffmpeg's binary)."""
    import imageio_ffmpeg

    h, w = frames[0].shape[:2]
    # ~0.03-0.06 bits per pixel at 30 fps: 640x480 -> 280-550 kbit/s
    kbps = int(w * h * 30 * rng.uniform(0.03, 0.06) / 1000)
    import os
    import tempfile

    fd, path = tempfile.mkstemp(suffix=".mp4")
    os.close(fd)
    try:
        wr = imageio_ffmpeg.write_frames(path, (w, h), fps=fps, codec="libx264", bitrate=f"{kbps}k",
                                         pix_fmt_out="yuv420p", macro_block_size=1,
                                         output_params=["-preset", "veryfast", "-g", "30"], ffmpeg_log_level="error")
        wr.send(None)
        for f in frames:
            wr.send(np.ascontiguousarray(f))
        wr.close()
        rd = imageio_ffmpeg.read_frames(path)
        meta = next(rd)
        ow, oh = meta["size"]
        out = [np.frombuffer(b, np.uint8).reshape(oh, ow, 3).copy() for b in rd]
    finally:
        os.remove(path)
    return out[: len(frames)]
