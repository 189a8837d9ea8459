"""Beam search components."""

from autobranch.beam.selector import BeamSelector

__all__ = ["BeamSelector"]
