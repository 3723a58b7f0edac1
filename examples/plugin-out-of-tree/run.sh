#!/usr/bin/env bash
# Builds this plugin against an installed Bihuan and has the installed bihuan deliver a
# notification through it (scripts/install-test.sh).
#   examples/plugin-out-of-tree/run.sh PREFIX
set -euo pipefail
prefix=$(realpath "$1")
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cmake -S "$here" -B "$work/build" -G Ninja -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$work/build" >/dev/null
cat >"$work/config.json" <<JSON
{"pluginDirs": ["$work/build"],
 "plugins": {"greeter": {"plugin": "notify.hello",
                         "config": {"path": "$work/greetings.txt", "greeting": "你好"}}}}
JSON
cat >"$work/hello.json" <<'JSON'
{"id": "example.hello", "version": 1, "title": {"en": "Hello"}, "initial": "OPEN",
 "states": {"OPEN": {"onEntry": [{"notify": "greeter", "to": "李四", "template": "welcome"}],
                     "on": {"close": {"roles": ["system"], "target": "DONE"}}},
            "DONE": {"type": "final", "outcome": "done"}}}
JSON
bihuan=$prefix/bin/bihuan
"$bihuan" deploy --config "$work/config.json" -D "$work/data" "$work/hello.json"
"$bihuan" start -D "$work/data" example.hello
"$bihuan" dispatch --once --config "$work/config.json" -D "$work/data"
cat "$work/greetings.txt"
grep -q "你好, 李四: welcome" "$work/greetings.txt"
