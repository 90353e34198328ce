package bundle

import (
	"context"
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/opsdeck/opsdeck/ops/config"
	"github.com/opsdeck/opsdeck/ops/health"
	"github.com/opsdeck/opsdeck/ops/kube"
)

// The cluster's parts.
const (
	partUnhealthy = "kubernetes/unhealthy-pods.txt"
	partEvents    = "kubernetes/warning-events.txt"
	partNodes     = "kubernetes/nodes.txt"
)

// maxEvents bounds the events listed per namespace.
const maxEvents = 10_000

// logStreams is how many logs are read at once.
const logStreams = 8

// podInfo is an unhealthy pod: what the logs need of it.
type podInfo struct {
	namespace, name string
	scheduled       bool
	// containers with whether each restarted (so has a previous log).
	containers []containerInfo
}

type containerInfo struct {
	name      string
	restarted bool
}

// kubeSource reads the cluster: the kubernetes source lists, judges and
// describes; the logs source reads the logs of the pods it found.
type kubeSource struct {
	cfg    *config.Config
	client *kube.Client
	opts   Options
	// pods carries the unhealthy pods to the logs source; closed without
	// a value when they could not be listed.
	pods chan []podInfo

	once      sync.Once
	clientErr error
}

// kube returns the client, made from the config once when not given.
func (k *kubeSource) kube() (*kube.Client, error) {
	k.once.Do(func() {
		if k.client == nil {
			k.client, k.clientErr = kube.NewClient(k.cfg.Kubernetes, k.cfg.Timeouts.Check)
		}
	})
	return k.client, k.clientErr
}

// run lists the pods (keeping the unhealthy ones, judged as the Health
// tab judges them), the namespaces' events and the nodes.
func (k *kubeSource) run(ctx context.Context, out *emitter) error {
	sent := false
	defer func() {
		if !sent {
			close(k.pods)
		}
	}()
	client, err := k.kube()
	if err != nil {
		return err
	}
	namespaces := client.Namespaces()
	now := time.Now()
	var (
		wg              sync.WaitGroup
		nodes           []*corev1.Node
		nodesErr        error
		events          []*corev1.Event
		eventErrs       []error
		nodesT, eventsT time.Duration
		mu              sync.Mutex
	)
	wg.Go(func() {
		t0 := time.Now()
		nodes, nodesErr = kube.ListNodes(ctx, client)
		nodesT = time.Since(t0)
	})
	for _, ns := range namespaces {
		wg.Go(func() {
			t0 := time.Now()
			es, err := kube.ListEvents(ctx, client, ns, false, maxEvents)
			mu.Lock()
			defer mu.Unlock()
			events = append(events, es...)
			if err != nil {
				eventErrs = append(eventErrs, err)
			}
			eventsT = max(eventsT, time.Since(t0))
		})
	}
	t0 := time.Now()
	var rows []kube.PodRow
	pods, podsErr := kube.WalkPods(ctx, client, namespaces, func(p *corev1.Pod) bool {
		row := kube.NewPodRow(p, now)
		if health.PodStatus(row, k.cfg.Thresholds) == health.OK {
			return false
		}
		rows = append(rows, row)
		return true
	})
	podsT := time.Since(t0)
	wg.Wait()

	// The logs need only the pods: they start now.
	infos := make([]podInfo, 0, min(len(pods), maxPods))
	for _, p := range pods[:min(len(pods), maxPods)] {
		infos = append(infos, newPodInfo(p))
	}
	k.pods <- infos
	sent = true

	out.Put(partUnhealthy, unhealthyText(rows, k.cfg.Thresholds, len(pods) > maxPods), podsT, podsErr)
	for _, p := range pods[:min(len(pods), maxPods)] {
		d := kube.NewPodDetail(p, events, now)
		out.Put(podDir(p.Namespace, p.Name)+"describe.txt", describePod(d, health.PodStatus(d.PodRow, k.cfg.Thresholds)), podsT, nil)
	}
	out.Put(partEvents, warningsText(events, now, len(events) >= maxEvents*len(namespaces)), eventsT, errors.Join(eventErrs...))
	if nodesErr != nil {
		out.Put(partNodes, nil, nodesT, nodesErr)
	} else {
		out.Put(partNodes, nodesText(nodes, now), nodesT, nil)
	}
	return nil
}

