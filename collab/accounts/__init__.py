"""Accounts: login, sessions, passwords, throttling and user management."""
