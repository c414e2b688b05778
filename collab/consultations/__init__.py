"""Consultations: staff ask zones for the comuni's contributions against a deadline."""
