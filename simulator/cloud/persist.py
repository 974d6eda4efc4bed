"""Loading the local cloud's state at start and saving it at stop (the layout is in :mod:`.stored`)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from .persist_messaging import export_messaging, import_messaging
from .persist_s3 import export_s3, import_s3
from .persist_tables import export_tables, import_tables

if TYPE_CHECKING:
    from .local import LocalCloud

log = logging.getLogger(__name__)


def load_state(cloud: LocalCloud) -> None:
    """Create what ``cloud.state_dir`` holds in the freshly started cloud."""
    state = cloud.state_dir
    objects = import_s3(lambda region: cloud.client("s3", region), state, cloud.region)
    tables, table_regions = import_tables(lambda region: cloud.client("dynamodb", region), state)
    topics, messages, regions = import_messaging(cloud.client, state)
    history = cloud.activity.load_sns_log()
    cloud.activity.regions.update(table_regions | regions | {cloud.region})
    if objects or tables or topics or messages:
        log.info("local cloud loaded %d S3 objects, %d tables, %d topics, %d queued messages from %s "
                 "(%d published messages in its history)", objects, tables, topics, messages, state, history)


def save_state(cloud: LocalCloud) -> None:
    """Write what the cloud holds to ``cloud.state_dir``."""
    state = cloud.state_dir
    regions = set(cloud.activity.regions) | {cloud.region}
    written = export_s3(cloud.client("s3"), state)
    tables = export_tables(lambda region: cloud.client("dynamodb", region), regions, state)
    topics, waiting = export_messaging(cloud.client, regions, state, cloud.account_id)
    log.info("local cloud saved to %s: %d S3 objects written, %d tables, %d topics, %d unconsumed messages",
             state, written, tables, topics, waiting)
