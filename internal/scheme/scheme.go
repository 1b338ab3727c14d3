// Package scheme is the one runtime.Scheme fargo's server, agent, CLI and tests
// share: the Kubernetes built-in types and fargo's own.
package scheme

import (
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"

	v1alpha1 "github.com/fargo-dev/fargo/pkg/apis/fargo/v1alpha1"
)

// Scheme knows the Kubernetes built-in types and fargo's.
var Scheme = New()

// New returns a new scheme with the same types, for callers that add their own.
func New() *runtime.Scheme {
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		panic(err)
	}
	if err := v1alpha1.AddToScheme(s); err != nil {
		panic(err)
	}
	return s
}
