"""ROS message I/O without ROS: typestore registration, bag reading/writing, duck-typed conversions."""
