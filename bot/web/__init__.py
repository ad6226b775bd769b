"""The web app on port 8000 (staff widget and supervisor review)."""
