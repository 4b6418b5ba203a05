"""Asset packs for the photoreal scenes: background photographs and object cut-outs with alpha, plus a manifest.

A pack is a folder::

    MANIFEST.tsv            file, kind, source, licence, attribution (tab separated, header line)
    backgrounds/*.jpg|png   photographs used as background planes
    objects/*.png           RGBA cut-outs (alpha = the object's mask)
    videos/NAME/            optional video backgrounds: frame_00000.jpg ... and fps.txt (one row per folder)

The shipped pack (``had_tracker/resources/assets``) holds only CC0 / public-domain / CC BY images; a bigger
pack is built from a user's folder by :func:`build_pack` (``had-tracker assets build``) and never committed.
"""

from __future__ import annotations

import csv
import functools
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np

from had_tracker.errors import ConfigError

if TYPE_CHECKING:
    from had_tracker.data.synthetic.photoreal.video import FlowVideo

MANIFEST = "MANIFEST.tsv"
MANIFEST_FIELDS = ("file", "kind", "source", "licence", "attribution")
KINDS = ("background", "object", "video")
# Licences a shipped asset may carry (SPDX-like ids). CC BY needs the attribution column filled in.
ALLOWED_LICENCES = frozenset(
    {
        "CC0-1.0",
        "public-domain",
        "CC-BY-2.0",
        "CC-BY-3.0",
        "CC-BY-4.0",
        "BSD-2-Clause",
        "BSD-3-Clause",
        "MIT",
        "Apache-2.0",
    }
)
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")
VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".mpg", ".mpeg")
MAX_VIDEO_FRAMES = 150  # a pack keeps at most this many frames of a clip (it plays back and forth)
MAX_SIDE = 1024  # assets are stored no larger than this (the engine renders at most ~1280x720 views)


def default_pack_path() -> Path:
    """The asset pack shipped with the package."""
    return Path(__file__).resolve().parents[3] / "resources" / "assets"


@dataclass(frozen=True)
class ManifestEntry:
    """One row of a pack manifest."""

    file: str
    kind: str
    source: str
    licence: str
    attribution: str


def read_manifest(pack: str | Path) -> list[ManifestEntry]:
    """The manifest rows of ``pack``; ConfigError when it is missing or malformed."""
    path = Path(pack) / MANIFEST
    if not path.is_file():
        raise ConfigError(f"asset pack {pack}: no {MANIFEST}")
    with path.open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh, delimiter="\t")
        if tuple(reader.fieldnames or ()) != MANIFEST_FIELDS:
            raise ConfigError(f"{path}: header must be {' '.join(MANIFEST_FIELDS)}")
        rows = [ManifestEntry(**{k: (row[k] or "").strip() for k in MANIFEST_FIELDS}) for row in reader]
    for row in rows:
        if row.kind not in KINDS:
            raise ConfigError(f"{path}: {row.file}: kind must be one of {KINDS}, got {row.kind!r}")
    return rows


def write_manifest(pack: str | Path, rows: list[ManifestEntry]) -> Path:
    """Write ``rows`` as the pack's manifest (sorted by file)."""
    path = Path(pack) / MANIFEST
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, delimiter="\t", lineterminator="\n")
        writer.writerow(MANIFEST_FIELDS)
        for row in sorted(rows, key=lambda r: r.file):
            writer.writerow([getattr(row, k) for k in MANIFEST_FIELDS])
    return path


def srgb_to_linear(image_u8: np.ndarray) -> np.ndarray:
    """8-bit sRGB-ish values -> linear reflectance in [0.02, 0.95] (gamma 2.2, float32)."""
    v = (image_u8.astype(np.float32) / 255.0) ** 2.2
    return (0.02 + 0.93 * v).astype(np.float32)


@dataclass
class PhotoObject:
    """A cut-out: linear RGB reflectance (h, w, 3), alpha (h, w), the name of its file."""

    name: str
    rgb: np.ndarray
    alpha: np.ndarray


