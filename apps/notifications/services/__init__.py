"""Writes for notifications: destinations and rules (admins), and the delivery engine
(the subscriber that turns domain events into deliveries, and each send attempt)."""
