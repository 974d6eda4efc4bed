"""A cloud function that stores the event in S3 with boto3 (the engine's environment says which endpoint)."""

import json
import os

import boto3


def lambda_handler(event, context):
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket=event["bucket"])
    s3.put_object(Bucket=event["bucket"], Key=f"{context.function_name}/{event['n']}.json",
                  Body=json.dumps(event).encode())
    print(f"stored in {os.environ['AWS_ENDPOINT_URL']} as {context.invoked_function_arn}")
    return "stored"
