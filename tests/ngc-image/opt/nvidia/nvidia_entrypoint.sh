#!/bin/bash
# NGC-shaped test image: NVIDIA's entrypoint prints a banner on stdout, runs the scripts of
# /opt/nvidia/entrypoint.d, and execs the command. mlenv replaces it with its keep-alive.
for f in /opt/nvidia/entrypoint.d/*.txt; do [ -r "$f" ] && cat "$f"; done
for f in /opt/nvidia/entrypoint.d/*.sh; do [ -r "$f" ] && . "$f"; done
. /etc/shinit_v2
if [ $# -eq 0 ]; then exec /bin/bash; fi
exec "$@"
