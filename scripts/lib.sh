# Shared set-up for scripts/start and scripts/test. Sourced, not run.
# Each step installs only what is missing, so a second run is quick.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

pick_python() {
  for py in python3.13 python3.12 python3.11 python3; do
    if command -v "$py" >/dev/null 2>&1 && "$py" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
      echo "$py"; return 0
    fi
  done
  die "IoM Studio needs Python 3.11 or newer; install it (e.g. 'sudo apt-get install python3') and run this again."
}

# python_env [extra]: a virtual environment in .venv with the studio installed (editable).
python_env() {
  local extra="${1:-}"
  if [ ! -x "$VENV/bin/python" ]; then
    local py; py="$(pick_python)"
    say "creating .venv with $("$py" --version)"
    if ! "$py" -m venv "$VENV" 2>/dev/null; then
      rm -rf "$VENV"
      # Debian's system Python ships venv separately; install it where we may.
      local venv_pkg; venv_pkg="python$("$py" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')-venv"
      if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" -eq 0 ]; then
        say "installing $venv_pkg"
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$venv_pkg" >/dev/null
      fi
      "$py" -m venv "$VENV" || die "could not create a virtual environment; install $venv_pkg (e.g. 'sudo apt-get install $venv_pkg') and run this again."
    fi
  fi
  local spec="$ROOT"
  [ -n "$extra" ] && spec="$ROOT[$extra]"
  # Install only when pyproject.toml (or the extra asked for) changed since the last install.
  local stamp="$VENV/.iom-installed" want
  want="$(cat "$ROOT/pyproject.toml" | sha256sum | cut -d' ' -f1) ${extra:-base}"
  if [ -f "$stamp" ] && grep -qxF "$want" "$stamp"; then
    return 0
  fi
  say "installing Python packages into .venv"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip >/dev/null
  # Build back-ends talk a lot on stderr (deprecation notices about other projects' metadata);
  # keep it and show it only when the install fails.
  local log; log="$(mktemp)"
  # Ctrl+C: pip stops with an error of its own, and its log would be shown as if the install had failed
  trap 'rm -f "$log"; printf "\nstopped: the Python packages are not all installed; run this again to finish.\n" >&2; exit 130' INT
  if ! "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -e "$spec" >"$log" 2>&1; then
    cat "$log" >&2; rm -f "$log"
    die "installing the Python packages failed (the output above says why); fix that and run this again."
  fi
  trap - INT
  rm -f "$log"
  # An install with extras includes everything the base install has, so it counts for both.
  if [ -n "$extra" ]; then
    printf '%s\n%s\n' "$want" "${want% *} base" > "$stamp"
  else
    printf '%s\n' "$want" > "$stamp"
  fi
}

# npm_env: the canvas's JavaScript packages, exactly as the lockfile pins them.
npm_env() {
  local dir
  for dir in "$ROOT/assets/canvas"; do
    [ -f "$dir/package-lock.json" ] || continue
    command -v npm >/dev/null 2>&1 && command -v node >/dev/null 2>&1 || die "npm is needed for the pipeline canvas; install Node.js 18+ (e.g. 'sudo apt-get install nodejs npm') and run this again."
    node -e 'process.exit(Number(process.versions.node.split(".")[0]) < 18 ? 1 : 0)' ||
      die "the pipeline canvas needs Node.js 18 or newer and this machine has $(node --version); install a newer Node.js (e.g. from nodejs.org or your package manager) and run this again."
    if [ ! -d "$dir/node_modules" ] || [ "$dir/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]; then
      say "installing npm packages in ${dir#$ROOT/}"
      (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
    fi
  done
}

# system_packages PKG...: Debian packages, through apt where we may.
system_packages() {
  local missing=()
  local pkg
  for pkg in "$@"; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo="sudo"; fi
  fi
  if command -v apt-get >/dev/null 2>&1 && { [ "$(id -u)" -eq 0 ] || [ -n "$sudo" ]; }; then
    say "installing system packages: ${missing[*]}"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    die "the tests need these system packages: ${missing[*]}; install them (e.g. 'sudo apt-get install ${missing[*]}') and run this again."
  fi
}
