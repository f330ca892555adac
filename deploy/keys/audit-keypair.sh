#!/bin/sh
# A new Ed25519 key pair for the audit log's checkpoints, in the audit service's signed-note key
# format (audit.domain.checkpoint; deploy/tests checks that the service parses what this prints):
#   line 1  signer    PRIVATE+KEY+<name>+<keyid>+base64(0x01 || seed)     -> AUDIT_SIGNER_KEY (secret)
#   line 2  verifier  <name>+<keyid>+base64(0x01 || public key)           -> AUDIT_VERIFIER_KEY (public)
# keyid = first 4 bytes of SHA-256(<name> || 0x0A || 0x01 || public key), in hex.
#
#   sh deploy/keys/audit-keypair.sh [name]      (name = AUDIT_LOG_ORIGIN, default careroute.iom.int/audit)
#
# Needs openssl >= 1.1.1. Nothing is written to disk but a private temporary directory.
set -eu

name="${1:-careroute.iom.int/audit}"
umask 077
dir="$(mktemp -d)"
trap 'rm -rf "$dir"' EXIT

openssl genpkey -algorithm ed25519 -outform DER -out "$dir/key.der" 2>/dev/null
tail -c 32 "$dir/key.der" > "$dir/seed"
openssl pkey -inform DER -in "$dir/key.der" -pubout -outform DER 2>/dev/null | tail -c 32 > "$dir/pub"
kid="$({ printf '%s\n\001' "$name"; cat "$dir/pub"; } | openssl dgst -sha256 -binary | head -c 4 | od -An -tx1 | tr -d ' \n')"
seed64="$({ printf '\001'; cat "$dir/seed"; } | base64 | tr -d '\n')"
pub64="$({ printf '\001'; cat "$dir/pub"; } | base64 | tr -d '\n')"
echo "PRIVATE+KEY+$name+$kid+$seed64"
echo "$name+$kid+$pub64"
