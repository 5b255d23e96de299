#!/usr/bin/env bash
# Recipe for the root file system of worklet-local/debian:bookworm, the base
# of every local image (hack/setup.sh imports the result with docker import).
#
#   debian.sh ROOTFS MIRROR SECURITY_MIRROR EXTRA_CAS_PEM
#
# MIRROR and SECURITY_MIRROR are the host's Debian mirrors (plain http is
# fine: apt checks signatures). EXTRA_CAS_PEM holds the CA certificates the
# host trusts beyond Debian's own set (an intercepting proxy's, a company's);
# they become part of the image's system bundle so TLS from builds works
# (npm install), and stay there when a later build runs update-ca-certificates.
# hack/setup.sh hashes this file: changing it rebuilds every local image.
set -euo pipefail

root=$1 mirror=$2 security=$3 cas=$4
suite=bookworm
# Everything below writes under $root: never let that be the host's /.
case $root in
/?*) [[ $(realpath -m "$root") != / ]] || exit 2 ;;
*)
	echo "debian.sh: ROOTFS must be an absolute path other than /" >&2
	exit 2
	;;
esac

debootstrap --variant=minbase --include=ca-certificates "$suite" "$root" "$mirror"

# apt inside builds uses the same mirrors as the host, with updates and
# security, in deb822 form like a stock bookworm image.
rm -f "$root/etc/apt/sources.list"
cat >"$root/etc/apt/sources.list.d/debian.sources" <<SRC
Types: deb
URIs: $mirror
Suites: $suite $suite-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $security
Suites: $suite-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC

# What the official Debian images do to stay small and build-friendly: drop
# downloaded .debs after install, skip translations, keep docs and man pages
# out of layers, and never start services from maintainer scripts.
cat >"$root/etc/apt/apt.conf.d/docker-clean" <<'CONF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
CONF
echo 'Acquire::Languages "none";' >"$root/etc/apt/apt.conf.d/docker-no-languages"
cat >"$root/etc/dpkg/dpkg.cfg.d/docker-slim" <<'CONF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
CONF
printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
chmod 755 "$root/usr/sbin/policy-rc.d"

# Security and point-release updates on top of the release debootstrap gave.
DEBIAN_FRONTEND=noninteractive chroot "$root" apt-get -q update
DEBIAN_FRONTEND=noninteractive chroot "$root" apt-get -q -y upgrade

# The host's extra CAs, one file each, where update-ca-certificates finds them.
mkdir -p "$root/usr/local/share/ca-certificates/worklet"
awk -v dir="$root/usr/local/share/ca-certificates/worklet" '
	/-----BEGIN CERTIFICATE-----/ { n++; f = sprintf("%s/host-ca-%02d.crt", dir, n) }
	f { print > f }
	/-----END CERTIFICATE-----/ { close(f); f = "" }
' "$cas"
chroot "$root" update-ca-certificates --fresh >/dev/null

# Docker provides /dev, hostname and resolv.conf at run time.
rm -rf "${root:?}"/dev/* "${root:?}"/var/lib/apt/lists/* "${root:?}"/var/cache/apt/* \
	"${root:?}"/var/log/* "${root:?}"/tmp/* "${root:?}"/var/tmp/*
: >"$root/etc/resolv.conf"
: >"$root/etc/hostname"
