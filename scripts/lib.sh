# shellcheck shell=bash
# lib.sh: helpers sourced by hull's scripts (not run on its own).

# ensure_cargo: make `cargo` callable in this shell, or fail saying why.
#
# Rust comes from rustup, whose `~/.cargo/env` is sourced only by login shells, and
# `sudo` may start us with root's HOME and PATH while the toolchain belongs to the
# user who typed `sudo`. Try, in order: PATH, our own ~/.cargo, then SUDO_USER's.
ensure_cargo() {
    command -v cargo >/dev/null 2>&1 && return 0
    if [ -f "$HOME/.cargo/env" ]; then
        # shellcheck disable=SC1091
        . "$HOME/.cargo/env"
        command -v cargo >/dev/null 2>&1 && return 0
    fi
    if [ -n "${SUDO_USER:-}" ]; then
        local user_home
        user_home=$(getent passwd "$SUDO_USER" | cut -d: -f6)
        if [ -n "$user_home" ] && [ -x "$user_home/.cargo/bin/cargo" ]; then
            # Use the user's toolchains, but keep CARGO_HOME (the registry cache) our
            # own so that root never writes root-owned files into the user's home.
            export PATH="$user_home/.cargo/bin:$PATH"
            export RUSTUP_HOME="${RUSTUP_HOME:-$user_home/.rustup}"
            command -v cargo >/dev/null 2>&1 && return 0
        fi
    fi
    echo "cargo not found: install Rust with rustup (https://rustup.rs), then run this again" >&2
    return 1
}

# The environment variables hull's scripts and tests read, kept across sudo.
HULL_SCRIPT_ENV=BENCH_RUNS,BENCH_WARMUP,BENCH_PARALLEL,BENCH_PAR_RUNS,BENCH_SCALE_LEVELS,BENCH_RSS_RUNS,HULL_TEST_ROOTFS,HULL_TEST_TIMEOUT_SECS

# require_root "$@": go on as root. A user who is not root is asked for it through
# sudo (the script starts again under sudo with the same arguments); without sudo,
# the script stops and says so.
require_root() {
    [ "$(id -u)" -eq 0 ] && return 0
    if command -v sudo >/dev/null 2>&1; then
        # sudo resets the environment and looks a bare name up in its own PATH: pass
        # on the variables these scripts read, and the script's whole path.
        exec sudo --preserve-env="$HULL_SCRIPT_ENV" -- "$(realpath -- "$0")" "$@"
    fi
    echo "$(basename "$0"): must be run as root, and sudo is not installed" >&2
    exit 1
}
