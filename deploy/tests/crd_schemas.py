"""Small JSON Schemas for the custom resources deploy/k8s uses, written from the operators' documented
fields (API references of Strimzi 0.46+, CloudNativePG 1.26+ and its Barman Cloud plugin, the
Keycloak operator 26.x, KEDA 2.x and the Prometheus Operator). `kubernetes-validate` only warns on
custom resources; these catch a misspelt or misplaced field, a wrong type or a missing required
field in what we wrote. They are deliberately closed (additionalProperties: false) where we know
the documented field list, and cover only the parts we use.
"""
from __future__ import annotations

STR = {"type": "string"}
INT = {"type": "integer"}
BOOL = {"type": "boolean"}
OBJ = {"type": "object"}
STR_LIST = {"type": "array", "items": STR}
QUANTITY = {"type": ["string", "integer"]}
SECRET_KEY_REF = {"type": "object", "required": ["name", "key"], "additionalProperties": False,
                  "properties": {"name": STR, "key": STR, "optional": BOOL}}
LOCAL_REF = {"type": "object", "required": ["name"], "additionalProperties": False, "properties": {"name": STR}}
RESOURCES = {"type": "object", "additionalProperties": False,
             "properties": {"requests": {"type": "object", "additionalProperties": QUANTITY},
                            "limits": {"type": "object", "additionalProperties": QUANTITY}}}
LABEL_SELECTOR = {"type": "object", "additionalProperties": False,
                  "properties": {"matchLabels": {"type": "object", "additionalProperties": STR},
                                 "matchExpressions": {"type": "array"}}}


def resource(api_version: str, kind: str, spec: dict, *, metadata: dict | None = None) -> dict:
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "required": ["apiVersion", "kind", "metadata", "spec"],
        "additionalProperties": False,
        "properties": {
            "apiVersion": {"const": api_version},
            "kind": {"const": kind},
            "metadata": metadata or {"type": "object", "required": ["name"]},
            "spec": spec,
        },
    }


def closed(properties: dict, required: list[str] | None = None) -> dict:
    return {"type": "object", "additionalProperties": False, "properties": properties, "required": required or []}


STRIMZI_CLUSTER_LABEL = {"type": "object", "required": ["name", "labels"], "properties": {
    "labels": {"type": "object", "required": ["strimzi.io/cluster"]}}}

# -- Strimzi (kafka.strimzi.io/v1beta2) ----------------------------------------------------------
NETWORK_POLICY_PEER = {"type": "object", "additionalProperties": False, "properties": {
    "podSelector": LABEL_SELECTOR, "namespaceSelector": LABEL_SELECTOR, "ipBlock": OBJ}}
KAFKA_LISTENER = closed({
    "name": {"type": "string", "pattern": "^[a-z0-9]{1,11}$"},
    "port": {"type": "integer", "minimum": 9092},
    "type": {"enum": ["internal", "route", "loadbalancer", "nodeport", "ingress", "cluster-ip"]},
    "tls": BOOL,
    "authentication": OBJ,
    "configuration": OBJ,
    "networkPolicyPeers": {"type": "array", "items": NETWORK_POLICY_PEER},
}, ["name", "port", "type", "tls"])
KAFKA = resource("kafka.strimzi.io/v1beta2", "Kafka", closed({
    "kafka": closed({
        "version": {"type": "string", "pattern": r"^\d+\.\d+\.\d+$"},
        "metadataVersion": STR,
        "listeners": {"type": "array", "minItems": 1, "items": KAFKA_LISTENER},
        "config": {"type": "object", "additionalProperties": {"type": ["string", "integer", "boolean", "number"]}},
        "authorization": OBJ,
        "rack": OBJ,
        "metricsConfig": OBJ,
        "logging": OBJ,
        "template": OBJ,
        "resources": RESOURCES,
    }, ["listeners"]),
    "entityOperator": closed({"topicOperator": OBJ, "userOperator": OBJ, "template": OBJ}),
    "kafkaExporter": closed({"topicRegex": STR, "groupRegex": STR, "topicExcludeRegex": STR,
                             "groupExcludeRegex": STR, "resources": RESOURCES, "logging": STR,
                             "enableSaramaLogging": BOOL, "showAllOffsets": BOOL, "template": OBJ}),
    "cruiseControl": OBJ,
    "clusterCa": OBJ,
    "clientsCa": OBJ,
}, ["kafka"]), metadata={"type": "object", "required": ["name", "annotations"], "properties": {
    # KRaft with node pools (required up to Strimzi 0.45, harmless after)
    "annotations": {"type": "object", "required": ["strimzi.io/node-pools", "strimzi.io/kraft"],
                    "properties": {"strimzi.io/node-pools": {"const": "enabled"},
                                   "strimzi.io/kraft": {"const": "enabled"}}}}})
