"""The parts that do I/O with people and machines: CLI, HTTP API, alert store, webhooks, jobs."""
