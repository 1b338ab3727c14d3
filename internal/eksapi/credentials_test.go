package eksapi

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"
)

func TestEnsureCredentialsGeneratesOnceThenReuses(t *testing.T) {
	path := filepath.Join(t.TempDir(), "aws-credentials")
	first, err := EnsureCredentials(path, Keys{})
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^AKIA[A-Z2-7]{16}$`).MatchString(first.AccessKeyID) || len(first.SecretAccessKey) != 40 {
		t.Errorf("generated keys look wrong: %+v", first)
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
		t.Errorf("credentials file mode %v, want 0600", st.Mode())
	}
	again, err := EnsureCredentials(path, Keys{})
	if err != nil || again != first {
		t.Errorf("second start got %+v (err %v), want the same keys", again, err)
	}
	given := Keys{AccessKeyID: "AKIAGIVEN", SecretAccessKey: "s"}
	if k, _ := EnsureCredentials(path, given); k != given {
		t.Errorf("flags did not win: %+v", k)
	}
	if _, err := EnsureCredentials(path, Keys{AccessKeyID: "only-id"}); err == nil {
		t.Error("an id without a secret was accepted")
	}
}
