// Package tuitest holds fixtures for the cockpit's tests: a fixed clock, a
// fake cluster source with the sandbox's kinds of problems, and key helpers.
package tuitest

import (
	"context"
	"fmt"
	"github.com/opsdeck/opsdeck/ops/access/accesstest"
	"sync"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/opsdeck/opsdeck/ops/config"
	"github.com/opsdeck/opsdeck/ops/kube"
	"github.com/opsdeck/opsdeck/tui/common"
)

// Now is the fixed clock of every golden render.
var Now = time.Date(2026, 11, 25, 8, 30, 0, 0, time.UTC)

// Common returns a Common for an admin session with default config and the
// fixed clock.
func Common() *common.Common {
	return CommonTheme(config.DefaultTheme)
}

// CommonTheme is Common with the configuration's theme set to theme
// (config.ThemeAuto, ThemeDark or ThemeLight).
func CommonTheme(theme string) *common.Common {
	cfg := config.Default()
	cfg.Theme = theme
	c := common.New(accesstest.Admin(context.Background()), cfg)
	c.Now = func() time.Time { return Now }
	return c
}

// Key returns the key press for s: "enter", "esc", "tab", "shift+tab",
// "ctrl+c", "space", or a single printable character.
func Key(s string) tea.KeyPressMsg {
	switch s {
	case "enter":
		return tea.KeyPressMsg{Code: tea.KeyEnter}
	case "esc":
		return tea.KeyPressMsg{Code: tea.KeyEscape}
	case "tab":
		return tea.KeyPressMsg{Code: tea.KeyTab}
	case "shift+tab":
		return tea.KeyPressMsg{Code: tea.KeyTab, Mod: tea.ModShift}
	case "ctrl+c":
		return tea.KeyPressMsg{Code: 'c', Mod: tea.ModCtrl}
	case "up":
		return tea.KeyPressMsg{Code: tea.KeyUp}
	case "down":
		return tea.KeyPressMsg{Code: tea.KeyDown}
	case "left":
		return tea.KeyPressMsg{Code: tea.KeyLeft}
	case "right":
		return tea.KeyPressMsg{Code: tea.KeyRight}
	case "backspace":
		return tea.KeyPressMsg{Code: tea.KeyBackspace}
	case "space":
		return tea.KeyPressMsg{Code: tea.KeySpace, Text: " "}
	}
	r := []rune(s)[0]
	return tea.KeyPressMsg{Code: r, Text: s}
}

// Plain strips escape sequences, for golden files that read as text.
func Plain(s string) string { return ansi.Strip(s) }

// Cluster is a fake cluster source: rows set by the test, changes fired on demand.
type Cluster struct {
	mu      sync.Mutex
	pods    []kube.PodRow
	nodes   []kube.NodeRow
	errs    map[string]error
	changes chan struct{}
}

