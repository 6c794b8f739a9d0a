"""The seven FER-2013 classes in label order (0..6): every array of probabilities follows it."""

EMOTIONS: tuple[str, ...] = ("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise")
