"""The ament lint tests (they need a ROS install and skip with a reason elsewhere), and the same checks through
plain flake8 and pydocstyle so that CI runs them too. Settings agree with ruff.toml: ``.flake8`` for flake8,
``PEP257_IGNORE`` for the docstring rules, on the code ruff checks for docstrings (``had_tracker``, ``setup.py``).
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import pytest

from .conftest import REPO_ROOT

FLAKE8_CONFIG = REPO_ROOT / ".flake8"
# ament's own ignores (missing docstrings; D203/D212) plus those of ruff.toml (D213, D401, D404, D406, D407, D413, D417)
PEP257_IGNORE = [
    "D100", "D101", "D102", "D103", "D104", "D105", "D106", "D107",
    "D203", "D212", "D213", "D401", "D404", "D406", "D407", "D413", "D417",
]  # fmt: skip
PEP257_PATHS = [str(REPO_ROOT / "had_tracker"), str(REPO_ROOT / "setup.py")]


@pytest.mark.flake8
@pytest.mark.linter
def test_flake8():
    main = pytest.importorskip("ament_flake8.main", reason="ament_flake8 is not installed (needs ROS 2)")
    rc, errors = main.main_with_errors(argv=["--config", str(FLAKE8_CONFIG), str(REPO_ROOT)])
    assert rc == 0, f"Found {len(errors)} code style errors / warnings:\n" + "\n".join(errors)


@pytest.mark.pep257
@pytest.mark.linter
def test_pep257():
    main = pytest.importorskip("ament_pep257.main", reason="ament_pep257 is not installed (needs ROS 2)")
    rc = main.main(argv=["--ignore", *PEP257_IGNORE, "--", *PEP257_PATHS])
    assert rc == 0, "Found code style errors / warnings"


@pytest.mark.linter
def test_flake8_and_pydocstyle_with_the_ament_settings():
    """What the two ament tests check, run by plain flake8 and pydocstyle (test extras) where ROS is absent."""
    if importlib.util.find_spec("flake8") is None or importlib.util.find_spec("pydocstyle") is None:
        pytest.skip("flake8/pydocstyle are not installed (pip install '.[test]')")
    flake8 = subprocess.run(
        [sys.executable, "-m", "flake8", "--config", str(FLAKE8_CONFIG), "."],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert flake8.returncode == 0, flake8.stdout[-4000:] + flake8.stderr[-2000:]
    pep257 = subprocess.run(
        [sys.executable, "-m", "pydocstyle", "--ignore=" + ",".join(PEP257_IGNORE), *PEP257_PATHS],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert pep257.returncode == 0, pep257.stdout[-4000:] + pep257.stderr[-2000:]
