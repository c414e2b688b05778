"""Administration pages: users, themes, comuni (and their import), zones, the audit log."""