KAFKA_NODE_POOL = resource("kafka.strimzi.io/v1beta2", "KafkaNodePool", closed({
    "replicas": {"type": "integer", "minimum": 1},
    "roles": {"type": "array", "minItems": 1, "uniqueItems": True, "items": {"enum": ["controller", "broker"]}},
    "storage": closed({
        "type": {"enum": ["jbod", "persistent-claim", "ephemeral"]},
        "volumes": {"type": "array", "items": closed({
            "id": INT, "type": {"enum": ["persistent-claim", "ephemeral"]}, "size": STR, "class": STR,
            "deleteClaim": BOOL, "kraftMetadata": {"const": "shared"}, "selector": OBJ, "sizeLimit": STR,
        }, ["id", "type"])},
        "size": STR, "class": STR, "deleteClaim": BOOL,
    }, ["type"]),
    "resources": RESOURCES,
    "jvmOptions": OBJ,
    "template": OBJ,
}, ["replicas", "roles", "storage"]), metadata=STRIMZI_CLUSTER_LABEL)
KAFKA_TOPIC = resource("kafka.strimzi.io/v1beta2", "KafkaTopic", closed({
    "topicName": STR,
    "partitions": {"type": "integer", "minimum": 1},
    "replicas": {"type": "integer", "minimum": 1, "maximum": 32767},
    "config": {"type": "object", "additionalProperties": {"type": ["string", "integer", "boolean", "number"]}},
}, ["partitions", "replicas"]), metadata=STRIMZI_CLUSTER_LABEL)

