"""RGB camera model: exposure integration (motion blur), photon/read noise, saturation, gain, gamma, 8 bit."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from had_tracker.data.synthetic.config import SyntheticConfig

ADC_LEVELS = 1023.0  # 10-bit ADC before the digital gain


def blur_samples(config: SyntheticConfig, max_speed_px_s: float) -> int:
    """Sub-exposure samples so that the scene moves at most ~1.5 px between consecutive samples."""
    n = int(np.ceil(max_speed_px_s * config.exposure_s / 1.5)) + 1
    return int(np.clip(n, 2, config.max_blur_samples))


def expose_frame(
    config: SyntheticConfig,
    render: Callable[[float, tuple[int, int, int, int] | None], np.ndarray],
    t_start_s: float,
    n_samples: int,
    rng: np.random.Generator,
    moving_rect: Callable[[np.ndarray], tuple[int, int, int, int]] | None = None,
    n_background: int = 1,
) -> np.ndarray:
    """One RGB frame exposed over ``[t_start_s, t_start_s + exposure_s]``: (H, W, 3) uint8 RGB.

    ``render(t, rect)`` returns linear radiance (h, w, 3) of the whole image (rect None) or a rect;
    ``moving_rect(times)`` bounds the sprites during the exposure: only that part is integrated with
    ``n_samples``, the rest (background only) with ``n_background`` samples. Without it the whole image
    gets ``n_samples``. Radiance 1 fills the well (auto-exposure at the nominal
    illumination). Electrons are clipped at the full well (over-exposure), with Poisson-like shot noise
    and Gaussian read noise; then a 10-bit ADC, digital gain, gamma and 8-bit quantisation. Low light
    therefore gives dark, noisy, low-contrast frames; bright HDR regions saturate.
    """
    times = t_start_s + (np.arange(n_samples) + 0.5) / n_samples * config.exposure_s
    rect = moving_rect(times) if moving_rect is not None else None
    if rect is None:
        radiance = render(float(times[0]), None)
        for t in times[1:]:
            radiance += render(float(t), None)
        radiance /= n_samples
    else:
        base_times = t_start_s + (np.arange(n_background) + 0.5) / n_background * config.exposure_s
        radiance = render(float(base_times[0]), None)
        for t in base_times[1:]:
            radiance += render(float(t), None)
        radiance /= n_background
        x0, y0, x1, y1 = rect
        if x1 > x0 and y1 > y0:
            acc = render(float(times[0]), rect)
            for t in times[1:]:
                acc += render(float(t), rect)
            radiance[y0:y1, x0:x1] = acc / n_samples
    electrons = radiance * config.rgb_full_well_e
    noise_sigma = np.sqrt(np.maximum(electrons, 0.0) + config.rgb_read_noise_e**2)
    electrons = electrons + noise_sigma * rng.standard_normal(electrons.shape).astype(np.float32)
    electrons = np.clip(electrons, 0.0, config.rgb_full_well_e)
    digital = np.round(electrons / config.rgb_full_well_e * ADC_LEVELS) / ADC_LEVELS
    value = np.clip(digital * config.rgb_gain, 0.0, 1.0)
    return np.round(255.0 * value ** (1.0 / config.rgb_gamma)).astype(np.uint8)
