// Package v1alpha1 holds fargo's API types (group fargo.dev), served as CRDs.
//
// +kubebuilder:object:generate=true
// +groupName=fargo.dev
package v1alpha1
