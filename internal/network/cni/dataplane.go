package cni

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/fargo-dev/fargo/internal/network/netns"
)

// Dataplane is one host's sandbox networks: for each sandbox a network
// namespace pinned at /run/netns/<Prefix><id>, attached to the VPC, and a record
// under Dir so teardown works after a restart. Prefix is fargo-<host>_: it
// carries the host's name, so two agents on one machine never share a netns name,
// and ends in a character no host name has, so one host's prefix never matches
// another's names.
type Dataplane struct {
	Prefix string
	Dir    string
	cni    *CNI
}

// NewDataplane returns the dataplane of host, keeping its state under dir.
func NewDataplane(host, dir string) *Dataplane {
	return &Dataplane{Prefix: "fargo-" + host + "_", Dir: dir, cni: New(nil, filepath.Join(dir, "cache"))}
}

// record is what teardown needs of a sandbox's network.
type record struct {
	IP     string `json:"ip"`
	Subnet string `json:"subnet"`
}

func (d *Dataplane) name(id string) string { return d.Prefix + id }

// NetnsPath is where sandbox id's network namespace is pinned.
func (d *Dataplane) NetnsPath(id string) string { return filepath.Join(netns.Dir, d.name(id)) }

func (d *Dataplane) recordPath(id string) string {
	return filepath.Join(d.Dir, "sandboxes", id+".json")
}

// Setup creates sandbox id's netns (loopback up) and, with an address, attaches
// it at ip in subnet; each part already there is kept. It returns the netns path.
func (d *Dataplane) Setup(ctx context.Context, id string, ip net.IP, subnet *net.IPNet) (string, error) {
	path := d.NetnsPath(id)
	// Without this dataplane's record, what is there already is not its own: a
	// sandbox of a fargo with another data dir (deleted, or still running).
	if _, err := os.Stat(d.recordPath(id)); errors.Is(err, os.ErrNotExist) {
		if err := d.foreign(id, ip); err != nil {
			return "", err
		}
	}
	if err := os.MkdirAll(filepath.Dir(d.recordPath(id)), 0o700); err != nil {
		return "", fmt.Errorf("recording the network of sandbox %s: %w", id, err)
	}
	rec := record{}
	if ip != nil && subnet != nil {
		rec = record{IP: ip.String(), Subnet: subnet.String()}
	}
	data, _ := json.Marshal(rec)
	if err := os.WriteFile(d.recordPath(id), data, 0o600); err != nil {
		return "", fmt.Errorf("recording the network of sandbox %s: %w", id, err)
	}
	if _, err := netns.Ensure(d.name(id)); err != nil {
		return "", err
	}
	if rec.IP == "" {
		return path, nil // no VPC address: loopback only
	}
	err := d.cni.Attach(ctx, id, path, ip, subnet)
	if err == nil {
		return path, nil
	}
	// An attach cut off midway (the agent killed) leaves eth0 or the host end
	// behind, and every retry then fails on "already exists": undo it, try again.
	_ = d.cni.Detach(ctx, id, path, ip, subnet)
	_ = ipCmd("-n", d.name(id), "link", "del", "eth0")
	if again := d.cni.Attach(ctx, id, path, ip, subnet); again != nil {
		return path, fmt.Errorf("%w (and again after undoing a half-made attach: %v)", err, again)
	}
	return path, nil
}

// ConflictError is host state in the way of a sandbox's network that this
// dataplane did not make; it says what it is and how to clear it.
type ConflictError struct{ What string }

func (e *ConflictError) Error() string {
	return e.What + ", not this agent's: left by a fargo server or agent with another data dir (or used by one still running); " +
		"if no other fargo should run here, clear what they left with: fargo uninstall (it stops every fargo on this host)"
}

// foreign finds another's netns of sandbox id, or another's route to ip.
func (d *Dataplane) foreign(id string, ip net.IP) error {
	if _, err := os.Stat(d.NetnsPath(id)); err == nil {
		return &ConflictError{What: "network namespace " + d.NetnsPath(id) + " already exists"}
	}
	if ip == nil {
		return nil
	}
	out, err := exec.Command("ip", "-4", "route", "show", "exact", ip.String()+"/32").Output()
	if err == nil && strings.TrimSpace(string(out)) != "" {
		return &ConflictError{What: "the host already routes " + ip.String() + " (" + strings.TrimSpace(string(out)) + ")"}
	}
	return nil
}

// Teardown detaches and deletes sandbox id's netns; a missing one is fine.
func (d *Dataplane) Teardown(ctx context.Context, id string) error {
	var errs []error
	if err := netns.DropStale(d.NetnsPath(id)); err != nil {
		errs = append(errs, err)
	}
	data, err := os.ReadFile(d.recordPath(id))
	if err == nil {
		rec := record{}
		if err := json.Unmarshal(data, &rec); err == nil && rec.IP != "" {
			if _, subnet, err := net.ParseCIDR(rec.Subnet); err == nil {
				if err := d.cni.Detach(ctx, id, d.NetnsPath(id), net.ParseIP(rec.IP), subnet); err != nil {
					errs = append(errs, err)
				}
			}
		}
	}
	if _, err := os.Stat(d.NetnsPath(id)); err == nil {
		if err := ipCmd("netns", "delete", d.name(id)); err != nil {
			errs = append(errs, fmt.Errorf("deleting network namespace %s: %w", d.name(id), err))
		}
	}
	if len(errs) == 0 {
		if err := os.Remove(d.recordPath(id)); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Sandboxes lists the sandboxes with a network namespace here, for the sweep:
// only those this dataplane recorded, so a sweep never removes the network of
// another fargo's sandbox that carries the same host name (see foreign).
func (d *Dataplane) Sandboxes() ([]string, error) {
	paths, err := filepath.Glob(filepath.Join("/run/netns", d.Prefix+"*"))
	if err != nil {
		return nil, fmt.Errorf("listing sandbox networks: %w", err)
	}
	ids := make([]string, 0, len(paths))
	for _, p := range paths {
		id := strings.TrimPrefix(filepath.Base(p), d.Prefix)
		if _, err := os.Stat(d.recordPath(id)); err == nil {
			ids = append(ids, id)
		}
	}
	return ids, nil
}

func ipCmd(args ...string) error {
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}
