"""The device's faces, as an unmodified Lambda imports them: ``awscam``, ``mo``, ``greengrasssdk``.

They run inside the Lambda's own process and are thin: frames come from the core's shared-memory slot, models
run on OpenVINO, publishes go to the broker over MQTT, the project stream goes to a shared slot. They import only
``simulator.ipc`` (what the two processes share) and ``simulator.inference``.
"""
