"""Persistent backends: where signed entries live (a directory, Redis, S3, tiered)."""
