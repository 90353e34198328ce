package restore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/restmapper"

	"github.com/opsdeck/opsdeck/ops/backup"
	"github.com/opsdeck/opsdeck/ops/health"
	"github.com/opsdeck/opsdeck/ops/kube"
)

// maxErrorChecks is how many refused objects get a preflight check of
// their own; the others are counted in one more.
const maxErrorChecks = 8

var namespaceGVR = schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}

// configRestore restores the Kubernetes config component. The preflight
// dry-runs a server-side apply of every backed-up object against what is
// live, which gives the per-object diff (plan.Objects); the run applies
// the missing objects, and with UpdateExisting the differing ones, in
// dependency order under the field manager opsdeck. Objects that are not
// in the backup are never touched.
type configRestore struct {
	en         *env
	namespaces []string
	comp       *backup.Component
	step       *Step

	// objs are the set's objects in apply order (nil until loaded).
	objs []*kubeObject

	kc     *kube.Client
	dyn    dynamic.Interface
	mapper *restmapper.DeferredDiscoveryRESTMapper

	// done is what this run applied, in order, for the verification
	// and the undo.
	done []applied
}

// applied is one object the run applied; prev is the live object as it
// was just before (stripped), nil when the run created it.
type applied struct {
	o    *kubeObject
	prev *unstructured.Unstructured
}

func newConfigRestore(en *env) (*configRestore, error) {
	comp, ok := en.plan.Set.Component(Config)
	if !ok {
		return nil, fmt.Errorf("backup set %s has no config component — pick another set", en.plan.SetID)
	}
	c := &configRestore{en: en, comp: comp}
	if comp.Kube != nil && len(comp.Kube.Namespaces) > 0 {
		c.namespaces = slices.Clone(comp.Kube.Namespaces)
	} else {
		c.namespaces = slices.Clone(en.cfg().Kubernetes.Namespaces)
	}
	return c, nil
}

func (c *configRestore) timeout() time.Duration {
	if t := c.en.cfg().Timeouts.Check; t > 0 {
		return t
	}
	return kube.DefaultTimeout
}

// load reads and parses every object of the set's config tar, once.
func (c *configRestore) load(ctx context.Context) error {
	if c.objs != nil {
		return nil
	}
	i := slices.IndexFunc(c.comp.Files, func(f backup.File) bool { return f.Format == "tar" })
	if i < 0 {
		return fmt.Errorf("the config component of set %s has no tar file — the set is damaged: pick another one", c.en.plan.SetID)
	}
	f := c.comp.Files[i]
	fr, err := backup.OpenFile(ctx, c.en.eng.Backup.Store, c.en.plan.SetID, f, c.en.ids)
	if err != nil {
		return fmt.Errorf("open %s of set %s: %w", f.Name, c.en.plan.SetID, err)
	}
	defer fr.Close()
	objs, err := readObjects(fr)
	if err != nil {
		return fmt.Errorf("%s of set %s: %w", f.Name, c.en.plan.SetID, err)
	}
	// The checksum is compared when the content has been read to its end.
	if _, err := io.Copy(io.Discard, fr); err != nil {
		return fmt.Errorf("%s of set %s: %w", f.Name, c.en.plan.SetID, err)
	}
	sortForApply(objs)
	c.objs = objs
	if c.objs == nil {
		c.objs = []*kubeObject{}
	}
	return nil
}

// connect builds the dynamic client and the discovery RESTMapper, once.
// Discovery itself runs at the first mapping.
func (c *configRestore) connect() error {
	if c.dyn != nil {
		return nil
	}
	kc, err := c.en.eng.Backup.KubeClient()
	if err != nil {
		return err
	}
	rc := kc.RESTConfig()
	if rc.Timeout == 0 {
		rc.Timeout = c.timeout()
	}
	dyn, err := dynamic.NewForConfig(rc)
	if err != nil {
		return fmt.Errorf("kubernetes client for %s: %w — check kubernetes.kubeconfig", kc.Host(), err)
	}
	dc, err := discovery.NewDiscoveryClientForConfig(rc)
	if err != nil {
		return fmt.Errorf("kubernetes discovery client for %s: %w — check kubernetes.kubeconfig", kc.Host(), err)
	}
	c.kc, c.dyn = kc, dyn
	c.mapper = restmapper.NewDeferredDiscoveryRESTMapperWithContext(memory.NewMemCacheClientWithContext(dc))
	return nil
}

