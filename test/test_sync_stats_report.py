"""Issue 16 item 6: drops counted outside SyncStats (decoders, window policy) reach stats.as_dict() and the report."""

from __future__ import annotations

import numpy as np

from had_tracker.events.container import Events
from had_tracker.events.decoders import EventPacketData
from had_tracker.events.encoders import Evt3Encoder
from had_tracker.sync.synchronizer import DECODER_COUNTERS, SyncConfig, Synchronizer

W, H = 64, 48
HOST = 1_700_000_000_000_000_000


def test_decoder_counters_and_skipped_windows_are_in_the_stats_dict():
    sync = Synchronizer(SyncConfig(rate_hz=1000, max_gap_windows=10))
    assert {f"decoder_{n}" for n in DECODER_COUNTERS} | {"skipped_windows"} <= set(sync.stats.as_dict())
    enc = Evt3Encoder()
    # The packet declares a smaller sensor than its events use: events at x >= 32 are outside its geometry.
    t = np.arange(1_000_000, 2_000_000, 10_000, dtype=np.int64)
    ev = Events.from_arrays(t, np.arange(len(t)) % W, np.arange(len(t)) % H, np.zeros(len(t)), W, H)
    unknown = np.array([0x7000, 0x9999], "<u2").view(np.uint8)  # two words of unknown codes
    payload = np.concatenate([np.asarray(enc.encode(ev), np.uint8).reshape(-1), unknown])
    sync.add_event_packet(EventPacketData("evt3", 32, H, payload, 0, 0, HOST + 1_000_000))
    later = ev.shift_time(1_000_000_000)  # 1 s of silence: more than max_gap_windows windows skipped
    sync.add_event_packet(EventPacketData("evt3", 32, H, enc.encode(later), 0, 1, HOST + 1_001_000_000))
    sync.poll()
    sync.flush()
    stats = sync.stats.as_dict()
    outside = int(np.count_nonzero(ev.x >= 32))
    assert stats["decoder_dropped_out_of_geometry"] == 2 * outside
    assert stats["decoder_unknown_codes"] >= 1
    assert stats["skipped_windows"] > 900


def test_the_replay_report_shows_the_synchronizer_drops_per_reason(tmp_path):
    from had_tracker.evaluation.baselines import OpenCVBaseline
    from had_tracker.evaluation.replay import replay_bag
    from had_tracker.evaluation.sequence_bag import write_sequence_bag
    from test.test_eval_replay import host_clock_sequence

    bag = write_sequence_bag(host_clock_sequence(), tmp_path / "bag")
    config = SyncConfig(max_window_events=2)  # forces counted window_cap drops
    report = replay_bag(bag, tmp_path / "out", trackers={"MIL (rgb)": OpenCVBaseline()}, sync_config=config)
    assert report["sync"]["drop_window_cap"] > 0
    assert "decoder_dropped_out_of_geometry" in report["sync"] and "skipped_windows" in report["sync"]
    text = (tmp_path / "out" / "report.md").read_text()
    assert f"- drop_window_cap: {report['sync']['drop_window_cap']}" in text
    assert "- decoder_skipped_unsynced:" in text


def test_the_replay_report_counts_events_the_tracker_history_dropped(tmp_path):
    from had_tracker.evaluation.replay import replay_bag
    from had_tracker.evaluation.sequence_bag import write_sequence_bag
    from had_tracker.tracking.history import EventHistory
    from test.test_eval_replay import TextureBoxTracker, host_clock_sequence

    class HistoryTracker(TextureBoxTracker):
        def __init__(self):
            self.history = EventHistory(10**9, max_events=5)

        def push(self, sample):
            self.history.push(sample.window_start_ns, sample.window_end_ns, sample.events)

        def update(self, sample):
            self.push(sample)
            return super().update(sample)

    bag = write_sequence_bag(host_clock_sequence(), tmp_path / "bag")
    tracker = HistoryTracker()
    report = replay_bag(bag, tmp_path / "out", trackers={"boxes": tracker})
    assert report["replay"]["history_dropped_boxes"] == tracker.history.dropped > 0
