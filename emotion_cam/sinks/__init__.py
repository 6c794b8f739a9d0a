"""Where results go: the face CSV and a recording of the live view (annotated MP4 + CSV)."""
