#!/bin/sh
# Topic initialisation for docker-compose (the `kafka-init` job): every topic of
# contracts/topics.yaml at its partition count, plus its dead-letter twin `<topic>.dlt` with one
# partition. contracts/topics.yaml is read directly (mounted read-only), so this job cannot drift
# from the single source of truth; deploy/tests runs this very script against a stand-in
# kafka-topics.sh.
#
# Idempotent: existing topics are kept; a topic with fewer partitions than topics.yaml asks for is
# grown (Kafka can add partitions, never remove them). Growing a topic moves keys to other
# partitions: see docs/operations.md, "Scaling".
#
# Runs in the official apache/kafka image (POSIX sh + BusyBox awk are enough).
set -eu

BOOTSTRAP="${KAFKA_BOOTSTRAP_SERVERS:-kafka:9092}"
TOPICS_FILE="${TOPICS_FILE:-/contracts/topics.yaml}"
KAFKA_TOPICS="${KAFKA_TOPICS:-/opt/kafka/bin/kafka-topics.sh}"
REPLICATION_FACTOR="${REPLICATION_FACTOR:-1}"
MIN_INSYNC_REPLICAS="${MIN_INSYNC_REPLICAS:-1}"
RETENTION_MS="${RETENTION_MS:-2592000000}"          # 30 days: room to replay into a rebuilt projection
DLT_RETENTION_MS="${DLT_RETENTION_MS:-7776000000}"  # 90 days: time to investigate a poison message

# "name partitions" for every topic under `topics:` (two-space indented keys, `partitions:` below).
topic_list() {
  awk '
    /^topics:[[:space:]]*$/ { in_topics = 1; next }
    in_topics && /^[^[:space:]#]/ { in_topics = 0 }
    !in_topics { next }
    /^  [^[:space:]#][^:]*:[[:space:]]*$/ { name = $1; sub(/:$/, "", name); next }
    /^    partitions:[[:space:]]*[0-9]+/ && name != "" { print name, $2; name = "" }
  ' "$TOPICS_FILE"
}

partition_count() {
  "$KAFKA_TOPICS" --bootstrap-server "$BOOTSTRAP" --describe --topic "$1" 2>/dev/null \
    | sed -n 's/.*PartitionCount:[[:space:]]*\([0-9][0-9]*\).*/\1/p' | head -n 1
}

ensure_topic() {
  name="$1"; partitions="$2"; retention="$3"
  "$KAFKA_TOPICS" --bootstrap-server "$BOOTSTRAP" --create --if-not-exists --topic "$name" \
    --partitions "$partitions" --replication-factor "$REPLICATION_FACTOR" \
    --config "min.insync.replicas=$MIN_INSYNC_REPLICAS" --config "retention.ms=$retention"
  current="$(partition_count "$name")"
  if [ -z "$current" ]; then
    echo "topic $name was not created" >&2
    exit 1
  fi
  if [ "$current" -lt "$partitions" ]; then
    echo "growing $name from $current to $partitions partitions"
    "$KAFKA_TOPICS" --bootstrap-server "$BOOTSTRAP" --alter --topic "$name" --partitions "$partitions"
  fi
}

topics="$(topic_list)"
if [ -z "$topics" ]; then
  echo "no topics found in $TOPICS_FILE" >&2
  exit 1
fi

echo "$topics" | while read -r name partitions; do
  ensure_topic "$name" "$partitions" "$RETENTION_MS"
  ensure_topic "$name.dlt" 1 "$DLT_RETENTION_MS"
done
echo "topics ready:"
"$KAFKA_TOPICS" --bootstrap-server "$BOOTSTRAP" --list
