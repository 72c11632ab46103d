"""API keys: created once, stored as an HMAC, looked up by prefix, revocable."""