// mapObject finds the object's resource and scope through discovery.
func (c *configRestore) mapObject(ctx context.Context, o *kubeObject) error {
	if o.mapped {
		return nil
	}
	gvk := o.obj.GroupVersionKind()
	cctx, cancel := context.WithTimeout(ctx, c.timeout())
	defer cancel()
	m, err := c.mapper.RESTMappingWithContext(cctx, gvk.GroupKind(), gvk.Version)
	if err != nil {
		return err
	}
	o.gvr = m.Resource
	o.namespaced = m.Scope.Name() == "namespace"
	o.mapped = true
	return nil
}

func (c *configRestore) resource(o *kubeObject) dynamic.ResourceInterface {
	r := c.dyn.Resource(o.gvr)
	if o.namespaced {
		return r.Namespace(o.obj.GetNamespace())
	}
	return r
}

// get reads the live object.
func (c *configRestore) get(ctx context.Context, o *kubeObject) (*unstructured.Unstructured, error) {
	cctx, cancel := context.WithTimeout(ctx, c.timeout())
	defer cancel()
	return c.resource(o).Get(cctx, o.obj.GetName(), metav1.GetOptions{})
}

// apply server-side applies obj (the backed-up object, or a saved live
// copy) as o, forcing conflicts, under the field manager opsdeck.
func (c *configRestore) apply(ctx context.Context, o *kubeObject, obj *unstructured.Unstructured, dryRun bool) (*unstructured.Unstructured, error) {
	opts := metav1.ApplyOptions{FieldManager: FieldManager, Force: true}
	if dryRun {
		opts.DryRun = []string{metav1.DryRunAll}
	}
	cctx, cancel := context.WithTimeout(ctx, c.timeout())
	defer cancel()
	return c.resource(o).Apply(cctx, o.obj.GetName(), obj, opts)
}

// preflight loads the objects, dry-runs each against the live cluster and
// fills plan.Objects with what the run will do to each.
func (c *configRestore) preflight(ctx context.Context) {
	en := c.en
	en.plan.Objects = nil
	if err := c.load(ctx); err != nil {
		en.check(Config, "objects", health.Crit, err.Error())
		return
	}
	if err := c.connect(); err != nil {
		en.check(Config, "kubernetes", health.Crit, err.Error())
		return
	}
	c.checkTarget()
	missing, err := c.missingNamespaces(ctx)
	if err != nil {
		en.check(Config, "kubernetes", health.Crit, err.Error())
		return
	}
	changes := make([]ObjectChange, 0, len(c.objs))
	for _, o := range c.objs {
		o.change = c.diff(ctx, o, missing)
		changes = append(changes, o.change)
	}
	en.plan.Objects = changes
	c.summarize()
}

// checkTarget says which cluster the objects go to, and warns when the
// backup was taken from another one.
func (c *configRestore) checkTarget() {
	where := fmt.Sprintf("%s (context %s), namespaces %s", c.kc.Host(), c.kc.ContextName(), strings.Join(c.namespaces, ", "))
	if k := c.comp.Kube; k != nil && k.Server != "" && k.Server != c.kc.Host() {
		c.en.check(Config, "cluster", health.Warn, fmt.Sprintf("the backup was taken from %s (context %s); it is restored into %s — check that this is meant", k.Server, k.Context, where))
	} else {
		c.en.check(Config, "cluster", health.OK, where)
	}
	if k := c.comp.Kube; k != nil && k.SecretsSkipped > 0 {
		c.en.check(Config, "secrets", health.Warn, fmt.Sprintf("%d Secrets are not in the backup (it was not encrypted): the live ones are left as they are", k.SecretsSkipped))
	}
}

// missingNamespaces finds the namespaces of the objects that do not exist
// live: their objects are created after their Namespace, without a dry
// run (the API server refuses one in a missing namespace). A namespace the
// user may not read counts as present: the dry runs tell.
func (c *configRestore) missingNamespaces(ctx context.Context) (map[string]bool, error) {
	missing := map[string]bool{}
	seen := map[string]bool{}
	for _, o := range c.objs {
		ns := o.obj.GetNamespace()
		if ns == "" || seen[ns] {
			continue
		}
		seen[ns] = true
		cctx, cancel := context.WithTimeout(ctx, c.timeout())
		_, err := c.dyn.Resource(namespaceGVR).Get(cctx, ns, metav1.GetOptions{})
		cancel()
		switch {
		case err == nil, apierrors.IsForbidden(err):
		case apierrors.IsNotFound(err):
			missing[ns] = true
		default:
			_, msg := kube.Classify(err)
			return nil, fmt.Errorf("read namespace %s: %s", ns, msg)
		}
	}
	return missing, nil
}