class AssetPack:
    """Backgrounds and objects of a pack folder, decoded lazily and cached (linear RGB float32)."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        rows = read_manifest(self.root)
        self.entries = rows
        self.backgrounds = sorted(r.file for r in rows if r.kind == "background")
        self.objects = sorted(r.file for r in rows if r.kind == "object")
        self.videos = sorted(r.file for r in rows if r.kind == "video")
        if not self.backgrounds:
            raise ConfigError(f"asset pack {self.root} has no background")
        if not self.objects:
            raise ConfigError(f"asset pack {self.root} has no object cut-out")
        for name in (*self.backgrounds, *self.objects):
            if not (self.root / name).is_file():
                raise ConfigError(f"asset pack {self.root}: {name} is listed in {MANIFEST} but missing")
        for name in self.videos:
            if not (self.root / name / "fps.txt").is_file():
                raise ConfigError(f"asset pack {self.root}: video {name} has no fps.txt")
        self._cache: dict[str, object] = {}

    def background(self, index: int) -> np.ndarray:
        """Background ``index`` (modulo the count) as linear RGB (H, W, 3) float32."""
        name = self.backgrounds[index % len(self.backgrounds)]
        if name not in self._cache:
            img = cv2.imread(str(self.root / name), cv2.IMREAD_COLOR)
            if img is None:
                raise ConfigError(f"asset pack {self.root}: cannot decode {name}")
            self._cache[name] = srgb_to_linear(cv2.cvtColor(img, cv2.COLOR_BGR2RGB))
        return self._cache[name]  # type: ignore[return-value]

    def object(self, index: int) -> PhotoObject:
        """Cut-out ``index`` (modulo the count), cropped to its alpha's extent."""
        name = self.objects[index % len(self.objects)]
        if name not in self._cache:
            img = cv2.imread(str(self.root / name), cv2.IMREAD_UNCHANGED)
            if img is None or img.ndim != 3 or img.shape[2] != 4:
                raise ConfigError(f"asset pack {self.root}: {name} must be an RGBA PNG")
            alpha = img[..., 3].astype(np.float32) / 255.0
            ys, xs = np.nonzero(alpha > 0.02)
            if len(xs) == 0:
                raise ConfigError(f"asset pack {self.root}: {name} has an empty alpha")
            crop = (slice(ys.min(), ys.max() + 1), slice(xs.min(), xs.max() + 1))
            rgb = srgb_to_linear(cv2.cvtColor(img[..., :3], cv2.COLOR_BGR2RGB))
            self._cache[name] = PhotoObject(name, np.ascontiguousarray(rgb[crop]), np.ascontiguousarray(alpha[crop]))
        return self._cache[name]  # type: ignore[return-value]

    def video(self, index: int) -> FlowVideo:
        """Video ``index`` (modulo the count) with its optical flows (computed once per process)."""
        from had_tracker.data.synthetic.photoreal.video import FlowVideo

        name = self.videos[index % len(self.videos)]
        if name not in self._cache:
            folder = self.root / name
            fps = float((folder / "fps.txt").read_text().split()[0])
            frames = []
            for path in sorted(folder.glob("frame_*.jpg")):
                img = cv2.imread(str(path), cv2.IMREAD_COLOR)
                if img is None:
                    raise ConfigError(f"asset pack {self.root}: cannot decode {path.name} of {name}")
                frames.append(srgb_to_linear(cv2.cvtColor(img, cv2.COLOR_BGR2RGB)))
            if len(frames) < 2 or fps <= 0:
                raise ConfigError(f"asset pack {self.root}: video {name} needs >= 2 frames and fps > 0")
            self._cache[name] = FlowVideo(np.stack(frames), fps)
        return self._cache[name]  # type: ignore[return-value]


@functools.lru_cache(maxsize=4)
def load_pack(path: str | None) -> AssetPack:
    """The pack at ``path`` (None = the shipped one), cached per process."""
    return AssetPack(path if path else default_pack_path())


