"""Asset packs: the shipped pack's manifest and licences, loading, and building a pack from a folder."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from had_tracker.cli import main
from had_tracker.data.synthetic.photoreal.assets import (
    ALLOWED_LICENCES,
    MANIFEST,
    AssetPack,
    build_pack,
    default_pack_path,
    read_manifest,
)
from had_tracker.errors import ConfigError


def test_every_shipped_asset_is_listed_with_an_allowed_licence():
    root = default_pack_path()
    rows = read_manifest(root)
    listed = {r.file for r in rows}
    shipped = {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file() and p.name != MANIFEST}
    assert shipped == listed, f"unlisted: {sorted(shipped - listed)}, missing: {sorted(listed - shipped)}"
    for row in rows:
        assert row.licence in ALLOWED_LICENCES, row
        assert row.source, row
        if row.licence.startswith("CC-BY"):
            assert row.attribution, f"{row.file}: CC BY needs an attribution"
    total = sum((root / f).stat().st_size for f in listed)
    assert total < 20 * 2**20


def test_shipped_pack_loads_backgrounds_and_cutouts():
    pack = AssetPack(default_pack_path())
    assert len(pack.backgrounds) >= 10 and len(pack.objects) >= 8
    bg = pack.background(0)
    assert bg.ndim == 3 and bg.dtype == np.float32 and 0 < bg.min() and bg.max() < 1
    for i in range(len(pack.objects)):
        obj = pack.object(i)
        assert obj.alpha.shape == obj.rgb.shape[:2]
        # a real cut-out: partly transparent, with a solid core
        assert 0.15 < (obj.alpha > 0.5).mean() < 0.98, obj.name


def _write_source(folder):
    folder.mkdir()
    rng = np.random.default_rng(0)
    img = (rng.random((120, 160, 3)) * 255).astype(np.uint8)
    cv2.imwrite(str(folder / "street.jpg"), img)
    mask = np.zeros((120, 160), np.uint8)
    cv2.circle(mask, (80, 60), 30, 255, -1)
    cv2.imwrite(str(folder / "street_mask.png"), mask)
    cv2.imwrite(str(folder / "sky.png"), img[:, ::-1])


def test_assets_build_command_makes_a_usable_pack(tmp_path, capsys):
    _write_source(tmp_path / "src")
    code = main(
        ["assets", "build", "--from", str(tmp_path / "src"), "--out", str(tmp_path / "pack"), "--licence", "CC0-1.0"]
    )
    assert code == 0
    pack = AssetPack(tmp_path / "pack")
    assert len(pack.backgrounds) == 2 and len(pack.objects) == 1
    obj = pack.object(0)
    assert abs(obj.alpha.shape[0] - 61) <= 2 and abs((obj.alpha > 0.5).sum() - np.pi * 30**2) < 150
    assert {r.licence for r in read_manifest(tmp_path / "pack")} == {"CC0-1.0"}
    assert "1 objects" in capsys.readouterr().out
    # the pack drives a photoreal sequence
    from had_tracker.data.synthetic import SyntheticConfig, generate_sequence

    cfg = SyntheticConfig.from_preset(
        "photoreal", duration_s=0.15, width=64, height=48, target_size_px=(14.0, 18.0), rgb_fps=20.0,
        gt_hr_rate_hz=50.0, asset_pack=str(tmp_path / "pack"),
    )  # fmt: skip
    rec = generate_sequence(cfg, seed=0)
    assert rec.stats["target"] in ("objects/0001_street.png", "patch")  # sorted: sky.png is 0000


def test_assets_build_errors(tmp_path):
    with pytest.raises(ConfigError, match="not a folder"):
        build_pack(tmp_path / "missing", tmp_path / "pack", "CC0-1.0")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match="no images"):
        build_pack(tmp_path / "empty", tmp_path / "pack", "CC0-1.0")
    _write_source(tmp_path / "src")
    (tmp_path / "src" / "street_mask.png").unlink()
    with pytest.raises(ConfigError, match="no object cut-out"):
        build_pack(tmp_path / "src", tmp_path / "pack", "CC0-1.0")
    assert not (tmp_path / "pack").exists()
    with pytest.raises(ConfigError, match="no MANIFEST"):
        AssetPack(tmp_path / "src")


def test_assets_list_prints_the_manifest(capsys):
    assert main(["assets", "list"]) == 0
    out = capsys.readouterr().out
    assert "backgrounds/coffee.jpg" in out and "CC0-1.0" in out
