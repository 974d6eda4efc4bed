"""MQTT: the embedded broker (amqtt), a small client face over paho-mqtt, the device's topics."""