# ---------------------------------------------------------------------- building a pack from a folder
def _fit(image: np.ndarray, max_side: int) -> np.ndarray:
    h, w = image.shape[:2]
    s = max_side / max(h, w)
    return cv2.resize(image, (round(w * s), round(h * s)), interpolation=cv2.INTER_AREA) if s < 1 else image


def grabcut_alpha(
    image_bgr: np.ndarray,
    rect: tuple[int, int, int, int] | None = None,
    iters: int = 5,
    sure_fg: tuple[int, int, int, int] | None = None,
) -> np.ndarray:
    """A soft alpha (float32 in [0, 1]) of the object inside ``rect`` (x, y, w, h; default: central 80 %).

    ``sure_fg`` (x, y, w, h) marks a part known to be the object (e.g. a face GrabCut would drop).
    """
    h, w = image_bgr.shape[:2]
    if rect is None:
        rect = (int(0.1 * w), int(0.1 * h), int(0.8 * w), int(0.8 * h))
    mask = np.zeros((h, w), np.uint8)
    bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    if sure_fg is None:
        cv2.grabCut(image_bgr, mask, rect, bgd, fgd, iters, cv2.GC_INIT_WITH_RECT)
    else:
        x, y, rw, rh = rect
        mask[y : y + rh, x : x + rw] = cv2.GC_PR_FGD
        fx, fy, fw, fh = sure_fg
        mask[fy : fy + fh, fx : fx + fw] = cv2.GC_FGD
        cv2.grabCut(image_bgr, mask, None, bgd, fgd, iters, cv2.GC_INIT_WITH_MASK)
    fg = np.isin(mask, (cv2.GC_FGD, cv2.GC_PR_FGD)).astype(np.uint8)
    # Keep the components of at least 10 % of the largest (drops specks), close small gaps, soften ~1 px.
    n, labels, stats, _ = cv2.connectedComponentsWithStats(fg, 8)
    if n > 1:
        areas = stats[1:, cv2.CC_STAT_AREA]
        fg = np.isin(labels, 1 + np.flatnonzero(areas >= 0.1 * areas.max())).astype(np.uint8)
    fg = cv2.morphologyEx(fg, cv2.MORPH_CLOSE, np.ones((5, 5), np.uint8))
    return cv2.GaussianBlur(fg.astype(np.float32), (0, 0), 0.8)


def rgba_cutout(image_bgr: np.ndarray, alpha: np.ndarray, pad: int = 2) -> np.ndarray:
    """BGRA uint8 of ``image_bgr`` cropped to ``alpha``'s extent (+ ``pad``) with ``alpha`` as the 4th channel."""
    ys, xs = np.nonzero(alpha > 0.02)
    if len(xs) == 0:
        raise ConfigError("empty mask")
    y0, y1 = max(ys.min() - pad, 0), min(ys.max() + pad + 1, alpha.shape[0])
    x0, x1 = max(xs.min() - pad, 0), min(xs.max() + pad + 1, alpha.shape[1])
    a = np.round(np.clip(alpha[y0:y1, x0:x1], 0, 1) * 255).astype(np.uint8)
    return np.dstack([image_bgr[y0:y1, x0:x1], a])


def _write_video(path: Path, folder: Path, max_side: int) -> bool:
    """Frames of ``path`` as JPEGs + fps.txt in ``folder``; False when OpenCV cannot read 2 frames of it."""
    cap = cv2.VideoCapture(str(path))
    fps = cap.get(cv2.CAP_PROP_FPS) or 0.0
    frames = []
    while len(frames) < MAX_VIDEO_FRAMES:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(_fit(frame, max_side))
    cap.release()
    if len(frames) < 2 or not fps > 0:
        return False
    folder.mkdir(parents=True)
    for k, frame in enumerate(frames):
        cv2.imwrite(str(folder / f"frame_{k:05d}.jpg"), frame, [cv2.IMWRITE_JPEG_QUALITY, 88])
    (folder / "fps.txt").write_text(f"{fps:.6f}\n")
    return True


