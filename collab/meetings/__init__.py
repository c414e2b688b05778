"""Meetings of the zones: agenda, attendance, the floor, votes and the verbale."""
