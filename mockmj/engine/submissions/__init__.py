"""Submissions of every kind: text prompts, button presses and modals, video, the clicks they share."""
