#!/usr/bin/env python3
"""`make sam-local`: the built function in the Lambda container image, through SAM CLI.

Runs every events/*.json, and the events `sam local generate-event` makes, through
`sam local invoke ActionRunnerFunction -e FILE --env-vars ENV`, then a direct request and an SQS batch
through `sam local start-lambda` and boto3's Lambda client. The function talks to moto (SQS) and the
Service Catalog emulator, bound to the Docker bridge address so that the container reaches them. Each
response and every result read back from the results queue is printed, like `make demo`, and checked
against tests/sam-local/expected.json (see tests/sam-local/README.md); any difference fails the run.

    sam_local.py preflight    expected.json complete and well-formed; Docker answers, else what to install
    sam_local.py run --emulator target/debug/sc-emulator --moto .venv/bin/moto_server

`make sam-local` builds first (sam build, the emulator) and runs this with .venv-sam's Python, which
has boto3 through SAM CLI. Everything started here (moto, the emulator, start-lambda, the containers
SAM creates for this run) is stopped when it ends, also on failure, Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EVENTS_DIR = ROOT / "events"
EXPECTED_FILE = ROOT / "tests" / "sam-local" / "expected.json"
BUILT_TEMPLATE = ROOT / ".aws-sam" / "build" / "template.yaml"
FUNCTION = "ActionRunnerFunction"
REGION = "us-east-1"

# The image `sam local invoke` uses for provided.al2023 (SAM CLI pulls the `al2023-<arch>` tag).
OFFICIAL_IMAGE = "public.ecr.aws/lambda/provided:al2023"
# The stand-in built here when it is not: the host's libraries and shell tools, nothing else.
LOCAL_IMAGE_REPO = "sc-action-runner-local/provided"
LOCAL_IMAGE_LABEL = "sc-action-runner.rootfs-sha256"
# In expected.json, the key for the result of a direct invocation, whose id is Lambda's request id.
REQUEST_ID = "<request id>"

DOCKER_HELP = """\
make sam-local runs the function in a container and needs Docker, and `docker info` fails here:
  {reason}
Install Docker Engine and start it, e.g. on Debian or Ubuntu:
  sudo apt-get install docker.io && sudo systemctl start docker   (or: sudo dockerd &)
and let your user talk to it (sudo usermod -aG docker $USER, then log in again).
As root, scripts/with-docker.sh make sam-local installs and starts it for the run, as .ci/run does."""


def shown(path: Path) -> str:
    """A path as a reader of the output wants it: relative to the repository when inside it."""
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


class SetupError(Exception):
    """Something the run needs could not be prepared; the message says what."""


class Interrupted(BaseException):
    """SIGTERM or SIGHUP: stop like on Ctrl-C, cleaning up on the way out."""


# ---------------------------------------------------------------- external commands


def tool_env() -> dict[str, str]:
    """The environment for SAM CLI: test credentials and the region, never a real profile."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_PROFILE", "AWS_SESSION_TOKEN"))}
    env.update(
        AWS_ACCESS_KEY_ID="test",
        AWS_SECRET_ACCESS_KEY="test",
        AWS_REGION=REGION,
        AWS_DEFAULT_REGION=REGION,
        SAM_CLI_TELEMETRY="0",
    )
    return env


