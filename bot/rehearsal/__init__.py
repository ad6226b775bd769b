"""Trainee rehearsal: the bot plays a fictional customer (issue 10)."""
