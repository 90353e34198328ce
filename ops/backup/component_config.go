package backup

import (
	"archive/tar"
	"context"
	"fmt"
	"io"
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/opsdeck/opsdeck/ops/config"
	"github.com/opsdeck/opsdeck/ops/progress"
)

// configComponent is every object of the watched namespaces, one YAML
// file each in a tar; Secrets only into an encrypted set.
type configComponent struct{}

func (configComponent) Name() string { return Config }

func (configComponent) About(*config.Config) string {
	return "every object of the watched namespaces, one YAML each"
}

func (configComponent) Chosen() bool { return true }

func (configComponent) Restorable() bool { return true }

func (configComponent) Backup(ctx context.Context, run *ComponentRun) error {
	e := run.Engine()
	client, err := e.KubeClient()
	if err != nil {
		return err
	}
	var facts *KubeFacts
	err = run.WriteFile(ctx, "config.tar", "tar", nil, func(w io.Writer) error {
		var err error
		facts, run.Record.Warnings, err = kubeConfigDump{client: client, withSecret: run.Encrypted(), at: e.now(),
			onObject: func(n int) { run.Emit(progress.Advance, "", int64(n), 0) }}.dump(ctx, w)
		return err
	})
	if err != nil {
		return err
	}
	run.Record.Kube = facts
	return nil
}

// Check reads the tar to its end; every YAML must parse and name its kind
// and apiVersion, and the objects per kind must be the manifest's.
func (configComponent) Check(_ context.Context, c *ContentCheck) error {
	got := map[string]int{}
	err := eachTarFile(c.Content, func(h *tar.Header, r io.Reader) error {
		if !strings.HasSuffix(h.Name, ".yaml") {
			return nil
		}
		b, err := io.ReadAll(r)
		if err != nil {
			return fmt.Errorf("%s: %w", h.Name, err)
		}
		var obj map[string]any
		if err := yaml.Unmarshal(b, &obj); err != nil {
			return fmt.Errorf("%s does not parse: %w", h.Name, err)
		}
		kind, _ := obj["kind"].(string)
		if kind == "" || obj["apiVersion"] == nil {
			return fmt.Errorf("%s has no kind or apiVersion", h.Name)
		}
		got[kind]++
		return nil
	})
	if err != nil || c.Record.Kube == nil {
		return err
	}
	var bad []string
	for kind, n := range c.Record.Kube.Objects {
		if got[kind] != n {
			bad = append(bad, fmt.Sprintf("%d %s, the manifest says %d", got[kind], kind, n))
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("the archive does not match its manifest: %s", strings.Join(bad, "; "))
	}
	return nil
}

// eachTarFile calls fn with every file of the tar in r, to its end.
func eachTarFile(r io.Reader, fn func(h *tar.Header, r io.Reader) error) error {
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("tar: %w", err)
		}
		if err := fn(h, tr); err != nil {
			return err
		}
	}
}