def run(argv: list[str], *, input: bytes | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    """Runs a command to completion and captures its output; on Ctrl-C the command is stopped too."""
    with subprocess.Popen(
        argv,
        stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=tool_env(),
        start_new_session=True,
    ) as proc:
        try:
            stdout, stderr = proc.communicate(input, timeout=timeout)
        except BaseException:
            stop_process(proc)
            raise
    return subprocess.CompletedProcess(argv, proc.returncode, stdout, stderr)


def stop_process(proc: subprocess.Popen, sig: int = signal.SIGTERM, grace: float = 10) -> None:
    """Signals the process's group (every child runs in its own session), then kills what is left."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, sig)
        proc.wait(timeout=grace)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        pass
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()


def docker(*args: str, input: bytes | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    return run(["docker", *args], input=input, timeout=timeout)


# ---------------------------------------------------------------- Docker


def docker_problem() -> str | None:
    """None when a Docker daemon answers, else why not."""
    if shutil.which("docker") is None:
        return "the docker command is not installed"
    try:
        info = docker("info", "--format", "{{.ServerVersion}}", timeout=30)
    except subprocess.TimeoutExpired:
        return "the Docker daemon did not answer within 30 s"
    if info.returncode != 0:
        return info.stderr.decode(errors="replace").strip() or f"docker info exited {info.returncode}"
    return None


def check_docker() -> int:
    problem = docker_problem()
    if problem is None:
        return 0
    if os.environ.get("CI") == "true" or os.environ.get("SC_REQUIRE_DOCKER") == "1":
        print(f"error: Docker is required here (CI or SC_REQUIRE_DOCKER=1): {problem}", file=sys.stderr)
        return 1
    print(DOCKER_HELP.format(reason=problem), file=sys.stderr)
    return 2


def bridge_address() -> str:
    """The host's address on Docker's default bridge: what a container reaches the host at."""
    gateway = docker("network", "inspect", "bridge", "--format", "{{range .IPAM.Config}}{{.Gateway}}{{end}}")
    if gateway.returncode == 0 and gateway.stdout.strip():
        return gateway.stdout.decode().strip()
    # Some daemons leave the gateway field empty: read the bridge interface's own address.
    name = docker("network", "inspect", "bridge", "--format", '{{index .Options "com.docker.network.bridge.name"}}')
    interface = name.stdout.decode().strip() or "docker0"
    shown = subprocess.run(["ip", "-4", "-o", "addr", "show", "dev", interface], capture_output=True, text=True)
    found = re.search(r"inet (\d+\.\d+\.\d+\.\d+)/", shown.stdout)
    if not found:
        raise SetupError(f"cannot find the Docker bridge address (interface {interface}): {shown.stderr.strip()}")
    return found.group(1)


def image_label(image: str, label: str) -> str | None:
    """The image's label value; None when the image (or the label) is not there."""
    shown = docker("image", "inspect", "--format", f'{{{{index .Config.Labels "{label}"}}}}', image)
    if shown.returncode != 0:
        return None
    return shown.stdout.decode().strip()


def image_present(image: str) -> bool:
    return docker("image", "inspect", image).returncode == 0


def try_pull(image: str) -> bool:
    print(f"Pulling {image} ...", flush=True)
    try:
        pulled = docker("pull", "--quiet", image, timeout=600)
    except subprocess.TimeoutExpired:
        print("   no answer within 600 s")
        return False
    if pulled.returncode != 0:
        print(f"   not available: {pulled.stderr.decode(errors='replace').strip()[:200]}")
    return pulled.returncode == 0


def invoke_image(arch: str, bootstrap: Path) -> str:
    """SAM_INVOKE_IMAGE if set; else the official base image if present or pullable; else a local one."""
    chosen = os.environ.get("SAM_INVOKE_IMAGE")
    if chosen:
        if not image_present(chosen) and not try_pull(chosen):
            raise SetupError(f"SAM_INVOKE_IMAGE={chosen} is neither present nor pullable")
        return chosen
    official = [f"{OFFICIAL_IMAGE}-{arch}", OFFICIAL_IMAGE]
    present = [image for image in official if image_present(image)]
    if present:
        return present[0]
    if try_pull(official[0]):
        return official[0]
    return local_base_image(arch, bootstrap)


def shared_libraries(binary: Path) -> list[Path]:
    """What the dynamic loader needs for `binary`, as `ldd` lists it (nothing for a static binary)."""
    listed = subprocess.run(["ldd", str(binary)], capture_output=True, text=True)
    if listed.returncode != 0:
        return []
    return [Path(m.group(1)) for m in re.finditer(r"(/\S+) \(0x", listed.stdout)]


def base_image_files(bootstrap: Path) -> dict[str, Path]:
    """The local base image's files (path in the image -> file on the host): the shell tools SAM's
    generated Dockerfile runs (sh, mv, chmod), the libraries they and the function load, CA roots."""
    tools = [Path(shutil.which(name) or f"/bin/{name}") for name in ("sh", "mv", "chmod")]
    files = {f"bin/{tool.name}": tool for tool in tools}
    for binary in [*tools, bootstrap]:
        for library in shared_libraries(binary):
            files[str(library).lstrip("/")] = library
    ca_roots = Path("/etc/ssl/certs/ca-certificates.crt")
    if ca_roots.is_file():
        files["etc/ssl/certs/ca-certificates.crt"] = ca_roots
    return files


def rootfs_tar(files: dict[str, Path]) -> tuple[bytes, str]:
    """A tar of the files (symlinks followed) and the digest of what is in it."""
    digest = hashlib.sha256()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for directory in ("tmp", "var/task", "var/runtime"):
            info = tarfile.TarInfo(directory)
            info.type, info.mode = tarfile.DIRTYPE, 0o1777 if directory == "tmp" else 0o755
            tar.addfile(info)
        for name in sorted(files):
            data = files[name].resolve().read_bytes()
            digest.update(name.encode() + b"\0" + hashlib.sha256(data).digest())
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o755
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue(), digest.hexdigest()


def local_base_image(arch: str, bootstrap: Path) -> str:
    """Builds (or reuses) the stand-in for provided.al2023 with `docker import`: no registry needed.

    SAM CLI builds its own image on top (`<repo>:rapid-<arch>`, adding its Runtime Interface
    Emulator) and reuses that even when the base changed, so a rebuilt base removes it."""
    image = f"{LOCAL_IMAGE_REPO}:al2023-{arch}"
    tar, digest = rootfs_tar(base_image_files(bootstrap))
    if image_label(image, LOCAL_IMAGE_LABEL) == digest:
        print(f"Local base image {image} is up to date")
        return image
    print(f"Building the local base image {image} (no registry image available)")
    previous = docker("image", "inspect", "--format", "{{.Id}}", image).stdout.decode().strip()
    docker("image", "rm", "--force", f"{LOCAL_IMAGE_REPO}:rapid-{arch}")
    imported = docker("import", "--change", f"LABEL {LOCAL_IMAGE_LABEL}={digest}", "-", image, input=tar)
    if imported.returncode != 0:
        raise SetupError(f"docker import failed: {imported.stderr.decode(errors='replace').strip()}")
    if previous:
        docker("image", "rm", previous)  # the old base, now untagged (kept if something still uses it)
    return image


def remove_containers_with(marker: str) -> int:
    """Removes the containers whose environment holds `marker` (this run's results queue URL)."""
    listed = docker("ps", "--all", "--quiet", "--no-trunc")
    ids = listed.stdout.decode().split()
    if not ids:
        return 0
    shown = docker("inspect", "--format", "{{.Id}} {{json .Config.Env}}", *ids)
    ours = [line.split(" ", 1)[0] for line in shown.stdout.decode().splitlines() if marker in line]
    if ours:
        docker("rm", "--force", *ours)
    return len(ours)


# ---------------------------------------------------------------- moto, the emulator, start-lambda


@dataclass
class Services:
    """Every process this run started, stopped in reverse order by `stop`."""

    work_dir: Path
    processes: list[tuple[str, subprocess.Popen, int]] = field(default_factory=list)

    def start(self, name: str, argv: list[str], stop_signal: int = signal.SIGTERM) -> subprocess.Popen:
        log = open(self.work_dir / f"{name}.log", "wb")
        proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=tool_env(), start_new_session=True
        )
        log.close()
        self.processes.append((name, proc, stop_signal))
        return proc

    def log(self, name: str) -> str:
        return (self.work_dir / f"{name}.log").read_text(errors="replace")

    def stop(self) -> None:
        for _, proc, stop_signal in reversed(self.processes):
            stop_process(proc, stop_signal)
        self.processes.clear()


