"""What a request to the local cloud says about itself, calling a WSGI app in-process, and AWS error bodies.

A request names its service and region in its SigV4 credential scope (``Authorization`` header, or
``X-Amz-Credential`` for a presigned URL); JSON-protocol services also name their operation in ``X-Amz-Target``.
"""

from __future__ import annotations

import io
import json
import re
import uuid
from dataclasses import dataclass, field
from urllib.parse import parse_qs
from xml.sax.saxutils import escape

from werkzeug.datastructures import Headers
from werkzeug.test import EnvironBuilder, run_wsgi_app

_SCOPE = re.compile(r"Credential=([^/,\s]+)/\d{8}/([^/]+)/([^/]+)/aws4_request")
_QUERY_SCOPE = re.compile(r"X-Amz-Credential=([^/&]+)(?:/|%2F)\d{8}(?:/|%2F)([^/&%]+)(?:/|%2F)([^/&%]+)", re.I)
# Services recognisable without a signature, by their X-Amz-Target prefix.
_TARGET_SERVICES = {"DynamoDB_20120810": "dynamodb", "AmazonSQS": "sqs", "Kinesis_20131202": "kinesis",
                    "RekognitionService": "rekognition", "Firehose_20150804": "firehose"}


@dataclass
class Call:
    """One buffered request: its WSGI environ (with a replayable body) and what it addresses."""

    environ: dict
    body: bytes
    service: str | None
    region: str | None
    access_key: str
    target: str = ""                       # X-Amz-Target operation ("PutItem"), or "" for REST/query protocols
    _form: dict[str, str] | None = field(default=None, repr=False)

    @property
    def method(self) -> str:
        return self.environ.get("REQUEST_METHOD", "GET")

    @property
    def path(self) -> str:
        return self.environ.get("PATH_INFO", "/")

    @property
    def query(self) -> str:
        return self.environ.get("QUERY_STRING", "")

    def json(self) -> dict:
        """The body as a JSON object ({} when it is not one)."""
        try:
            data = json.loads(self.body or b"{}")
        except ValueError:
            return {}
        return data if isinstance(data, dict) else {}

    def form(self) -> dict[str, str]:
        """The body as query-protocol form fields (first value of each)."""
        if self._form is None:
            parsed = parse_qs(self.body.decode("utf-8", "replace"), keep_blank_values=True)
            self._form = {k: v[0] for k, v in parsed.items()}
        return self._form

    def action(self) -> str:
        """The operation: X-Amz-Target's, else the query protocol's ``Action`` field."""
        return self.target or self.form().get("Action", "")

    def fresh_environ(self) -> dict:
        """A copy of the environ whose body can be read again."""
        env = dict(self.environ)
        env["wsgi.input"] = io.BytesIO(self.body)
        env["CONTENT_LENGTH"] = str(len(self.body))
        return env


def read_call(environ: dict) -> Call:
    """Buffer the request body and work out service, region, access key and JSON operation."""
    stream = environ.get("wsgi.input")
    if stream is None:
        body = b""
    elif environ.get("wsgi.input_terminated") or not environ.get("CONTENT_LENGTH"):
        body = stream.read() if environ.get("wsgi.input_terminated") else b""
    else:
        body = stream.read(int(environ["CONTENT_LENGTH"]))
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    prefix, _, operation = target.partition(".")
    service = region = None
    access_key = "local"
    match = _SCOPE.search(environ.get("HTTP_AUTHORIZATION", "")) or _QUERY_SCOPE.search(environ.get("QUERY_STRING", ""))
    if match:
        access_key, region, service = match.group(1), match.group(2), match.group(3).lower()
    elif prefix in _TARGET_SERVICES:
        service = _TARGET_SERVICES[prefix]
    call = Call(environ=environ, body=body, service=service, region=region, access_key=access_key, target=operation)
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))
    return call


@dataclass
class Reply:
    """A response captured from a WSGI app: status code, headers, and the body (iterable, or bytes once read)."""

    status: str
    headers: list[tuple[str, str]]
    app_iter: object
    _body: bytes | None = None

    @property
    def code(self) -> int:
        return int(self.status.split(" ", 1)[0])

    def body(self) -> bytes:
        """Read (and keep) the whole body."""
        if self._body is None:
            try:
                self._body = b"".join(self.app_iter)  # type: ignore[arg-type]
            finally:
                close = getattr(self.app_iter, "close", None)
                if close:
                    close()
            self.app_iter = [self._body]
        return self._body

    def error_code(self) -> str:
        """The AWS error code of an error reply ("" for a success): JSON ``__type`` or XML ``<Code>``."""
        if self.code < 400:
            return ""
        text = self.body().decode("utf-8", "replace")
        match = re.search(r'"__type"\s*:\s*"([^"]+)"', text) or re.search(r"<Code>([^<]+)</Code>", text)
        return match.group(1).rsplit("#", 1)[-1] if match else ""


def call_app(app, environ: dict) -> Reply:
    """Run a WSGI app on ``environ`` and capture its answer (the body is read only when asked for)."""
    app_iter, status, headers = run_wsgi_app(app, environ)
    return Reply(status=status, headers=list(headers.items()), app_iter=app_iter)


def sub_environ(parent: Call, service: str, region: str, method: str, path: str, body: bytes = b"",
                headers: dict[str, str] | None = None) -> dict:
    """An environ for a request the local cloud makes on its own behalf (e.g. creating a bucket), signed as
    the same access key so it lands in the same account."""
    all_headers = {
        "Host": parent.environ.get("HTTP_HOST", "127.0.0.1"),
        "Authorization": f"AWS4-HMAC-SHA256 Credential={parent.access_key}/20200101/{region}/{service}/aws4_request,"
                         " SignedHeaders=host, Signature=0",
        "X-Amz-Date": "20200101T000000Z",
    }
    all_headers.update(headers or {})
    builder = EnvironBuilder(method=method, path=path, headers=Headers(all_headers), data=body,
                             base_url=f"http://{all_headers['Host']}/")
    try:
        return builder.get_environ()
    finally:
        builder.close()


def json_error(code: str, message: str, status: int = 400) -> tuple[str, list[tuple[str, str]], bytes]:
    """A JSON-protocol error (Rekognition, DynamoDB, ...): status line, headers, body."""
    body = json.dumps({"__type": code, "message": message, "Message": message}).encode()
    return (f"{status} Error", [("Content-Type", "application/x-amz-json-1.1"), ("x-amzn-ErrorType", code),
                                ("x-amzn-RequestId", str(uuid.uuid4())), ("Content-Length", str(len(body)))], body)


def s3_error(code: str, message: str, status: int = 400, **extra: str) -> tuple[str, list[tuple[str, str]], bytes]:
    """An S3 (REST-XML) error: status line, headers, body."""
    fields = "".join(f"<{k}>{escape(v)}</{k}>" for k, v in extra.items())
    body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code><Message>{escape(message)}'
            f"</Message>{fields}<RequestId>{uuid.uuid4().hex[:16].upper()}</RequestId></Error>").encode()
    return (f"{status} Error", [("Content-Type", "application/xml"), ("Content-Length", str(len(body)))], body)
