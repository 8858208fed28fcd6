"""Helpers for the Message Queues & Event Streaming Lab notebooks."""
