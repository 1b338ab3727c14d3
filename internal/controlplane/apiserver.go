package controlplane

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"

	utilerrors "k8s.io/apimachinery/pkg/util/errors"
	apiserver "k8s.io/kubernetes/cmd/kube-apiserver/app"
	apiserveroptions "k8s.io/kubernetes/cmd/kube-apiserver/app/options"
)

// serviceAccountIssuer is the issuer EKS-like in-cluster clients expect.
const serviceAccountIssuer = "https://kubernetes.default.svc.cluster.local"

func apiServerArgs(c *Config, cs *certs, etcdServers []string, advertise net.IP) []string {
	args := []string{
		"--bind-address=" + c.BindAddress.String(),
		"--secure-port=" + strconv.Itoa(c.APIPort),
		"--etcd-servers=" + strings.Join(etcdServers, ","),
		"--service-cluster-ip-range=" + c.ServiceCIDR.String(),
		"--tls-cert-file=" + cs.APIServer.CertFile,
		"--tls-private-key-file=" + cs.APIServer.KeyFile,
		"--client-ca-file=" + cs.CA.CertFile,
		"--kubelet-client-certificate=" + cs.KubeletClient.CertFile,
		"--kubelet-client-key=" + cs.KubeletClient.KeyFile,
		"--kubelet-certificate-authority=" + cs.CA.CertFile,
		"--kubelet-preferred-address-types=InternalIP,Hostname",
		"--egress-selector-config-file=" + c.egressConfigPath(),
		"--service-account-issuer=" + serviceAccountIssuer,
		"--service-account-key-file=" + cs.ServiceAccountKey,
		"--service-account-signing-key-file=" + cs.ServiceAccountKey,
		"--authorization-mode=Node,RBAC",
		"--enable-admission-plugins=NodeRestriction",
		// Node-group kubelets get their client certificates by TLS bootstrap.
		"--enable-bootstrap-token-auth=true",
		"--allow-privileged=true",
		"--profiling=" + strconv.FormatBool(c.Profiling),
		"--requestheader-client-ca-file=" + cs.FrontProxyCA.CertFile,
		"--requestheader-allowed-names=front-proxy-client",
		"--requestheader-username-headers=X-Remote-User",
		"--requestheader-group-headers=X-Remote-Group",
		"--requestheader-extra-headers-prefix=X-Remote-Extra-",
		"--proxy-client-cert-file=" + cs.FrontProxyClient.CertFile,
		"--proxy-client-key-file=" + cs.FrontProxyClient.KeyFile,
	}
	if advertise != nil {
		args = append(args, "--advertise-address="+advertise.String())
	} else {
		// Without a routable address there is nothing valid to publish as the
		// kubernetes service endpoint (Endpoints refuse loopback addresses).
		args = append(args, "--endpoint-reconciler-type=none")
	}
	switch {
	case len(c.EtcdServers) == 0:
		args = append(args, "--etcd-cafile="+cs.EtcdCA.CertFile,
			"--etcd-certfile="+cs.EtcdClient.CertFile, "--etcd-keyfile="+cs.EtcdClient.KeyFile)
	default:
		// An external etcd keeps the flags it was given.
		if c.EtcdCAFile != "" {
			args = append(args, "--etcd-cafile="+c.EtcdCAFile)
		}
		if c.EtcdCertFile != "" {
			args = append(args, "--etcd-certfile="+c.EtcdCertFile, "--etcd-keyfile="+c.EtcdKeyFile)
		}
	}
	return args
}

// runAPIServer runs kube-apiserver until ctx ends.
func runAPIServer(ctx context.Context, args []string) error {
	s := apiserveroptions.NewServerRunOptions()
	if err := parseComponentFlags("kube-apiserver", s.Flags(), args); err != nil {
		return err
	}
	if err := s.GenericServerRunOptions.ComponentGlobalsRegistry.Set(); err != nil {
		return fmt.Errorf("setting kube-apiserver feature gates: %w", err)
	}
	completed, err := s.Complete(ctx)
	if err != nil {
		return fmt.Errorf("completing kube-apiserver options: %w", err)
	}
	if errs := completed.Validate(); len(errs) > 0 {
		return fmt.Errorf("validating kube-apiserver options: %w", utilerrors.NewAggregate(errs))
	}
	return apiserver.Run(ctx, completed)
}
