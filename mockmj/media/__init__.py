"""Pictures and videos: rendering, transforms and encoding, the gallery that serves them, and the
validation of images clients send."""
