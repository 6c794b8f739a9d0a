"""EmotionCam: recognise facial emotions live from a webcam and in still images."""

import os as _os

# OpenCV's own decode limit (default 1 gigapixel) lowered to what EmotionCam accepts, as a backstop
# for formats whose header imageio does not parse. Read by OpenCV on first decode.
_os.environ.setdefault("OPENCV_IO_MAX_IMAGE_PIXELS", "50000000")

from emotion_cam.emotion.labels import EMOTIONS  # noqa: E402
from emotion_cam.process import default_ffmpeg_level  # noqa: E402

default_ffmpeg_level()

__version__ = "0.1.0"
__all__ = ["EMOTIONS", "Analyzer", "Face", "FrameResult", "analyze", "analyze_video", "to_dataframe", "to_rows",
           "__version__"]

# The API is imported on first use, so that `import emotion_cam` stays light (no OpenCV, Qt or LiteRT yet).
_LAZY = {"Analyzer": "api", "analyze": "api", "analyze_video": "api",
         "Face": "results", "FrameResult": "results", "to_rows": "results", "to_dataframe": "results"}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f"emotion_cam.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'emotion_cam' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
