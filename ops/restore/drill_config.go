package restore

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/opsdeck/opsdeck/ops/health"
)

// A config drill changes nothing: every object of the set is applied to
// the live API server with a server-side dry run (the config restore's
// decoding and apply, DryRun: All) into its own namespace. It fails on
// each object the server would refuse (a removed API version, an
// admission policy, a missing namespace the set has no Namespace object
// for) and names the namespaces that do not exist: a restore creates
// those from the set's Namespace objects first, and the API server
// refuses a dry run inside a namespace that does not exist, so their
// objects are listed, not dry-run.

// ProofDryRun is a config drill's proof.
const ProofDryRun = "dry run"

// drillConfig is a config drill over the config restore's objects.
type drillConfig struct {
	en *env
	c  *configRestore
}

// buildConfigDrill makes the steps of a config drill.
func (e *Engine) buildConfigDrill(en *env) error {
	c, err := newConfigRestore(en)
	if err != nil {
		return err
	}
	dc := &drillConfig{en: en, c: c}
	en.components = append(en.components, dc)
	plan := en.plan
	plan.Target.Namespaces = slices.Clone(c.namespaces)
	plan.Steps = append(plan.Steps, &Step{
		Name: "config.dryrun", Component: Config,
		Title: "Apply every object of the set to the live API server as a server-side dry run (nothing is changed)",
		do:    dc.dryRun,
	})
	return nil
}

// preflight reads the set's objects and reaches the API server; the
// dry runs are the drill's step.
func (dc *drillConfig) preflight(ctx context.Context) {
	c, en := dc.c, dc.en
	if err := c.load(ctx); err != nil {
		en.check(Config, "objects", health.Crit, err.Error())
		return
	}
	if err := c.connect(); err != nil {
		en.check(Config, "kubernetes", health.Crit, err.Error())
		return
	}
	en.check(Config, "objects", health.OK, fmt.Sprintf("%d objects, each applied as a server-side dry run", len(c.objs)))
	c.checkTarget()
}

// dryRun applies each object with DryRun: All and collects what the
// server would refuse and the namespaces that are missing.
func (dc *drillConfig) dryRun(ctx context.Context) error {
	c, en := dc.c, dc.en
	res := en.drillPart(Config)
	res.Proof = ProofDryRun
	if err := c.load(ctx); err != nil {
		return err
	}
	if err := c.connect(); err != nil {
		return &RefusedError{err}
	}
	missing, err := c.missingNamespaces(ctx)
	if err != nil {
		return &RefusedError{err}
	}
	res.Tables = len(c.objs)
	for ns := range missing {
		res.Missing = append(res.Missing, ns)
	}
	slices.Sort(res.Missing)
	var refused, reasons []string
	inMissing := 0
	for _, o := range c.objs {
		if err := c.mapObject(ctx, o); err != nil {
			refused, reasons = append(refused, o.String()), append(reasons, o.String()+": "+objectErr(err, "map", o))
			continue
		}
		if ns := o.obj.GetNamespace(); o.namespaced && missing[ns] {
			if !c.hasNamespace(ns) {
				refused = append(refused, o.String())
				reasons = append(reasons, fmt.Sprintf("%s: namespace %s does not exist and the set has no Namespace object for it", o, ns))
			} else {
				inMissing++
			}
			continue
		}
		if _, err := c.apply(ctx, o, o.obj, true); err != nil {
			refused, reasons = append(refused, o.String()), append(reasons, o.String()+": "+objectErr(err, "apply (dry run)", o))
			continue
		}
		res.Rows++
	}
	if len(res.Missing) > 0 {
		en.note("namespaces missing live: %s (%d objects in them not dry-run: a restore creates them after their Namespace)", strings.Join(res.Missing, ", "), inMissing)
	}
	en.note("%d of %d objects accepted by the dry run", res.Rows, len(c.objs))
	if len(refused) > 0 {
		res.Differ = refused
		for _, r := range reasons {
			en.note("refused: %s", r)
		}
		return fmt.Errorf("the API server would refuse %d of %d objects: %s", len(refused), len(c.objs), strings.Join(reasons, "; "))
	}
	return nil
}