// diff decides what the run does to one object.
func (c *configRestore) diff(ctx context.Context, o *kubeObject, missing map[string]bool) ObjectChange {
	ch := ObjectChange{Kind: o.obj.GetKind(), Namespace: o.obj.GetNamespace(), Name: o.obj.GetName()}
	fail := func(msg string) ObjectChange {
		ch.Action, ch.Err = ObjectError, msg
		return ch
	}
	if err := c.mapObject(ctx, o); err != nil {
		return fail(objectErr(err, "map", o))
	}
	if !o.namespaced {
		ch.Namespace = ""
	}
	if o.namespaced && missing[ch.Namespace] {
		if !c.hasNamespace(ch.Namespace) {
			return fail(fmt.Sprintf("namespace %s does not exist and the backup has no Namespace object for it — create the namespace first", ch.Namespace))
		}
		ch.Action = ObjectCreate
		return ch
	}
	live, err := c.get(ctx, o)
	switch {
	case apierrors.IsNotFound(err):
		live = nil
	case err != nil:
		return fail(objectErr(err, "get", o))
	}
	dry, err := c.apply(ctx, o, o.obj, true)
	if err != nil {
		return fail(objectErr(err, "apply (dry run)", o))
	}
	if live == nil {
		ch.Action = ObjectCreate
		return ch
	}
	ch.Fields = diffFields(stripped(live), stripped(dry))
	switch {
	case len(ch.Fields) == 0:
		ch.Action = ObjectUnchanged
	case c.en.plan.Options.UpdateExisting:
		ch.Action = ObjectUpdate
	default:
		ch.Action = ObjectSkip
	}
	return ch
}

// hasNamespace reports whether the backup holds the Namespace object ns.
func (c *configRestore) hasNamespace(ns string) bool {
	return slices.ContainsFunc(c.objs, func(o *kubeObject) bool {
		return o.obj.GetKind() == "Namespace" && o.obj.GetName() == ns
	})
}

// counts tallies the actions of the preflight.
func (c *configRestore) counts() map[string]int {
	n := map[string]int{}
	for _, o := range c.objs {
		n[o.change.Action]++
	}
	return n
}

// summarize adds one check per refused object (the first few: Blocked
// names the first), the diff's summary check, and titles the apply step.
func (c *configRestore) summarize() {
	en := c.en
	n := c.counts()
	summary := fmt.Sprintf("%d to create, %d to update, %d unchanged, %d skipped", n[ObjectCreate], n[ObjectUpdate], n[ObjectUnchanged], n[ObjectSkip])
	if n[ObjectError] > 0 {
		summary += fmt.Sprintf(", %d refused", n[ObjectError])
	}
	status := health.OK
	switch {
	case n[ObjectError] > 0:
		status = health.Crit
		summary += " — the dry run was refused for some objects (see their checks); fix that and prepare again"
	case n[ObjectSkip] > 0:
		status = health.Warn
		summary += " — the skipped objects differ from the backup and are left as they are; restore them too with --update-existing (in the Restore tab: the update-existing option)"
	}
	shown := 0
	for _, o := range c.objs {
		if o.change.Action != ObjectError {
			continue
		}
		if shown == maxErrorChecks {
			en.check(Config, "more objects", health.Crit, fmt.Sprintf("%d more objects refused — see the plan's objects", n[ObjectError]-shown))
			break
		}
		en.check(Config, o.String(), health.Crit, o.change.Err)
		shown++
	}
	en.check(Config, "diff", status, summary)
	if c.step != nil {
		c.step.Title = fmt.Sprintf("Apply %s (server-side apply, field manager %s): %d to create, %d to update; %d left as they are",
			objects(n[ObjectCreate]+n[ObjectUpdate]), FieldManager, n[ObjectCreate], n[ObjectUpdate], n[ObjectUnchanged]+n[ObjectSkip])
	}
}

// objects says "1 object", "3 objects".
func objects(n int) string {
	if n == 1 {
		return "1 object"
	}
	return fmt.Sprintf("%d objects", n)
}

// toApply lists the objects the run applies, in apply order.
func (c *configRestore) toApply() []*kubeObject {
	var out []*kubeObject
	for _, o := range c.objs {
		if o.change.Action == ObjectCreate || o.change.Action == ObjectUpdate {
			out = append(out, o)
		}
	}
	return out
}

