# Sourced by serve.sh and test.sh: a virtual environment in .venv with the package installed,
# reinstalled only when pyproject.toml changes, made again when an earlier run left it broken.
# Says each step on stderr.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PYTHON="${PYTHON:-python3}"
say() { echo "velro-graphql: $*" >&2; }

"$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' || {
    say "needs Python 3.11 or newer (found $("$PYTHON" --version 2>&1)); set PYTHON to one."
    exit 1
}
if [ -d .venv ] && ! .venv/bin/python -c '' 2>/dev/null; then
    say ".venv has no working python (moved, or its Python was removed): making it again"
    rm -rf .venv
elif [ -d .venv ] && ! compgen -G '.venv/.installed-*' >/dev/null; then
    say ".venv was left half-made (an install never finished): making it again"
    rm -rf .venv
fi
if [ ! -d .venv ]; then
    say "creating .venv with $("$PYTHON" --version 2>&1)"
    "$PYTHON" -m venv .venv
fi

# pip's lines naming each package go to stderr, the rest to .venv/install.log.
pip_install() {
    set +e
    .venv/bin/python -m pip install --progress-bar off "$@" 2>&1 | tee .venv/install.log \
        | { grep --line-buffered -E '^(Collecting|Successfully installed)' || true; } \
        | sed -u -e 's/^/    /' -e 's/^\(.\{96\}\).\{1,\}/\1 .../' >&2
    local status=${PIPESTATUS[0]}
    set -e
    if [ "$status" -ne 0 ]; then
        tail -n 15 .venv/install.log >&2
        say "installing failed (whole output in .venv/install.log); the next run starts again."
        exit 1
    fi
}

extras="${VELRO_EXTRAS:-}"
stamp=".venv/.installed-$(sha256sum pyproject.toml | cut -c1-16)${extras:+-$extras}"
if [ ! -f "$stamp" ]; then
    say "updating pip in .venv"
    pip_install --quiet --upgrade pip
    say "installing velro-graphql${extras:+[$extras]} and its dependencies (about a minute, once)"
    pip_install -e ".${extras:+[$extras]}"
    touch "$stamp"
    say "installed into .venv"
fi
graphiql=".venv/share/velro-graphql/graphiql"
if [ ! -f "$graphiql/graphiql.js" ] && command -v npm >/dev/null; then
    say "fetching GraphiQL's scripts with npm, so that /graphql works offline"
    timeout 180 .venv/bin/python -m velro_graphql.api.graphiql "$graphiql" 2>>.venv/install.log \
        || say "could not fetch them (.venv/install.log says why): GraphiQL loads them from unpkg"
fi
export PATH="$PWD/.venv/bin:$PATH"
