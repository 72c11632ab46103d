"""Small local HTTP servers that speak real cloud APIs, for tests with real clients."""
