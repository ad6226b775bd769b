"""Extensions loaded by the Rasa server (custom channels)."""
