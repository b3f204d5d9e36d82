"""Checks of template.yaml that cfn-lint and checkov cannot make: the operational contract.

- every dead-letter queue (a queue's RedrivePolicy target, an EventBridge rule's or schedule's
  DeadLetterConfig, the function's async on-failure destination) has an alarm that fires on any
  visible message;
- with AlarmEmail given, every alarm notifies the alarm topic (on ALARM and on OK); without it,
  no alarm has an action and the topic does not exist;
- the alarms on the function's own metrics use the names, namespace and dimension that
  src/metrics.rs writes;
- a DLQ keeps messages longer than its source queue; the dashboard body is valid JSON.

The template is parsed with cfn-lint's decoder (it understands !Ref, !Sub, !If ...), conditions are
evaluated for given parameter values, and nothing talks to AWS. Run by `make check-infra`:
    .venv-sam/bin/python -m unittest discover -s tests/infra -v
"""

import json
import re
import unittest
from pathlib import Path

from cfnlint.decode import decode

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE_PATH = ROOT / "template.yaml"
METRICS_RS = ROOT / "src" / "metrics.rs"

NO_VALUE = object()
INTRINSICS = {"Ref", "Condition"} | {f"Fn::{name}" for name in (
    "Equals", "Not", "Or", "And", "If", "GetAtt", "Sub", "Join", "FindInMap", "Select", "Split",
    "GetAZs", "ImportValue", "Base64", "Cidr", "Contains", "Length", "ToJsonString",
)}


def load_template():
    template, errors = decode(str(TEMPLATE_PATH))
    if errors or template is None:
        raise AssertionError(f"template.yaml does not parse: {errors}")
    # Plain dicts and lists from here on (the decoder's node classes carry line marks).
    return json.loads(json.dumps(template, default=str))


def getatt(value):
    """(logical id, attribute) of a Fn::GetAtt in either spelling, or None."""
    if isinstance(value, dict) and set(value) == {"Fn::GetAtt"}:
        target = value["Fn::GetAtt"]
        if isinstance(target, str):
            target = target.split(".", 1)
        return tuple(target)
    return None


def ref(value):
    if isinstance(value, dict) and set(value) == {"Ref"}:
        return value["Ref"]
    return None


class Stack:
    """The template with parameter values, so that conditions and Fn::If can be evaluated."""

    def __init__(self, template, **overrides):
        self.template = template
        self.params = {name: str(p.get("Default", "")) for name, p in template["Parameters"].items()}
        unknown = set(overrides) - set(self.params)
        if unknown:
            raise AssertionError(f"no such parameters: {unknown}")
        self.params.update(overrides)

    def condition(self, name):
        return bool(self.evaluate(self.template["Conditions"][name]))

    def evaluate(self, node):
        """Evaluates condition functions, Fn::If and Ref to parameters, all the way down; leaves other
        intrinsic functions (Fn::GetAtt, Fn::Sub, ...) as they are."""
        if isinstance(node, list):
            return [v for v in (self.evaluate(item) for item in node) if v is not NO_VALUE]
        if not isinstance(node, dict):
            return node
        intrinsic = len(node) == 1 and next(iter(node)) in INTRINSICS
        if not intrinsic:
            evaluated = {key: self.evaluate(value) for key, value in node.items()}
            return {key: value for key, value in evaluated.items() if value is not NO_VALUE}
        (fn, args), = node.items()
        if fn == "Ref":
            if args == "AWS::NoValue":
                return NO_VALUE
            return self.params.get(args, node)
        if fn == "Condition" and isinstance(args, str):
            return self.condition(args)
        if fn == "Fn::Equals":
            left, right = (self.evaluate(a) for a in args)
            return str(left) == str(right)
        if fn == "Fn::Not":
            return not self.evaluate(args[0])
        if fn == "Fn::Or":
            return any(self.evaluate(a) for a in args)
        if fn == "Fn::And":
            return all(self.evaluate(a) for a in args)
        if fn == "Fn::If":
            name, when_true, when_false = args
            return self.evaluate(when_true if self.condition(name) else when_false)
        return node

    def resources(self, resource_type=None):
        """Logical id -> resource, for the resources that exist with these parameter values."""
        return {
            name: resource
            for name, resource in self.template["Resources"].items()
            if (resource_type is None or resource["Type"] == resource_type)
            and ("Condition" not in resource or self.condition(resource["Condition"]))
        }

    def prop(self, resource, *path):
        node = resource.get("Properties", {})
        for key in path:
            node = self.evaluate(node)
            if not isinstance(node, dict) or key not in node:
                return NO_VALUE
            node = node[key]
        return self.evaluate(node)