func newPodInfo(p *corev1.Pod) podInfo {
	info := podInfo{namespace: p.Namespace, name: p.Name, scheduled: p.Spec.NodeName != ""}
	restarted := map[string]bool{}
	for _, cs := range append(slices.Clone(p.Status.InitContainerStatuses), p.Status.ContainerStatuses...) {
		restarted[cs.Name] = cs.RestartCount > 0 || cs.LastTerminationState.Terminated != nil
	}
	for _, c := range p.Spec.InitContainers {
		info.containers = append(info.containers, containerInfo{c.Name, restarted[c.Name]})
	}
	for _, c := range p.Spec.Containers {
		info.containers = append(info.containers, containerInfo{c.Name, restarted[c.Name]})
	}
	return info
}

// podDir is the directory of a pod's parts.
func podDir(ns, name string) string { return path.Join("kubernetes", "pods", ns, name) + "/" }

// runLogs reads the logs, and previous logs of the containers that
// restarted, of the unhealthy pods, logStreams at a time: the last
// log_lines lines of each, at most maxLogBytes, every line redacted.
func (k *kubeSource) runLogs(ctx context.Context, out *emitter) error {
	var pods []podInfo
	select {
	case p, ok := <-k.pods:
		if !ok {
			return errors.New("the pods could not be listed (see " + partUnhealthy + ")")
		}
		pods = p
	case <-ctx.Done():
		return fmt.Errorf("the pods were not listed in time: %w", ctx.Err())
	}
	// The logs' own bound, from now.
	ctx, cancel := context.WithTimeout(ctx, k.opts.SourceTimeout)
	defer cancel()
	client, err := k.kube()
	if err != nil {
		return err
	}
	secrets := k.cfg.Secrets()
	sem := make(chan struct{}, logStreams)
	var wg sync.WaitGroup
	for _, p := range pods {
		for _, c := range p.containers {
			for _, previous := range []bool{false, true} {
				if previous && !c.restarted {
					continue
				}
				name := podDir(p.namespace, p.name) + c.name + ".log"
				if previous {
					name = podDir(p.namespace, p.name) + c.name + ".previous.log"
				}
				if !p.scheduled {
					out.Put(name, []byte("no log: the pod is not on a node yet\n"), 0, nil)
					continue
				}
				wg.Go(func() {
					select {
					case sem <- struct{}{}:
					case <-ctx.Done():
						out.Put(name, nil, 0, fmt.Errorf("not read: %w", ctx.Err()))
						return
					}
					defer func() { <-sem }()
					t0 := time.Now()
					body, err := readLog(ctx, client, kube.LogSource{Namespace: p.namespace, Pod: p.name, Container: c.name}, previous, k.opts, secrets)
					out.Put(name, body, time.Since(t0), err)
				})
			}
		}
	}
	wg.Wait()
	return nil
}

// readLog reads one container's log: its last opts.LogLines lines, cut to
// the last maxLogBytes.
func readLog(ctx context.Context, client *kube.Client, src kube.LogSource, previous bool, opts Options, secrets []string) ([]byte, error) {
	req := kube.LogRequest{Previous: previous, Tail: int64(opts.LogLines), Keep: opts.LogLines, Secrets: secrets, Timeout: opts.SourceTimeout}
	s, err := client.StreamSources(ctx, req, []kube.LogSource{src})
	if err != nil {
		return nil, err
	}
	err = s.Wait()
	lines := s.Ring().Lines()
	var b strings.Builder
	size := 0
	first := len(lines)
	for first > 0 && size+len(lines[first-1].Text)+1 <= maxLogBytes {
		first--
		size += len(lines[first].Text) + 1
	}
	if first > 0 {
		fmt.Fprintf(&b, "[opsdeck: %d earlier lines left out: the log is cut at %d MiB]\n", first, maxLogBytes>>20)
	}
	b.Grow(size)
	for _, l := range lines[first:] {
		b.WriteString(l.Text)
		b.WriteByte('\n')
	}
	return []byte(b.String()), err
}

// unhealthyText is the table of the unhealthy pods.
func unhealthyText(rows []kube.PodRow, th config.Thresholds, cut bool) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "%d pods not healthy (judged as the Health tab judges them)", len(rows))
	if cut {
		fmt.Fprintf(&b, "; the first %d are described and their logs read", maxPods)
	}
	b.WriteString("\n\n")
	tw := tabwriter.NewWriter(&b, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "NAMESPACE\tNAME\tVERDICT\tREADY\tSTATUS\tRESTARTS\tAGE\tNODE\tREASON")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\n", r.Namespace, r.Name, health.PodStatus(r, th), r.Ready, r.Status,
			r.Restarts, kube.HumanAge(r.Age), orNone(r.Node), oneLine(r.Reason))
	}
	tw.Flush()
	return []byte(b.String())
}

func orNone(s string) string {
	if s == "" {
		return "<none>"
	}
	return s
}
