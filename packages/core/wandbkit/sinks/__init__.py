"""Sinks: where a run's rows go. Core ships the W&B sink and the local store sink."""

from wandbkit.sinks.base import AlertRecord, ArtifactRecord, Sink

__all__ = ["AlertRecord", "ArtifactRecord", "Sink"]
