"""The property-based fuzz suite (hypothesis) over every route: see test_fuzz.py."""
