"""MediaPipe BlazePose landmark indices and skeleton edges used by this package."""
from __future__ import annotations

NOSE = 0
EAR = (7, 8)  # (left, right)
SHOULDER = (11, 12)
ELBOW = (13, 14)
WRIST = (15, 16)
INDEX = (19, 20)   # index finger tips
HIP = (23, 24)
KNEE = (25, 26)
ANKLE = (27, 28)
HEEL = (29, 30)
FOOT = (31, 32)  # foot index (toe tip)
N_LANDMARKS = 33

# One side's chain, drawn as the "trusted side" skeleton: ear-shoulder-elbow-wrist,
# shoulder-hip-knee-ankle-heel-toe.
def side_chain(side: int) -> list[tuple[int, int]]:
    """Skeleton edges of one body side (0 = left, 1 = right)."""
    e, s, el, w = EAR[side], SHOULDER[side], ELBOW[side], WRIST[side]
    h, k, a, he, f = HIP[side], KNEE[side], ANKLE[side], HEEL[side], FOOT[side]
    return [(e, s), (s, el), (el, w), (s, h), (h, k), (k, a), (a, he), (he, f), (a, f)]
