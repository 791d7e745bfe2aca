"""Benign generated images for tests (the generator lives in the package for demos and benchmarks)."""

from kavach.demo.scenes import encode, scene

__all__ = ["encode", "scene"]
