"""Prediction and scoring of PII extraction output."""