def free_port(host: str) -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


def wait_until_listening(services: Services, name: str, proc: subprocess.Popen, host: str, port: int) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SetupError(f"{name} exited ({proc.returncode}) before listening:\n{services.log(name)[-2000:]}")
        with socket.socket() as probe:
            if probe.connect_ex((host, port)) == 0:
                return
        time.sleep(0.1)
    raise SetupError(f"{name} did not listen on {host}:{port} within 90 s:\n{services.log(name)[-2000:]}")


def start_moto(services: Services, moto: str, host: str) -> str:
    port = free_port(host)
    proc = services.start("moto", [moto, "-H", host, "-p", str(port)])
    wait_until_listening(services, "moto", proc, host, port)
    return f"http://{host}:{port}"


def start_emulator(services: Services, emulator: str, host: str) -> str:
    port_file = services.work_dir / "emulator.port"
    proc = services.start("emulator", [emulator, "--host", host, "--port", "0", "--port-file", str(port_file)])
    deadline = time.monotonic() + 60
    while not port_file.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SetupError(f"the emulator did not start:\n{services.log('emulator')[-2000:]}")
        time.sleep(0.05)
    return f"http://{host}:{port_file.read_text().strip()}"


def start_lambda(services: Services, image: str, env_file: Path) -> str:
    """`sam local start-lambda` on a free loopback port; the endpoint boto3's Lambda client uses."""
    port = free_port("127.0.0.1")
    argv = [*sam_command("start-lambda"), "--host", "127.0.0.1", "--port", str(port)]
    argv += sam_invoke_options(image, env_file)
    # SIGINT is how SAM CLI expects to be stopped: it then removes the containers it started.
    proc = services.start("start-lambda", argv, stop_signal=signal.SIGINT)
    wait_until_listening(services, "start-lambda", proc, "127.0.0.1", port)
    return f"http://127.0.0.1:{port}"


