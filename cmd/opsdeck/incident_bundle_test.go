package main_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/opsdeck/opsdeck/cmd/opsdeck/cli"
	"github.com/opsdeck/opsdeck/cmd/opsdeck/incident"
	"github.com/opsdeck/opsdeck/ops/access"
	"github.com/opsdeck/opsdeck/ops/access/accesstest"
)

// runBundle runs `opsdeck incident bundle args...` in this process as
// the identity of ctx (the command is mounted by its integrator).
func runBundle(t *testing.T, ctx context.Context, args ...string) (string, string, error) {
	t.Helper()
	g := &cli.Globals{}
	root := &cobra.Command{Use: "opsdeck", SilenceUsage: true, SilenceErrors: true}
	g.Register(root)
	group := &cobra.Command{Use: "incident"}
	group.AddCommand(incident.BundleCommand(g))
	root.AddCommand(group)
	var out, errb bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errb)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	return out.String(), errb.String(), err
}

func TestIncidentBundleCommand(t *testing.T) {
	requireSandbox(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	path := filepath.Join(t.TempDir(), "incident.tar.zst")
	stdout, stderr, err := runBundle(t, accesstest.As(ctx, "olivia", access.Operator),
		"--config", sb.ConfigPath, "incident", "bundle", "--out", path, "--timeout", "30s", "-o", "json")
	if err != nil {
		t.Fatalf("%v\n%s%s", err, stdout, stderr)
	}
	var doc struct {
		Schema string `json:"schema"`
		Path   string `json:"path"`
		Size   int64  `json:"size"`
		Parts  []struct {
			Name  string `json:"name"`
			Error string `json:"error"`
		} `json:"parts"`
	}
	if err := json.Unmarshal([]byte(stdout), &doc); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, stdout)
	}
	st, err := os.Stat(path)
	if err != nil || doc.Schema != "opsdeck.incident.bundle/v1" || doc.Path != path || doc.Size != st.Size() || len(doc.Parts) < 20 {
		t.Fatalf("document %+v, file %v %v", doc, st, err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v", st.Mode().Perm())
	}

	// Text: the path, the size and the parts; a viewer is refused (exit 2).
	stdout, stderr, err = runBundle(t, accesstest.As(ctx, "olivia", access.Operator),
		"--config", sb.ConfigPath, "incident", "bundle", "--out", path+".2")
	if err != nil || !strings.HasPrefix(stdout, path+".2\n") || !strings.Contains(stdout, " parts, 0 failed, in ") {
		t.Fatalf("%v\n%s%s", err, stdout, stderr)
	}
	_, _, err = runBundle(t, accesstest.As(ctx, "vera", access.Viewer), "--config", sb.ConfigPath, "incident", "bundle", "--out", path+".3")
	var ee *cli.ExitError
	if !errors.As(err, &ee) || ee.Code != cli.CodeRefused || !strings.Contains(err.Error(), "needs the operator role") {
		t.Fatalf("a viewer: %v", err)
	}
	if _, err := os.Stat(path + ".3"); !os.IsNotExist(err) {
		t.Fatalf("a viewer's bundle was written: %v", err)
	}
}
