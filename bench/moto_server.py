"""moto_server for the fleet scenario, with moto's clock read made cheap (same clock, same behaviour).

Why: moto 5.2.5 reads the clock as `datetime.now(UTC)` minus `datetime.utcfromtimestamp(0)`
(`moto.core.utils.unix_time`, ~8 µs a call here) and its SQS reads it far more often than it seems:
every message's `visible` and `delayed`, for every message of the queue, each time it counts the
queue — and it counts it (all of `Queue.attributes`) once per message *sent* (for
`ContentBasedDeduplication`) and once per message *received* (the retention check goes through
`get_queue_attributes`). With 1,000 messages in the requests queue, one ReceiveMessage of 10 took
~1 s of CPU and sending 1,000 messages in batches of 10 took 13-22 s: the fleet scenario measured
moto, not the function (its fan-out outlived the 10 s function timeout and was sent again and
again). `time.time()` is the same clock. The retention check also reads the queue's retention
period directly instead of through `get_queue_attributes` (which builds `Queue.attributes`, and
counts the queue, three times for one attribute). With both, the same calls take milliseconds;
nothing else changes.

`bench/run_bench.py` puts a `moto_server` that runs this first on the PATH of `sc-fleet-bench` (the
local loop finds moto_server on PATH). The other figures of `make bench` use moto as installed.
Run it as moto_server itself: `python bench/moto_server.py -H 127.0.0.1 -p 5000`.
"""

import sys
import time

import moto.core.utils as utils

_unix_time = utils.unix_time


def unix_time(dt=None):
    """Seconds since the epoch: `time.time()` for now, moto's own arithmetic for a given datetime."""
    return time.time() if dt is None else _unix_time(dt)


def unix_time_millis(dt=None):
    return unix_time(dt) * 1000.0


utils.unix_time = unix_time
utils.unix_time_millis = unix_time_millis

import moto.sqs.models as sqs_models  # noqa: E402  (after the patch, so its own imports see it too)

sqs_models.unix_time = unix_time
sqs_models.unix_time_millis = unix_time_millis


def is_message_valid_based_on_retention_period(self, queue_name, message):
    """moto's own rule (retained while sent + MessageRetentionPeriod is in the future), minus the counting."""
    retention_period = int(self.get_queue(queue_name).message_retention_period)
    return retention_period + message.sent_timestamp / 1000 > unix_time()


sqs_models.SQSBackend.is_message_valid_based_on_retention_period = is_message_valid_based_on_retention_period

from moto.server import main  # noqa: E402

if __name__ == "__main__":
    sys.argv[0] = "moto_server"
    sys.exit(main())
