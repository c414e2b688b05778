"""E-mail: a durable outbox written in the caller's transaction, a sender
task per process, and the transports it hands messages to (SMTP, or files
under ``DATA_DIR/mail`` when no ``SMTP_URL`` is set)."""