# ---------------------------------------------------------------- SQS


def sqs_client(endpoint: str):
    import boto3  # SAM CLI's dependency, in .venv-sam

    return boto3.client(
        "sqs",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )


def take_results(sqs, queue_url: str) -> list[dict]:
    """Receives and deletes every message now on the results queue, in the order received."""
    results = []
    while True:
        messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages")
        if not messages:
            return results
        for message in messages:
            try:
                results.append(json.loads(message["Body"]))
            except ValueError:
                results.append({"unparsed": message["Body"]})
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])


# ---------------------------------------------------------------- invoking the function


@dataclass
class Answer:
    """What an invocation gave back: a response, or Lambda's errorType and errorMessage."""

    response: object = None
    error_type: str | None = None
    error_message: str = ""
    request_id: str | None = None
    log: str = ""


def sam_command(*subcommand: str) -> list[str]:
    return [os.environ.get("SAM", "sam"), "local", *subcommand]


def sam_invoke_options(image: str, env_file: Path) -> list[str]:
    """What `sam local invoke` and `start-lambda` share: the built template, the generated
    --env-vars, the base image (never pulled: it is present by now) and the region."""
    options = ["--template", str(BUILT_TEMPLATE), "--env-vars", str(env_file)]
    return options + ["--invoke-image", image, "--skip-pull-image", "--region", REGION]


def last_request_id(log: str) -> str | None:
    """The Lambda request id of the last invocation in a log (the runtime's START, END or REPORT
    line; SAM CLI's log stream sometimes misses some of them)."""
    found = re.findall(r"(?:START|END|REPORT) RequestId: ([0-9a-f-]+)", log)
    return found[-1] if found else None


def answer_from(payload: str, request_id: str | None, log: str, failed: bool = False) -> Answer:
    try:
        value = json.loads(payload)
    except ValueError:
        value = payload.strip()
    lambda_error = isinstance(value, dict) and set(value) <= {"errorType", "errorMessage", "stackTrace"}
    if isinstance(value, dict) and "errorType" in value and (failed or lambda_error):
        return Answer(None, value["errorType"], value.get("errorMessage", ""), request_id, log)
    return Answer(value, None, "", request_id, log)