func (c *configRestore) steps() []*Step {
	c.step = &Step{
		Name: "config.apply", Component: Config,
		Title:  fmt.Sprintf("Apply the objects that are missing or differ (server-side apply, field manager %s)", FieldManager),
		Undo:   "Delete the objects created, re-apply the previous state of those updated",
		do:     c.applyAll,
		verify: c.verify,
		undo:   c.undo,
	}
	return []*Step{c.step}
}

// applyAll saves the live copy of every object it updates, then applies
// the objects for real, one by one.
func (c *configRestore) applyAll(ctx context.Context) error {
	en := c.en
	c.done = nil
	todo := c.toApply()
	if len(todo) == 0 {
		n := c.counts()
		en.note("nothing to apply: %d objects unchanged, %d skipped", n[ObjectUnchanged], n[ObjectSkip])
		return nil
	}
	for i, o := range todo {
		if err := en.eng.hook("config.apply:" + o.file); err != nil {
			return err
		}
		live, err := c.get(ctx, o)
		var prev *unstructured.Unstructured
		switch {
		case apierrors.IsNotFound(err):
		case err != nil:
			return fmt.Errorf("read %s before applying it: %s", o, objectErr(err, "get", o))
		default:
			if !en.plan.Options.UpdateExisting {
				en.warn("%s was created since the preflight: left as it is", o)
				continue
			}
			prev = stripped(live)
		}
		// Recorded before the call: a timed-out apply may still have
		// happened, and the undo copes with one that did not.
		c.done = append(c.done, applied{o: o, prev: prev})
		if _, err := c.apply(ctx, o, o.obj, false); err != nil {
			return fmt.Errorf("apply %s: %s", o, objectErr(err, "apply", o))
		}
		switch {
		case prev == nil:
			en.note("created %s", o)
		case len(o.change.Fields) > 0:
			en.note("updated %s: %s", o, strings.Join(o.change.Fields, ", "))
		default:
			en.note("updated %s", o)
		}
		en.advance(int64(i+1), int64(len(todo)), false)
	}
	return nil
}

// verify checks that every applied object is live with the backup's
// fields: it exists, and applying the backup again would change nothing.
func (c *configRestore) verify(ctx context.Context) error {
	var bad []string
	for _, a := range c.done {
		o := a.o
		live, err := c.get(ctx, o)
		if apierrors.IsNotFound(err) {
			bad = append(bad, o.String()+" is not there")
			continue
		}
		if err != nil {
			return fmt.Errorf("read %s back: %s", o, objectErr(err, "get", o))
		}
		again, err := c.apply(ctx, o, o.obj, true)
		if err != nil {
			return fmt.Errorf("dry-run %s again: %s", o, objectErr(err, "apply (dry run)", o))
		}
		if fields := diffFields(stripped(live), stripped(again)); len(fields) > 0 {
			bad = append(bad, fmt.Sprintf("%s differs from the backup in %s", o, strings.Join(fields, ", ")))
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("after the apply, %s — something else changes these objects (a controller, an admission webhook)", strings.Join(bad, "; "))
	}
	if len(c.done) > 0 {
		c.en.note("%s read back: live with the backup's fields", objects(len(c.done)))
	}
	return nil
}

// undo deletes the objects this run created, in reverse order, and
// re-applies the saved live copies of those it updated. Objects already
// gone are fine; what was undone is forgotten, so a second undo redoes
// only what failed.
func (c *configRestore) undo(ctx context.Context) error {
	var errs []error
	var left []applied
	for i := len(c.done) - 1; i >= 0; i-- {
		a := c.done[i]
		if err := c.undoOne(ctx, a); err != nil {
			errs = append(errs, err)
			left = append(left, a)
		}
	}
	slices.Reverse(left)
	c.done = left
	return errors.Join(errs...)
}

func (c *configRestore) undoOne(ctx context.Context, a applied) error {
	o := a.o
	if a.prev == nil {
		cctx, cancel := context.WithTimeout(ctx, c.timeout())
		err := c.resource(o).Delete(cctx, o.obj.GetName(), metav1.DeleteOptions{})
		cancel()
		switch {
		case apierrors.IsNotFound(err):
			c.en.note("%s was not there: nothing to delete", o)
		case err != nil:
			return fmt.Errorf("delete %s (created by this restore): %s", o, objectErr(err, "delete", o))
		default:
			c.en.note("deleted %s (created by this restore)", o)
		}
		return nil
	}
	if _, err := c.apply(ctx, o, a.prev, false); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("put back %s: %s", o, objectErr(err, "apply", o))
	}
	c.en.note("put back the previous state of %s", o)
	return nil
}
