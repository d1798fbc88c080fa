#!/bin/sh
# Registers the namespace the worker uses and the OnboardingStatus search attribute (Keyword)
# that the workflow sets and operators filter on. Safe to repeat at every `docker compose up`.
set -eu
: "${TEMPORAL_ADDRESS:?}"
namespace=${TEMPORAL_NAMESPACE:-default}

# The frontend answers before namespace and search-attribute calls work: retry each step.
retry() {
  attempt=1
  until "$@"; do
    [ "$attempt" -ge 30 ] && return 1
    attempt=$((attempt + 1))
    sleep 2
  done
}

retry temporal operator cluster health
if ! temporal operator namespace describe --namespace "$namespace" >/dev/null 2>&1; then
  retry temporal operator namespace create --namespace "$namespace" \
    --retention "${TEMPORAL_NAMESPACE_RETENTION:-30d}"
fi
if ! temporal operator search-attribute list --namespace "$namespace" | grep -q 'OnboardingStatus'; then
  retry temporal operator search-attribute create --namespace "$namespace" \
    --name OnboardingStatus --type Keyword
fi
echo "Namespace $namespace has the OnboardingStatus search attribute."
