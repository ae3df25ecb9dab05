"""Decree rules as pure checks over documents and municipality profiles."""
