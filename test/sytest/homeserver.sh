#!/bin/sh
# Starts the built homeserver for SyTest (NODEHS_COMMAND of ../shared/sytest/run-sytest.sh,
# which appends "--config <file>"). The plugin writes the configuration and passes no HS_*
# variable; the settings below are what SyTest's expectations need on top of it.
#
# default_room_version 10: SyTest computes event ids (the reference hash) and checks
# signatures with the redaction algorithm of room versions 1 to 10; from room version 11 the
# algorithm keeps more (the whole m.room.create content, `invite` in m.room.power_levels) and
# drops `origin`, so SyTest's ids of our events differ from ours in version 11 rooms and every
# federation test that joins one fails on "auth event ... is not available". Synapse and
# Dendrite, which SyTest is measured against, create version 10 rooms by default.
#
# Guest access on: the guest tests (gst) register guests.
#
# URL previews on, with an empty deny list: SyTest serves the page it has previewed from its
# own HTTP server on localhost, which the default deny list (private and loopback ranges)
# refuses.
here="$(cd "$(dirname "$0")" && pwd)"
HS_DEFAULT_ROOM_VERSION="${SYTEST_DEFAULT_ROOM_VERSION:-10}" \
HS_REGISTRATION__ALLOW_GUEST_ACCESS=true HS_MEDIA__URL_PREVIEW__ENABLED=true HS_MEDIA__URL_PREVIEW__IP_DENY_LIST='[]' \
  exec node --max-semi-space-size=32 --expose-gc "$here/../../dist/apps/homeserver/src/main.js" "$@"
