"""Rule and anomaly detectors over normalized event batches, and the Alert they produce."""
