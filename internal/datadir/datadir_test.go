package datadir

import (
	"os"
	"path/filepath"
	"testing"
)

func TestEnsureAndPrivateTighten(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	key := filepath.Join(dir, "a.key")
	if err := os.WriteFile(key, []byte("k"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := Ensure(dir); err != nil {
		t.Fatal(err)
	}
	if err := Private(filepath.Join(dir, "*.key"), filepath.Join(dir, "missing")); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]os.FileMode{dir: 0o700, key: 0o600} {
		if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != want {
			t.Errorf("%s: %v %v, want %o", path, fi.Mode().Perm(), err, want)
		}
	}
	if err := Ensure(filepath.Join(dir, "new", "sub")); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(filepath.Join(dir, "new", "sub")); fi.Mode().Perm() != 0o700 {
		t.Errorf("new dir mode %o", fi.Mode().Perm())
	}
}
