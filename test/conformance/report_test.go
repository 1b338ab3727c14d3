//go:build conformance

package conformance

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strings"
	"time"
)

// spec is the part of a ginkgo JSON report's SpecReport the doc needs.
type spec struct {
	ContainerHierarchyTexts []string
	LeafNodeText            string
	LeafNodeType            string
	State                   string
	RunTime                 time.Duration
	Failure                 struct{ Message string }
	// CapturedGinkgoWriterOutput holds the test's log, with the namespace's
	// events dumped on failure.
	CapturedGinkgoWriterOutput string
}

func (s spec) name() string {
	return strings.TrimSpace(strings.Join(append(append([]string{}, s.ContainerHierarchyTexts...), s.LeafNodeText), " "))
}

// reason is the failure's first line, for the doc.
func (s spec) reason() string {
	line, _, _ := strings.Cut(strings.TrimSpace(s.Failure.Message), "\n")
	if len(line) > 300 {
		line = line[:300] + "…"
	}
	return line
}

// refusal matches fargo's Fargate refusal (EKS's message), or its event that
// part of a pod's spec does not apply on Fargate, in a failed test's events.
var refusal = regexp.MustCompile(`(Pod not supported|Not applicable) on Fargate: [^"\n]*`)

// rule is the Fargate rule that refused one of the test's pods, or "".
func (s spec) rule() string {
	return strings.TrimRight(refusal.FindString(s.CapturedGinkgoWriterOutput+"\n"+s.Failure.Message), `\ .,`)
}

// pass is one run of the suite: its tests by name.
type pass struct {
	label   string
	tests   map[string]spec
	elapsed time.Duration
}

// readPass reads a ginkgo JSON report (one per run), keeping the tests that
// were selected (It nodes not skipped).
func readPass(label, path string, elapsed time.Duration) (pass, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return pass{}, fmt.Errorf("reading %s's report: %w", label, err)
	}
	var reports []struct{ SpecReports []spec }
	if err := json.Unmarshal(data, &reports); err != nil {
		return pass{}, fmt.Errorf("parsing %s: %w", path, err)
	}
	p := pass{label: label, tests: map[string]spec{}, elapsed: elapsed}
	for _, r := range reports {
		for _, s := range r.SpecReports {
			if s.LeafNodeType == "It" && s.State != "skipped" && s.State != "pending" {
				p.tests[s.name()] = s
			}
		}
	}
	return p, nil
}

func (p pass) count(state string) int {
	n := 0
	for _, s := range p.tests {
		if s.State == state {
			n++
		}
	}
	return n
}

// failed reports whether the test ran and did not pass.
func (p pass) failed(name string) bool {
	s, ok := p.tests[name]
	return ok && s.State != "passed"
}

// comparison sorts the Fargate run's failures against the node group's.
type comparison struct {
	bugs, refused, both, nodeGroupOnly []string
}

func compare(ng, fg pass) comparison {
	var c comparison
	for _, name := range sortedNames(ng, fg) {
		switch f, n := fg.failed(name), ng.failed(name); {
		case f && n:
			c.both = append(c.both, name)
		case f && fg.tests[name].rule() != "":
			c.refused = append(c.refused, name)
		case f:
			c.bugs = append(c.bugs, name)
		case n:
			c.nodeGroupOnly = append(c.nodeGroupOnly, name)
		}
	}
	return c
}

func sortedNames(passes ...pass) []string {
	seen := map[string]bool{}
	var names []string
	for _, p := range passes {
		for n := range p.tests {
			if !seen[n] {
				seen[n] = true
				names = append(names, n)
			}
		}
	}
	sort.Strings(names)
	return names
}

// doc is docs/conformance.md for the two runs.
func doc(ng, fg pass, focus, version string, when time.Time) string {
	c := compare(ng, fg)
	var b strings.Builder
	fmt.Fprintf(&b, `# Conformance

Upstream's %s tests (k8s.io/kubernetes/test/e2e, %s, the version fargo embeds),
run by `+"`make conformance`"+` against one fargo server twice: first on the node group (two
m5.large nodes, upstream kubelets: the baseline), then with a Fargate profile for every
namespace (`+"`*`"+`), so each test's pods run in Fargate sandboxes. Images come from a
loopback registry (agnhost, busybox, nginx and pause built here from agnhost and Debian
packages, test/images/conformance.go); nothing is pulled from the internet. Written by
the last run, %s. Focus: `+"`%s`"+`.

| path | tests | passed | failed | time |
|---|---|---|---|---|
`, "`[sig-node]` and `[sig-network]` `[Conformance]`", version, when.UTC().Format("2006-01-02 15:04 MST"), focus)
	for _, p := range []pass{ng, fg} {
		fmt.Fprintf(&b, "| %s | %d | %d | %d | %s |\n", p.label, len(p.tests), p.count("passed"),
			len(p.tests)-p.count("passed"), p.elapsed.Round(time.Second))
	}
	section := func(title, intro string, names []string, line func(string) string) {
		fmt.Fprintf(&b, "\n## %s (%d)\n\n%s\n\n", title, len(names), intro)
		if len(names) == 0 {
			b.WriteString("None.\n")
		}
		for _, n := range names {
			fmt.Fprintf(&b, "- %s\n", line(n))
		}
	}
	section("Fargate bugs", "Failing on Fargate, passing on the node group, with no Fargate rule refusing the test's pods: each is a bug.",
		c.bugs, func(n string) string { return fmt.Sprintf("`%s`: %s", n, fg.tests[n].reason()) })
	section("Refused by design", "Failing on Fargate because a pod asks for what EKS Fargate refuses or does not apply (each Fargate pod on a node of its own); the rule, as fargo's scheduler reported it in the test's events.",
		c.refused, func(n string) string { return fmt.Sprintf("`%s`: %s", n, fg.tests[n].rule()) })
	section("Failing on both paths", "Not Fargate's: the node group (the kubelet baseline) fails them too.",
		c.both, func(n string) string {
			return fmt.Sprintf("`%s`: node group: %s; Fargate: %s", n, ng.tests[n].reason(), fg.tests[n].reason())
		})
	section("Failing on the node group only", "", c.nodeGroupOnly,
		func(n string) string { return fmt.Sprintf("`%s`: %s", n, ng.tests[n].reason()) })
	return b.String()
}
