package meter

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1alpha1 "github.com/fargo-dev/fargo/pkg/apis/fargo/v1alpha1"
)

// Groupings of a report.
var Groupings = []string{"pod", "namespace", "profile", "nodegroup", "day"}

// Line is one row of a usage report: what the runs of one key were billed.
type Line struct {
	Key  string `json:"key"`
	Runs int    `json:"runs"`
	// Seconds are billed seconds; VCPUHours and GBHours those of Fargate
	// pods, NodeHours those of node-group nodes.
	Seconds   float64 `json:"seconds"`
	VCPUHours float64 `json:"vcpuHours"`
	GBHours   float64 `json:"gbHours"`
	NodeHours float64 `json:"nodeHours"`
	Cost      float64 `json:"cost"`
}

// Report is the usage of a time window, grouped.
type Report struct {
	By       string    `json:"by"`
	Since    time.Time `json:"since"`
	Until    time.Time `json:"until"`
	Currency string    `json:"currency"`
	Lines    []Line    `json:"lines"`
	Total    Line      `json:"total"`
}

// Summarize bills the records' runs within [since, until), grouped by: each
// run counts the part of it inside the window, and the rounding and minimum
// of its bill count where it starts; `day` splits runs at midnight UTC. Each
// run is priced at its own record's rate.
func Summarize(records []v1alpha1.UsageRecord, by string, since, until time.Time) (Report, error) {
	if !isGrouping(by) {
		return Report{}, fmt.Errorf("--by %q: want one of %v", by, Groupings)
	}
	if !until.After(since) {
		return Report{}, fmt.Errorf("the window is empty: --since %s is not before --until %s", since.Format(time.RFC3339), until.Format(time.RFC3339))
	}
	rep := Report{By: by, Since: since, Until: until, Total: Line{Key: "TOTAL"}}
	lines := map[string]*Line{}
	for i := range records {
		rec := &records[i]
		if rec.Status.Start == nil || rec.Status.Until == nil {
			continue
		}
		if rep.Currency == "" {
			rep.Currency = rec.Status.Currency
		}
		for _, w := range windows(by, since, until, rec.Status.Start.Time, rec.Status.Until.Time) {
			secs := billedWithin(rec, w[0], w[1])
			if secs <= 0 {
				continue
			}
			key := keyOf(rec, by, w[0])
			l := lines[key]
			if l == nil {
				l = &Line{Key: key}
				lines[key] = l
			}
			add(l, rec, secs)
			add(&rep.Total, rec, secs)
		}
	}
	for _, l := range lines {
		rep.Lines = append(rep.Lines, *l)
	}
	sort.Slice(rep.Lines, func(i, j int) bool { return rep.Lines[i].Key < rep.Lines[j].Key })
	rep.Total.Runs = countRuns(records, since, until)
	return rep, nil
}

// Extend brings each running record up to now for a reader: the ledger writes
// a running record only when its usage reading changes (see Ledger), so its
// until, billed seconds and cost are carried on to now at its own rate. Final
// records are as written.
func Extend(records []v1alpha1.UsageRecord, now time.Time) {
	for i := range records {
		st := &records[i].Status
		if st.Final || st.Start == nil || st.Until == nil || !now.After(st.Until.Time) || st.BilledSeconds <= 0 {
			continue
		}
		billed := int64(Billed(st.Start.Time, now) / time.Second)
		if cost, err := strconv.ParseFloat(st.Cost, 64); err == nil {
			st.Cost = strconv.FormatFloat(cost*float64(billed)/float64(st.BilledSeconds), 'f', 6, 64)
		}
		st.Until, st.BilledSeconds = &metav1.Time{Time: now}, billed
	}
}

func isGrouping(by string) bool {
	for _, g := range Groupings {
		if g == by {
			return true
		}
	}
	return false
}

// windows splits [since, until) by UTC day for `day`, else keeps it whole.
func windows(by string, since, until, start, stop time.Time) [][2]time.Time {
	if by != "day" {
		return [][2]time.Time{{since, until}}
	}
	var out [][2]time.Time
	first := start.UTC().Truncate(24 * time.Hour)
	for d := first; d.Equal(first) || d.Before(stop); d = d.Add(24 * time.Hour) {
		from, to := maxTime(d, since), minTime(d.Add(24*time.Hour), until)
		if from.Before(to) {
			out = append(out, [2]time.Time{from, to})
		}
	}
	return out
}

// billedWithin is the run's billed seconds inside [from, to): the part of it
// there, plus its bill's rounding and minimum when it starts there.
func billedWithin(rec *v1alpha1.UsageRecord, from, to time.Time) float64 {
	start, stop := rec.Status.Start.Time, rec.Status.Until.Time
	overlap := minTime(stop, to).Sub(maxTime(start, from)).Seconds()
	secs := math.Max(overlap, 0)
	if !start.Before(from) && start.Before(to) {
		secs += float64(rec.Status.BilledSeconds) - stop.Sub(start).Seconds()
	}
	return secs
}

func add(l *Line, rec *v1alpha1.UsageRecord, secs float64) {
	l.Runs++
	l.Seconds += secs
	hours := secs / 3600
	s := size(rec.Spec.Size)
	if rec.Spec.Kind == v1alpha1.UsageNode {
		l.NodeHours += hours
	} else {
		l.VCPUHours += s.VCPU() * hours
		l.GBHours += s.GB() * hours
	}
	if cost, err := strconv.ParseFloat(rec.Status.Cost, 64); err == nil && rec.Status.BilledSeconds > 0 {
		l.Cost += cost * secs / float64(rec.Status.BilledSeconds) // the record's own rate
	}
}

// keyOf is the run's key in a report grouped by.
func keyOf(rec *v1alpha1.UsageRecord, by string, day time.Time) string {
	node := rec.Spec.Kind == v1alpha1.UsageNode
	switch by {
	case "pod":
		if node {
			return "node/" + rec.Spec.Node
		}
		return rec.Spec.Pod.Namespace + "/" + rec.Spec.Pod.Name
	case "namespace":
		if node {
			return "(node groups)"
		}
		return rec.Spec.Pod.Namespace
	case "profile":
		if node {
			return "(node groups)"
		}
		return rec.Spec.Profile
	case "nodegroup":
		if node {
			return rec.Spec.NodeGroup
		}
		return "(fargate)"
	}
	return day.UTC().Format("2006-01-02")
}

// countRuns counts the runs that overlap the window (a run split by day counts once).
func countRuns(records []v1alpha1.UsageRecord, since, until time.Time) int {
	n := 0
	for i := range records {
		st := records[i].Status
		if st.Start != nil && st.Until != nil && st.Start.Time.Before(until) && !st.Until.Time.Before(since) {
			n++
		}
	}
	return n
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
