"""Files: the content-addressed store, type detection, names, and the forms library."""