def invoke_with_sam(event_file: Path, image: str, env_file: Path) -> Answer:
    """`sam local invoke` with one event file: the response is on stdout, the logs on stderr."""
    argv = [*sam_command("invoke"), FUNCTION, "--event", str(event_file), *sam_invoke_options(image, env_file)]
    try:
        done = run(argv, timeout=600)
    except subprocess.TimeoutExpired:
        return Answer(None, "SamCliTimeout", "sam local invoke did not finish within 600 s")
    log = done.stderr.decode(errors="replace")
    if done.returncode != 0:
        return Answer(None, "SamCliFailed", f"sam local invoke exited {done.returncode}", None, log)
    return answer_from(done.stdout.decode(errors="replace"), last_request_id(log), log)


def invoke_with_client(lambda_client, event_file: Path, services: Services) -> Answer:
    """boto3's Lambda client against `sam local start-lambda`, as an application would call it."""
    from botocore.exceptions import BotoCoreError, ClientError

    before = len(services.log("start-lambda"))
    try:
        reply = lambda_client.invoke(FunctionName=FUNCTION, Payload=event_file.read_bytes())
    except (BotoCoreError, ClientError) as e:
        return Answer(None, type(e).__name__, str(e), None, services.log("start-lambda")[before:])
    payload = reply["Payload"].read().decode(errors="replace")
    log = services.log("start-lambda")[before:]
    return answer_from(payload, last_request_id(log), log, failed="FunctionError" in reply)


# ---------------------------------------------------------------- expectations


@dataclass
class Case:
    """One invocation to make: the event file, how it is invoked and what it must produce."""

    name: str
    event_file: Path
    via: str  # "sam local invoke" or "start-lambda"
    expected: dict


RESPONSE_KINDS = ("outcome", "batchItemFailures", "errorType")


def read_expectations(expected_file: Path, events_dir: Path) -> dict:
    """expected.json, checked: one entry per events/*.json (an event added without expectations, or
    an entry left behind by a removed event, is an error), each entry well-formed."""
    expected = json.loads(expected_file.read_text())
    files = sorted(p.name for p in events_dir.glob("*.json"))
    missing = [f for f in files if f not in expected["events"]]
    stale = [f for f in expected["events"] if f not in files]
    if missing or stale:
        gaps = [f"no entry for {', '.join(missing)}"] if missing else []
        gaps += [f"an entry but no event file for {', '.join(stale)}"] if stale else []
        raise SetupError(f"{shown(expected_file)} needs one entry per {shown(events_dir)}/*.json: {'; '.join(gaps)}")
    entries = {**expected["events"], **expected["generated"]}
    for name, entry in entries.items():
        kinds = [k for k in RESPONSE_KINDS if k in entry.get("response", {})]
        specs = entry.get("results", {}).values()
        if len(kinds) != 1 or not all(parse_result_spec(spec)[0] in ("EXECUTED", "REJECTED") for spec in specs):
            raise SetupError(
                f"{shown(expected_file)}: {name}: the response needs one of {', '.join(RESPONSE_KINDS)}, and "
                'results values look like "EXECUTED" or "REJECTED <code>[: <text>]"'
            )
    unknown = [f for f in expected["startLambda"] if f not in expected["events"]]
    if unknown:
        raise SetupError(f"{shown(expected_file)}: startLambda names events without an entry: {unknown}")
    return expected


def load_cases(expected: dict, events_dir: Path, work_dir: Path) -> list[Case]:
    """Every events/*.json, the generated events, then the start-lambda invocations."""
    cases = [
        Case(shown(events_dir / f), events_dir / f, "sam local invoke", entry)
        for f, entry in sorted(expected["events"].items())
    ]
    for name, entry in expected["generated"].items():
        event_file = generate_event(entry["generate"], work_dir / f"{name}.json")
        cases.append(Case(f"generated {name}", event_file, "sam local invoke", entry))
    for f in expected["startLambda"]:
        cases.append(Case(shown(events_dir / f), events_dir / f, "start-lambda", expected["events"][f]))
    return cases


