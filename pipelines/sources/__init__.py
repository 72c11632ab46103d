"""Where audit records come from: local files, S3 trails, LookupEvents, Cloud Logging."""
