package bundle

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/opsdeck/opsdeck/ops/config"
	"github.com/opsdeck/opsdeck/ops/health"
)

// The check's and the configuration's parts.
const (
	partCheckText = "check.txt"
	partCheckJSON = "check.json"
	partConfig    = "config.yaml"
)

// CheckSchema is the schema of check.json: `opsdeck check -o json`'s.
const CheckSchema = "opsdeck.check/v1"

// runCheck runs the morning check (health.Run, each target within
// timeouts.check) into check.txt, as `opsdeck check` prints it, and
// check.json, as `opsdeck check -o json` does.
func runCheck(ctx context.Context, cfg *config.Config, out *emitter) error {
	t0 := time.Now()
	rep := health.Run(ctx, cfg)
	took := time.Since(t0)
	b, err := json.MarshalIndent(struct {
		Schema string `json:"schema"`
		health.Report
	}{CheckSchema, rep}, "", "  ")
	if err != nil {
		return fmt.Errorf("encode the check: %w", err)
	}
	out.Put(partCheckJSON, append(b, '\n'), took, nil)
	out.Put(partCheckText, checkText(rep), took, nil)
	return nil
}

// checkText is the check's table and summary line.
func checkText(rep health.Report) []byte {
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "TARGET\tCHECK\tSTATUS\tVALUE\tTHRESHOLD\tHINT")
	counts := map[health.Status]int{}
	for _, r := range rep.Results {
		counts[r.Status]++
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.Target, r.Name, r.Status, oneLine(r.Value), r.Threshold, r.Hint)
	}
	tw.Flush()
	fmt.Fprintf(&b, "\n%s: %d ok, %d warn, %d crit, %d unknown in %s\n", strings.ToUpper(rep.Status.String()),
		counts[health.OK], counts[health.Warn], counts[health.Crit], counts[health.Unknown], rep.Took.Round(time.Millisecond))
	return []byte(b.String())
}

// writeConfig writes the effective configuration, redacted.
func writeConfig(cfg *config.Config, out *emitter) error {
	t0 := time.Now()
	b, err := cfg.Redacted().YAML()
	if err != nil {
		return err
	}
	head := "# the effective configuration (secrets redacted)"
	if cfg.Path != "" {
		head += ", from " + cfg.Path
	}
	out.Put(partConfig, append([]byte(head+"\n"), b...), time.Since(t0), nil)
	return nil
}
