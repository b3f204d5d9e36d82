"""Checks of template.yaml that cfn-lint and checkov cannot make: the operational contract.

- every dead-letter queue (a queue's RedrivePolicy target, an EventBridge rule's or schedule's
  DeadLetterConfig, the function's async on-failure destination) has an alarm that fires on any
  visible message;
- with AlarmEmail given, every alarm notifies the alarm topic (on ALARM and on OK); without it,
  no alarm has an action and the topic does not exist;
- the alarms on the function's own metrics use the names, namespace and dimension that
  src/metrics.rs writes;
- a DLQ keeps messages longer than its source queue; the dashboard body is valid JSON;
- the EventBridge rule's presets (pattern and input transformer) are events/aws/presets.json word
  for word; the rule targets the function or the requests queue, and the queue's policy lets this
  rule (and only it) send; the function's role may call tag:GetResources;
- tracking messages and fleet children go to the (standard) requests queue, which the role may send
  to; fleet runs and dry runs may list products and read action parameters; pacing is optional and
  back-off may change visibility; a schedule's idempotency key is its ARN and due time, and it can
  carry a fleet selection.

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
PRESETS_JSON = ROOT / "events" / "aws" / "presets.json"

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


def substitute(node, stack, partition="aws"):
    """The string a Fn::Sub (either form) makes, with parameters and AWS::Partition filled in."""
    if isinstance(node, dict) and set(node) == {"Fn::Sub"}:
        node = node["Fn::Sub"]
    text, variables = (node, {}) if isinstance(node, str) else node
    values = {name: stack.evaluate(value) for name, value in variables.items()}

    def value(match):
        name = match.group(1)
        if name in values:
            return str(values[name])
        if name == "AWS::Partition":
            return partition
        return str(stack.params[name])

    return re.sub(r"\$\{([^}!]+)\}", value, text)


def presets():
    return json.loads(PRESETS_JSON.read_text())


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


    # ------------------------------------------------------------ the EventBridge rule

    def rule_and_target(self, stack):
        rule = stack.resources()["EventRule"]
        (target,) = stack.prop(rule, "Targets")
        return rule, stack.evaluate(target)

    def test_each_preset_is_presets_json_word_for_word(self):
        self.assertEqual(
            set(self.template["Parameters"]["EventPreset"]["AllowedValues"]), {"none"} | set(presets())
        )
        for name, preset in presets().items():
            with self.subTest(preset=name):
                stack = self.stack(EventPreset=name, EventServiceActionName="RestartService")
                rule, target = self.rule_and_target(stack)
                self.assertEqual(stack.prop(rule, "EventPattern"), preset["eventPattern"])
                transformer = target["InputTransformer"]
                self.assertEqual(transformer["InputPathsMap"], preset["inputPathsMap"])
                # The template's !Sub string is presets.json's template, placeholders and all ...
                text, variables = transformer["InputTemplate"]["Fn::Sub"]
                self.assertEqual(text, preset["inputTemplate"])
                self.assertEqual(variables, {"ServiceActionName": {"Ref": "EventServiceActionName"}})
                # ... and what EventBridge gets has the action and the partition in place.
                expected = preset["inputTemplate"].replace("${ServiceActionName}", "RestartService")
                expected = expected.replace("${AWS::Partition}", "aws")
                self.assertEqual(substitute(transformer["InputTemplate"], stack), expected)
                self.assertNotIn("${", expected)

    def test_without_a_preset_the_rule_delivers_events_matching_event_pattern_as_they_are(self):
        stack = self.stack(EventPattern='{"source": ["ops.remediation"]}')
        rule, target = self.rule_and_target(stack)
        self.assertEqual(stack.prop(rule, "EventPattern"), '{"source": ["ops.remediation"]}')
        self.assertNotIn("InputTransformer", target)

    def test_a_preset_needs_an_action_name(self):
        rule = self.template["Rules"]["EventPresetNamesItsAction"]
        self.assertEqual(rule["RuleCondition"], {"Fn::Not": [{"Fn::Equals": [{"Ref": "EventPreset"}, "none"]}]})
        self.assertEqual(
            rule["Assertions"][0]["Assert"], {"Fn::Not": [{"Fn::Equals": [{"Ref": "EventServiceActionName"}, ""]}]}
        )

    def requests_queue_statements(self, stack):
        (policy,) = [
            p for p in stack.resources("AWS::SQS::QueuePolicy").values() if stack.prop(p, "Queues") == [{"Ref": "RequestsQueue"}]
        ]
        return stack.prop(policy, "PolicyDocument", "Statement")

    def test_the_rule_targets_the_function_by_default(self):
        stack = self.stack(EventPreset="ec2-instance-stopped", EventServiceActionName="StartInstance")
        _, target = self.rule_and_target(stack)
        self.assertEqual(getatt(target["Arn"]), ("ActionRunnerFunction", "Arn"))
        permission = stack.resources()["EventRuleInvokePermission"]
        self.assertEqual(stack.prop(permission, "SourceArn"), {"Fn::GetAtt": ["EventRule", "Arn"]})
        statements = self.requests_queue_statements(stack)
        self.assertFalse([s for s in statements if s.get("Principal") == {"Service": "events.amazonaws.com"}])

    def test_a_rule_that_targets_the_requests_queue_may_send_to_it_and_nobody_else_gains(self):
        for preset in ("none", "cloudwatch-alarm"):
            with self.subTest(preset=preset):
                stack = self.stack(EventRuleTarget="requests-queue", EventPreset=preset, EventServiceActionName="Restart")
                _, target = self.rule_and_target(stack)
                self.assertEqual(getatt(target["Arn"]), ("RequestsQueue", "Arn"))
                self.assertEqual(getatt(target["DeadLetterConfig"]["Arn"]), ("EventDeliveryDeadLetterQueue", "Arn"))
                self.assertNotIn("EventRuleInvokePermission", stack.resources())
                statements = self.requests_queue_statements(stack)
                allows = [s for s in statements if s["Effect"] == "Allow" and s["Principal"] == {"Service": "events.amazonaws.com"}]
                self.assertEqual(len(allows), 1)
                (allow,) = allows
                self.assertEqual(allow["Action"], "sqs:SendMessage")
                self.assertEqual(getatt(allow["Resource"]), ("RequestsQueue", "Arn"))
                self.assertEqual(allow["Condition"], {"ArnEquals": {"aws:SourceArn": {"Fn::GetAtt": ["EventRule", "Arn"]}}})
                # The deny of other accounts must not catch a service principal (EventBridge's calls
                # carry aws:PrincipalIsAWSService = true), and plain HTTP stays denied for everyone.
                (deny_accounts,) = [
                    s for s in statements
                    if s["Effect"] == "Deny" and "aws:PrincipalAccount" in s.get("Condition", {}).get("StringNotEquals", {})
                ]
                self.assertEqual(deny_accounts["Condition"]["BoolIfExists"], {"aws:PrincipalIsAWSService": "false"})
                # The queue's encryption stays SSE-SQS, which EventBridge can write to without a key policy.
                queue = stack.resources()["RequestsQueue"]
                self.assertIs(stack.prop(queue, "SqsManagedSseEnabled"), True)

    def test_the_role_may_find_the_product_that_owns_a_resource(self):
        stack = self.stack()
        (policy,) = stack.prop(stack.resources()["ActionRunnerRole"], "Policies")
        statements = stack.evaluate(policy["PolicyDocument"]["Statement"])
        tagging = [s for s in statements if any(str(a).startswith("tag:") for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"]))]
        self.assertEqual(
            tagging, [{"Sid": "ResolveResourceOwners", "Effect": "Allow", "Action": "tag:GetResources", "Resource": "*"}]
        )


    # ------------------------------------------------------------ tracking, fleets, throughput

    def env(self, stack):
        return stack.prop(stack.resources()["ActionRunnerFunction"], "Environment", "Variables")

    def allowed(self, stack, action):
        """The resources the function's role may call `action` on."""
        (policy,) = stack.prop(stack.resources()["ActionRunnerRole"], "Policies")
        found = []
        for statement in stack.evaluate(policy["PolicyDocument"]["Statement"]):
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            if statement["Effect"] == "Allow" and action in actions:
                found.append(statement["Resource"])
        return found

    def test_tracking_messages_and_fleet_children_go_to_the_requests_queue(self):
        stack = self.stack()
        env = self.env(stack)
        self.assertEqual(ref(env["TRACKING_QUEUE_URL"]), "RequestsQueue")
        self.assertEqual(ref(env["REQUESTS_QUEUE_URL"]), "RequestsQueue")
        self.assertEqual((env["TRACK_FIRST_DELAY_SECONDS"], env["TRACK_TIMEOUT_SECONDS"]), ("30", "3600"))
        self.assertIn({"Fn::GetAtt": ["RequestsQueue", "Arn"]}, self.allowed(stack, "sqs:SendMessage"))
        self.assertEqual(self.allowed(stack, "servicecatalog:DescribeRecord"), ["*"])
        # Tracking off: a blank URL, which the function reads as "no tracking".
        self.assertEqual(self.env(self.stack(TrackCompletion="false"))["TRACKING_QUEUE_URL"], "")

    def test_the_requests_queue_is_standard_so_tracking_messages_can_be_delayed(self):
        stack = self.stack()
        queue = stack.resources()["RequestsQueue"]
        self.assertIn(stack.prop(queue, "FifoQueue"), (NO_VALUE, False, "false"))

    def test_fleet_runs_and_dry_runs_may_list_products_and_read_action_parameters(self):
        stack = self.stack()
        for action in (
            "servicecatalog:SearchProvisionedProducts",
            "servicecatalog:DescribeServiceActionExecutionParameters",
        ):
            self.assertEqual(self.allowed(stack, action), ["*"], action)

    def test_pacing_is_optional_and_back_off_needs_change_message_visibility(self):
        self.assertNotIn("SC_MAX_CALLS_PER_SECOND", self.env(self.stack()))
        self.assertEqual(self.env(self.stack(ScMaxCallsPerSecond="4"))["SC_MAX_CALLS_PER_SECOND"], "4")
        env = self.env(self.stack())
        self.assertEqual(
            (env["NAME_CACHE_SECONDS"], env["RETRY_BACKOFF_SECONDS"], env["RETRY_BACKOFF_MAX_SECONDS"]),
            ("60", "2", "300"),
        )
        self.assertIn(
            {"Fn::GetAtt": ["RequestsQueue", "Arn"]}, self.allowed(self.stack(), "sqs:ChangeMessageVisibility")
        )

    def schedule_input(self, **params):
        stack = self.stack(ScheduleExpression="rate(1 day)", ScheduleServiceActionName="PatchOS", **params)
        schedule = stack.resources()["RemediationSchedule"]
        return json.loads(substitute(stack.prop(schedule, "Target", "Input"), stack))

    def test_a_schedule_is_idempotent_per_due_time_not_per_attempt(self):
        request = self.schedule_input(ScheduleProvisionedProductId="pp-abc123")
        self.assertEqual(request["provisionedProductId"], "pp-abc123")
        self.assertEqual(request["idempotencyKey"], "<aws.scheduler.schedule-arn>/<aws.scheduler.scheduled-time>")
        self.assertNotIn("execution-id", json.dumps(request))

    def test_a_schedule_can_carry_a_fleet_selection(self):
        request = self.schedule_input(ScheduleSelectTags='{"env": "prod"}', ScheduleMaxTargets="250")
        self.assertEqual(request["select"], {"tags": {"env": "prod"}, "maxTargets": 250})
        self.assertNotIn("provisionedProductId", request)
        self.assertEqual(request["serviceActionName"], "PatchOS")
        self.assertEqual(request["idempotencyKey"], "<aws.scheduler.schedule-arn>/<aws.scheduler.scheduled-time>")


if __name__ == "__main__":
    unittest.main()
