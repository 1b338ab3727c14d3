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
}

// Backend is a registered runtime backend.
type Backend struct {
	Name string
	// Help is one line for --runtime's help.
	Help string
	New  func(ctx context.Context, cfg Config) (Runtime, error)
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
	registryMu.Lock()
	b, ok := registry[name]
	registryMu.Unlock()
	if !ok {
		return nil, fmt.Errorf("%w; use %s", ErrUnknown, Describe())
	}
	rt, err := b.New(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("starting the %s runtime: %w", name, err)
	}
	return rt, nil
}
