"""Delivery beyond the socket: the outbox worker, Web Push and email."""
