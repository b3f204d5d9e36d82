"""The Python peer of sc-action-runner, for the benchmark (issue 5).

The same contract as the Rust function, written the way a competent user writes a Python Lambda:
boto3 clients at module scope, a plain sequential loop over the records, one ``send_message`` per
result, and partial batch responses (``batchItemFailures``) for the records that must be retried.

Kept deliberately ordinary: it is the baseline the Rust function is measured against, not a second
implementation to optimise. It must stay *equivalent* where results are compared:

* envelopes: an SQS batch (each body a request, or an EventBridge event whose ``detail`` is the
  request), an EventBridge event straight to the function, or a direct request;
* validation essentials: exactly one of id/name for the product and for the action, the API's id and
  name patterns, parameters as key -> list of strings, acceptLanguage, idempotencyKey;
* the ExecuteToken derivation of ``src/token.rs`` (so both sides send the same tokens);
* the result body of ``src/outcome.rs`` (outcome, executeToken, source, provisionedProductId,
  serviceActionId, recordDetail with RFC 3339 times, error);
* retry vs reject as in ``src/error.rs``.

Not carried over (see bench/README.md): allow-lists, the deadline margin, SendMessageBatch and
concurrency. Run it under ``python -m awslambdaric handler.lambda_handler``.
"""

import hashlib
import json
import logging
import os
import re
from datetime import datetime, timezone

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

logger = logging.getLogger()
logger.setLevel(logging.INFO)

# The same client settings as the Rust function: 3 s to connect, 10 s per attempt, standard retries.
_CONFIG = Config(connect_timeout=3, read_timeout=10, retries={"mode": "standard", "total_max_attempts": 3})
servicecatalog = boto3.client("servicecatalog", config=_CONFIG)
sqs = boto3.client("sqs", config=_CONFIG)

RESULTS_QUEUE_URL = os.environ["RESULTS_QUEUE_URL"]
RESULTS_FIFO = RESULTS_QUEUE_URL.endswith(".fifo")
DEFAULT_ACCEPT_LANGUAGE = os.environ.get("DEFAULT_ACCEPT_LANGUAGE") or None

TOKEN_DOMAIN = "sc-action-runner/v1"
REQUEST_KEYS = (
    "provisionedProductId", "provisionedProductName", "serviceActionId", "serviceActionName",
    "ProvisionedProductId", "ProvisionedProductName", "ServiceActionId", "ServiceActionName",
)
ID_RE = re.compile(r"[a-zA-Z0-9_-]{1,100}")
PRODUCT_NAME_RE = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9._-]{0,127}")
ACTION_NAME_RE = re.compile(r"[a-zA-Z0-9_.-]{1,256}")
RECORD_DETAIL_KEYS = (
    "RecordId", "ProvisionedProductName", "Status", "CreatedTime", "UpdatedTime",
    "ProvisionedProductType", "RecordType", "ProvisionedProductId", "ProductId",
    "ProvisioningArtifactId", "PathId", "RecordErrors", "RecordTags", "LaunchRoleArn",
)
RETRYABLE_CODES = {
    "ThrottlingException", "Throttling", "ThrottledException", "RequestThrottledException",
    "RequestThrottled", "TooManyRequestsException", "RequestLimitExceeded", "SlowDown",
    "PriorRequestNotComplete", "TransactionInProgressException", "InvalidStateException",
    "InternalFailure", "InternalError", "InternalServerError", "InternalServiceError",
    "ServiceUnavailable", "ServiceUnavailableException", "RequestTimeout", "RequestTimeoutException",
    "ExpiredToken", "ExpiredTokenException", "RequestExpired", "IDPCommunicationError",
}