# -- CloudNativePG (postgresql.cnpg.io/v1) and the Barman Cloud plugin (barmancloud.cnpg.io/v1) ------
MANAGED_ROLE = closed({
    "name": STR, "ensure": {"enum": ["present", "absent"]}, "comment": STR, "login": BOOL, "superuser": BOOL,
    "createdb": BOOL, "createrole": BOOL, "inherit": BOOL, "replication": BOOL, "bypassrls": BOOL,
    "connectionLimit": INT, "validUntil": STR, "inRoles": STR_LIST, "passwordSecret": LOCAL_REF,
    "disablePassword": BOOL,
}, ["name"])
CNPG_CLUSTER = resource("postgresql.cnpg.io/v1", "Cluster", closed({
    "instances": {"type": "integer", "minimum": 1},
    "imageName": {"type": "string", "pattern": r":\d+(\.\d+)?"},
    "primaryUpdateStrategy": {"enum": ["unsupervised", "supervised"]},
    "primaryUpdateMethod": {"enum": ["switchover", "restart"]},
    "enableSuperuserAccess": BOOL,
    "storage": closed({"size": STR, "storageClass": STR, "resizeInUseVolumes": BOOL, "pvcTemplate": OBJ}, ["size"]),
    "walStorage": OBJ,
    "resources": RESOURCES,
    "affinity": closed({"enablePodAntiAffinity": BOOL, "topologyKey": STR, "podAntiAffinityType": STR,
                        "nodeSelector": OBJ, "tolerations": {"type": "array"}}),
    "postgresql": closed({"parameters": {"type": "object", "additionalProperties": STR}, "pg_hba": STR_LIST,
                          "shared_preload_libraries": STR_LIST}),
    "bootstrap": closed({
        "initdb": closed({"database": STR, "owner": STR, "secret": LOCAL_REF, "encoding": STR,
                          "localeCollate": STR, "localeCType": STR, "dataChecksums": BOOL,
                          "postInitSQL": STR_LIST, "postInitApplicationSQL": STR_LIST,
                          "postInitTemplateSQL": STR_LIST}, ["database", "owner"]),
        "recovery": OBJ,
        "pg_basebackup": OBJ,
    }),
    "managed": closed({"roles": {"type": "array", "items": MANAGED_ROLE}, "services": OBJ}),
    "plugins": {"type": "array", "items": closed({"name": STR, "enabled": BOOL, "isWALArchiver": BOOL,
                                                  "parameters": {"type": "object", "additionalProperties": STR}},
                                                 ["name"])},
    "backup": OBJ,
    "monitoring": OBJ,
    "externalClusters": {"type": "array"},
    "inheritedMetadata": OBJ,
}, ["instances", "storage"]))
SCHEDULED_BACKUP = resource("postgresql.cnpg.io/v1", "ScheduledBackup", closed({
    # six fields: seconds first (robfig/cron), unlike the five of Kubernetes CronJobs
    "schedule": {"type": "string", "pattern": r"^\S+( \S+){5}$"},
    "backupOwnerReference": {"enum": ["none", "self", "cluster"]},
    "cluster": LOCAL_REF,
    "method": {"enum": ["barmanObjectStore", "volumeSnapshot", "plugin"]},
    "pluginConfiguration": closed({"name": STR, "parameters": OBJ}, ["name"]),
    "immediate": BOOL, "suspend": BOOL, "target": {"enum": ["primary", "prefer-standby"]}, "online": BOOL,
}, ["schedule", "cluster"]))
S3_CREDENTIALS = closed({"accessKeyId": SECRET_KEY_REF, "secretAccessKey": SECRET_KEY_REF, "region": SECRET_KEY_REF,
                         "sessionToken": SECRET_KEY_REF, "inheritFromIAMRole": BOOL})
COMPRESSION = {"enum": ["bzip2", "gzip", "lz4", "snappy", "xz", "zstd"]}
OBJECT_STORE = resource("barmancloud.cnpg.io/v1", "ObjectStore", closed({
    "retentionPolicy": {"type": "string", "pattern": r"^[1-9][0-9]*[dwm]$"},
    "configuration": closed({
        "destinationPath": {"type": "string", "pattern": r"^(s3|gs|https?)://"},
        "endpointURL": STR, "endpointCA": SECRET_KEY_REF,
        "s3Credentials": S3_CREDENTIALS, "azureCredentials": OBJ, "googleCredentials": OBJ,
        "wal": closed({"compression": COMPRESSION, "maxParallel": INT, "encryption": STR,
                       "archiveAdditionalCommandArgs": STR_LIST, "restoreAdditionalCommandArgs": STR_LIST}),
        "data": closed({"compression": COMPRESSION, "jobs": INT, "encryption": STR, "immediateCheckpoint": BOOL,
                        "additionalCommandArgs": STR_LIST}),
        "tags": OBJ, "historyTags": OBJ,
    }, ["destinationPath"]),
    "instanceSidecarConfiguration": OBJ,
}, ["configuration"]))

