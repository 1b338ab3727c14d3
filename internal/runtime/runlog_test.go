package runtime

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// RunLog gives the current run's log, or the one before with previous, and
// ErrNotFound for a run without a log or a container not in the list.
func TestRunLog(t *testing.T) {
	dir := t.TempDir()
	path := func(attempt int) string { return filepath.Join(dir, strconv.Itoa(attempt)+".log") }
	for _, a := range []int{0, 1} {
		if err := os.WriteFile(path(a), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	list := []ContainerStatus{{Name: "other", Attempt: 5}, {Name: "c", Attempt: 1}}
	if got, err := RunLog(list, "sb", "c", false, path); err != nil || got != path(1) {
		t.Errorf("current: %q, %v; want %s", got, err, path(1))
	}
	if got, err := RunLog(list, "sb", "c", true, path); err != nil || got != path(0) {
		t.Errorf("previous: %q, %v; want %s", got, err, path(0))
	}
	list[1].Attempt = 0
	if _, err := RunLog(list, "sb", "c", true, path); !errors.Is(err, ErrNotFound) {
		t.Errorf("previous of a first run: %v, want ErrNotFound", err)
	}
	if _, err := RunLog(list, "sb", "other", false, path); !errors.Is(err, ErrNotFound) {
		t.Errorf("a run without a log: %v, want ErrNotFound", err)
	}
	if _, err := RunLog(list, "sb", "missing", false, path); !errors.Is(err, ErrNotFound) {
		t.Errorf("a missing container: %v, want ErrNotFound", err)
	}
}
