package v1alpha1

// Every label, annotation, taint key and finalizer fargo reads or writes, in one
// place: EKS's names (so manifests move over unchanged, reference §2–§3) and
// fargo's own (group fargo.dev).

// EKS's names.
const (
	// SchedulerName is the scheduler EKS's webhook gives Fargate pods.
	SchedulerName = "fargate-scheduler"
	// LabelProfile is set by the webhook on a pod to the profile it matched.
	LabelProfile = "eks.amazonaws.com/fargate-profile"
	// LabelComputeType is the Fargate node label and taint key; as a pod
	// annotation with value ComputeEC2 it opts the pod out of Fargate.
	LabelComputeType      = "eks.amazonaws.com/compute-type"
	AnnotationComputeType = LabelComputeType
	ComputeFargate        = "fargate"
	ComputeEC2            = "ec2"
	// LabelProfileName is the Fargate node's profile.
	LabelProfileName = "eks.amazonaws.com/fargate-profile-name"
	// AnnotationCapacity is the provisioned size on a Fargate pod ("1vCPU 2GB").
	AnnotationCapacity = "CapacityProvisioned"
	// AnnotationControllerAttachDetach is what kubelet sets on its node.
	AnnotationControllerAttachDetach = "volumes.kubernetes.io/controller-managed-attach-detach"
)

// fargo's names.
const (
	// LabelSandbox and LabelHost tie a Fargate node to its Sandbox and host.
	LabelSandbox = "fargo.dev/sandbox"
	LabelHost    = "fargo.dev/host"
	// LabelIsolation on a Fargate node says what isolates its pod: "container"
	// (namespaces and cgroups on the host's kernel) or "microvm" (a VM with its
	// own kernel).
	LabelIsolation = "fargo.dev/isolation"
	// TagIsolation, a FargateProfile tag (spec.tags, the EKS API's tags,
	// eksctl's fargateProfiles[].tags), selects the tier its pods run in:
	// IsolationContainer or IsolationMicroVM; absent: the host's default.
	TagIsolation = "fargo.dev/isolation"
	// The isolation tiers.
	IsolationContainer = "container"
	IsolationMicroVM   = "microvm"
	// LabelPodUID ties a Sandbox to its pod.
	LabelPodUID = "fargo.dev/pod-uid"
	// AnnotationClientRequestToken keeps the EKS API's idempotency token.
	AnnotationClientRequestToken = "fargo.dev/client-request-token"
	// SandboxFinalizer holds a released Sandbox (and so its IP) until its host has
	// torn the sandbox down. The scheduler sets it at creation; the host removes it.
	SandboxFinalizer = "fargo.dev/teardown"
	// ProfileFinalizer holds a deleted profile in DELETING until its pods are gone.
	ProfileFinalizer = "fargo.dev/fargate-profile"
	// NodeGroupFinalizer holds a deleted node group in DELETING until its nodes
	// are drained and removed.
	NodeGroupFinalizer = "fargo.dev/node-group"
)
