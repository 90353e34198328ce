package restore_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/opsdeck/opsdeck/ops/access"
	"github.com/opsdeck/opsdeck/ops/access/accesstest"
	"github.com/opsdeck/opsdeck/ops/config"
	oprestore "github.com/opsdeck/opsdeck/ops/restore"
)

func (f *configFixture) drill(t *testing.T) (*oprestore.Report, error) {
	t.Helper()
	ctx := accesstest.As(context.Background(), "test-operator", access.Operator)
	e := oprestore.New(f.b)
	plan, err := e.Prepare(ctx, oprestore.Options{Kind: oprestore.Config, ID: f.set, Drill: config.DrillInstance}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return e.Run(ctx, plan, nil)
}

// TestDrillConfigDryRunChangesNothing: every object of the set passes a
// server-side dry run on the live API server, and nothing changes: the
// deleted Deployment stays deleted, the edited ConfigMap keeps its edit.
func TestDrillConfigDryRunChangesNothing(t *testing.T) {
	f := newConfigFixture(t)
	rep, err := f.drill(t)
	if err != nil {
		t.Fatalf("%v\n%+v", err, rep.Steps)
	}
	d := rep.Drill
	if d.Outcome != oprestore.Proven || d.Proof != oprestore.ProofDryRun || d.Tables != 4 || d.Rows != 4 || len(d.Missing) != 0 {
		t.Fatalf("%+v", d)
	}
	if !f.deploymentGone(t) {
		t.Error("the dry run created the Deployment")
	}
	if cm := f.configMap(t, "settings"); cm.Data["LOG_LEVEL"] != "debug" {
		t.Errorf("the dry run changed the ConfigMap: %v", cm.Data)
	}
	f.assertUntouched(t)
}

// TestDrillConfigNamesMissingNamespaces: with the namespace gone, the
// drill names it; its objects are not refused (the set holds the
// Namespace object a restore creates first).
func TestDrillConfigNamesMissingNamespaces(t *testing.T) {
	f := newConfigFixture(t)
	ctx := accesstest.Admin(context.Background())
	for _, name := range []string{"settings", "extra"} {
		f.cs.CoreV1().ConfigMaps(f.ns).Delete(ctx, name, metav1.DeleteOptions{})
	}
	f.cs.CoreV1().Services(f.ns).Delete(ctx, "web", metav1.DeleteOptions{})
	if err := f.cs.CoreV1().Namespaces().Delete(ctx, f.ns, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	nsObj, err := f.cs.CoreV1().Namespaces().Get(ctx, f.ns, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	nsObj.Spec.Finalizers = nil
	if _, err := f.cs.CoreV1().Namespaces().Finalize(ctx, nsObj, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	rep, err := f.drill(t)
	if err != nil {
		t.Fatalf("%v\n%+v", err, rep.Steps)
	}
	if d := rep.Drill; !slices.Equal(d.Missing, []string{f.ns}) || d.Rows != 1 {
		t.Fatalf("%+v", d)
	}
	if _, err := f.cs.CoreV1().Namespaces().Get(ctx, f.ns, metav1.GetOptions{}); err == nil {
		t.Fatal("the dry run created the namespace")
	}
}

// TestDrillConfigNamesWhatWouldBeRefused: a ConfigMap made immutable live
// with other data than the set's would be refused by a restore; the drill
// fails naming it, and still changes nothing.
func TestDrillConfigNamesWhatWouldBeRefused(t *testing.T) {
	f := newConfigFixture(t)
	ctx := accesstest.Admin(context.Background())
	cm := f.configMap(t, "settings")
	immutable := true
	cm.Immutable = &immutable
	if _, err := f.cs.CoreV1().ConfigMaps(f.ns).Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	rep, err := f.drill(t)
	d := rep.Drill
	if err == nil || d.Outcome != oprestore.Failing || len(d.Differ) != 1 || !strings.Contains(d.Differ[0], "settings") || !strings.Contains(err.Error(), "immutable") {
		t.Fatalf("drill: %v\n%+v", err, d)
	}
	if got := f.configMap(t, "settings"); got.Data["LOG_LEVEL"] != "debug" {
		t.Errorf("the dry run changed the ConfigMap: %v", got.Data)
	}
	if !f.deploymentGone(t) {
		t.Error("the dry run created the Deployment")
	}
}
