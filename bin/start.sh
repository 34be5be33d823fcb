#!/usr/bin/env bash
# `npm start`: set up the host for the qemu driver (bin/setup-host.sh), build
# the test guest (test/guest/build.sh, cached) so that the all-in-one
# registers it as the public image nubo-guest (compute.default_image), compile
# the tree (bin/build.js) and run the all-in-one. Arguments go to it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash bin/setup-host.sh
if [ -z "${NUBO_COMPUTE_DEFAULT_IMAGE+set}" ]; then
  if guest=$(bash test/guest/build.sh | tail -1) && [ -f "$guest" ]; then
    export NUBO_COMPUTE_DEFAULT_IMAGE="$guest"
  else
    echo "start: the test guest could not be built (see above): the all-in-one registers no default image" >&2
  fi
fi
node bin/build.js
exec node .build/bin/main.js all-in-one "$@"
