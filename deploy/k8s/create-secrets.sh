#!/bin/sh
# Creates every Secret the Care Route manifests reference, with fresh random values, in a
# namespace. Existing Secrets are left alone (re-running never rotates anything by accident).
# For production prefer the External Secrets Operator (deploy/k8s/README.md): then this script is
# the list of what to put in the vault.
#
#   sh deploy/k8s/create-secrets.sh careroute dev                                   # dev overlay
#   sh deploy/k8s/create-secrets.sh careroute prod https://careroute.example.org    # prod overlay
#
# Needs kubectl and openssl. Values are hex/base64 (URL-safe where they end up in URLs).
set -eu

NS="${1:-careroute}"
MODE="${2:-dev}"
PUBLIC_URL="${3:-http://careroute.test}"
AUDIT_ORIGIN="${AUDIT_LOG_ORIGIN:-careroute.iom.int/audit}"

hex() { openssl rand -hex 24; }
b64_32() { openssl rand -base64 32 | tr -d '\n'; }

exists() { kubectl -n "$NS" get secret "$1" >/dev/null 2>&1; }
create() {  # create NAME [TYPE] ARGS...
  name="$1"; shift
  if exists "$name"; then
    echo "secret/$name exists, kept"
  else
    kubectl -n "$NS" create secret generic "$name" "$@"
  fi
}

# PostgreSQL roles (CloudNativePG bootstrap owner + managed runtime role), one pair per service.
for svc in intake referral notify audit; do
  create "$svc-db-owner" --type=kubernetes.io/basic-auth \
    --from-literal=username="${svc}_owner" --from-literal=password="$(hex)"
  create "$svc-db-app" --type=kubernetes.io/basic-auth \
    --from-literal=username="$svc" --from-literal=password="$(hex)"
done
create keycloak-db-app --type=kubernetes.io/basic-auth \
  --from-literal=username=keycloak --from-literal=password="$(hex)"
create keycloak-bootstrap-admin \
  --from-literal=username=temp-admin --from-literal=password="$(hex)"

# OIDC client secrets: the realm import's placeholders and the clients' own copies (frontend,
# notify's directory client) read the same Secret. The development realm has fixed dev secrets.
if [ "$MODE" = dev ]; then
  FRONTEND=dev-frontend-secret; NOTIFY=dev-careroute-notify-secret
else
  FRONTEND="$(hex)"; NOTIFY="$(hex)"
fi
create careroute-oidc-clients \
  --from-literal=public-url="$PUBLIC_URL" \
  --from-literal=careroute-frontend="$FRONTEND" \
  --from-literal=careroute-notify="$NOTIFY" \
  --from-literal=careroute-intake="$(hex)" \
  --from-literal=careroute-referral="$(hex)" \
  --from-literal=careroute-audit="$(hex)" \
  --from-literal=msp-hospital-tulcan-system="$(hex)" \
  --from-literal=fiscalia-carchi-system="$(hex)"

# intake's vault keys, mounted as files (INTAKE_KEK_FILE, INTAKE_DUPLICATE_HMAC_KEY_FILE).
KEK_ID="kek-$(date -u +%Y%m%d)"
create intake-keys \
  --from-literal=kek.json="{\"current\": \"$KEK_ID\", \"keys\": {\"$KEK_ID\": \"$(b64_32)\"}}" \
  --from-literal=duplicate-hmac.key="$(b64_32)"

# audit's checkpoint key pair (signer for the worker, verifier for the API and auditors).
if ! exists audit-signer; then
  set -- $(sh "$(dirname "$0")/../keys/audit-keypair.sh" "$AUDIT_ORIGIN")
  create audit-signer --from-literal=signer.key="$1" --from-literal=verifier.pub="$2" \
    --from-literal=verifier-keys.json="[\"$2\"]"
  echo "audit verifier key (publish it for auditors): $2"
fi

# notify: the key encrypting webhook secrets at rest; SMTP credentials if the relay needs them
# (add keys smtp-username / smtp-password to this Secret; both are optional).
create notify-secrets --from-literal=secrets-key="$(b64_32)"

if [ "$MODE" = prod ]; then
  echo "still to create by hand: careroute-tls (ingress certificate, or let cert-manager do it),"
  echo "backup-object-store (ACCESS_KEY_ID, ACCESS_SECRET_KEY for deploy/k8s/overlays/prod/backups.yaml)"
fi
