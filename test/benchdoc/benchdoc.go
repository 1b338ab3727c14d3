// Package benchdoc writes benchmark figures into docs/benchmarks.md: each benchmark
// owns a section between <!-- name:start --> and <!-- name:end --> markers, and
// rewrites it when FARGO_BENCH_DOC names the file (the make bench-* targets set it).
package benchdoc

import (
	"fmt"
	"os"
	"slices"
	"strings"
)

// Path is the document to write, or "" when the benchmark runs without a make target.
func Path() string { return os.Getenv("FARGO_BENCH_DOC") }

// ReplaceSection rewrites the text between <!-- name:start --> and <!-- name:end -->.
func ReplaceSection(path, name, body string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("reading %s: %w", path, err)
	}
	startMark, endMark := "<!-- "+name+":start -->\n", "<!-- "+name+":end -->"
	s := string(data)
	i, j := strings.Index(s, startMark), strings.Index(s, endMark)
	if i < 0 || j < i {
		return fmt.Errorf("%s has no %s ... %s markers", path, startMark, endMark)
	}
	s = s[:i+len(startMark)] + body + s[j:]
	return os.WriteFile(path, []byte(s), 0o644)
}

// Median of v, 0 when empty.
func Median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}

// Spread is "median (min–max)" with two decimals.
func Spread(v []float64) string {
	if len(v) == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.2f (%.2f–%.2f)", Median(v), slices.Min(v), slices.Max(v))
}
