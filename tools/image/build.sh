#!/usr/bin/env bash
# Builds sdnlab's container images from Debian packages and this repository, with tools Debian
# ships: mmdebstrap makes the root file system, buildah turns it into an OCI image. No base
# image is pulled from any registry. Usage: tools/image/build.sh [--server] [TAG]
#   (default) the lab-sandbox image: Open vSwitch, Mininet's mnexec, the lab tools, sdnlab.
#     TAG defaults to sdnlab-sandbox:<version>; writes build/image/.
#   --server  the classroom server image for Kubernetes: sdnlab and the kubernetes client, and
#     Debian's headless Chromium (chromium-headless-shell) with the IPAex Gothic font, which print
#     the certificates to PDF; no Open vSwitch, Mininet or lab tools (the server runs no lab).
#     TAG defaults to sdnlab-server:<version>; writes build/image-server/.
#   Each writes <out>/sdnlab-<kind>.tar (the root file system) and <out>/image.json (name, id,
#   size, seconds taken).
# Reproducible inputs: Debian bookworm packages, the wheels of this tree and its pinned
# dependency ranges; SOURCE_DATE_EPOCH is the last commit's time, so file times are fixed.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
VERSION=$(.venv/bin/python -c 'import sdnlab; print(sdnlab.__version__)')
KIND=sandbox OUT=build/image
if [ "${1:-}" = "--server" ]; then KIND=server OUT=build/image-server; shift; fi
case "${1:-}" in -*) echo "usage: tools/image/build.sh [--server] [TAG] (unknown option $1)" >&2; exit 2;; esac
TAG=${1:-sdnlab-$KIND:$VERSION}
say() { printf 'image: %s\n' "$*"; }

for tool in mmdebstrap buildah podman runc catatonit; do
    command -v "$tool" >/dev/null || { say "installing $tool"; DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -qq --no-install-recommends mmdebstrap buildah podman runc uidmap catatonit >/dev/null; break; }
done

start=$(date +%s)
rm -rf "$OUT" && mkdir -p "$OUT/wheels"
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct)}

say "wheels of sdnlab and its dependencies"
.venv/bin/python -m pip wheel -q -w "$OUT/wheels" ".[kubernetes]" 2>&1 | grep -v '^WARNING: Location' || true
rm -rf build/lib build/bdist.*  # pip wheel's scratch folders

# Debian packages a sandbox needs: Open vSwitch (userspace datapath), Mininet's mnexec,
# the tools labs use, and Python for sdnlab and its agent. Left out of the image: manual
# pages, info, translations and package documentation except the copyright files (--dpkgopt
# keeps later installs from adding them back), pip and setuptools in the venv (nothing runs
# them after the build), the kubernetes client's asyncio copy (kubernetes/aio, 65 MB: the
# backend uses the synchronous client) and the test suites packages ship (os_ken/tests...).
PACKAGES=python3,python3-venv,openvswitch-switch,mininet,iproute2,iputils-ping,ethtool,tcpdump,iperf3,procps,psmisc,ca-certificates,less,nano,nftables,conntrack
# The server: Python and sdnlab, and what prints a certificate page to PDF. Debian's
# chromium-headless-shell prints the same pages as the full chromium package without GTK,
# CUPS and the desktop libraries the full browser pulls in (docs/scale-out.md has the sizes);
# fonts-ipaexfont-gothic is the Japanese font the page names (the host uses the same one);
# openvswitch-common gives ovs-ofctl, with which the server checks flow files itself (the
# workspace backend, static lab validations). Left out of the server image besides the above:
# Mesa's DRI drivers and the libLLVM and libz3 only they load (160 MB; chromium-common needs
# x11-utils, which needs libgl1, which pulls them in; a headless print never loads them) and
# Chromium's Vulkan validation layer (a debugging aid, 23 MB). The image test prints without them.
EXTRA=()
if [ "$KIND" = server ]; then
    PACKAGES=python3,python3-venv,ca-certificates,chromium-headless-shell,fonts-ipaexfont-gothic,openvswitch-common
    EXTRA=(--dpkgopt='path-exclude=/usr/lib/x86_64-linux-gnu/dri/*'
        --dpkgopt='path-exclude=/usr/lib/x86_64-linux-gnu/libLLVM-*'
        --dpkgopt='path-exclude=/usr/lib/x86_64-linux-gnu/libz3.so*'
        --dpkgopt='path-exclude=/usr/lib/chromium/libVkLayer_khronos_validation.so')