# -- Keycloak operator (k8s.keycloak.org/v2alpha1) ------------------------------------------------
KEYCLOAK = resource("k8s.keycloak.org/v2alpha1", "Keycloak", closed({
    "instances": {"type": "integer", "minimum": 1},
    "image": {"type": "string", "pattern": r":\d+\.\d+"},
    "imagePullSecrets": {"type": "array"},
    "startOptimized": BOOL,
    "db": closed({"vendor": {"enum": ["postgres", "mariadb", "mysql", "mssql", "oracle", "dev-file", "dev-mem"]},
                  "host": STR, "port": INT, "database": STR, "schema": STR, "url": STR,
                  "usernameSecret": SECRET_KEY_REF, "passwordSecret": SECRET_KEY_REF,
                  "poolInitialSize": INT, "poolMinSize": INT, "poolMaxSize": INT}, ["vendor"]),
    "http": closed({"httpEnabled": BOOL, "httpPort": INT, "httpsPort": INT, "tlsSecret": STR, "annotations": OBJ,
                    "labels": OBJ}),
    "hostname": closed({"hostname": {"type": "string", "pattern": "^https?://"}, "admin": STR, "strict": BOOL,
                        "backchannelDynamic": BOOL}),
    "proxy": closed({"headers": {"enum": ["forwarded", "xforwarded"]}}),
    "ingress": closed({"enabled": BOOL, "className": STR, "annotations": OBJ, "tlsSecret": STR}),
    "bootstrapAdmin": closed({"user": closed({"secret": STR}, ["secret"]),
                              "service": closed({"secret": STR}, ["secret"])}),
    "additionalOptions": {"type": "array", "items": {
        "type": "object", "required": ["name"], "additionalProperties": False,
        "properties": {"name": STR, "value": STR, "secret": SECRET_KEY_REF},
        "oneOf": [{"required": ["value"]}, {"required": ["secret"]}]}},
    "features": closed({"enabled": STR_LIST, "disabled": STR_LIST}),
    "transaction": closed({"xaEnabled": BOOL}),
    "resources": RESOURCES,
    "truststores": OBJ, "cache": OBJ, "scheduling": OBJ, "networkPolicy": OBJ, "unsupported": OBJ,
    "httpManagement": OBJ, "tracing": OBJ, "serviceMonitor": OBJ,
}, ["instances", "db"]))
KEYCLOAK_REALM_IMPORT = resource("k8s.keycloak.org/v2alpha1", "KeycloakRealmImport", closed({
    "keycloakCRName": STR,
    "realm": {"type": "object", "required": ["realm"], "properties": {"realm": STR}},
    "placeholders": {"type": "object", "propertyNames": {"pattern": "^[A-Z_][A-Z0-9_]*$"},
                     "additionalProperties": closed({"secret": SECRET_KEY_REF}, ["secret"])},
    "resources": RESOURCES,
}, ["keycloakCRName", "realm"]))

# -- KEDA (keda.sh/v1alpha1) -----------------------------------------------------------------------
KAFKA_TRIGGER_METADATA = {"type": "object", "required": ["bootstrapServers", "consumerGroup"],
                          "additionalProperties": False, "properties": {
    k: STR for k in ("bootstrapServers", "consumerGroup", "topic", "lagThreshold", "activationLagThreshold",
                     "offsetResetPolicy", "allowIdleConsumers", "scaleToZeroOnInvalidOffset", "excludePersistentLag",
                     "limitToPartitionsWithLag", "version", "partitionLimitation", "sasl", "tls",
                     "ensureEvenDistributionOfPartitions")}}
KAFKA_TRIGGER_METADATA["properties"]["offsetResetPolicy"] = {"enum": ["earliest", "latest"]}
SCALED_OBJECT = resource("keda.sh/v1alpha1", "ScaledObject", closed({
    "scaleTargetRef": closed({"name": STR, "apiVersion": STR, "kind": STR, "envSourceContainerName": STR}, ["name"]),
    "minReplicaCount": {"type": "integer", "minimum": 0},
    "maxReplicaCount": {"type": "integer", "minimum": 1},
    "idleReplicaCount": INT, "pollingInterval": INT, "cooldownPeriod": INT, "initialCooldownPeriod": INT,
    "fallback": OBJ, "advanced": OBJ,
    "triggers": {"type": "array", "minItems": 1, "items": {
        "type": "object", "required": ["type", "metadata"], "additionalProperties": False,
        "properties": {"type": STR, "name": STR, "metadata": OBJ, "authenticationRef": OBJ, "useCachedMetrics": BOOL,
                       "metricType": {"enum": ["AverageValue", "Value", "Utilization"]}},
        "if": {"properties": {"type": {"const": "kafka"}}},
        "then": {"properties": {"metadata": KAFKA_TRIGGER_METADATA}}}},
}, ["scaleTargetRef", "triggers"]))

