"""EmotionCam: recognise facial emotions live from a webcam and in still images."""

from emotion_cam.labels import EMOTIONS

__version__ = "0.1.0"
__all__ = ["EMOTIONS", "__version__"]