def generate_event(arguments: list[str], path: Path) -> Path:
    generated = run([*sam_command("generate-event"), *arguments])
    if generated.returncode != 0:
        raise SetupError(f"sam local generate-event {' '.join(arguments)}: {generated.stderr.decode().strip()}")
    path.write_bytes(generated.stdout)
    return path


def parse_result_spec(spec: str) -> tuple[str, str | None, str | None]:
    """"EXECUTED" | "REJECTED <code>" | "REJECTED <code>: <text the message contains>"."""
    head, _, text = spec.partition(": ")
    outcome, _, code = head.partition(" ")
    return outcome, code or None, text or None


def check_response(answer: Answer, expected: dict, results: list[dict]) -> list[str]:
    if "errorType" in expected:
        if answer.error_type != expected["errorType"]:
            return [f"expected the invocation to fail with {expected['errorType']}, got {describe(answer)}"]
        return []
    if answer.error_type is not None:
        return [f"the invocation failed: {answer.error_type}: {answer.error_message}"]
    response = answer.response
    if "batchItemFailures" in expected:
        if not isinstance(response, dict) or not isinstance(response.get("batchItemFailures"), list):
            return [f"expected an SQS batch response, got {describe(answer)}"]
        handed_back = sorted(f.get("itemIdentifier") for f in response["batchItemFailures"])
        wanted = expected["batchItemFailures"]
        if isinstance(wanted, int) and len(handed_back) != wanted:
            return [f"expected {wanted} batchItemFailures, got {len(handed_back)}: {handed_back}"]
        if isinstance(wanted, list) and handed_back != sorted(wanted):
            return [f"expected batchItemFailures {sorted(wanted)}, got {handed_back}"]
        return []
    if not isinstance(response, dict) or response.get("outcome") != expected["outcome"]:
        return [f"expected a {expected['outcome']} result as the response, got {describe(answer)}"]
    published = [r for r in results if r.get("source") == response.get("source")]
    if published != [response]:
        return ["the response is not the result published to the results queue"]
    return []


def request_id_of(answer: Answer) -> str | None:
    """The invocation's request id: from the runtime's log lines, else from a direct result's source
    (the function names the request id there; the response is checked to be the published result)."""
    if answer.request_id:
        return answer.request_id
    source = answer.response.get("source") if isinstance(answer.response, dict) else None
    if isinstance(source, dict) and source.get("kind") == "direct":
        return source.get("id")
    return None


def check_results(results: list[dict], expected: dict, request_id: str | None) -> list[str]:
    problems, by_source = [], {}
    for result in results:
        source = (result.get("source") or {}).get("id")
        if source in by_source:
            problems.append(f"two results for {source}")
        by_source[source] = result
    for source, spec in expected.items():
        if source == REQUEST_ID:
            if request_id is None:
                problems.append("the invocation's request id is known neither from the logs nor from the response")
                continue
            source = request_id
        result = by_source.pop(source, None)
        if result is None:
            problems.append(f"no result for {source} (expected {spec})")
            continue
        outcome, code, text = parse_result_spec(spec)
        error = result.get("error") or {}
        message_differs = text is not None and text not in error.get("message", "")
        if (result.get("outcome"), error.get("code")) != (outcome, code) or message_differs:
            problems.append(f"{source}: expected {spec}, got {result_line(result)}")
    problems += [f"unexpected result for {source}: {result_line(r)}" for source, r in by_source.items()]
    return problems


# ---------------------------------------------------------------- printing (as `make demo` does)


def short(text: str) -> str:
    return f"{text[:8]}…{text[-4:]}" if len(text) > 16 else text


