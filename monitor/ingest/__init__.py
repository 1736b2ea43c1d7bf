"""Ingest: inbox watching, file readiness, decoding, metadata extraction."""
