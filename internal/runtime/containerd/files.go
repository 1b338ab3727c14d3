package containerd

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/fargo-dev/fargo/internal/runtime"
)

// The files kubelet manages in every container (/etc/hosts, /etc/hostname) and
// the CRI runtime's (/etc/resolv.conf) arrive as data and are written once per
// sandbox under DIR/files/<id>, then bind-mounted into each container.
var podFiles = []struct{ name, path string }{
	{"hosts", "/etc/hosts"},
	{"hostname", "/etc/hostname"},
	{"resolv.conf", "/etc/resolv.conf"},
}

func (r *Runtime) filesDir(id string) string { return filepath.Join(r.dir, "files", id) }

func (r *Runtime) writePodFiles(id string, f runtime.PodFiles) error {
	data := map[string]string{"hosts": f.Hosts, "hostname": f.Hostname, "resolv.conf": f.ResolvConf}
	if err := os.MkdirAll(r.filesDir(id), 0o755); err != nil {
		return fmt.Errorf("creating %s: %w", r.filesDir(id), err)
	}
	for _, pf := range podFiles {
		path := filepath.Join(r.filesDir(id), pf.name)
		// Running containers have these bind-mounted: write in place (a rename
		// would detach them), and only when they change, so no reader sees a
		// truncated file.
		if old, err := os.ReadFile(path); err == nil && string(old) == data[pf.name] {
			continue
		}
		if err := os.WriteFile(path, []byte(data[pf.name]), 0o644); err != nil {
			return fmt.Errorf("writing the sandbox's %s: %w", pf.path, err)
		}
	}
	return nil
}

// podFileMounts mounts the sandbox's files over the image's, unless the
// container mounts something of its own there.
func (r *Runtime) podFileMounts(id string, own []runtime.Mount) []runtime.Mount {
	var out []runtime.Mount
outer:
	for _, pf := range podFiles {
		for _, m := range own {
			if filepath.Clean(m.ContainerPath) == pf.path {
				continue outer
			}
		}
		out = append(out, runtime.Mount{HostPath: filepath.Join(r.filesDir(id), pf.name), ContainerPath: pf.path})
	}
	return out
}
