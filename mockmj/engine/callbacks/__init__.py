"""Callbacks: when each is due, who sends it, and the fair pool that sends them."""
