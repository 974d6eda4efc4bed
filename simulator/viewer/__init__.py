"""The headless viewer: a small web page with both streams, the latest messages and the status."""
