"""Signed, durable webhooks: subscriptions, an outbox of deliveries, and the dispatcher."""