def describe(answer: Answer) -> str:
    if answer.error_type is not None:
        return f"invocation failed: {answer.error_type}: {answer.error_message[:200]}"
    response = answer.response
    if isinstance(response, dict) and isinstance(response.get("batchItemFailures"), list):
        ids = [short(str(f.get("itemIdentifier"))) for f in response["batchItemFailures"]]
        if not ids:
            return "batchItemFailures: [] (every record acknowledged)"
        return f"batchItemFailures: {len(ids)} handed back ({', '.join(ids)})"
    if isinstance(response, dict) and "outcome" in response:
        return f"{response['outcome']} (the published result)"
    return json.dumps(response)[:200]


def result_line(result: dict) -> str:
    source = result.get("source") or {}
    where = f"{source.get('kind', '-')} {short(str(source.get('id', '-')))}"
    if result.get("outcome") == "EXECUTED":
        record = result.get("recordDetail") or {}
        return (
            f"EXECUTED  {where:<24} {result.get('provisionedProductId')} → {result.get('serviceActionId')}  "
            f"record {record.get('RecordId')} ({record.get('Status')})  token {short(result.get('executeToken', '-'))}"
        )
    if result.get("outcome") == "REJECTED":
        error = result.get("error") or {}
        return f"REJECTED  {where:<24} {error.get('code')}: {error.get('message', '')[:110]}"
    return json.dumps(result)[:200]


# ---------------------------------------------------------------- the run


@dataclass
class Tally:
    invocations: int = 0
    executed: int = 0
    rejected: int = 0
    failed: list[str] = field(default_factory=list)


def run_case(case: Case, answer: Answer, results: list[dict], tally: Tally) -> None:
    print(f"\n== {case.name}  ({case.via})")
    print(f"   response: {describe(answer)}")
    for result in results:
        print(f"   result: {result_line(result)}")
    if not results:
        print("   result: (none on the results queue)")
    problems = check_response(answer, case.expected["response"], results)
    problems += check_results(results, case.expected["results"], request_id_of(answer))
    tally.invocations += 1
    tally.executed += sum(r.get("outcome") == "EXECUTED" for r in results)
    tally.rejected += sum(r.get("outcome") == "REJECTED" for r in results)
    for problem in problems:
        print(f"   NOT AS EXPECTED: {problem}")
    if problems:
        tally.failed.append(case.name + f" ({case.via})")
        print("   function log (last lines):\n      " + "\n      ".join(answer.log.strip().splitlines()[-15:]))


def run_all(args: argparse.Namespace, services: Services, marker_holder: list[str]) -> Tally:
    import boto3
    from botocore.config import Config

    bootstrap = BUILT_TEMPLATE.parent / FUNCTION / "bootstrap"
    if not bootstrap.is_file():
        raise SetupError(f"{shown(bootstrap)} is missing: run `make sam-build` first")
    host = bridge_address()
    image = invoke_image(args.arch, bootstrap)
    moto_url = start_moto(services, args.moto, host)
    emulator_url = start_emulator(services, args.emulator, host)
    sqs = sqs_client(moto_url)
    # A queue name of its own, so that this run's containers can be told apart (see cleanup).
    run = uuid.uuid4().hex[:8]
    queue_url = sqs.create_queue(QueueName=f"sc-action-results-{run}")["QueueUrl"]
    requests_url = sqs.create_queue(QueueName=f"sc-action-requests-{run}")["QueueUrl"]
    marker_holder.append(f"RESULTS_QUEUE_URL={queue_url}")
    env_file = services.work_dir / "env.json"
    # The template's queue references (!Ref) mean nothing to sam local: every queue URL is set here.
    # Tracking is off (TRACKING_QUEUE_URL blank), so each request has exactly the results that
    # expected.json lists; fleet runs would send their children to the requests queue.
    variables = {
        "RESULTS_QUEUE_URL": queue_url,
        "REQUESTS_QUEUE_URL": requests_url,
        "TRACKING_QUEUE_URL": "",
        "AWS_ENDPOINT_URL_SQS": moto_url,
        "AWS_ENDPOINT_URL_SERVICE_CATALOG": emulator_url,
        "AWS_ENDPOINT_URL_RESOURCE_GROUPS_TAGGING_API": emulator_url,
    }
    env_file.write_text(json.dumps({FUNCTION: variables}, indent=2))
    print(f"  image               {image}")
    print(f"  SQS (moto)          {moto_url}")
    print(f"  Service Catalog     {emulator_url}")
    print(f"  results queue       {queue_url}")
    print(f"  --env-vars          {env_file}")

    cases = load_cases(read_expectations(args.expected, args.events), args.events, services.work_dir)
    tally = Tally()
    for case in (c for c in cases if c.via == "sam local invoke"):
        answer = invoke_with_sam(case.event_file, image, env_file)
        run_case(case, answer, take_results(sqs, queue_url), tally)

    client_cases = [c for c in cases if c.via == "start-lambda"]
    if client_cases:
        endpoint = start_lambda(services, image, env_file)
        print(f"\nsam local start-lambda at {endpoint}; invoking with boto3's Lambda client")
        client = boto3.client(
            "lambda",
            endpoint_url=endpoint,
            region_name=REGION,
            aws_access_key_id="test",
            aws_secret_access_key="test",
            config=Config(read_timeout=600, retries={"max_attempts": 0}),
        )
        for case in client_cases:
            answer = invoke_with_client(client, case.event_file, services)
            run_case(case, answer, take_results(sqs, queue_url), tally)
    return tally


