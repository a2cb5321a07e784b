#!/usr/bin/env bash
# Prints the path of a Python 3.10 interpreter: PATH first, then pyenv. Exits 1 with advice when none exists.
set -u
is310() { "$1" -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 10) else 1)' >/dev/null 2>&1; }
for cand in "${PYTHON310:-}" python3.10; do
  [ -n "$cand" ] || continue
  p=$(command -v "$cand" 2>/dev/null) || continue
  if is310 "$p"; then echo "$p"; exit 0; fi
done
if command -v pyenv >/dev/null 2>&1; then
  root=$(pyenv root)
  for p in "$root"/versions/3.10*/bin/python3.10; do
    if [ -x "$p" ] && is310 "$p"; then echo "$p"; exit 0; fi
  done
fi
for p in /usr/bin/python3.10 /usr/local/bin/python3.10 /opt/python3.10/bin/python3.10; do
  if [ -x "$p" ] && is310 "$p"; then echo "$p"; exit 0; fi
done
cat >&2 <<'MSG'
lava-mlsnn needs Python 3.10 (lava-nc 0.10 and lava-dl 0.6 support only 3.10) and none was found.
Install one, e.g. `pyenv install 3.10.13`, `apt-get install python3.10 python3.10-venv`, or
`uv python install 3.10`, or point PYTHON310=/path/to/python3.10 at an existing interpreter.
MSG
exit 1
