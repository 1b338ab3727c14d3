package benchdoc

import (
	"os"
	"path/filepath"
	"testing"
)

func TestReplaceSection(t *testing.T) {
	p := filepath.Join(t.TempDir(), "b.md")
	if err := os.WriteFile(p, []byte("# B\n<!-- x:start -->\nold\n<!-- x:end -->\ntail\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := ReplaceSection(p, "x", "new\n"); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(p)
	if string(got) != "# B\n<!-- x:start -->\nnew\n<!-- x:end -->\ntail\n" {
		t.Errorf("got %q", got)
	}
	if err := ReplaceSection(p, "y", "z"); err == nil {
		t.Error("missing markers accepted")
	}
	if Median([]float64{3, 1, 2}) != 2 || Spread([]float64{1, 3, 2}) != "2.00 (1.00–3.00)" {
		t.Errorf("median/spread wrong: %v %q", Median([]float64{3, 1, 2}), Spread([]float64{1, 3, 2}))
	}
}
