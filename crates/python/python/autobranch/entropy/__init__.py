"""Entropy-based stopping components."""

from autobranch.entropy.shannon import ShannonEntropyStopper

__all__ = ["ShannonEntropyStopper"]
