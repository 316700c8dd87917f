#!/bin/sh
# Waits for the namespace, registers the brain's search attributes, checks they are there.
# Any failure exits non-zero (compose then never starts the API and the workers, which wait
# for this job with condition: service_completed_successfully).
set -eu
NS="${MCOS_TEMPORAL_NAMESPACE:-default}"
WAIT_S="${SETUP_WAIT_S:-180}"
waited=0
until temporal operator namespace describe --namespace "$NS" >/dev/null 2>&1; do
  if [ "$waited" -ge "$WAIT_S" ]; then
    echo "temporal-setup: namespace $NS not available at $TEMPORAL_ADDRESS after ${WAIT_S}s" >&2
    exit 1
  fi
  sleep 2
  waited=$((waited + 2))
done
echo "temporal-setup: namespace $NS is up"
# name=type, the same as mcos/kernel/contracts.py SEARCH_ATTRIBUTES
for spec in McosUserId=Keyword McosMessageCount=Int McosOpenTasks=Int McosLastActivity=Datetime; do
  name="${spec%%=*}"
  kind="${spec#*=}"
  if ! temporal operator search-attribute create --namespace "$NS" --name "$name" --type "$kind"; then
    echo "temporal-setup: create $name failed (already there?), checking" >&2
  fi
done
listed="$(temporal operator search-attribute list --namespace "$NS")"
for spec in McosUserId McosMessageCount McosOpenTasks McosLastActivity; do
  if ! printf '%s\n' "$listed" | grep -q "$spec"; then
    echo "temporal-setup: search attribute $spec is missing" >&2
    exit 1
  fi
done
echo "temporal-setup: search attributes registered"
