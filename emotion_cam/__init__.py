"""EmotionCam: recognise facial emotions live from a webcam and in still images."""

import os

# OpenCV's own decode limit (default 1 gigapixel) lowered to what EmotionCam accepts, as a backstop
# for formats whose header imageio does not parse. Read by OpenCV on first decode.
os.environ.setdefault("OPENCV_IO_MAX_IMAGE_PIXELS", "50000000")

from emotion_cam.labels import EMOTIONS  # noqa: E402
from emotion_cam.quiet import default_ffmpeg_level  # noqa: E402

default_ffmpeg_level()

__version__ = "0.1.0"
__all__ = ["EMOTIONS", "__version__"]
