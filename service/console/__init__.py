"""The SOC analysts' web console: one static page whose scripts talk only to ``/v1``."""
