package cli

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/fargo-dev/fargo/internal/meter"
	"github.com/fargo-dev/fargo/internal/scheme"
	v1alpha1 "github.com/fargo-dev/fargo/pkg/apis/fargo/v1alpha1"
)

func newUsageCommand() *cobra.Command {
	var (
		kubeconfig, since, until, by, output string
		rightsize                            bool
		timeout                              time.Duration
	)
	cmd := &cobra.Command{
		Use:   "usage",
		Short: "Show what Fargate pods and node-group nodes were billed: vCPU-hours, GB-hours and cost",
		Long: `Show the meter's usage records summed over a time window: Fargate pods billed per
second at their provisioned size (CapacityProvisioned) from their first image pull to
their stop, with a one-minute minimum, and node-group nodes per second at their
instance type's price; costs at the cluster's rates (fargo.prices in the cluster config;
default EKS's us-east-1 Linux/x86 rates). Runs still going count up to the last reading.

A run counts the part of it inside the window; its rounding and minimum count where it
starts. The records themselves: kubectl get usagerecords (short name usage).

With --rightsize, list instead the pods whose provisioned size costs at least twice
the smallest Fargate size that covers what they used (peak memory and average CPU,
each with 50% headroom, plus Fargate's 256 MiB for its agents), with the monthly
saving (730 hours) of the smaller size.`,
		Example: `  fargo usage
  fargo usage --by namespace --since 24h
  fargo usage --by day --since 2026-12-01 --until 2026-12-03 -o csv
  fargo usage --rightsize`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			now := time.Now()
			from, err := parseWhen(since, now)
			if err != nil {
				return fmt.Errorf("--since: %w", err)
			}
			to, err := parseWhen(until, now)
			if err != nil {
				return fmt.Errorf("--until: %w", err)
			}
			if output != "table" && output != "json" && output != "csv" {
				return fmt.Errorf("--output %q: want table, json or csv", output)
			}
			cfg, err := restConfig(kubeconfig)
			if err != nil {
				return err
			}
			c, err := client.New(cfg, client.Options{Scheme: scheme.Scheme})
			if err != nil {
				return fmt.Errorf("connecting to %s: %w", cfg.Host, err)
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			info, err := waitReady(ctx, c, cfg.Host, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			list := &v1alpha1.UsageRecordList{}
			if err := c.List(ctx, list); err != nil {
				return fmt.Errorf("reading usage records from %s: %w", cfg.Host, err)
			}
			if rightsize {
				var prices meter.Prices
				if err := json.Unmarshal([]byte(info.Data["prices"]), &prices); err != nil {
					return fmt.Errorf("the server at %s publishes no prices (%q): upgrade it", cfg.Host, info.Data["prices"])
				}
				return printAdvice(cmd.OutOrStdout(), meter.Rightsize(list.Items, prices), output)
			}
			meter.Extend(list.Items, now) // running records, metered until now
			rep, err := meter.Summarize(list.Items, by, from, to)
			if err != nil {
				return err
			}
			return printReport(cmd.OutOrStdout(), rep, output)
		},
	}
	cmd.Flags().StringVar(&kubeconfig, "kubeconfig", "", kubeconfigHelp)
	cmd.Flags().StringVar(&since, "since", "720h", "start of the window: a time (2026-12-01, 2026-12-01T10:00:00Z) or a duration before now (24h)")
	cmd.Flags().StringVar(&until, "until", "0s", "end of the window: a time or a duration before now (0s: now)")
	cmd.Flags().StringVar(&by, "by", "pod", "group by "+strings.Join(meter.Groupings, ", "))
	cmd.Flags().StringVarP(&output, "output", "o", "table", "output format: table, json or csv")
	cmd.Flags().BoolVar(&rightsize, "rightsize", false, "list the pods provisioned far above what they used, with a smaller size and its monthly saving")
	cmd.Flags().DurationVar(&timeout, "timeout", time.Minute, "how long to wait for the server (while it starts, too)")
	return cmd
}

// parseWhen reads a time (RFC 3339 or a date, UTC) or a duration before now.
func parseWhen(s string, now time.Time) (time.Time, error) {
	if d, err := time.ParseDuration(s); err == nil {
		return now.Add(-d), nil
	}
	for _, layout := range []string{time.RFC3339, "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is neither a time (2026-12-01 or 2026-12-01T10:00:00Z) nor a duration (24h)", s)
}

func printReport(w io.Writer, rep meter.Report, output string) error {
	switch output {
	case "json":
		return writeJSON(w, rep)
	case "csv":
		cw := csv.NewWriter(w)
		_ = cw.Write([]string{strings.ToLower(rep.By), "runs", "billed_seconds", "vcpu_hours", "gb_hours", "node_hours", "cost", "currency"})
		for _, l := range append(rep.Lines, rep.Total) {
			_ = cw.Write([]string{l.Key, strconv.Itoa(l.Runs), fmt.Sprintf("%.0f", l.Seconds), fmt.Sprintf("%.6f", l.VCPUHours),
				fmt.Sprintf("%.6f", l.GBHours), fmt.Sprintf("%.6f", l.NodeHours), fmt.Sprintf("%.6f", l.Cost), rep.Currency})
		}
		cw.Flush()
		return cw.Error()
	}
	tw := tabwriter.NewWriter(w, 0, 4, 3, ' ', 0)
	fmt.Fprintf(tw, "%s\tRUNS\tBILLED SECONDS\tVCPU-HOURS\tGB-HOURS\tNODE-HOURS\tCOST (%s)\n", strings.ToUpper(rep.By), rep.Currency)
	for _, l := range append(rep.Lines, rep.Total) {
		fmt.Fprintf(tw, "%s\t%d\t%.0f\t%.4f\t%.4f\t%.4f\t%.6f\n", l.Key, l.Runs, l.Seconds, l.VCPUHours, l.GBHours, l.NodeHours, l.Cost)
	}
	return tw.Flush()
}

func printAdvice(w io.Writer, advice []meter.Advice, output string) error {
	switch output {
	case "json":
		return writeJSON(w, advice)
	case "csv":
		cw := csv.NewWriter(w)
		_ = cw.Write([]string{"namespace", "pod", "size", "cpu_used", "memory_peak_mib", "suggested", "monthly_saving", "currency"})
		for _, a := range advice {
			_ = cw.Write([]string{a.Namespace, a.Pod, a.Size, fmt.Sprintf("%.3f", a.CPUUsed), strconv.FormatInt(a.MemoryPeakMiB, 10),
				a.Suggested, fmt.Sprintf("%.2f", a.MonthlySaving), a.Currency})
		}
		cw.Flush()
		return cw.Error()
	}
	if len(advice) == 0 {
		_, err := fmt.Fprintln(w, "no pod is provisioned far above what it used")
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 3, ' ', 0)
	fmt.Fprintln(tw, "NAMESPACE\tPOD\tSIZE\tCPU USED (AVG)\tMEMORY PEAK\tSUGGESTED\tMONTHLY SAVING")
	for _, a := range advice {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%.3f vCPU\t%d MiB\t%s\t%.2f %s\n", a.Namespace, a.Pod, a.Size, a.CPUUsed, a.MemoryPeakMiB, a.Suggested, a.MonthlySaving, a.Currency)
	}
	return tw.Flush()
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
