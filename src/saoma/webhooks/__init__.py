"""Events: the outbox written with each money movement, webhooks to merchants, live updates."""
