"""Signed webhooks to bank systems: endpoints, SSRF-safe URLs, fan-out of the event outbox, delivery."""
