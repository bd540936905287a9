#!/usr/bin/env bash
# Build the Space image from a clean clone of this repository's HEAD, start it, and report what a
# Space visitor gets: image size and where its bytes go, start -> health, the first answer on
# each page of the cold container, resident memory once every page has answered, an upload from
# inside a cross-site iframe, and who may write what. Takes about 10 minutes (the build).
#
#   scripts/check_space_image.sh [podman build options, e.g. --build-arg TORCH_INDEX_URL=...]
#
# Needs podman, and the test tools (bash scripts/setup.sh --test) for the browser. Environment:
#   PODMAN          the podman command (default: podman; on these machines
#                   ../shared/tools/podman-here, which adds the flags this sandbox needs)
#   RUN_ARGS        how the container's port reaches this machine (default: -p 7860:7860;
#                   empty with podman-here, which runs on the host network)
#   SHOTS           where the screenshots go (default: test-artifacts/space-image)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PODMAN=${PODMAN:-podman}
RUN_ARGS=${RUN_ARGS--p 7860:7860}
SHOTS=${SHOTS:-$ROOT/test-artifacts/space-image}
IMAGE=dashboard:space-check
NAME=dashboard-space-check
URL=http://127.0.0.1:7860
work=$(mktemp -d)
mkdir -p "$SHOTS"
cleanup() { $PODMAN rm -f "$NAME" >/dev/null 2>&1 || true; rm -rf "$work"; }
trap cleanup EXIT

git clone --quiet "$ROOT" "$work/src"
echo "== image from a clean clone of $(git -C "$work/src" log -1 --format='%h %s')"
built=$(date +%s)
$PODMAN rmi -f "$IMAGE" >/dev/null 2>&1 || true  # one copy at a time: each is about 6 GB
$PODMAN build --format docker -t "$IMAGE" "$@" "$work/src" > "$SHOTS/build.log" 2>&1 \
  || { tail -40 "$SHOTS/build.log"; exit 1; }
echo "build: $(( $(date +%s) - built )) s (log: $SHOTS/build.log)"
grep -E "MB in all|^(SmolLM2|matplotlib|sentiment|text |image |attention|EfficientNet|allowed)" "$SHOTS/build.log" \
  | sed 's/^/  build-time: /' || true
size=$($PODMAN image inspect --format '{{.Size}}' "$IMAGE")
echo "image size: $(awk -v b="$size" 'BEGIN { printf "%.2f GB (%.2f GiB)", b / 1e9, b / 2^30 }')"
echo "where the bytes go (MB):"
$PODMAN run --rm --no-healthcheck --entrypoint sh "$IMAGE" -c '
  sp=$(.venv/bin/python -c "import sysconfig; print(sysconfig.get_path(\"purelib\"))")
  echo "  $(du -sm / --exclude=/proc --exclude=/sys --exclude=/app --exclude=/home/user/.cache 2>/dev/null | cut -f1) base system (python:3.11-slim and the user)"
  echo "  $(du -sm --exclude=.venv /app | cut -f1) the app code"
  echo "  $(du -sm /home/user/.cache | cut -f1) the cache (converted SmolLM2, sentiment head, fonts, allowed models)"
  echo "  $(du -sm /app/.venv | cut -f1) the virtual environment, of which the largest:"
  du -sm "$sp"/* | sort -rn | head -12 | sed "s|$sp/|      |"'

echo "== cold start"
started=$(date +%s.%N)
# (podman without systemd cannot schedule the periodic health check; it is run by hand below)
$PODMAN run -d --name "$NAME" $RUN_ARGS "$IMAGE" 2> >(grep -v "systemd connection" >&2) >/dev/null
until curl -sf "$URL/_stcore/health" >/dev/null; do
  sleep 0.2
  $PODMAN inspect --format '{{.State.Running}}' "$NAME" | grep -q true || { $PODMAN logs "$NAME" | tail -30; exit 1; }
done
health=$(awk -v a="$started" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
echo "start -> health: $health s"
"$ROOT/.venv/bin/python" "$ROOT/bench/space_image.py" "$URL" "$SHOTS" | tee "$work/visits"
sleep 15  # the idle trimmer's turn
read -r peak rss < <($PODMAN exec "$NAME" sh -c 'echo $(grep -E "^(VmRSS|VmHWM)" /proc/1/status | tr -s " " | cut -d" " -f2)')
echo "resident memory after every page has answered: $(awk -v k="$rss" -v p="$peak" 'BEGIN { printf "%.0f MiB = %.2f GB (peak %.0f MiB)", k / 1024, k * 1024 / 1e9, p / 1024 }')"
echo "health check: $($PODMAN healthcheck run "$NAME" >/dev/null 2>&1 && echo healthy || echo failing)"

echo "== who may write what"
$PODMAN exec "$NAME" sh -c '
  echo "  runs as uid $(id -u); /app owned by $(stat -c %U /app), app.py $(stat -c %A /app/app.py)"
  echo "  writable by the app (folders, outside /proc /sys /dev):"
  find / -xdev \( -path /proc -o -path /sys -o -path /dev -o -path /home/user/.cache/\* \) -prune \
    -o -type d -writable -print 2>/dev/null | sed "s/^/    /"'
written=$($PODMAN exec "$NAME" sh -c "find /home/user/.cache -newermt @${started%.*} -type f | wc -l")
echo "  files written into the cache since the container started: $written"
errors=$($PODMAN logs "$NAME" 2>&1 | grep -ciE "traceback|permission denied|read-only file system" || true)
echo "  server log lines with a traceback or a write refused: $errors"

echo "== targets (issue 18)"
failed=0
target() {  # target NAME VALUE LIMIT: VALUE <= LIMIT
  if awk -v v="$2" -v l="$3" 'BEGIN { exit !(v != "" && v <= l) }'; then echo "  ok    $1: $2 <= $3"
  else echo "  MISS  $1: ${2:-none} > $3"; failed=1; fi
}
target "image size (GB)" "$(awk -v b="$size" 'BEGIN { printf "%.2f", b / 1e9 }')" 6.8
target "start -> health (s)" "$health" 10
for page in classify generate recognise attention ""; do
  target "first answer /$page (s)" "$(awk -v p="/$page:" '$3 == p { print $4 }' "$work/visits")" 8
done
target "resident memory (MiB; 1.5 GB = 1536 MiB)" "$(( rss / 1024 ))" 1536
grep -qE "iframe.*: (tiger cat|tabby|Egyptian cat)$" "$work/visits" \
  && echo "  ok    cat photo uploaded inside a cross-site iframe: a cat class" \
  || { echo "  MISS  cat photo uploaded inside a cross-site iframe"; failed=1; }
[ "$written" -eq 0 ] && echo "  ok    nothing written at run time" || { echo "  MISS  files written at run time: $written"; failed=1; }
exit $failed
