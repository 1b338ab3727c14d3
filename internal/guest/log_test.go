package guest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The guest writes container output as kubelet reads it: one CRI record per
// line, a long line in parts (P) ending in a full one (F), and an unfinished
// last line as a part.
func TestCRILog(t *testing.T) {
	path := filepath.Join(t.TempDir(), "0.log")
	l, err := openLog(path)
	if err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("x", maxLine+10)
	l.copy("stdout", strings.NewReader("one\ntwo\n"+long+"\nlast"))
	l.close()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	want := []struct{ tag, text string }{{"F", "one"}, {"F", "two"}, {"P", long[:maxLine]}, {"F", long[maxLine:]}, {"P", "last"}}
	if len(lines) != len(want) {
		t.Fatalf("%d records, want %d", len(lines), len(want))
	}
	for i, line := range lines {
		f := strings.SplitN(line, " ", 4)
		if len(f) != 4 {
			t.Fatalf("record %q: want 4 fields", line)
		}
		if _, err := time.Parse(time.RFC3339Nano, f[0]); err != nil || f[1] != "stdout" || f[2] != want[i].tag || f[3] != want[i].text {
			t.Errorf("record %d = %.60q (%d bytes), want stdout %s and %d bytes of text", i, line, len(line), want[i].tag, len(want[i].text))
		}
	}
}
