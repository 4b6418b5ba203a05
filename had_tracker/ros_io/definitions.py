"""Message definitions that the rosbags stores do not ship: event-camera types and vision_msgs 4.x.

Text copied field-for-field from the upstream ``.msg`` files (event_camera_msgs, event_array_msgs,
dvs_msgs and dv_ros2_msgs ROS 2 ports, vision_msgs 4.1); comments dropped. had_msgs are *not* here:
they are parsed from ``had_msgs/msg/*.msg`` at run time (single source of truth).
"""

EVENT_PACKET = """
std_msgs/Header header
uint32 height
uint32 width
uint64 seq
uint64 time_base
string encoding
bool is_bigendian
uint8[] events
"""

DVS_EVENT = """
uint16 x
uint16 y
builtin_interfaces/Time ts
bool polarity
"""

DVS_EVENT_ARRAY = """
std_msgs/Header header
uint32 height
uint32 width
{pkg}/Event[] events
"""

DV_TRIGGER = """
int8 TIMESTAMP_RESET=0
int8 EXTERNAL_SIGNAL_RISING_EDGE=1
int8 EXTERNAL_SIGNAL_FALLING_EDGE=2
int8 EXTERNAL_SIGNAL_PULSE=3
int8 EXTERNAL_GENERATOR_RISING_EDGE=4
int8 EXTERNAL_GENERATOR_FALLING_EDGE=5
int8 APS_FRAME_START=6
int8 APS_FRAME_END=7
int8 APS_EXPOSURE_START=8
int8 APS_EXPOSURE_END=9
int8 type
builtin_interfaces/Time timestamp
"""

VISION_MSGS = {
    "vision_msgs/msg/Point2D": "float64 x\nfloat64 y\n",
    "vision_msgs/msg/Pose2D": "vision_msgs/Point2D position\nfloat64 theta\n",
    "vision_msgs/msg/BoundingBox2D": "vision_msgs/Pose2D center\nfloat64 size_x\nfloat64 size_y\n",
    "vision_msgs/msg/ObjectHypothesis": "string class_id\nfloat64 score\n",
    "vision_msgs/msg/ObjectHypothesisWithPose": (
        "vision_msgs/ObjectHypothesis hypothesis\ngeometry_msgs/PoseWithCovariance pose\n"
    ),
    "vision_msgs/msg/Detection2D": (
        "std_msgs/Header header\nvision_msgs/ObjectHypothesisWithPose[] results\n"
        "vision_msgs/BoundingBox2D bbox\nstring id\n"
    ),
    "vision_msgs/msg/Detection2DArray": "std_msgs/Header header\nvision_msgs/Detection2D[] detections\n",
    "vision_msgs/msg/BoundingBox2DArray": "std_msgs/Header header\nvision_msgs/BoundingBox2D[] boxes\n",
}


def external_definitions() -> dict[str, str]:
    """Type name -> message definition text for every non-had type we register."""
    defs = {
        "event_camera_msgs/msg/EventPacket": EVENT_PACKET,
        "event_array_msgs/msg/EventArray": EVENT_PACKET,
        "dvs_msgs/msg/Event": DVS_EVENT,
        "dvs_msgs/msg/EventArray": DVS_EVENT_ARRAY.format(pkg="dvs_msgs"),
        "dv_ros2_msgs/msg/Event": DVS_EVENT,
        "dv_ros2_msgs/msg/EventArray": DVS_EVENT_ARRAY.format(pkg="dv_ros2_msgs"),
        "dv_ros2_msgs/msg/Trigger": DV_TRIGGER,
        "prophesee_event_msgs/msg/Event": DVS_EVENT,
        "prophesee_event_msgs/msg/EventArray": DVS_EVENT_ARRAY.format(pkg="prophesee_event_msgs"),
    }
    defs.update(VISION_MSGS)
    return defs


#: Event message types the package decodes (type name -> kind).
EVENT_PACKET_TYPES = ("event_camera_msgs/msg/EventPacket", "event_array_msgs/msg/EventArray")
EVENT_STRUCT_ARRAY_TYPES = (
    "dvs_msgs/msg/EventArray",
    "dv_ros2_msgs/msg/EventArray",
    "prophesee_event_msgs/msg/EventArray",
)
