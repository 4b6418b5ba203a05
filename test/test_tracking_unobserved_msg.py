"""The tracker's unobserved flag travels through had_msgs/Track (rosbags typestore; the node uses the same code)."""

from __future__ import annotations

import numpy as np
import pytest

from had_tracker.ros_io.event_window import make_track_msg, track_msg_to_result
from had_tracker.ros_io.typestore import get_typestore
from had_tracker.tracking.result import TrackResult, TrackState


@pytest.mark.parametrize("unobserved", [True, False])
def test_unobserved_flag_round_trips_through_the_track_message(unobserved):
    result = TrackResult(np.array([1.0, 2.0, 3.0, 4.0]), 0.5, TrackState.TRACKING, 0, 5_000_000, 0, 1.0,
                         unobserved=unobserved)  # fmt: skip
    msg = make_track_msg(get_typestore(), result)
    assert msg.unobserved is unobserved
    assert track_msg_to_result(msg).unobserved is unobserved
