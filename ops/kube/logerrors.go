package kube

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/opsdeck/opsdeck/ops/access"
	oplogs "github.com/opsdeck/opsdeck/ops/logs"
)

// ErrorScan is what MineErrors read: the containers, the lines and the
// error and warning templates they hold.
type ErrorScan struct {
	// Namespaces are those read; Sources the containers.
	Namespaces []string    `json:"namespaces"`
	Sources    []LogSource `json:"sources"`
	// Lines were read; Counted were errors or warnings.
	Lines   int64 `json:"lines"`
	Counted int64 `json:"counted"`
	// Templates are the kinds of error and warning lines, most frequent
	// first.
	Templates []oplogs.Template `json:"templates"`
	// Failed names the containers whose logs could not be read, and why.
	Failed []string `json:"failed,omitempty"`
}

// MineErrors reads the last since of the logs of every container of every
// pod on a node in the client's namespaces (ErrorScanMaxPods at most, the
// newest first is not guaranteed: sorted by name) and groups their error
// and warning lines into templates (ops/logs). A container whose log
// cannot be read is named in Failed; the others are still mined. Reading
// logs changes nothing; the context must carry an identity.
func (c *Client) MineErrors(ctx context.Context, since time.Duration, secrets []string, opts oplogs.Options) (*ErrorScan, error) {
	if _, ok := access.FromContext(ctx); !ok {
		return nil, fmt.Errorf("error templates refused: the request carries no identity: %w", access.ErrNoIdentity)
	}
	scan := &ErrorScan{}
	workload := map[string]string{}
	for _, ns := range c.namespaces {
		if ns == "" {
			continue
		}
		scan.Namespaces = append(scan.Namespaces, ns)
		lctx, cancel := context.WithTimeout(ctx, c.timeout)
		pl, err := c.clientset.CoreV1().Pods(ns).List(lctx, metav1.ListOptions{})
		cancel()
		if err != nil {
			return nil, logsError(err, "list", "pods", ns)
		}
		for _, p := range pl.Items {
			if p.Spec.NodeName == "" || p.Status.Phase == corev1.PodPending {
				continue
			}
			workload[p.Name] = workloadOf(&p)
			for _, ct := range p.Spec.Containers {
				scan.Sources = append(scan.Sources, LogSource{Namespace: ns, Pod: p.Name, Container: ct.Name})
			}
		}
	}
	slices.SortFunc(scan.Sources, func(a, b LogSource) int {
		return strings.Compare(a.Namespace+"/"+a.Pod+"/"+a.Container, b.Namespace+"/"+b.Pod+"/"+b.Container)
	})
	if len(scan.Sources) > ErrorScanMaxContainers {
		scan.Failed = append(scan.Failed, fmt.Sprintf("%d containers not read: at most %d are", len(scan.Sources)-ErrorScanMaxContainers, ErrorScanMaxContainers))
		scan.Sources = scan.Sources[:ErrorScanMaxContainers]
	}
	m := oplogs.NewMiner(opts)
	var mu sync.Mutex
	now := time.Now()
	req := LogRequest{Since: since, Tail: -1, Keep: 1, Secrets: secrets, OnLine: func(l LogLine) {
		counted := m.Add(oplogs.Source{Workload: workload[l.Pod], Pod: l.Pod}, l.Text, now)
		mu.Lock()
		scan.Lines++
		if counted {
			scan.Counted++
		}
		mu.Unlock()
	}}
	// A few containers at a time: each is one stream through the API server.
	sem := make(chan struct{}, 8)
	var wg sync.WaitGroup
	for _, src := range scan.Sources {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			if err := c.streamSources(ctx, req, []LogSource{src}).Wait(); err != nil {
				mu.Lock()
				scan.Failed = append(scan.Failed, fmt.Sprintf("%s/%s: %v", src.Pod, src.Container, err))
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	slices.Sort(scan.Failed)
	scan.Templates = m.Templates()
	return scan, nil
}

// ErrorScanMaxContainers bounds the containers MineErrors reads.
var ErrorScanMaxContainers = 500

// workloadOf names a pod's workload from its owner: a ReplicaSet's pod is
// its Deployment's (the ReplicaSet's name less its hash), a StatefulSet's,
// DaemonSet's or Job's is theirs; a bare pod is itself.
func workloadOf(p *corev1.Pod) string {
	for _, o := range p.OwnerReferences {
		switch o.Kind {
		case "ReplicaSet":
			if i := strings.LastIndexByte(o.Name, '-'); i > 0 {
				return "deploy/" + o.Name[:i]
			}
			return "rs/" + o.Name
		case "StatefulSet":
			return "sts/" + o.Name
		case "DaemonSet":
			return "ds/" + o.Name
		case "Job":
			return "job/" + o.Name
		}
	}
	return "pod/" + p.Name
}

// ErrorKindsOptions say what FindErrorKinds reads and where it keeps the
// earlier runs.
type ErrorKindsOptions struct {
	// Since is how far back each container's log is read.
	Since time.Duration
	// Env names the environment: with the namespaces read it is the scope
	// under which the store keeps the templates.
	Env string
	// StateDir holds the store (oplogs.StorePath).
	StateDir string
	// Save records this run's templates, so that the next run's new kinds
	// are new since this one. A reader that looks often (the cockpit)
	// leaves it off: its NEW stays "new since the last recorded run".
	Save bool
	// Secrets are masked in every line read, beside what redact.String
	// masks anyway; Miner tunes the template miner.
	Secrets []string
	Miner   oplogs.Options
}

// ErrorKinds is a MineErrors run held against the runs recorded before
// it: `opsdeck logs errors`, the Health tab's panel and `maintain health`
// all read it.
type ErrorKinds struct {
	*ErrorScan
	Since time.Duration `json:"since_ns"`
	// New are the IDs of the templates no earlier run of this scope knew;
	// Previous is when that run was recorded (zero: none).
	New      []string  `json:"new"`
	Previous time.Time `json:"previous,omitzero"`
	// Saved says the templates were recorded for the next run.
	Saved bool `json:"saved"`
}

// IsNew reports whether the template with this ID is new since the
// previous run.
func (k *ErrorKinds) IsNew(id string) bool { return slices.Contains(k.New, id) }

// NewTemplates returns the templates new since the previous run, most
// frequent first.
func (k *ErrorKinds) NewTemplates() []oplogs.Template {
	var out []oplogs.Template
	for _, t := range k.Templates {
		if k.IsNew(t.ID) {
			out = append(out, t)
		}
	}
	return out
}

// ErrorKindsScope is the store's key for an environment's namespaces.
func ErrorKindsScope(env string, namespaces []string) string {
	return env + "/" + strings.Join(namespaces, ",")
}

// FindErrorKinds mines the error and warning templates of the last
// o.Since of the watched pods' logs (MineErrors), marks those no run
// recorded in the state dir knew, and with o.Save records this run. A
// store that cannot be read fails with an error wrapping
// oplogs.ErrUnreadableStore before any log is read. Like MineErrors it
// changes nothing in the cluster; the context must carry an identity.
func (c *Client) FindErrorKinds(ctx context.Context, o ErrorKindsOptions) (*ErrorKinds, error) {
	store, err := oplogs.LoadStore(oplogs.StorePath(o.StateDir))
	if err != nil {
		return nil, err
	}
	scan, err := c.MineErrors(ctx, o.Since, o.Secrets, o.Miner)
	if err != nil {
		return nil, err
	}
	scope := ErrorKindsScope(o.Env, scan.Namespaces)
	res := &ErrorKinds{ErrorScan: scan, Since: o.Since, Previous: store.Saved(scope), New: []string{}}
	for _, t := range store.Diff(scope, scan.Templates) {
		res.New = append(res.New, t.ID)
	}
	if o.Save {
		store.Record(scope, scan.Templates, time.Now())
		if err := store.Save(); err != nil {
			return res, fmt.Errorf("record the error templates: %w", err)
		}
		res.Saved = true
	}
	return res, nil
}
