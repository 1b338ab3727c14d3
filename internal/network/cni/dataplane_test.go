//go:build root

package cni

import (
	"context"
	"os"
	"slices"
	"testing"
)

// Two hosts on one machine, one named after the other's prefix, each see only
// their own sandbox networks; teardown removes them.
func TestDataplanesOfTwoHosts(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	ctx := context.Background()
	a, ab := NewDataplane("dp-a", t.TempDir()), NewDataplane("dp-a-b", t.TempDir())
	for _, dp := range []*Dataplane{a, ab} {
		if _, err := dp.Setup(ctx, "ip-10-9-0-4", nil, nil); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if err := dp.Teardown(ctx, "ip-10-9-0-4"); err != nil {
				t.Error(err)
			}
		})
	}
	for _, dp := range []*Dataplane{a, ab} {
		ids, err := dp.Sandboxes()
		if err != nil || !slices.Equal(ids, []string{"ip-10-9-0-4"}) {
			t.Errorf("%s: Sandboxes = %v, %v; want only its own ip-10-9-0-4", dp.Prefix, ids, err)
		}
	}
	if err := a.Teardown(ctx, "ip-10-9-0-4"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(a.NetnsPath("ip-10-9-0-4")); !os.IsNotExist(err) {
		t.Errorf("netns %s still there after teardown: %v", a.NetnsPath("ip-10-9-0-4"), err)
	}
	if _, err := os.Stat(ab.NetnsPath("ip-10-9-0-4")); err != nil {
		t.Errorf("the other host's netns went too: %v", err)
	}
}
