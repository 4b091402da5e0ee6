#!/bin/sh
# Provisions one VM of Sibyl's VM lab; Vagrant runs it as root on the first `vagrant up`.
# It installs what `sibyl run --lab vagrant` uses on a host (Python with venv for the
# node's virtualenv, libfaketime for clock faults, iptables/conntrack/iproute2 for
# partitions and tc), stops time synchronisation so that the clock nemesis is not
# undone, and creates the deploy directory for the `vagrant` user.
set -eu

export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq python3 python3-venv faketime iptables conntrack iproute2 >/dev/null

# Clock faults move clocks on purpose: nothing may move them back.
for unit in systemd-timesyncd chrony ntp ntpsec openntpd; do
    if systemctl cat "$unit.service" >/dev/null 2>&1; then
        systemctl disable --now "$unit.service" || true
    fi
done
if command -v timedatectl >/dev/null 2>&1; then
    timedatectl set-ntp false || true
fi

install -d -o vagrant -g vagrant -m 0755 /var/lib/sibyl
echo "sibyl: $(hostname) provisioned: $(python3 --version), $(iptables --version)"
