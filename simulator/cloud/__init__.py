"""The local AWS: one HTTP endpoint on 127.0.0.1 that a Lambda's unmodified boto3 calls reach offline.

Lambda processes get :meth:`LocalCloud.env` (``AWS_ENDPOINT_URL``, region, dummy credentials,
``DEEPLENS_SIM_CLOUD=local``); the simulator's own process never has ``AWS_ENDPOINT_URL`` set and uses
:meth:`LocalCloud.client` instead.

Who answers (moto 5.2.5 in server mode, in this process, behind the simulator's own front door):

* **moto** — S3, DynamoDB, SQS, SNS (topics, subscriptions, delivery to SQS subscribers), Kinesis Data
  Streams, Kinesis Video Streams (stream management, not media), IoT data plane (moto accepts a publish;
  :meth:`LocalCloud.on_iot_publish` hands it to whoever delivers it, e.g. the MQTT broker), Firehose (delivers
  to S3), STS, CloudWatch, Secrets Manager, SSM and the rest of moto's services. moto keeps its state in
  memory; the local cloud saves and reloads it.
* **the simulator** — Rekognition DetectFaces, DetectLabels, CompareFaces, RecognizeCelebrities and face
  collections, with bundled models (:mod:`.rekognition`); Polly SynthesizeSpeech with espeak-ng (:mod:`.polly`).
  moto would answer these with canned data (a "Mobile Phone" label for any image) or empty audio. Other
  Rekognition operations still get moto's canned answers, labelled as canned in the log. Lambda functions are
  not run by the local cloud (moto would need Docker).

Resources a Lambda names that do not exist — buckets, DynamoDB tables, SQS queues, SNS topics, Kinesis
streams, face collections — are created on first use and logged once, as if the user had deployed them
(:mod:`.first_use`; key schemas of tables are inferred as :mod:`.naming` says). Bucket names AWS refuses stay
refused with AWS's ``InvalidBucketName``.

Nothing is lost at stop: objects, tables, topics, queues with unconsumed messages, published messages and
face collections are kept under the state folder (layout in :mod:`.stored`) and loaded back at start.
"""

from __future__ import annotations

from .local import LocalCloud
from .snapshot import (
    BucketInfo,
    CloudSnapshot,
    CollectionInfo,
    ObjectInfo,
    QueueInfo,
    SentMessage,
    TableInfo,
    TopicInfo,
)

__all__ = ["LocalCloud", "CloudSnapshot", "BucketInfo", "ObjectInfo", "TableInfo", "TopicInfo", "QueueInfo",
           "SentMessage", "CollectionInfo"]
