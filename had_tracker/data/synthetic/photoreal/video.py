"""Real video backgrounds: a clip's frames interpolated at any time by optical flow (OpenCV DIS).

Between frames ``k`` and ``k+1`` (forward flow ``F`` k -> k+1, backward flow ``B`` k+1 -> k, both at the
frames' pixels) the frame at fraction ``a`` is ``(1 - a) I_k(x - a F(x)) + a I_{k+1}(x - (1 - a) B(x))``:
each neighbour is moved along its flow to the intermediate time and the two are blended, so the event
model sees edges move smoothly instead of cross-fading. The clip plays forwards then backwards (ping-pong)
when the sequence is longer than the clip.
"""

from __future__ import annotations

import cv2
import numpy as np

from had_tracker.data.synthetic.textures import luminance


class FlowVideo:
    """A clip (linear RGB frames at ``fps``) that renders at any time; flows are computed once here."""

    def __init__(self, frames: np.ndarray, fps: float) -> None:
        if frames.ndim != 4 or frames.shape[0] < 2 or frames.shape[3] != 3:
            raise ValueError(f"a video needs >= 2 RGB frames (N, H, W, 3), got {frames.shape}")
        self.frames = np.ascontiguousarray(frames, dtype=np.float32)
        self.gray = np.stack([luminance(f) for f in self.frames])
        self.fps = float(fps)
        dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
        u8 = [np.clip(255.0 * g ** (1 / 2.2), 0, 255).astype(np.uint8) for g in self.gray]
        self.forward = [dis.calc(u8[k], u8[k + 1], None) for k in range(len(u8) - 1)]
        self.backward = [dis.calc(u8[k + 1], u8[k], None) for k in range(len(u8) - 1)]
        h, w = self.gray.shape[1:]
        self._grid = np.stack(np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32)), axis=2)
        self._last: tuple[float, bool, np.ndarray] | None = None

    @property
    def shape(self) -> tuple[int, int]:
        """(height, width) of the frames."""
        return self.gray.shape[1], self.gray.shape[2]

    def position(self, t: float) -> tuple[int, float]:
        """(frame k, fraction a) shown at time ``t`` [s] (ping-pong over the clip)."""
        n = len(self.frames)
        u = (t * self.fps) % (2 * (n - 1))
        if u > n - 1:
            u = 2 * (n - 1) - u
        k = min(int(np.floor(u)), n - 2)
        return k, float(u - k)

    def frame(self, t: float, gray: bool = False) -> np.ndarray:
        """The frame at time ``t``: (H, W) luminance when ``gray`` else (H, W, 3), linear, float32."""
        if self._last is not None and self._last[0] == t and self._last[1] == gray:
            return self._last[2]
        k, a = self.position(t)
        src = self.gray if gray else self.frames
        if a == 0.0:
            out = src[k]
        else:
            map_a = self._grid - a * self.forward[k]
            map_b = self._grid - (1.0 - a) * self.backward[k]
            ia = cv2.remap(src[k], map_a, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)
            ib = cv2.remap(src[k + 1], map_b, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)
            out = (1.0 - a) * ia + a * ib
        self._last = (t, gray, out)
        return out