# -- Prometheus Operator (monitoring.coreos.com/v1) -----------------------------------------------
RELABEL = closed({"sourceLabels": STR_LIST, "separator": STR, "targetLabel": STR, "regex": STR, "modulus": INT,
                  "replacement": STR, "action": STR})
ENDPOINT = closed({"port": STR, "targetPort": {"type": ["string", "integer"]}, "path": STR, "scheme": STR,
                   "interval": {"type": "string", "pattern": r"^\d+[smh]$"}, "scrapeTimeout": STR,
                   "relabelings": {"type": "array", "items": RELABEL},
                   "metricRelabelings": {"type": "array", "items": RELABEL}, "honorLabels": BOOL}, ["port"])
SERVICE_MONITOR = resource("monitoring.coreos.com/v1", "ServiceMonitor", closed({
    "selector": LABEL_SELECTOR, "namespaceSelector": OBJ, "jobLabel": STR, "targetLabels": STR_LIST,
    "podTargetLabels": STR_LIST, "endpoints": {"type": "array", "minItems": 1, "items": ENDPOINT},
}, ["selector", "endpoints"]))
POD_MONITOR = resource("monitoring.coreos.com/v1", "PodMonitor", closed({
    "selector": LABEL_SELECTOR, "namespaceSelector": OBJ, "jobLabel": STR, "podTargetLabels": STR_LIST,
    "podMetricsEndpoints": {"type": "array", "minItems": 1, "items": ENDPOINT},
}, ["selector", "podMetricsEndpoints"]))
RULE = {"type": "object", "additionalProperties": False, "required": ["expr"],
        "properties": {"alert": STR, "record": STR, "expr": {"type": ["string", "integer"]},
                       "for": {"type": "string", "pattern": r"^\d+[smhd]$"},
                       "keep_firing_for": STR, "labels": {"type": "object", "additionalProperties": STR},
                       "annotations": {"type": "object", "additionalProperties": STR}},
        "oneOf": [{"required": ["alert"]}, {"required": ["record"]}]}
PROMETHEUS_RULE = resource("monitoring.coreos.com/v1", "PrometheusRule", closed({
    "groups": {"type": "array", "minItems": 1, "items": closed({
        "name": STR, "interval": STR, "limit": INT, "partial_response_strategy": STR,
        "rules": {"type": "array", "minItems": 1, "items": RULE}}, ["name", "rules"])},
}, ["groups"]))

SCHEMAS = {
    ("kafka.strimzi.io/v1beta2", "Kafka"): KAFKA,
    ("kafka.strimzi.io/v1beta2", "KafkaNodePool"): KAFKA_NODE_POOL,
    ("kafka.strimzi.io/v1beta2", "KafkaTopic"): KAFKA_TOPIC,
    ("postgresql.cnpg.io/v1", "Cluster"): CNPG_CLUSTER,
    ("postgresql.cnpg.io/v1", "ScheduledBackup"): SCHEDULED_BACKUP,
    ("barmancloud.cnpg.io/v1", "ObjectStore"): OBJECT_STORE,
    ("k8s.keycloak.org/v2alpha1", "Keycloak"): KEYCLOAK,
    ("k8s.keycloak.org/v2alpha1", "KeycloakRealmImport"): KEYCLOAK_REALM_IMPORT,
    ("keda.sh/v1alpha1", "ScaledObject"): SCALED_OBJECT,
    ("monitoring.coreos.com/v1", "ServiceMonitor"): SERVICE_MONITOR,
    ("monitoring.coreos.com/v1", "PodMonitor"): POD_MONITOR,
    ("monitoring.coreos.com/v1", "PrometheusRule"): PROMETHEUS_RULE,
}
