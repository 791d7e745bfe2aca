"""Benign generated images for tests (the generator lives in the package, for demos too)."""

from kavach.demo.scenes import encode, scene

__all__ = ["encode", "scene"]
