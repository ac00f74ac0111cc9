"""Read an X Window Dump (from `xwd -root`) into a BGR numpy image (24/32-bit TrueColor only)."""
from __future__ import annotations

import struct

import numpy as np


def read_xwd(data: bytes) -> np.ndarray:
    fields = struct.unpack(">25I", data[:100])
    header_size, _, _, _, width, height, _, byte_order, _, _, _, bpp, bpl = fields[:13]
    ncolors = fields[19]
    offset = header_size + 12 * ncolors
    if bpp not in (24, 32):
        raise ValueError(f"unsupported xwd depth {bpp}")
    raw = np.frombuffer(data, np.uint8, count=bpl * height, offset=offset).reshape(height, bpl)
    px = raw[:, : width * (bpp // 8)].reshape(height, width, bpp // 8)
    # byte_order 0 = LSBFirst: bytes are B, G, R(, pad)
    return np.ascontiguousarray(px[..., :3] if byte_order == 0 else px[..., -3:][..., ::-1])
