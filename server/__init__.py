"""The web service: wires transcription and rating to the database and the web."""
