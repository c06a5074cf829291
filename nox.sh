#!/usr/bin/env bash
# Bootstraps nox in a private virtualenv (.nox-venv) and runs it, so a fresh
# machine needs nothing but python3: `./nox.sh -s demo`, `./nox.sh -s tests`.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
venv="$here/.nox-venv"
python="${PYTHON:-python3}"

# The recorder reads the project's git repo, so git is part of the toolchain.
if ! command -v git >/dev/null; then
  if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
    echo "nox.sh: installing git" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq git >/dev/null
  else
    echo "nox.sh: git is required; install it (apt-get install git) and retry" >&2
    exit 1
  fi
fi

if [[ ! -x "$venv/bin/nox" ]]; then
  if ! "$python" -m venv --help >/dev/null 2>&1 || ! "$python" -c 'import ensurepip' 2>/dev/null; then
    if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
      echo "nox.sh: installing python3-venv (Debian splits venv out of python3)" >&2
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
    else
      echo "nox.sh: '$python -m venv' is not available; install python3-venv (Debian) and retry" >&2
      exit 1
    fi
  fi
  "$python" -m venv "$venv"
  "$venv/bin/pip" install --quiet --upgrade pip
  "$venv/bin/pip" install --quiet "nox>=2024.4" "uv>=0.4"
fi
export PATH="$venv/bin:$PATH"
cd "$here"
exec nox "$@"
