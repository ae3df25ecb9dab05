"""The social-order integration gateway service."""
