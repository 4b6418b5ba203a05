"""had_tracker: an ament_python ROS 2 package that also installs with plain ``pip install .``."""

import os
from glob import glob

from setuptools import find_packages, setup

package_name = "had_tracker"


def _files(pattern: str) -> list[str]:
    return sorted(glob(pattern))


def _resource_packages() -> dict[str, list[str]]:
    """Every folder under had_tracker/resources (data only: weights, the synthetic asset pack) -> its file patterns.

    Listed folder by folder so a non-editable install (pip wheel, colcon without --symlink-install) carries
    every data file, the asset pack's sub-folders included.
    """
    found = {}
    for folder, subdirs, files in os.walk(os.path.join(package_name, "resources")):
        subdirs[:] = sorted(d for d in subdirs if not d.startswith((".", "__")))
        patterns = sorted({"*" + os.path.splitext(f)[1] for f in files if not f.startswith(".")})
        found[folder.replace(os.sep, ".")] = patterns
    return found


RESOURCE_PACKAGES = _resource_packages()


setup(
    name=package_name,
    version="0.1.0",
    description="Fast, robust single-object tracking with event cameras: HAD distillation, ROS 2 nodes, offline tools.",
    long_description=open("README.md", encoding="utf-8").read() if os.path.exists("README.md") else "",
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    maintainer="had_tracker developers",
    maintainer_email="had-tracker@example.org",
    python_requires=">=3.10",
    # resources/ holds data only (no __init__.py); declaring its folders as (namespace) packages is what
    # setuptools asks for, and keeps it from warning on every build that they are importable but undeclared.
    packages=find_packages(exclude=["test", "test.*", "bench", "bench.*"]) + sorted(RESOURCE_PACKAGES),
    include_package_data=True,
    package_data={name: patterns for name, patterns in RESOURCE_PACKAGES.items() if patterns},
    data_files=[
        ("share/ament_index/resource_index/packages", ["resource/" + package_name]),
        (os.path.join("share", package_name), ["package.xml"]),
        (os.path.join("share", package_name, "launch"), _files("launch/*.launch.py")),
        (os.path.join("share", package_name, "config"), _files("config/*.yaml") + _files("config/*.rviz")),
        (os.path.join("share", package_name, "config", "cameras"), _files("config/cameras/*.yaml")),
        (os.path.join("share", package_name, "config", "models"), _files("config/models/*.yaml")),
        (os.path.join("share", package_name, "config", "distill"), _files("config/distill/*.yaml")),
        (os.path.join("share", package_name, "config", "train"), _files("config/train/*.yaml")),
        (os.path.join("share", package_name, "config", "synthetic"), _files("config/synthetic/*.yaml")),
        (os.path.join("share", package_name, "had_msgs", "msg"), _files("had_msgs/msg/*.msg")),
        (os.path.join("share", package_name, "had_msgs", "srv"), _files("had_msgs/srv/*.srv")),
    ],
    # Bounds chosen to coexist with ROS Humble/Jazzy system packages (numpy 1.21+/1.26, OpenCV 4).
    install_requires=[
        "numpy>=1.21",
        "torch>=2.1,<2.14",
        "opencv-python-headless>=4.5,<5",
        "rosbags>=0.10.4,<0.11",
        "pyyaml>=5.4",
        "tqdm>=4.60",
        "matplotlib>=3.5",
        "numba>=0.57",
        # the tracker's student runtime (tracker.student_runtime auto; without them torch runs it, ~25 % slower)
        "onnx>=1.14",
        "onnxruntime>=1.16",
    ],
    extras_require={
        "test": [
            "pytest>=7",
            "pytest-timeout>=2.1",
            "hypothesis>=6.50",
            "ruff>=0.5",
            "flake8>=6",
            "pydocstyle>=6.3",
            "colcon-core>=0.15",
            "colcon-ros>=0.4",
            "colcon-package-information>=0.3",
            "onnx>=1.14",
            "onnxruntime>=1.16",
            "dv-processing>=1.7",  # the aedat extra: FE108/COESOT .aedat4 reading is tested too
            "tensorboard>=2.10",  # the tensorboard extra: the per-term loss scalars are tested too
        ],
        "bench": ["expelliarmus", "tonic"],
        "contrib": ["opencv-contrib-python-headless>=4.5,<5"],
        "aedat": ["dv-processing"],
        "export": ["onnx>=1.14", "onnxruntime>=1.16"],  # kept for old install lines: both are plain requirements now
        "tensorboard": ["tensorboard>=2.10"],
    },
    zip_safe=True,
    entry_points={
        "console_scripts": [
            "had-tracker = had_tracker.cli:main",
            "synchronizer_node = had_tracker.nodes.synchronizer_node:main",
            "tracker_node = had_tracker.nodes.tracker_node:main",
            "tracker_pipeline = had_tracker.nodes.pipeline_node:main",
            "replay_evaluator = had_tracker.nodes.evaluator_node:main",
        ],
    },
)
