"""Raw audit records pushed over HTTP: normalized and appended to the lake."""
