#!/usr/bin/env bash
# make demo: the second seed's walkthrough (a mixed cluster, three test apps) on
# this machine, with the seed's own commands (fargo in place of eksctl, kubectl
# as is) and manifests (examples/seed, verbatim but the image, which a loopback
# registry serves). Leaves the cluster running; `make demo-down` removes it.
#
#   hack/demo.sh        run the walkthrough (after make build and bin/images-tool)
#   hack/demo.sh down   stop the demo's registry and server, and uninstall
#
# Environment: see hack/demo-lib.sh.
# shellcheck source=hack/demo-lib.sh
source "$(dirname "$0")/demo-lib.sh"
if [[ ${1:-} == down ]]; then
	demo_down
fi
demo_begin

# The demo's image: Debian's nginx (with busybox and free, as the seed's Alpine
# one has).
serve_images nginx
image=$registry/fargo/nginx:1
echo "== starting fargo with examples/eks-private-subnet.yaml (data in $data, output in $work/server.log)"
start_server --config examples/eks-private-subnet.yaml

# The seed's manifests, the image replaced; test3-mixed split into the seed's three files.
for f in test1-ec2nodegroup test2-fargate test3-mixed; do
	sed "s|public.ecr.aws/nginx/nginx:1.24-alpine-slim|$image|" "examples/seed/$f.yaml" >"$work/$f.yaml"
done
awk -v dir="$work" '/^---/ { n++ } n == 1 { print > dir "/test3-mixed-namespace.yaml" }
	n == 2 || n == 3 { print > dir "/test3-mixed-ec2.yaml" } n >= 4 { print > dir "/test3-mixed-fargate.yaml" }' "$work/test3-mixed.yaml"
cd "$work"
echo "== the seed's walkthrough (manifests in $work, image $image)"

# Section 3: an app on the node group behind an internet-facing NLB.
step kubectl get nodes
step kubectl apply -f test1-ec2nodegroup.yaml
waitfor 60 kubectl wait --for=jsonpath='{.status.loadBalancer.ingress[0].ip}' service/nginx-ec2nodegroup -n test1-ec2nodegroup --timeout 1s
step kubectl get services --namespace test1-ec2nodegroup

# Section 4: a Fargate profile for a namespace.
step fargo create fargateprofile \
	--cluster eksworkshop \
	--name test2-fargate \
	--namespace test2-fargate
step fargo get fargateprofile --cluster eksworkshop
step kubectl apply -f test2-fargate.yaml
kubectl rollout status deployment/nginx-fargate-pod -n test2-fargate --timeout 120s >/dev/null
step kubectl get pods -n test2-fargate -o wide

# Section 5: namespace and labels; the labelled pods on Fargate, the others on the node group.
step fargo create fargateprofile \
	--cluster eksworkshop \
	--name test3-mixed \
	--namespace test3-mixed \
	--labels runon=fargate
step kubectl apply -f test3-mixed-namespace.yaml
step kubectl apply -f test3-mixed-ec2.yaml
step kubectl apply -f test3-mixed-fargate.yaml
for d in nginx-mixed-ec2 nginx-mixed-fargate; do
	kubectl rollout status deployment/$d -n test3-mixed --timeout 120s >/dev/null
done
kubectl rollout status deployment/nginx-ec2nodegroup -n test1-ec2nodegroup --timeout 120s >/dev/null
step kubectl get pods -n test3-mixed -o wide
step kubectl get pods -n test3-mixed -l runon -o wide
for s in nginx-mixed-ec2 nginx-mixed-fargate; do
	waitfor 60 kubectl wait --for=jsonpath='{.status.loadBalancer.ingress[0].ip}' service/$s -n test3-mixed --timeout 1s
done
step kubectl get services --namespace test3-mixed

# "Test each with curl": the NLBs' addresses answer on this machine.
for ns in test1-ec2nodegroup test2-fargate test3-mixed; do
	for ip in $(kubectl get services -n "$ns" -o jsonpath='{.items[*].status.loadBalancer.ingress[0].ip}'); do
		waitfor 30 curl -sf "http://$ip/"
		printf '\n$ curl -s http://%s/ | grep title\n' "$ip"
		curl -s "http://$ip/" | grep title
	done
done

# Section 6: what the pod was given, and what it sees.
pod=$(kubectl get pods -n test3-mixed -l app=nginx-mixed-fargate -o jsonpath='{.items[0].metadata.name}')
printf '\n$ kubectl describe pod --namespace test3-mixed %s | grep -A1 Annotations\n' "$pod"
kubectl describe pod --namespace test3-mixed "$pod" | grep -A1 Annotations
step kubectl exec -n test3-mixed "$pod" -- free -m
step kubectl exec -n test3-mixed "$pod" -- nproc

# The bill: per second, at the provisioned size.
step fargo usage --by pod

demo_end
