#!/usr/bin/env bash
# Install what is needed and run the server on the embedded default (or on DATABASE_URL etc.).
source "$(dirname "$0")/env.sh"
say "starting: velro-graphql serve $*"
exec velro-graphql serve "$@"
