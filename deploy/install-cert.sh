#!/bin/sh
# certbot deploy hook: copy a new certificate to deploy/tls/ and have nginx load it.
# certbot sets RENEWED_LINEAGE (e.g. /etc/letsencrypt/live/portal.example.org); see
# docs/how-to/deploy-compose.md for how it is registered.
set -eu
here="$(cd "$(dirname "$0")" && pwd)"
install -m 644 "$RENEWED_LINEAGE/fullchain.pem" "$here/tls/fullchain.pem"
install -m 600 "$RENEWED_LINEAGE/privkey.pem" "$here/tls/privkey.pem"
compose="docker compose -f $here/../docker-compose.yml"
if [ -n "$($compose ps -q --status running nginx)" ]; then
  $compose exec -T nginx nginx -s reload
fi
