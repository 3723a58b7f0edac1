#!/usr/bin/env bash
# Makes the format-1 data directory that tests/runtime/migrate_test.cpp migrates, with a
# Bihuan binary that writes storage format 1 (commit c2c6970 or older):
#   tests/data/format1/make.sh /path/to/old/bihuan
# Writes data.mdb (compacted) and expected.json (per instance: version and newest hash,
# as the old binary reads them) beside this script.
set -euo pipefail
old=$1
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
b() { "$old" "$@" -D "$work/d"; }
j() { "$old" "$@" -D "$work/d" --format json; }
b deploy "$here/child.json" >/dev/null
b deploy "$here/parent.json" >/dev/null
ids=()
for i in 1 2 3 4 5 6; do
  id=$(j start m.parent --key "m-parent:$i" --idempotency-key "p$i" \
        --data "{\"batch\":$i,\"items\":[\"a\",\"b\",\"c\"],\"done\":0,\"reminded\":0,\"notes\":[]}" | jq -r .id)
  ids+=("$id")
  b send "$id" note --actor clerk-1 --role clerk --payload "{\"text\":\"note $i\"}" --idempotency-key "n$i" >/dev/null
done
# Batch 1: every child finishes (the parent completes); batch 2: one child is touched
# twice and finished; batch 3: cancelled with its children; the others stay open.
for item in a b c; do b send --key "m-child:1:$item" finish --actor w1 --role worker >/dev/null; done
b send --key "m-child:2:a" touch --actor w2 --role worker >/dev/null
b send --key "m-child:2:a" touch --actor w2 --role worker >/dev/null
b send --key "m-child:2:a" finish --actor w2 --role worker >/dev/null
b cancel "${ids[2]}" --reason "format-1 fixture: cancelled with its children" >/dev/null
b verify >/dev/null
rm -rf "$here/data.mdb" "$work/copy"
b backup "$work/copy" >/dev/null
cp "$work/copy/data.mdb" "$here/data.mdb"
# Expected: every instance's version and newest history hash, in id order.
{
  echo '{"format": 1, "instances": ['
  first=1
  cursor=""
  while :; do
    page=$(j list --limit 1000 ${cursor:+--cursor "$cursor"})
    for id in $(jq -r '.items[].id' <<<"$page"); do
      h=$(j history "$id")
      [ $first = 1 ] || echo ','
      first=0
      jq -c --arg id "$id" '{id: $id, entries: (.entries | length), newest: (.entries[-1].hash), first: (.entries[0].hash)}' <<<"$h" | tr -d '\n'
    done
    cursor=$(jq -r '.nextCursor // empty' <<<"$page")
    [ -n "$cursor" ] || break
  done
  echo ']}'
} > "$here/expected.json"
