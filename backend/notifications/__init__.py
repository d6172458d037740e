"""Delivery of short messages by email or SMS; see services.py."""
