"""Notifications: the bell, the notifications page, e-mail and digests,
what each person follows and wants (docs/architecture.md, "Notifications")."""
