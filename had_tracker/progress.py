"""Progress bars for long CLI steps: tqdm on stderr, off with ``enabled=False`` (``--quiet``) or when stderr is no TTY."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import Any


def progress_bar(
    iterable: Iterable[Any] | None = None,
    *,
    total: int | None = None,
    desc: str = "",
    unit: str = "it",
    enabled: bool = True,
    mininterval: float = 0.5,
) -> Any:
    """A ``tqdm`` bar on stderr; a silent one when ``enabled`` is False or stderr is not a terminal."""
    from tqdm import tqdm

    # disable=None is tqdm's own "off when not a TTY"; it still counts, so callers may read bar.n.
    return tqdm(
        iterable,
        total=total,
        desc=desc,
        unit=unit,
        file=sys.stderr,
        disable=None if enabled else True,
        mininterval=mininterval,
        dynamic_ncols=True,
    )


__all__ = ["progress_bar"]
