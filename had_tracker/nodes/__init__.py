"""ROS 2 (rclpy) nodes: thin adapters over the core.

Need rclpy: ``synchronizer_node``, ``tracker_node``, ``pipeline_node`` (both in one process),
``evaluator_node`` (replay evaluation) and their shared ``common`` plumbing. Plain Python, importable and
tested without ROS: ``session`` (target initialisation + per-window updates), ``debug_view`` (the debug
image) and ``replay_collector`` (the evaluator's report). Parameters: :mod:`had_tracker.parameters`.
"""
