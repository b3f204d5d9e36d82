"""The checks of scripts/sam_local.py catch what they must: a run that cannot fail proves nothing.

Runs without Docker (`make sam-local` runs it first): python -m unittest discover -s tests/sam-local
"""

import json
import sys
import tempfile
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))

import sam_local  # noqa: E402
from sam_local import REQUEST_ID, Answer, SetupError, check_response, check_results, request_id_of  # noqa: E402


def result(source_id, outcome="EXECUTED", code=None, message="", kind="sqs"):
    error = {"code": code, "message": message} if code else None
    return {"outcome": outcome, "source": {"kind": kind, "id": source_id}, "error": error}


class ResultChecks(unittest.TestCase):
    def test_matching_results_pass(self):
        results = [result("m-1"), result("m-2", "REJECTED", "InvalidRequest", "the message body is not valid JSON: x")]
        expected = {"m-1": "EXECUTED", "m-2": "REJECTED InvalidRequest: is not valid JSON"}
        self.assertEqual(check_results(results, expected, None), [])

    def test_missing_unexpected_and_duplicate_results_fail(self):
        results = [result("m-1"), result("m-1"), result("m-9")]
        problems = check_results(results, {"m-1": "EXECUTED", "m-2": "EXECUTED"}, None)
        self.assertEqual(len(problems), 3, problems)

    def test_wrong_outcome_code_or_message_fails(self):
        rejected = [result("m-1", "REJECTED", "InvalidRequest", "one of `a` or `b` is required")]
        for spec in ("EXECUTED", "REJECTED NotAllowed", "REJECTED InvalidRequest: `c` is required"):
            self.assertEqual(len(check_results(rejected, {"m-1": spec}, None)), 1, spec)

    def test_request_id_placeholder_needs_the_invocations_own_result(self):
        mine, other = result("req-1", kind="direct"), result("req-0", kind="direct")
        self.assertEqual(check_results([mine], {REQUEST_ID: "EXECUTED"}, "req-1"), [])
        self.assertEqual(len(check_results([other], {REQUEST_ID: "EXECUTED"}, "req-1")), 2)
        self.assertEqual(len(check_results([mine], {REQUEST_ID: "EXECUTED"}, None)), 2)

    def test_request_id_comes_from_the_log_else_from_a_direct_response(self):
        self.assertEqual(request_id_of(Answer(response=result("r-2", kind="direct"), request_id="r-1")), "r-1")
        self.assertEqual(request_id_of(Answer(response=result("r-2", kind="direct"))), "r-2")
        self.assertIsNone(request_id_of(Answer(response=result("m-1", kind="sqs"))))


class ResponseChecks(unittest.TestCase):
    def test_batch_item_failures_by_ids_or_count(self):
        answer = Answer(response={"batchItemFailures": [{"itemIdentifier": "m-2"}]})
        self.assertEqual(check_response(answer, {"batchItemFailures": ["m-2"]}, []), [])
        self.assertEqual(check_response(answer, {"batchItemFailures": 1}, []), [])
        self.assertEqual(len(check_response(answer, {"batchItemFailures": []}, [])), 1)
        self.assertEqual(len(check_response(answer, {"batchItemFailures": 0}, [])), 1)

    def test_a_single_result_response_must_be_the_published_result(self):
        published = result("e-1", kind="eventbridge")
        self.assertEqual(check_response(Answer(response=published), {"outcome": "EXECUTED"}, [published]), [])
        self.assertEqual(len(check_response(Answer(response=published), {"outcome": "REJECTED"}, [published])), 1)
        self.assertEqual(len(check_response(Answer(response=published), {"outcome": "EXECUTED"}, [])), 1)

    def test_invocation_errors(self):
        failed = Answer(error_type="InvalidEvent", error_message="unrecognised event shape")
        self.assertEqual(check_response(failed, {"errorType": "InvalidEvent"}, []), [])
        self.assertEqual(len(check_response(failed, {"batchItemFailures": []}, [])), 1)
        self.assertEqual(len(check_response(Answer(response={"batchItemFailures": []}), {"errorType": "X"}, [])), 1)


class Expectations(unittest.TestCase):
    def write(self, directory, events, expected):
        events_dir = Path(directory) / "events"
        events_dir.mkdir()
        for name in events:
            (events_dir / name).write_text("{}")
        expected_file = Path(directory) / "expected.json"
        expected_file.write_text(json.dumps(expected))
        return expected_file, events_dir

    def test_the_repository_expectations_cover_every_sample_event(self):
        sam_local.read_expectations(sam_local.EXPECTED_FILE, sam_local.EVENTS_DIR)

    def test_an_event_without_an_entry_or_an_entry_without_an_event_is_an_error(self):
        entry = {"response": {"outcome": "EXECUTED"}, "results": {REQUEST_ID: "EXECUTED"}}
        new_event_without_entry = (["a.json", "new.json"], {"a.json": entry})
        entry_without_event = (["a.json"], {"a.json": entry, "gone.json": entry})
        for events, entries in (new_event_without_entry, entry_without_event):
            with tempfile.TemporaryDirectory() as directory:
                files = self.write(directory, events, {"events": entries, "generated": {}, "startLambda": []})
                with self.assertRaises(SetupError):
                    sam_local.read_expectations(*files)

    def test_a_malformed_entry_is_an_error(self):
        for entry in (
            {"response": {}, "results": {}},
            {"response": {"outcome": "EXECUTED", "errorType": "X"}, "results": {}},
            {"response": {"outcome": "EXECUTED"}, "results": {"m-1": "DONE"}},
        ):
            with tempfile.TemporaryDirectory() as directory:
                expected = {"events": {"a.json": entry}, "generated": {}, "startLambda": []}
                files = self.write(directory, ["a.json"], expected)
                with self.assertRaises(SetupError):
                    sam_local.read_expectations(*files)


if __name__ == "__main__":
    unittest.main()
