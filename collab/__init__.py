"""collab: real-time collaboration for the zone omogenee of Città metropolitana di Torino."""

__version__ = "0.1.0"
