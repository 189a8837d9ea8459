"""Candidates, protocols, embedding providers, scorers and the selection pipeline."""
