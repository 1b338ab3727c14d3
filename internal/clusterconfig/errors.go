package clusterconfig

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// FieldError is one problem in a config file, located by field path and line.
type FieldError struct {
	File  string
	Line  int
	Field string
	Msg   string
}

func (e *FieldError) Error() string {
	loc := e.File
	if loc == "" {
		loc = "cluster config"
	}
	if e.Line > 0 {
		loc += ":" + strconv.Itoa(e.Line)
	}
	return fmt.Sprintf("%s: %s: %s", loc, e.Field, e.Msg)
}

// fieldPath is a path into the document: keys, and "[i]" for list items.
type fieldPath []string

func (p fieldPath) key(k string) fieldPath { return append(p[:len(p):len(p)], k) }
func (p fieldPath) index(i int) fieldPath {
	return append(p[:len(p):len(p)], "["+strconv.Itoa(i)+"]")
}

func (p fieldPath) String() string {
	var b strings.Builder
	for i, s := range p {
		if i > 0 && !strings.HasPrefix(s, "[") {
			b.WriteByte('.')
		}
		b.WriteString(s)
	}
	return b.String()
}

// errorList collects field errors with their lines from the parsed document.
type errorList struct {
	file string
	root *yaml.Node
	errs []*FieldError
	// checked are the nodes the known-field check has walked.
	checked map[checked]bool
}

// maxErrors is how many problems are reported; the rest are counted.
const maxErrors = 20

func (l *errorList) add(p fieldPath, format string, args ...any) {
	l.errs = append(l.errs, &FieldError{File: l.file, Line: lineOf(l.root, p), Field: p.String(), Msg: fmt.Sprintf(format, args...)})
}

func (l *errorList) err() error {
	if len(l.errs) == 0 {
		return nil
	}
	sort.SliceStable(l.errs, func(i, j int) bool { return l.errs[i].Line < l.errs[j].Line })
	var out []error
	seen := map[FieldError]bool{}
	more := 0
	for _, e := range l.errs {
		if seen[*e] {
			continue
		}
		seen[*e] = true
		if len(out) == maxErrors {
			more++
			continue
		}
		out = append(out, e)
	}
	if more > 0 {
		out = append(out, fmt.Errorf("... and %d more problems; fix the ones above first", more))
	}
	return errors.Join(out...)
}

// lineOf finds the line of the deepest node on p that exists (0 when there is no
// document, as for the default cluster).
func lineOf(n *yaml.Node, p fieldPath) int {
	if n == nil {
		return 0
	}
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	line := n.Line
	for _, seg := range p {
		next, at := child(n, seg)
		if next == nil {
			return line
		}
		n, line = next, at
	}
	return line
}

// child returns the node under seg and the line to report for it: a mapping
// entry's key line, so that errors about a nested block point at its name.
func child(n *yaml.Node, seg string) (*yaml.Node, int) {
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == seg {
				return n.Content[i+1], n.Content[i].Line
			}
		}
	case yaml.SequenceNode:
		i, err := strconv.Atoi(strings.Trim(seg, "[]"))
		if err == nil && i >= 0 && i < len(n.Content) {
			return n.Content[i], n.Content[i].Line
		}
	}
	return nil, 0
}
