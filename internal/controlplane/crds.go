package controlplane

import (
	"context"
	"fmt"
	"io/fs"
	"sort"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apiextensions "k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/yaml"

	"github.com/fargo-dev/fargo/pkg/apis/fargo/v1alpha1/crds"
)

const fieldManager = "fargo"

// loadCRDs decodes the embedded manifests.
func loadCRDs() ([]*apiextensionsv1.CustomResourceDefinition, error) {
	names, err := fs.Glob(crds.FS, "*.yaml")
	if err != nil {
		return nil, fmt.Errorf("listing CRD manifests: %w", err)
	}
	sort.Strings(names)
	out := make([]*apiextensionsv1.CustomResourceDefinition, 0, len(names))
	for _, name := range names {
		data, err := crds.FS.ReadFile(name)
		if err != nil {
			return nil, fmt.Errorf("reading CRD manifest %s: %w", name, err)
		}
		crd := &apiextensionsv1.CustomResourceDefinition{}
		if err := yaml.UnmarshalStrict(data, crd); err != nil {
			return nil, fmt.Errorf("decoding CRD manifest %s: %w", name, err)
		}
		out = append(out, crd)
	}
	return out, nil
}

// installCRDs server-side-applies every CRD, so a newer fargo updates the schema of
// an existing cluster, and waits until all are Established. It returns their names.
func installCRDs(ctx context.Context, client apiextensions.Interface) ([]string, error) {
	list, err := loadCRDs()
	if err != nil {
		return nil, err
	}
	api := client.ApiextensionsV1().CustomResourceDefinitions()
	names := make([]string, 0, len(list))
	for _, crd := range list {
		crd.TypeMeta = metav1.TypeMeta{APIVersion: "apiextensions.k8s.io/v1", Kind: "CustomResourceDefinition"}
		body, err := yaml.Marshal(crd)
		if err != nil {
			return nil, fmt.Errorf("encoding CRD %s: %w", crd.Name, err)
		}
		force := true
		if _, err := api.Patch(ctx, crd.Name, types.ApplyYAMLPatchType, body, metav1.PatchOptions{FieldManager: fieldManager, Force: &force}); err != nil {
			return nil, fmt.Errorf("applying CRD %s: %w", crd.Name, err)
		}
		names = append(names, crd.Name)
	}
	for _, name := range names {
		err := wait.PollUntilContextCancel(ctx, pollInterval, true, func(ctx context.Context) (bool, error) {
			crd, err := api.Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return false, nil //nolint:nilerr // keep polling until ctx ends
			}
			for _, c := range crd.Status.Conditions {
				if c.Type == apiextensionsv1.Established && c.Status == apiextensionsv1.ConditionTrue {
					return true, nil
				}
			}
			return false, nil
		})
		if err != nil {
			return nil, fmt.Errorf("waiting for CRD %s to be established: %w", name, err)
		}
	}
	return names, nil
}
