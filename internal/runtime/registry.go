package runtime

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
)

// Config is what a backend is started with.
type Config struct {
	// Dir is the backend's own state (DATA/containerd for containerd).
	Dir string
	// LogFile is where a daemon the backend starts logs.
	LogFile string
	// Host is the host's name; host-wide state (cgroups) carries it, so two
	// agents on one machine never share a path.
	Host string
	// InsecureRegistries (host:port) are pulled from over plain HTTP, besides
	// those on loopback.
	InsecureRegistries []string
	// Warn tells the user at once of what the backend recovered from (a daemon
	// that died and was started again); nil only logs it.
	Warn func(error)
	// Peers are the backends started before this one for the same host
	// (--runtime containerd,microvm): a microvm backend takes its images from
	// a containerd one instead of starting its own.
	Peers []Runtime
}

// Backend is a registered runtime backend.
type Backend struct {
	Name string
	// Help is one line for --runtime's help.
	Help string
	New  func(ctx context.Context, cfg Config) (Runtime, error)
	// Base is a backend others of a host build on (containerd: the image
	// store): in a list, started first.
	Base bool
}

var (
	registryMu sync.Mutex
	registry   = map[string]Backend{}
)

// Register makes a backend available by name; backends call it from init.
func Register(b Backend) {
	registryMu.Lock()
	defer registryMu.Unlock()
	if _, dup := registry[b.Name]; dup {
		panic("runtime: backend " + b.Name + " registered twice")
	}
	registry[b.Name] = b
}

// Backends lists the registered backends by name.
func Backends() []Backend {
	registryMu.Lock()
	defer registryMu.Unlock()
	out := make([]Backend, 0, len(registry))
	for _, b := range registry {
		out = append(out, b)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// ErrUnknown is returned by New for a name no backend registered.
var ErrUnknown = errors.New("unknown runtime")

// Describe lists the registered backends as "name (help)", for flag help and
// errors.
func Describe() string {
	var out []string
	for _, b := range Backends() {
		out = append(out, b.Name+" ("+b.Help+")")
	}
	return strings.Join(out, ", ")
}

// New starts the backend called name.
func New(ctx context.Context, name string, cfg Config) (Runtime, error) {
	b, ok := lookup(name)
	if !ok {
		return nil, fmt.Errorf("%w; use %s", ErrUnknown, Describe())
	}
	rt, err := b.New(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("starting the %s runtime: %w", name, err)
	}
	return rt, nil
}

func lookup(name string) (Backend, bool) {
	registryMu.Lock()
	defer registryMu.Unlock()
	b, ok := registry[name]
	return b, ok
}

// NewEach starts the backends called names for one host, base backends
// first, each given those started before it as peers; cfgOf is each one's
// configuration. It returns them in the order of names. On an error, those
// started are closed.
func NewEach(ctx context.Context, names []string, cfgOf func(name string) Config) ([]Runtime, error) {
	order := make([]int, 0, len(names))
	for pass := 0; pass < 2; pass++ { // bases, then the rest
		for i, n := range names {
			b, ok := lookup(n)
			if !ok {
				return nil, fmt.Errorf("%q: %w; use %s", n, ErrUnknown, Describe())
			}
			if b.Base == (pass == 0) {
				order = append(order, i)
			}
		}
	}
	out := make([]Runtime, len(names))
	var peers []Runtime
	for _, i := range order {
		cfg := cfgOf(names[i])
		cfg.Peers = peers
		rt, err := New(ctx, names[i], cfg)
		if err != nil {
			for j := len(peers) - 1; j >= 0; j-- {
				peers[j].Close()
			}
			return nil, err
		}
		out[i], peers = rt, append(peers, rt)
	}
	return out, nil
}
