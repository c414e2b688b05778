"""Administration pages: users, and the audit log."""