def dead_letter_queues(stack):
    """Every queue that receives what failed elsewhere, found from the wiring, not from a list."""
    found = {}
    for name, resource in stack.resources().items():
        kind = resource["Type"]
        if kind == "AWS::SQS::Queue":
            target = getatt(stack.prop(resource, "RedrivePolicy", "deadLetterTargetArn"))
            if target:
                found[target[0]] = f"dead-letter queue of {name}"
        elif kind == "AWS::Events::Rule":
            for target in stack.prop(resource, "Targets") or []:
                arn = getatt(stack.evaluate(target).get("DeadLetterConfig", {}).get("Arn"))
                if arn:
                    found[arn[0]] = f"delivery DLQ of rule {name}"
        elif kind == "AWS::Scheduler::Schedule":
            arn = getatt(stack.prop(resource, "Target", "DeadLetterConfig", "Arn"))
            if arn:
                found[arn[0]] = f"delivery DLQ of schedule {name}"
        elif kind in ("AWS::Serverless::Function", "AWS::Lambda::Function"):
            for path in (
                ("EventInvokeConfig", "DestinationConfig", "OnFailure", "Destination"),
                ("DeadLetterQueue", "TargetArn"),
                ("DeadLetterConfig", "TargetArn"),
            ):
                arn = getatt(stack.prop(resource, *path))
                if arn:
                    found[arn[0]] = f"async failures of {name}"
    return found


def metric_names_in_rust():
    """The metric names src/metrics.rs writes, and its default namespace."""
    source = METRICS_RS.read_text()
    names = set(re.findall(r'Metric::\w+ => "(\w+)"', source))
    names.update(re.findall(r'pub const EXECUTE_LATENCY: &str = "(\w+)";', source))
    namespace = re.search(r'pub const DEFAULT_NAMESPACE: &str = "([^"]+)";', source)
    dimension = re.search(r'pub const FUNCTION_NAME_DIMENSION: &str = "([^"]+)";', source)
    return names, namespace and namespace.group(1), dimension and dimension.group(1)


class TemplateTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.template = load_template()

    def stack(self, **params):
        return Stack(self.template, **params)

    def test_dead_letter_queues_are_found_from_the_wiring(self):
        # With every source wired (a schedule), so that none is hidden behind a condition.
        stack = self.stack(
            ScheduleExpression="rate(1 day)",
            ScheduleProvisionedProductId="pp-abc123",
            ScheduleServiceActionName="RestartService",
        )
        self.assertEqual(
            set(dead_letter_queues(stack)),
            {
                "RequestsDeadLetterQueue",
                "ResultsDeadLetterQueue",
                "EventDeliveryDeadLetterQueue",
                "FunctionDeadLetterQueue",
            },
        )

    def test_every_dead_letter_queue_has_an_alarm_on_any_visible_message(self):
        for params in ({}, {"AlarmEmail": "ops@example.com"}):
            stack = self.stack(**params)
            alarms = stack.resources("AWS::CloudWatch::Alarm")
            for queue, role in dead_letter_queues(stack).items():
                with self.subTest(queue=queue, role=role, params=params):
                    matching = [
                        name
                        for name, alarm in alarms.items()
                        if stack.prop(alarm, "Namespace") == "AWS/SQS"
                        and stack.prop(alarm, "MetricName") == "ApproximateNumberOfMessagesVisible"
                        and [getatt(d["Value"]) for d in stack.prop(alarm, "Dimensions")] == [(queue, "QueueName")]
                        and stack.prop(alarm, "ComparisonOperator") == "GreaterThanThreshold"
                        and float(stack.prop(alarm, "Threshold")) == 0
                        and stack.prop(alarm, "TreatMissingData") == "notBreaching"
                    ]
                    self.assertEqual(len(matching), 1, f"alarms on {queue}: {matching}")

    def test_with_an_email_every_alarm_notifies_the_topic(self):
        stack = self.stack(AlarmEmail="ops@example.com")
        topics = stack.resources("AWS::SNS::Topic")
        self.assertIn("AlarmTopic", topics)
        alarms = stack.resources("AWS::CloudWatch::Alarm")
        self.assertGreaterEqual(len(alarms), 11)
        for name, alarm in alarms.items():
            with self.subTest(alarm=name):
                self.assertIs(stack.prop(alarm, "ActionsEnabled"), True)
                self.assertEqual(stack.prop(alarm, "AlarmActions"), [{"Ref": "AlarmTopic"}])
                self.assertEqual(stack.prop(alarm, "OKActions"), [{"Ref": "AlarmTopic"}])

    def test_without_an_email_the_alarms_exist_without_actions(self):
        stack = self.stack(AlarmEmail="")
        self.assertNotIn("AlarmTopic", stack.resources())
        alarms = stack.resources("AWS::CloudWatch::Alarm")
        self.assertGreaterEqual(len(alarms), 11)
        for name, alarm in alarms.items():
            with self.subTest(alarm=name):
                self.assertIs(stack.prop(alarm, "AlarmActions"), NO_VALUE)
                self.assertIs(stack.prop(alarm, "OKActions"), NO_VALUE)

    def test_the_alarm_topic_is_encrypted_with_a_key_cloudwatch_may_use(self):
        # Without KmsKeyArn: the stack's own key, whose policy lets CloudWatch publish.
        stack = self.stack(AlarmEmail="ops@example.com")
        topic = stack.resources()["AlarmTopic"]
        self.assertEqual(stack.prop(topic, "KmsMasterKeyId"), {"Ref": "AlarmTopicKey"})
        self.assertEqual(stack.prop(topic, "Subscription"), [{"Protocol": "email", "Endpoint": "ops@example.com"}])
        statements = stack.prop(stack.resources()["AlarmTopicKey"], "KeyPolicy", "Statement")
        self.assertTrue(
            any(
                s["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
                and {"kms:Decrypt", "kms:GenerateDataKey*"} <= set(s["Action"])
                for s in statements
            )
        )
        # With KmsKeyArn: that key, and no key of the stack's own.
        key = "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
        stack = self.stack(AlarmEmail="ops@example.com", KmsKeyArn=key)
        self.assertEqual(stack.prop(stack.resources()["AlarmTopic"], "KmsMasterKeyId"), key)
        self.assertNotIn("AlarmTopicKey", stack.resources())

    def test_the_function_and_queues_have_their_alarms(self):
        stack = self.stack()
        alarms = stack.resources("AWS::CloudWatch::Alarm").values()
        watched = {
            (stack.prop(a, "Namespace"), stack.prop(a, "MetricName"), tuple(str(d["Value"]) for d in stack.prop(a, "Dimensions")))
            for a in alarms
        }
        fn = str({"Ref": "ActionRunnerFunction"})
        for metric in ("Errors", "Throttles", "DestinationDeliveryFailures"):
            self.assertIn(("AWS/Lambda", metric, (fn,)), watched)
        for queue in ("RequestsQueue", "ResultsQueue"):
            self.assertIn(("AWS/SQS", "ApproximateAgeOfOldestMessage", (str({"Fn::GetAtt": [queue, "QueueName"]}),)), watched)
        for metric in ("Failed", "TimedOut"):
            self.assertIn(("ScActionRunner", metric, (fn,)), watched)

    def test_age_thresholds_are_parameters(self):
        stack = self.stack(RequestsAgeAlarmSeconds="900", ResultsAgeAlarmSeconds="7200")
        alarms = stack.resources("AWS::CloudWatch::Alarm")
        self.assertEqual(stack.prop(alarms["RequestsAgeAlarm"], "Threshold"), "900")
        self.assertEqual(stack.prop(alarms["ResultsAgeAlarm"], "Threshold"), "7200")

    def test_custom_metric_alarms_follow_the_rust_writer(self):
        names, default_namespace, dimension = metric_names_in_rust()
        self.assertIn("Failed", names)
        self.assertEqual(self.template["Parameters"]["MetricsNamespace"]["Default"], default_namespace)
        stack = self.stack(MetricsNamespace="Ops/Runner")
        custom = [
            a for a in stack.resources("AWS::CloudWatch::Alarm").values() if stack.prop(a, "Namespace") == "Ops/Runner"
        ]
        self.assertEqual(len(custom), 2)
        for alarm in custom:
            self.assertIn(stack.prop(alarm, "MetricName"), names)
            self.assertEqual(stack.prop(alarm, "Dimensions"), [{"Name": dimension, "Value": {"Ref": "ActionRunnerFunction"}}])
        env = stack.prop(stack.resources()["ActionRunnerFunction"], "Environment", "Variables")
        self.assertEqual(env["METRICS_NAMESPACE"], "Ops/Runner")

    def test_metrics_off_leaves_out_the_alarms_on_them(self):
        for off in ("off", "OFF", "Off"):
            stack = self.stack(MetricsNamespace=off)
            namespaces = {stack.prop(a, "Namespace") for a in stack.resources("AWS::CloudWatch::Alarm").values()}
            self.assertEqual(namespaces, {"AWS/SQS", "AWS/Lambda"}, off)

    def test_the_dashboard_is_valid_json_and_names_the_rust_metrics(self):
        names, _, _ = metric_names_in_rust()
        body_template, _ = self.stack().prop(self.stack().resources()["Dashboard"], "DashboardBody")["Fn::Sub"]
        body = re.sub(r"\$\{AlarmArns\}", '["arn:aws:cloudwatch:us-east-1:111122223333:alarm:x"]', body_template)
        body = re.sub(r"\$\{[^}]+\}", "x", body)
        dashboard = json.loads(body)
        shown = {
            metric[1]
            for widget in dashboard["widgets"]
            for metric in widget["properties"].get("metrics", [])
            if metric[0] == "x"  # ${MetricsNamespace}
        }
        self.assertEqual(shown, names)

    def test_a_dead_letter_queue_keeps_messages_longer_than_its_source(self):
        stack = self.stack()
        queues = stack.resources("AWS::SQS::Queue")
        pairs = [
            (name, getatt(stack.prop(q, "RedrivePolicy", "deadLetterTargetArn"))[0])
            for name, q in queues.items()
            if stack.prop(q, "RedrivePolicy") is not NO_VALUE
        ]
        self.assertEqual(len(pairs), 2)
        for source, dlq in pairs:
            with self.subTest(source=source):
                self.assertGreater(
                    int(stack.prop(queues[dlq], "MessageRetentionPeriod")),
                    int(stack.prop(queues[source], "MessageRetentionPeriod")),
                )

    def test_queues_use_sse_sqs_unless_a_key_is_given(self):
        key = "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
        for params, expected in (({}, (NO_VALUE, True)), ({"KmsKeyArn": key}, (key, NO_VALUE))):
            stack = self.stack(**params)
            for name, queue in stack.resources("AWS::SQS::Queue").items():
                with self.subTest(queue=name, params=params):
                    self.assertEqual(
                        (stack.prop(queue, "KmsMasterKeyId"), stack.prop(queue, "SqsManagedSseEnabled")), expected
                    )
        self.assertNotIn("alias/aws/sqs", TEMPLATE_PATH.read_text())

    def test_the_requests_queue_policy_denies_plain_http_and_other_accounts(self):
        stack = self.stack()
        policies = [
            p for p in stack.resources("AWS::SQS::QueuePolicy").values() if stack.prop(p, "Queues") == [{"Ref": "RequestsQueue"}]
        ]
        self.assertEqual(len(policies), 1)
        statements = stack.prop(policies[0], "PolicyDocument", "Statement")
        denies = [s for s in statements if s["Effect"] == "Deny"]
        self.assertTrue(any(s.get("Condition", {}).get("Bool", {}).get("aws:SecureTransport") == "false" for s in denies))
        self.assertTrue(
            any(
                s.get("Condition", {}).get("StringNotEquals", {}).get("aws:PrincipalAccount") == {"Ref": "AWS::AccountId"}
                for s in denies
            )
        )

    def test_reserved_concurrency_is_optional_and_processing_can_be_paused(self):
        for value, expected in (("", NO_VALUE), ("0", NO_VALUE), ("5", "5")):
            stack = self.stack(ReservedConcurrency=value)
            fn = stack.resources()["ActionRunnerFunction"]
            self.assertEqual(stack.prop(fn, "ReservedConcurrentExecutions"), expected, value)
        stack = self.stack(ProcessingEnabled="false")
        requests = stack.prop(stack.resources()["ActionRunnerFunction"], "Events", "Requests", "Properties")
        self.assertEqual(requests["Enabled"], "false")

    def test_sdk_retry_settings_reach_the_function(self):
        stack = self.stack(SdkRetryMode="adaptive", SdkMaxAttempts="5")
        env = stack.prop(stack.resources()["ActionRunnerFunction"], "Environment", "Variables")
        self.assertEqual((env["AWS_RETRY_MODE"], env["AWS_MAX_ATTEMPTS"]), ("adaptive", "5"))

    def test_action_parameters_are_no_echo(self):
        self.assertIs(self.template["Parameters"]["ScheduleParameters"].get("NoEcho"), True)

    def test_outputs_name_every_queue_the_role_the_log_group_and_the_topic(self):
        outputs = self.template["Outputs"]
        for queue in (
            "RequestsQueue",
            "RequestsDeadLetterQueue",
            "ResultsQueue",
            "ResultsDeadLetterQueue",
            "FunctionDeadLetterQueue",
            "EventDeliveryDeadLetterQueue",
        ):
            self.assertEqual(outputs[f"{queue}Url"]["Value"], {"Ref": queue})
            self.assertEqual(outputs[f"{queue}Arn"]["Value"], {"Fn::GetAtt": [queue, "Arn"]})
        self.assertEqual(outputs["FunctionRoleArn"]["Value"], {"Fn::GetAtt": ["ActionRunnerRole", "Arn"]})
        self.assertEqual(outputs["LogGroupName"]["Value"], {"Ref": "ActionRunnerLogGroup"})
        self.assertEqual(outputs["AlarmTopicArn"], {**outputs["AlarmTopicArn"], "Condition": "HasAlarmEmail"})


if __name__ == "__main__":
    unittest.main()
