"""A cloud Lambda (run by the people_count_changes rule): when a thing's people count changes, publish an
alert on deeplens/<thing>/alerts. The last count is kept in DynamoDB, as a stateless cloud Lambda must."""
import json
import time

import boto3

TABLE = "PeopleLastCount"


def lambda_handler(event, context):
    thing, people = event["thing"], int(event["people"])
    table = boto3.resource("dynamodb").Table(TABLE)
    last = table.get_item(Key={"thing": thing}).get("Item", {}).get("people")
    if last is not None and int(last) == people:
        return {"changed": False}
    table.put_item(Item={"thing": thing, "people": people, "at": int(time.time())})
    alert = {"thing": thing, "people": people, "was": None if last is None else int(last)}
    boto3.client("iot-data").publish(topic="deeplens/{}/alerts".format(thing), qos=0,
                                     payload=json.dumps(alert).encode())
    return {"changed": True, "alert": alert}