def raise_interrupted(signum, _frame):
    raise Interrupted(signal.Signals(signum).name)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    check = sub.add_parser("preflight", help="expected.json complete and well-formed, Docker answering")
    go = sub.add_parser("run", help="every event through sam local invoke and start-lambda, checked")
    go.add_argument("--emulator", required=True, help="the sc-emulator binary")
    go.add_argument("--moto", required=True, help="the moto_server program")
    go.add_argument("--arch", default="x86_64", choices=["x86_64", "arm64"], help="the function's architecture")
    for command in (check, go):
        command.add_argument("--events", type=Path, default=EVENTS_DIR, help="the sample events (events/)")
        command.add_argument("--expected", type=Path, default=EXPECTED_FILE, help="what each must produce")
    args = parser.parse_args(argv)
    try:
        read_expectations(args.expected, args.events)
    except SetupError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    docker_status = check_docker()
    if docker_status != 0 or args.command == "preflight":
        return docker_status

    signal.signal(signal.SIGTERM, raise_interrupted)
    signal.signal(signal.SIGHUP, raise_interrupted)
    started = time.monotonic()
    services = Services(Path(tempfile.mkdtemp(prefix="sam-local-")))
    marker: list[str] = []
    print("Starting moto (SQS) and the Service Catalog emulator on the Docker bridge; SAM CLI runs the function")
    outcome = 1
    try:
        tally = run_all(args, services, marker)
        seconds = time.monotonic() - started
        print(
            f"\nDone in {seconds:.0f} s: {tally.invocations} invocations, {tally.executed} EXECUTED and "
            f"{tally.rejected} REJECTED results read back from the results queue."
        )
        if tally.failed:
            print(f"error: not as expected: {', '.join(tally.failed)}", file=sys.stderr)
        else:
            print(f"Every response and result is as {shown(args.expected)} says.")
            outcome = 0
    except SetupError as e:
        print(f"error: {e}", file=sys.stderr)
    except subprocess.TimeoutExpired as e:
        print(f"error: {' '.join(map(str, e.cmd))} did not finish within {e.timeout:.0f} s", file=sys.stderr)
    except (KeyboardInterrupt, Interrupted):
        print("\ninterrupted: stopping start-lambda, the emulator, moto and this run's containers", file=sys.stderr)
        outcome = 130
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):  # nothing may cut the cleanup short
            signal.signal(sig, signal.SIG_IGN)
        services.stop()
        removed = remove_containers_with(marker[0]) if marker else 0
        if removed:
            print(f"removed {removed} container(s) this run left behind")
        if outcome == 0:
            shutil.rmtree(services.work_dir, ignore_errors=True)
        else:
            print(f"logs: {services.work_dir}", file=sys.stderr)
    return outcome


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
