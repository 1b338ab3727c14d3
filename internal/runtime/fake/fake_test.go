package fake_test

import (
	"testing"

	"github.com/fargo-dev/fargo/internal/runtime"
	"github.com/fargo-dev/fargo/internal/runtime/conformance"
	"github.com/fargo-dev/fargo/internal/runtime/fake"
)

func TestConformance(t *testing.T) {
	conformance.Run(t, conformance.Fake(func(*testing.T) runtime.Runtime { return fake.New() }))
}
