"""The embedded MQTT 3.1.1 broker (limits, users and roles, bounded per-client queues) and the message log."""
