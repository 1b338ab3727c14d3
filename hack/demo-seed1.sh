#!/usr/bin/env bash
# make demo-seed1: the first seed's walkthrough on this machine. A cluster made
# with --fargate (profile fp-default for default and kube-system, so CoreDNS
# runs on fargate-ip-… nodes), a managed node group of two nodes added
# afterwards, nginx and a ClusterIP Service in namespace demo on the node
# group, then a Fargate pod in default (the seed's spec: requests 250m/64Mi,
# limits 1/128Mi, provisioned 1vCPU 2GB) looking nginx up by Service name with
# nslookup and curl. Leaves the cluster running; `make demo-down` removes it.
#
#   hack/demo-seed1.sh        run the walkthrough (after make build and bin/images-tool)
#   hack/demo-seed1.sh down   stop the demo's registry and server, and uninstall
#
# Environment: see hack/demo-lib.sh.
# shellcheck source=hack/demo-lib.sh
source "$(dirname "$0")/demo-lib.sh"
if [[ ${1:-} == down ]]; then
	demo_down
fi
demo_begin

# radial/busyboxplus:curl and nginx, rebuilt from Debian's packages.
serve_images nginx,curl
nginx=$registry/fargo/nginx:1
curl=$registry/fargo/curl:1
echo "== starting fargo as eksctl create cluster --fargate does (data in $data, output in $work/server.log)"
printf '\n$ fargo server --fargate\n'
start_server --fargate
cd "$work"

step fargo get fargateprofile --cluster fargo
waitfor 120 kubectl rollout status deployment/coredns -n kube-system --timeout 1s
step kubectl get pods -n kube-system -o wide

# "Later, I added a managed node group of two worker nodes."
step fargo create nodegroup --cluster fargo --name managed-ng --node-type t3.xlarge --nodes 2
step kubectl get nodes

# nginx and a ClusterIP Service in a namespace no profile selects: the node group.
step kubectl create namespace demo
step kubectl create deployment nginx --image "$nginx" -n demo
step kubectl expose deployment nginx --port 80 -n demo
kubectl rollout status deployment/nginx -n demo --timeout 120s >/dev/null
step kubectl get pods,services -n demo -o wide

# The Busybox pod with nslookup and curl, in default: a Fargate pod, with the
# seed's resources. Its shell reads the commands from stdin. Busybox's
# nslookup asks for the name as given, without the resolv.conf search path
# (the seed's older busybox used libc's resolver), so it gets the full name;
# curl resolves nginx.demo through the search path.
overrides=$(printf '{"spec":{"containers":[{"name":"curl","image":"%s","stdin":true,"tty":true,"resources":{"requests":{"cpu":"250m","memory":"64Mi"},"limits":{"cpu":"1","memory":"128Mi"}}}]}}' "$curl")
printf '\n$ kubectl run curl --image=radial/busyboxplus:curl -i --tty   (image %s, the seed'"'"'s resources)\n' "$curl"
printf 'nslookup nginx.demo.svc.cluster.local\ncurl -s nginx.demo | grep title\nexit\n' |
	kubectl run curl --image "$curl" --overrides "$overrides" -i --tty --restart Never 2>&1 | tr -d '\r'
step kubectl get pod curl -o wide
printf '\n$ kubectl describe pod curl | grep -A1 Annotations\n'
kubectl describe pod curl | grep -A1 Annotations
demo_end
