"""Zone boards: threads per zone and theme, posts, edits and moderation."""
