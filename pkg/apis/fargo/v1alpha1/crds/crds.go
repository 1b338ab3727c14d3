// Package crds embeds the CustomResourceDefinitions generated from fargo's API types
// (`make generate`), which `fargo server` installs and updates at every start.
package crds

import "embed"

// FS holds one YAML manifest per CRD.
//
//go:embed *.yaml
var FS embed.FS
