#!/usr/bin/env bash
# make install: puts fargo on PATH with a systemd unit, as k3s's installer does.
#
#   hack/install.sh          install bin/fargo and bin/coredns, the unit, and start it
#   hack/install.sh remove   stop and disable the unit, remove what install put
#
# Installed: $PREFIX/lib/fargo/{fargo,coredns} (the server finds coredns beside
# its binary), $PREFIX/bin/fargo linking there, $PREFIX/bin/kubectl too unless
# a kubectl is already on PATH, $SYSTEMD_DIR/fargo.service, and
# /etc/default/fargo for the server's flags (FARGO_SERVER_ARGS), kept if it exists.
# Environment: PREFIX (/usr/local), SYSTEMD_DIR (/etc/systemd/system),
# DEFAULTS_FILE (/etc/default/fargo), INSTALL_FARGO_SKIP_START=true to install
# without enabling and starting the unit.
set -euo pipefail
cd "$(dirname "$0")/.."
prefix=${PREFIX:-/usr/local}
unitdir=${SYSTEMD_DIR:-/etc/systemd/system}
defaults=${DEFAULTS_FILE:-/etc/default/fargo}
unit=$unitdir/fargo.service
systemd=false
[[ -d /run/systemd/system && ${INSTALL_FARGO_SKIP_START:-} != true ]] && systemd=true

if [[ ${1:-} == remove ]]; then
	if $systemd && [[ -f $unit ]]; then
		systemctl disable --now fargo.service || true
	fi
	for f in "$unit" "$prefix/bin/fargo" "$prefix/lib/fargo/fargo" "$prefix/lib/fargo/coredns"; do
		[[ -e $f || -L $f ]] && rm -f "$f" && echo "removed $f"
	done
	if [[ -L $prefix/bin/kubectl && $(readlink "$prefix/bin/kubectl") == "$prefix/lib/fargo/fargo" ]]; then
		rm -f "$prefix/bin/kubectl" && echo "removed $prefix/bin/kubectl"
	fi
	rmdir "$prefix/lib/fargo" 2>/dev/null || true
	$systemd && systemctl daemon-reload
	echo "fargo's files are removed; $defaults and the data dir are kept (fargo uninstall --data-dir DIR stops what runs and deletes state)"
	exit 0
fi

for b in bin/fargo bin/coredns; do
	[[ -x $b ]] || { echo "install: $b is not built; run make build" >&2; exit 1; }
done
install -d "$prefix/bin" "$prefix/lib/fargo" "$unitdir" "$(dirname "$defaults")"
install -m 0755 bin/fargo bin/coredns "$prefix/lib/fargo/"
ln -sfn "$prefix/lib/fargo/fargo" "$prefix/bin/fargo"
echo "installed $prefix/bin/fargo ($("$prefix/bin/fargo" version | head -n1))"
if ! command -v kubectl >/dev/null || [[ $(readlink -f "$(command -v kubectl)") == "$prefix/lib/fargo/fargo" ]]; then
	ln -sfn "$prefix/lib/fargo/fargo" "$prefix/bin/kubectl"
	echo "installed $prefix/bin/kubectl (fargo's embedded kubectl)"
else
	echo "kept $(command -v kubectl) (fargo kubectl is the embedded one)"
fi
if [[ ! -e $defaults ]]; then
	cat >"$defaults" <<'DEFAULTS'
# Flags of `fargo server` run by fargo.service (fargo server --help lists them),
# e.g. FARGO_SERVER_ARGS="--config /etc/fargo/cluster.yaml --fargate"
FARGO_SERVER_ARGS=""
DEFAULTS
	echo "installed $defaults (the server's flags)"
fi
cat >"$unit" <<UNIT
[Unit]
Description=fargo: serverless pods for Kubernetes (EKS Fargate's model)
Documentation=https://github.com/fargo-dev/fargo
Wants=network-online.target
After=network-online.target

[Service]
# fargo server tells systemd when it is ready (sd_notify), so systemctl start
# returns when kubectl and fargo create work.
Type=notify
EnvironmentFile=-$defaults
ExecStart=$prefix/bin/fargo server \$FARGO_SERVER_ARGS
# Sandboxes, node-group kubelets and containerd outlive the server by design
# and are adopted by the next start: stop only the server's own process.
KillMode=process
Delegate=yes
LimitNOFILE=1048576
LimitNPROC=infinity
LimitCORE=infinity
TasksMax=infinity
TimeoutStartSec=0
Restart=always
RestartSec=5s

[Install]
WantedBy=multi-user.target
UNIT
echo "installed $unit"
if $systemd; then
	systemctl daemon-reload
	systemctl enable --now fargo.service
	echo "fargo.service is running: journalctl -u fargo -f; export KUBECONFIG=/var/lib/fargo/kubeconfig.yaml"
else
	echo "not started (no systemd running, or INSTALL_FARGO_SKIP_START=true): systemctl enable --now fargo, or run: fargo server"
fi
