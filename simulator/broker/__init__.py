"""The embedded MQTT broker: amqtt, hardened (limits, users and roles, bounded per-client queues), in a process
of its own; or a mosquitto child process with the same roles and limits."""
