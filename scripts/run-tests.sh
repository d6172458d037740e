#!/usr/bin/env bash
# The test suite as two pytest processes at once: the browser tests (mostly waiting on Chromium,
# Reflex and the API) beside everything else (mostly CPU), so CI's wall time is the longer of the
# two rather than their sum. Each process has its own database and Redis key prefix
# (tests/conftest.py), so they cannot see each other's data. Each line is prefixed with its
# process; the exit status is non-zero if either failed.
#   scripts/run-tests.sh [pytest args...]     CARNET_TEST_SERIAL=1: one process, as before.
set -uo pipefail
cd "$(dirname "$0")/.."
PYTEST="${PYTEST:-.venv/bin/pytest}"

# Arguments that name tests (paths, -k, -m) select: run them as one process.
for arg in "$@"; do
  case "$arg" in
    tests*|-k|-m|--lf|--ff) CARNET_TEST_SERIAL=1 ;;
  esac
done
if [ "${CARNET_TEST_SERIAL:-0}" = 1 ]; then
  exec "$PYTEST" "$@"
fi

# Each process's output also goes to var/test-logs/<name>.log; its failures are repeated at the
# end, after both have finished (the other's output would otherwise bury them).
LOGS=var/test-logs
mkdir -p "$LOGS"
run() {  # name, pytest args...
  local name=$1; shift
  "$PYTEST" "$@" 2>&1 | tee "$LOGS/$name.log" | sed -u "s/^/[$name] /"
}
failures() {  # name: its short summary of failures and errors, and its last line
  grep -E '^(FAILED|ERROR) ' "$LOGS/$1.log" | sed "s/^/[$1] /"
  tail -n 1 "$LOGS/$1.log" | sed "s/^/[$1] /"
}
start=$(date +%s)
run browser "$@" tests/browser & browser=$!
run main "$@" --ignore=tests/browser & main=$!
wait "$main"; main_status=$?
# Then, beside the browser tests still running: the tests whose SQL has a path per dialect, on
# the embedded SQLite database the zero-setup start uses (raw SQL, triggers that SQLite's table
# rebuilds drop, the agenda's claims, the OAuth server's single-use claims, apps' reads in the
# access log, the in-process job runner that replaces the durable queue there).
CARNET_TEST_DATABASE=sqlite run sqlite "$@" tests/test_response_cache.py \
  tests/test_screen_statements.py tests/test_agenda.py tests/test_agenda_reminders.py \
  tests/test_catalogue.py tests/test_oauth.py tests/test_app_access.py \
  tests/test_jobs_in_process.py tests/test_campaign.py tests/test_activation.py tests/test_carers.py \
  tests/test_audit_trail_consents.py \
  tests/test_majority.py
sqlite_status=$?
wait "$browser"; browser_status=$?
echo "== failures of each process (full logs in $LOGS/)"
failures main
failures sqlite
failures browser
echo "== tests: main exit $main_status, sqlite exit $sqlite_status, browser exit" \
  "$browser_status, $(( $(date +%s) - start ))s"
[ "$main_status" = 0 ] && [ "$sqlite_status" = 0 ] && [ "$browser_status" = 0 ]
