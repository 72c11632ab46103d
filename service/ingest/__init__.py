"""Records on their way into the lake, from the service's side: the push drainer (the one
writer of pushed records) and the alerts that provenance conflicts raise."""
