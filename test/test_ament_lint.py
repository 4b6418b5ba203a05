"""The standard ament lint tests; they need a ROS install and skip with a reason elsewhere."""

from __future__ import annotations

import pytest


@pytest.mark.flake8
@pytest.mark.linter
def test_flake8():
    main = pytest.importorskip("ament_flake8.main", reason="ament_flake8 is not installed (needs ROS 2)")
    rc, errors = main.main_with_errors(argv=[])
    assert rc == 0, f"Found {len(errors)} code style errors / warnings:\n" + "\n".join(errors)


@pytest.mark.pep257
@pytest.mark.linter
def test_pep257():
    main = pytest.importorskip("ament_pep257.main", reason="ament_pep257 is not installed (needs ROS 2)")
    rc = main.main(argv=[".", "test"])
    assert rc == 0, "Found code style errors / warnings"