def type_name(value):
    """The JSON type of a value, for error messages (as src/request.rs names them)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    return {str: "a string", list: "an array", dict: "an object"}.get(type(value), type(value).__name__)


class InvalidRequest(Exception):
    """The request can never run as sent."""


class Rejected(Exception):
    """A retry cannot help: publish a REJECTED result with this code."""

    def __init__(self, code, message):
        super().__init__(message)
        self.code = code


class Retry(Exception):
    """A retry may help: no result; hand the record back."""


def execute_token(source, product_label, action_label):
    """lowercase hex(sha256("sc-action-runner/v1" LF source LF product LF action)), as src/token.rs."""
    data = "\n".join((TOKEN_DOMAIN, source, product_label, action_label))
    return hashlib.sha256(data.encode("utf-8")).hexdigest()


def is_eventbridge(obj):
    return "detail-type" in obj and ("detail" in obj or "source" in obj)


def detail_of(obj):
    detail = obj.get("detail")
    if detail is None:
        raise InvalidRequest("the EventBridge event has no `detail`")
    return detail


def work_items(event, request_id):
    """(items, fifo): each item is (source, token_source, payload-or-exception, is_sqs)."""
    if not isinstance(event, dict):
        raise ValueError(f"the event must be a JSON object, got {type_name(event)}")
    if "Records" in event:
        records = event["Records"]
        if not isinstance(records, list):
            raise ValueError("`Records` must be an array of SQS records")
        items, fifo = [], False
        for index, record in enumerate(records):
            if not isinstance(record, dict) or not record.get("messageId") or not isinstance(record["messageId"], str):
                raise ValueError(f"record {index} has no messageId")
            if record.get("eventSource") != "aws:sqs":
                raise ValueError(f"record {index} is from event source {record.get('eventSource')!r}")
            message_id = record["messageId"]
            fifo = fifo or "MessageGroupId" in (record.get("attributes") or {}) \
                or str(record.get("eventSourceARN", "")).endswith(".fifo")
            token_source, payload = message_id, None
            try:
                body = record.get("body")
                if not isinstance(body, str):
                    raise InvalidRequest(f"the SQS record's body must be a string, got {type_name(body)}")
                try:
                    payload = json.loads(body)
                except ValueError as e:
                    raise InvalidRequest(f"the message body is not valid JSON: {e}") from None
                if isinstance(payload, dict) and is_eventbridge(payload):
                    token_source = payload.get("id") or message_id
                    payload = detail_of(payload)
            except InvalidRequest as e:
                payload = e
            items.append(({"kind": "sqs", "id": message_id}, token_source, payload))
        return items, fifo
    if is_eventbridge(event):
        event_id = event.get("id") or request_id
        try:
            payload = detail_of(event)
        except InvalidRequest as e:
            payload = e
        return [({"kind": "eventbridge", "id": event_id}, event_id, payload)], False
    if any(k in event for k in REQUEST_KEYS):
        return [({"kind": "direct", "id": request_id}, request_id, event)], False
    raise ValueError(f"unrecognised event shape (top-level keys: {', '.join(list(event)[:10]) or 'none'})")


def member(obj, camel):
    """A member by its camelCase or PascalCase name; null is absent; both spellings is an error."""
    pascal = camel[0].upper() + camel[1:]
    a, b = obj.get(camel), obj.get(pascal)
    if a is not None and b is not None:
        raise InvalidRequest(f"`{camel}` and `{pascal}` are the same field; give it once")
    return a if a is not None else b


def string_member(obj, camel):
    value = member(obj, camel)
    if value is not None and not isinstance(value, str):
        raise InvalidRequest(f"`{camel}` must be a string, got {type_name(value)}")
    return value


def one_of(obj, id_key, name_key, name_re):
    """('id', value) or ('name', value): exactly one of the two must be given, and well formed."""
    id_, name = string_member(obj, id_key), string_member(obj, name_key)
    if id_ is not None and name is not None:
        raise InvalidRequest(f"give either `{id_key}` or `{name_key}`, not both")
    if id_ is None and name is None:
        raise InvalidRequest(f"one of `{id_key}` or `{name_key}` is required")
    if id_ is not None:
        if not ID_RE.fullmatch(id_):
            raise InvalidRequest(f"`{id_key}` must be 1-100 characters of [a-zA-Z0-9_-]")
        return "id", id_
    if not name_re.fullmatch(name):
        raise InvalidRequest(f"`{name_key}` is not a valid name")
    return "name", name


def parse_request(payload):
    if not isinstance(payload, dict):
        raise InvalidRequest(f"the request must be a JSON object, got {type_name(payload)}")
    product = one_of(payload, "provisionedProductId", "provisionedProductName", PRODUCT_NAME_RE)
    action = one_of(payload, "serviceActionId", "serviceActionName", ACTION_NAME_RE)
    parameters = member(payload, "parameters") or {}
    if not isinstance(parameters, dict) or len(parameters) > 200:
        raise InvalidRequest("`parameters` must be an object of at most 200 keys")
    for key, values in parameters.items():
        if not 1 <= len(key) <= 50:
            raise InvalidRequest(f"parameter key {key!r} must be 1-50 characters")
        if not isinstance(values, list) or len(values) > 25 or \
                not all(isinstance(v, str) and len(v) <= 512 for v in values):
            raise InvalidRequest(f"parameter {key!r} must be a list of at most 25 strings of at most 512 characters")
    language = string_member(payload, "acceptLanguage")
    if language is not None and language not in ("en", "jp", "zh"):
        raise InvalidRequest("`acceptLanguage` must be one of en, jp, zh")
    key = string_member(payload, "idempotencyKey")
    if key is not None and not 1 <= len(key) <= 1024:
        raise InvalidRequest("`idempotencyKey` must be 1-1024 characters")
    return {"product": product, "action": action, "parameters": parameters,
            "language": language or DEFAULT_ACCEPT_LANGUAGE, "idempotencyKey": key}


def call(operation, fn, **kwargs):
    """One AWS call; errors become Rejected or Retry as in src/error.rs."""
    try:
        return fn(**{k: v for k, v in kwargs.items() if v is not None})
    except ClientError as e:
        code = e.response.get("Error", {}).get("Code") or "Unknown"
        status = e.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        message = e.response.get("Error", {}).get("Message") or code
        bare = code.rsplit("#", 1)[-1].split(":", 1)[0]
        if bare in RETRYABLE_CODES or (status is not None and (status >= 500 or status == 429)):
            raise Retry(f"{operation}: {code}: {message}") from e
        raise Rejected(code, f"{operation}: {message}") from e
    except BotoCoreError as e:  # connection refused, timeouts, unreadable answers
        raise Retry(f"{operation}: ServiceUnavailable: {e}") from e


def rfc3339(value):
    if not isinstance(value, datetime):
        return value
    value = value.astimezone(timezone.utc)
    text = value.strftime("%Y-%m-%dT%H:%M:%S")
    if value.microsecond:
        text += (".%06d" % value.microsecond).rstrip("0")
    return text + "Z"


def record_detail(detail):
    out = {}
    for key in RECORD_DETAIL_KEYS:
        value = detail.get(key)
        if value is None or value == []:
            continue
        out[key] = rfc3339(value)
    return out


def run(request, token, known):
    """Resolves names, then executes; fills `known` with the ids as they become known."""
    (product_kind, product), (action_kind, action) = request["product"], request["action"]
    language = request["language"]
    if product_kind == "id":
        known["product"] = product
    if action_kind == "id":
        known["action"] = action
    if product_kind == "name" or action_kind == "name":
        by = {"Id": product} if product_kind == "id" else {"Name": product}
        pp = call("DescribeProvisionedProduct", servicecatalog.describe_provisioned_product,
                  AcceptLanguage=language, **by)["ProvisionedProductDetail"]
        known["product"] = pp["Id"]
        if action_kind == "name":
            found, page_token = None, None
            while found is None:
                page = call("ListServiceActionsForProvisioningArtifact",
                            servicecatalog.list_service_actions_for_provisioning_artifact,
                            ProductId=pp["ProductId"], ProvisioningArtifactId=pp["ProvisioningArtifactId"],
                            AcceptLanguage=language, PageSize=20, PageToken=page_token)
                found = next((s["Id"] for s in page.get("ServiceActionSummaries", []) if s.get("Name") == action),
                             None)
                page_token = page.get("NextPageToken")
                if not page_token:
                    break
            if found is None:
                raise Rejected("ResourceNotFoundException",
                               f"serviceActionName: no service action named {action!r} is associated with "
                               f"provisioned product {pp['Id']} (product {pp['ProductId']}, provisioning artifact "
                               f"{pp['ProvisioningArtifactId']})")
            known["action"] = found
    output = call("ExecuteProvisionedProductServiceAction",
                  servicecatalog.execute_provisioned_product_service_action,
                  ProvisionedProductId=known["product"], ServiceActionId=known["action"], ExecuteToken=token,
                  Parameters=request["parameters"] or None, AcceptLanguage=language)
    return record_detail(output["RecordDetail"])


def process(source, token_source, payload):
    """The result of one request, or raises Retry."""
    try:
        if isinstance(payload, Exception):
            raise payload
        request = parse_request(payload)
    except InvalidRequest as e:
        logger.info("request rejected: invalid: %s", e)
        return result("REJECTED", execute_token(token_source, "", ""), source, {},
                      error={"code": "InvalidRequest", "message": str(e)})

    (pk, pv), (ak, av) = request["product"], request["action"]
    token = execute_token(request["idempotencyKey"] or token_source, f"{pk}:{pv}", f"{ak}:{av}")
    known = {}
    try:
        detail = run(request, token, known)
    except Rejected as e:
        logger.info("request rejected: %s: %s", e.code, e)
        return result("REJECTED", token, source, known, error={"code": e.code, "message": str(e)})
    logger.info("executed %s on %s: record %s %s", known["action"], known["product"],
                detail.get("RecordId"), detail.get("Status"))
    return result("EXECUTED", token, source, known, detail=detail)


def result(outcome, token, source, known, detail=None, error=None):
    return {"outcome": outcome, "executeToken": token, "source": source,
            "provisionedProductId": known.get("product"), "serviceActionId": known.get("action"),
            "recordDetail": detail, "error": error}


def publish(message):
    kwargs = {"QueueUrl": RESULTS_QUEUE_URL, "MessageBody": json.dumps(message, separators=(",", ":"))}
    if RESULTS_FIFO:
        kwargs["MessageGroupId"] = message["provisionedProductId"] or "unresolved"
        kwargs["MessageDeduplicationId"] = message["executeToken"]
    call("SendMessage", sqs.send_message, **kwargs)


def lambda_handler(event, context):
    items, fifo = work_items(event, context.aws_request_id)
    if items and items[0][0]["kind"] != "sqs":
        source, token_source, payload = items[0]
        message = process(source, token_source, payload)  # Retry propagates: the invocation fails
        publish(message)
        return message

    failures = []
    for source, token_source, payload in items:
        if fifo and failures:  # keep a FIFO group's order: hand back everything after a failure
            failures.append(source["id"])
            continue
        try:
            publish(process(source, token_source, payload))
        except Retry as e:
            logger.warning("record %s handed back: %s", source["id"], e)
            failures.append(source["id"])
    if items and len(failures) == len(items):
        raise RuntimeError(f"all {len(items)} records of the batch were handed back for retry")
    return {"batchItemFailures": [{"itemIdentifier": i} for i in failures]}
