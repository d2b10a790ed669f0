"""Chat surfaces: Slack, Teams, the terminal shell and a JSON-lines card log."""
