"""Topic names and partition counts agree everywhere: contracts/topics.yaml (the single source),
the embedded stack (careroute_devstack.stack.create_topics), docker-compose's kafka-init job
(deploy/kafka/create-topics.sh, run here against a stand-in kafka-topics.sh) and the Strimzi
KafkaTopics of every overlay."""
from __future__ import annotations

import os
import stat
import subprocess

import pytest
from deployment import OVERLAYS, ROOT, compose, contract_topics, expected_topics, find, rendered

pytestmark = pytest.mark.unit

FAKE_KAFKA_TOPICS = r"""#!/bin/sh
# Stand-in for kafka-topics.sh: remembers topics in $STATE ("name partitions rf" per line) and logs calls.
echo "$*" >> "$STATE.calls"
touch "$STATE"
op=""; topic=""; partitions=""; rf=""
while [ $# -gt 0 ]; do
  case "$1" in
    --create|--describe|--alter|--list) op="$1" ;;
    --topic) topic="$2"; shift ;;
    --partitions) partitions="$2"; shift ;;
    --replication-factor) rf="$2"; shift ;;
  esac
  shift
done
case "$op" in
  --create) grep -q "^$topic " "$STATE" || echo "$topic $partitions $rf" >> "$STATE" ;;
  --describe) awk -v t="$topic" '$1 == t { printf "Topic: %s\tTopicId: x\tPartitionCount: %s\tReplicationFactor: %s\tConfigs:\n", $1, $2, $3 }' "$STATE" ;;
  --alter) awk -v t="$topic" -v p="$partitions" '$1 == t { $2 = p } { print }' "$STATE" > "$STATE.new" && mv "$STATE.new" "$STATE" ;;
  --list) cut -d' ' -f1 "$STATE" ;;
esac
"""


def run_topic_job(tmp_path, state_lines: list[str] | None = None) -> tuple[dict[str, int], str]:
    fake = tmp_path / "kafka-topics.sh"
    fake.write_text(FAKE_KAFKA_TOPICS)
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    state = tmp_path / "state"
    if state_lines:
        state.write_text("".join(line + "\n" for line in state_lines))
    env = {**os.environ, "KAFKA_TOPICS": str(fake), "STATE": str(state),
           "TOPICS_FILE": str(ROOT / "contracts" / "topics.yaml"), "KAFKA_BOOTSTRAP_SERVERS": "kafka:9092"}
    subprocess.run(["sh", str(ROOT / "deploy" / "kafka" / "create-topics.sh")], env=env, check=True,
                   capture_output=True, text=True, timeout=60)
    topics = {}
    for line in state.read_text().splitlines():
        name, partitions, *_ = line.split()
        topics[name] = int(partitions)
    return topics, (tmp_path / "state.calls").read_text()


def test_contract_topics_are_well_formed():
    for name, spec in contract_topics().items():
        assert name.startswith("careroute.") and not name.endswith(".dlt")
        assert isinstance(spec["partitions"], int) and spec["partitions"] >= 1


def test_embedded_stack_creates_the_contract_topics(monkeypatch):
    import kafka.admin
    from careroute_devstack import stack

    created = []

    class FakeAdmin:
        def __init__(self, **kwargs):
            pass

        def list_topics(self):
            return []

        def create_topics(self, topics):
            created.extend(topics)

        def close(self):
            pass

    monkeypatch.setattr(kafka.admin, "KafkaAdminClient", FakeAdmin)
    stack.create_topics("127.0.0.1:9")
    assert {t.name: t.num_partitions for t in created} == expected_topics()


def test_compose_topic_job_creates_the_contract_topics(tmp_path):
    topics, calls = run_topic_job(tmp_path)
    assert topics == expected_topics()
    assert "--if-not-exists" in calls
    job = compose()["services"]["kafka-init"]
    assert "./contracts:/contracts:ro" in job["volumes"]
    assert job["environment"]["TOPICS_FILE"] == "/contracts/topics.yaml"
    script_mount = next(v for v in job["volumes"] if v.startswith("./deploy/kafka/create-topics.sh:"))
    assert job["entrypoint"][-1] == script_mount.split(":")[1]


def test_compose_topic_job_grows_topics_and_is_idempotent(tmp_path):
    first = next(iter(contract_topics()))
    topics, calls = run_topic_job(tmp_path, [f"{first} 1 1"])
    assert topics == expected_topics()
    assert f"--alter --topic {first} --partitions" in calls
    again, _ = run_topic_job(tmp_path)
    assert again == expected_topics()


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_strimzi_topics_match_the_contracts(overlay):
    topics = find(rendered(overlay), "KafkaTopic")
    assert {t["spec"].get("topicName", t["metadata"]["name"]): t["spec"]["partitions"] for t in topics} \
        == expected_topics()
    for t in topics:
        assert t["metadata"]["labels"]["strimzi.io/cluster"] == "careroute"


def test_prod_topics_are_replicated():
    for t in find(rendered("prod"), "KafkaTopic"):
        assert t["spec"]["replicas"] == 3
        assert t["spec"]["config"]["min.insync.replicas"] == 2
    kafka = find(rendered("prod"), "Kafka")[0]["spec"]["kafka"]["config"]
    assert kafka["min.insync.replicas"] == 2 and kafka["default.replication.factor"] == 3
    assert kafka["auto.create.topics.enable"] is False


def test_dev_topics_fit_one_broker():
    pool = find(rendered("dev"), "KafkaNodePool")[0]
    for t in find(rendered("dev"), "KafkaTopic"):
        assert t["spec"]["replicas"] <= pool["spec"]["replicas"]
        assert t["spec"]["config"]["min.insync.replicas"] <= t["spec"]["replicas"]