fi

say "root file system (mmdebstrap, Debian bookworm)"
mmdebstrap --variant=minbase --quiet --include="$PACKAGES" "${EXTRA[@]}" \
    --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/info/*' \
    --dpkgopt='path-exclude=/usr/share/locale/*/*' --dpkgopt='path-exclude=/usr/share/doc/*' \
    --dpkgopt='path-include=/usr/share/doc/*/copyright' \
    --customize-hook="mkdir -p \"\$1/opt/wheels\"" \
    --customize-hook="copy-in $OUT/wheels /opt" \
    --customize-hook="chroot \"\$1\" python3 -m venv /opt/sdnlab" \
    --customize-hook="chroot \"\$1\" /opt/sdnlab/bin/pip install -q --no-index --find-links /opt/wheels 'sdnlab[kubernetes]'" \
    --customize-hook="chroot \"\$1\" /opt/sdnlab/bin/python -m pip uninstall -q -y pip setuptools" \
    --customize-hook="rm -rf \"\$1\"/opt/sdnlab/lib/python3*/site-packages/kubernetes/aio \"\$1\"/opt/sdnlab/lib/python3*/site-packages/*/tests" \
    --customize-hook="rm -rf \"\$1/opt/wheels\" \"\$1\"/var/cache/apt/* \"\$1\"/var/lib/apt/lists/*" \
    --customize-hook="rm -rf \"\$1\"/usr/share/man/* \"\$1\"/usr/share/info/* \"\$1\"/usr/share/locale/*/" \
    --customize-hook="find \"\$1/usr/share/doc\" -type f ! -name copyright -delete" \
    --customize-hook="ln -sf /opt/sdnlab/bin/sdnlab \"\$1/usr/local/bin/sdnlab\"" \
    bookworm "$OUT/sdnlab-$KIND.tar"

say "OCI image $TAG (buildah)"
ctr=$(buildah from scratch)
trap 'buildah rm "$ctr" >/dev/null 2>&1 || true' EXIT
buildah add --quiet "$ctr" "$OUT/sdnlab-$KIND.tar" / >/dev/null
buildah config --env PATH=/opt/sdnlab/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --label org.opencontainers.image.title=sdnlab-$KIND \
    --label org.opencontainers.image.version="$VERSION" \
    --label org.opencontainers.image.revision="$(python3 tools/image/source_digest.py)" \
    --cmd '["/bin/sh", "-c", "sleep infinity"]' "$ctr"
if [ "$KIND" = server ]; then  # as the Deployment runs it: nobody, state and HOME in /tmp
    buildah config --user 65534:65534 --env HOME=/tmp --env SDNLAB_HOME=/tmp/sdnlab \
        --cmd '["sdnlab", "serve", "--backend", "kubernetes", "--host", "0.0.0.0", "--port", "8000", "--state", "/tmp/sdnlab"]' \
        "$ctr"
fi
id=$(buildah commit --quiet --timestamp "$SOURCE_DATE_EPOCH" "$ctr" "$TAG")
size=$(podman image inspect "$TAG" --format '{{.Size}}')
seconds=$(( $(date +%s) - start ))
printf '{"tag": "%s", "id": "%s", "size_bytes": %s, "rootfs_tar_bytes": %s, "seconds": %s}\n' \
    "$TAG" "$id" "$size" "$(stat -c %s "$OUT/sdnlab-$KIND.tar")" "$seconds" > "$OUT/image.json"
say "built $TAG: $(( size / 1048576 )) MiB in ${seconds} s ($OUT/image.json)"