def build_pack(
    source: str | Path,
    out: str | Path,
    licence: str,
    attribution: str = "",
    source_note: str | None = None,
    cutout: str = "mask",
    max_side: int = MAX_SIDE,
    overwrite: bool = False,
) -> Path:
    """Build a pack at ``out`` from the images in ``source`` (recursively); returns ``out``.

    Every image becomes a background, every video (``VIDEO_SUFFIXES``, read by OpenCV; at most
    ``MAX_VIDEO_FRAMES`` frames) a video background. An image ``NAME.ext`` with a mask ``NAME_mask.png`` (non-zero =
    object) beside it, or an RGBA PNG with a non-trivial alpha, also becomes an object cut-out;
    ``cutout="grabcut"`` cuts an object out of the central 80 % of every other image with GrabCut.
    ``licence``/``attribution`` go into every manifest row (one folder = one licence).
    """
    source, out = Path(source), Path(out)
    if not source.is_dir():
        raise ConfigError(f"{source} is not a folder")
    if cutout not in ("mask", "grabcut"):
        raise ConfigError(f"cutout must be 'mask' or 'grabcut', got {cutout!r}")
    if out.exists() and not overwrite:
        raise ConfigError(f"{out} already exists (use --overwrite)")
    images = sorted(p for p in source.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and not p.stem.endswith("_mask"))
    videos = sorted(p for p in source.rglob("*") if p.suffix.lower() in VIDEO_SUFFIXES)
    if not images:
        raise ConfigError(f"no images ({', '.join(IMAGE_SUFFIXES)}) under {source}")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        (tmp / "backgrounds").mkdir()
        (tmp / "objects").mkdir()
        rows: list[ManifestEntry] = []
        for i, path in enumerate(images):
            raw = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
            if raw is None:
                continue  # not decodable: skipped (reported below by the count)
            if raw.ndim == 2:
                raw = cv2.cvtColor(raw, cv2.COLOR_GRAY2BGR)
            bgr = raw[..., :3] if raw.shape[2] >= 3 else cv2.cvtColor(raw[..., 0], cv2.COLOR_GRAY2BGR)
            if raw.dtype != np.uint8:
                bgr = cv2.normalize(bgr, None, 0, 255, cv2.NORM_MINMAX).astype(np.uint8)
            stem = f"{i:04d}_{path.stem}"[:60]
            src_note = source_note or str(path.relative_to(source))
            bg_name = f"backgrounds/{stem}.jpg"
            cv2.imwrite(str(tmp / bg_name), _fit(bgr, max_side), [cv2.IMWRITE_JPEG_QUALITY, 88])
            rows.append(ManifestEntry(bg_name, "background", src_note, licence, attribution))
            alpha = None
            mask_path = path.with_name(f"{path.stem}_mask.png")
            if mask_path.is_file():
                m = cv2.imread(str(mask_path), cv2.IMREAD_GRAYSCALE)
                if m is not None and m.shape == bgr.shape[:2]:
                    alpha = (m > 0).astype(np.float32)
            elif raw.ndim == 3 and raw.shape[2] == 4 and raw[..., 3].min() < 250:
                alpha = raw[..., 3].astype(np.float32) / 255.0
            elif cutout == "grabcut":
                alpha = grabcut_alpha(bgr)
            if alpha is not None and (alpha > 0.5).sum() >= 64:
                obj_name = f"objects/{stem}.png"
                cv2.imwrite(str(tmp / obj_name), _fit(rgba_cutout(bgr, alpha), max_side // 2))
                rows.append(ManifestEntry(obj_name, "object", src_note, licence, attribution))
        for i, path in enumerate(videos):
            name = f"videos/{i:04d}_{path.stem}"[:60]
            if _write_video(path, tmp / name, max_side):
                rows.append(ManifestEntry(name, "video", source_note or str(path.relative_to(source)), licence,
                                          attribution))  # fmt: skip
        write_manifest(tmp, rows)
        if not any(r.kind == "object" for r in rows):
            raise ConfigError(
                f"no object cut-out in {source}: add NAME_mask.png beside images, RGBA PNGs, or use --cutout grabcut"
            )
        if out.exists():
            shutil.rmtree(out)
        tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out
