"""What the core process and a Lambda process share: the run folder and its latest-value slots (frames, project
stream, the Lambda's counters), the device context, the MQTT link face and the device's topics, the local
thing-shadow store. Both sides import this package; neither imports the other's."""
