#!/usr/bin/env bash
# The services the tests share, started when they are not running (`make test` runs this after the
# Makefile has installed their Debian packages): PostgreSQL on localhost:5432 (user postgres, no
# password: the back office, company systems and tracker store tests on PostgreSQL) and Redis on
# localhost:6379 (CHANNEL_REDIS_URL of the test stacks). A service already answering on its port is
# left alone, so a second run only probes two ports. REDIS_PORT names another port (to try this script
# without touching the machine's Redis).
set -euo pipefail

REDIS_PORT="${REDIS_PORT:-6379}"
POSTGRES_PORT=5432

answers() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# ensure NAME PORT LOG COMMAND...: start COMMAND unless PORT answers, then wait for it to answer.
ensure() {
    local name=$1 port=$2 log=$3
    shift 3
    if answers "$port"; then
        echo "$name: running on port $port"
        return
    fi
    echo "==> $name: starting on port $port"
    "$@"
    for _ in $(seq 60); do
        answers "$port" && return
        sleep 0.5
    done
    echo "$name did not come up on port $port within 30 s; see $log" >&2
    exit 1
}

ensure PostgreSQL "$POSTGRES_PORT" "/var/log/postgresql/" \
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql)" main start
ensure Redis "$REDIS_PORT" /var/log/redis/ci.log \
    redis-server --daemonize yes --bind 127.0.0.1 -::1 --port "$REDIS_PORT" --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log