// NewCluster returns the sandbox-like cluster: six nodes (one NotReady) and
// pods of api, worker, scheduler, postgres and redis with a CrashLoopBackOff
// worker, a Pending api replica and a restarted redis, plus extra healthy pods.
func NewCluster(extraPods int) *Cluster {
	c := &Cluster{changes: make(chan struct{}, 1), errs: map[string]error{}}
	for i := 1; i <= 6; i++ {
		n := kube.NodeRow{
			Name: fmt.Sprintf("node-%d", i), Ready: true, Status: "Ready", Roles: "worker",
			CPUAllocatable: "3800m", MemAllocatable: "14.6Gi", PodsAllocatable: 110, PodsCount: 3,
			Age: 30 * 24 * time.Hour, Version: "v1.37.2",
		}
		if i == 1 {
			n.Roles = "control-plane"
		}
		if i == 6 {
			n.Ready, n.Status, n.Problem, n.Reason = false, "NotReady", true, "KubeletNotReady"
		}
		c.nodes = append(c.nodes, n)
	}
	add := func(name, status, ready string, restarts int, node string, problem bool, reason string) {
		c.pods = append(c.pods, kube.PodRow{
			Namespace: "stockapp", Name: name, Ready: ready, ReadyOK: ready[0] == ready[2], Status: status,
			Phase: "Running", Restarts: restarts, MaxRestarts: restarts, Age: 3 * 24 * time.Hour,
			Node: node, Problem: problem, Reason: reason,
		})
	}
	add("api-7d9f8c6b5-2xk4p", "Running", "1/1", 0, "node-2", false, "")
	add("api-7d9f8c6b5-9wz7q", "Running", "1/1", 0, "node-3", false, "")
	add("api-7d9f8c6b5-m4n8r", "Pending", "0/1", 0, "", true, "Unschedulable: 0/6 nodes have enough cpu")
	add("worker-5c8d7f9b4-h2j6k", "Running", "1/1", 1, "node-4", false, "")
	add("worker-5c8d7f9b4-q8t3v", "CrashLoopBackOff", "0/1", 14, "node-5", true, "back-off restarting failed container")
	add("scheduler-6b7c8d9e0-x1y2z", "Running", "0/1", 0, "node-6", true, "not ready")
	add("postgres-0", "Running", "1/1", 0, "node-2", false, "")
	add("redis-0", "Running", "1/1", 4, "node-3", false, "")
	for i := range extraPods {
		add(fmt.Sprintf("analyzer-%05d", i), "Running", "1/1", 0, fmt.Sprintf("node-%d", 2+i%4), false, "")
	}
	return c
}

// Pods implements the Health tab's source.
func (c *Cluster) Pods() []kube.PodRow {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]kube.PodRow(nil), c.pods...)
}

// Nodes implements the Health tab's source.
func (c *Cluster) Nodes() []kube.NodeRow {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]kube.NodeRow(nil), c.nodes...)
}

// Errors implements the Health tab's source.
func (c *Cluster) Errors() map[string]error {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string]error{}
	for k, v := range c.errs {
		out[k] = v
	}
	return out
}

// SetError makes a source fail.
func (c *Cluster) SetError(source string, err error) {
	c.mu.Lock()
	c.errs[source] = err
	c.mu.Unlock()
}

// Changes implements the Health tab's source.
func (c *Cluster) Changes() <-chan struct{} { return c.changes }

// PodDetail implements the Health tab's source.
func (c *Cluster) PodDetail(ns, name string) (kube.PodDetail, bool) {
	for _, p := range c.Pods() {
		if p.Namespace == ns && p.Name == name {
			d := kube.PodDetail{PodRow: p, IP: "10.0.0.7", QOSClass: "Burstable"}
			d.Conditions = []kube.Condition{{Type: "Ready", Status: "False", Reason: "ContainersNotReady"}}
			d.Containers = []kube.ContainerDetail{{
				Name: "worker", Image: "stockapp/worker:1.8.2", Restarts: p.Restarts, State: "Waiting",
				StateReason: p.Status, LastTermination: &kube.Termination{Reason: "Error", ExitCode: 1, FinishedAt: Now.Add(-2 * time.Minute)},
			}}
			d.Events = []kube.EventRow{{Type: "Warning", Reason: "BackOff", Count: 57, Age: time.Minute, Message: "Back-off restarting failed container worker"}}
			return d, true
		}
	}
	return kube.PodDetail{}, false
}

// NodeDetail implements the Health tab's source.
func (c *Cluster) NodeDetail(name string) (kube.NodeDetail, bool) {
	for _, n := range c.Nodes() {
		if n.Name == name {
			return kube.NodeDetail{NodeRow: n, Conditions: []kube.Condition{{Type: "Ready", Status: "Unknown", Reason: "NodeStatusUnknown", Message: "Kubelet stopped posting node status."}}}, true
		}
	}
	return kube.NodeDetail{}, false
}
