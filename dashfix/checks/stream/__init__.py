"""Checks of DashStream stream logs: one frame, one thread's sequences, one whole log."""
