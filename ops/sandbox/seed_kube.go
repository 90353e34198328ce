package sandbox

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// KubeSeedOptions sizes the sample cluster SeedKube writes.
type KubeSeedOptions struct {
	// Namespace of the application (default "stockapp"). It must not exist yet.
	Namespace string
	// Nodes is the number of nodes (default 6); the last one is NotReady
	// when there are at least two. Existing nodes of the same name are reused.
	Nodes int
	// ExtraPods adds that many healthy pods of an "analyzer" Deployment,
	// spread over the Ready nodes (10,000 on 50 nodes for the benchmark).
	ExtraPods int
	// Workers is the number of concurrent requests (default 32).
	Workers int
	// KubeletPort is every node's kubelet port (status.daemonEndpoints), the
	// sandbox's fake kubelet (KubeServer.Kubelet().Port()); 0 leaves it to
	// the API server's --kubelet-port, which StartKube sets to the same.
	KubeletPort int
}

// KubeSeedStats says what SeedKube wrote, for tests and the demo banner.
type KubeSeedStats struct {
	Namespace     string
	Nodes         int
	NotReadyNodes []string
	Pods          int
	// RunningReady counts pods Running with all containers ready.
	RunningReady int
	// CrashLoopPod, PendingPod and NotReadyPod are the seeded problem pods:
	// a worker in CrashLoopBackOff (14 restarts, last exit Error 1), an api
	// replica that cannot be scheduled, and the scheduler running on the
	// NotReady node (not ready). CompletedPod is a finished backup job pod.
	CrashLoopPod  string
	PendingPod    string
	NotReadyPod   string
	CompletedPod  string
	RestartedPods []string // pods with restarts (crash loop, redis OOMKilled)
	Events        int
	WarningEvents int
	// Objects counts every object created (nodes, workloads, pods, events...).
	Objects  int
	Duration time.Duration
}

// seedFieldManager marks what the seeder wrote.
const seedFieldManager = "opsdeck-sandbox"

// SeedKube writes the stock-analysis application into the cluster of cfg:
// a namespace with Deployments (api 3, worker 2, scheduler 1), StatefulSets
// (postgres, redis), Services, a ConfigMap, a Secret, CronJobs (backup,
// maintenance), a ServiceAccount; Nodes with status (one NotReady); Pods
// owned by ReplicaSets/StatefulSets/Jobs with status set through the status
// subresource; and recent Warning events. See KubeSeedStats for the problems
// it plants. ctx bounds the whole seeding.
func SeedKube(ctx context.Context, cfg *rest.Config, opts KubeSeedOptions) (KubeSeedStats, error) {
	start := time.Now()
	if cfg == nil {
		return KubeSeedStats{}, errors.New("SeedKube: nil rest.Config")
	}
	if opts.Namespace == "" {
		opts.Namespace = "stockapp"
	}
	if opts.Nodes <= 0 {
		opts.Nodes = 6
	}
	if opts.Workers <= 0 {
		opts.Workers = 32
	}
	rc := rest.CopyConfig(cfg)
	rc.QPS, rc.Burst = 5000, 10000
	rc.Timeout = 30 * time.Second
	rc.ContentType = "application/vnd.kubernetes.protobuf"
	rc.AcceptContentTypes = "application/vnd.kubernetes.protobuf,application/json"
	cs, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return KubeSeedStats{}, fmt.Errorf("SeedKube: client: %w", err)
	}
	s := &kubeSeeder{cs: cs, opts: opts, ns: opts.Namespace, now: time.Now()}
	s.stats.Namespace = opts.Namespace
	if err := s.run(ctx); err != nil {
		return s.stats, fmt.Errorf("seeding kubernetes namespace %s: %w", opts.Namespace, err)
	}
	s.stats.Objects = int(s.objects.Load())
	s.stats.Duration = time.Since(start)
	return s.stats, nil
}

type kubeSeeder struct {
	cs      kubernetes.Interface
	opts    KubeSeedOptions
	ns      string
	now     time.Time
	stats   KubeSeedStats
	objects atomic.Int64

	readyNodes   []string
	notReadyNode string
	podIndex     atomic.Int64
}

func (s *kubeSeeder) created() { s.objects.Add(1) }

func (s *kubeSeeder) run(ctx context.Context) error {
	if err := s.seedNodes(ctx); err != nil {
		return err
	}
	if err := s.seedNamespace(ctx); err != nil {
		return err
	}
	if err := s.seedApp(ctx); err != nil {
		return err
	}
	if s.opts.ExtraPods > 0 {
		if err := s.seedExtra(ctx); err != nil {
			return err
		}
	}
	return nil
}

// parallel runs fn(0..n-1) on the worker pool, stopping at the first error.
func (s *kubeSeeder) parallel(ctx context.Context, n int, fn func(context.Context, int) error) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(s.opts.Workers)
	for i := 0; i < n; i++ {
		if gctx.Err() != nil {
			break
		}
		g.Go(func() error { return fn(gctx, i) })
	}
	if err := g.Wait(); err != nil {
		return err
	}
	return ctx.Err()
}

// ---- nodes ----

func (s *kubeSeeder) seedNodes(ctx context.Context) error {
	names := make([]string, s.opts.Nodes)
	for i := range names {
		names[i] = fmt.Sprintf("node-%02d", i+1)
	}
	if len(names) >= 2 {
		s.notReadyNode = names[len(names)-1]
		s.readyNodes = names[:len(names)-1]
		s.stats.NotReadyNodes = []string{s.notReadyNode}
	} else {
		s.readyNodes = names
	}
	s.stats.Nodes = len(names)
	return s.parallel(ctx, len(names), func(ctx context.Context, i int) error {
		return s.seedNode(ctx, names[i], i, names[i] == s.notReadyNode)
	})
}

func (s *kubeSeeder) seedNode(ctx context.Context, name string, i int, notReady bool) error {
	node := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{
			Name: name,
			Labels: map[string]string{
				"kubernetes.io/hostname":         name,
				"kubernetes.io/os":               "linux",
				"kubernetes.io/arch":             "amd64",
				"node-role.kubernetes.io/worker": "",
				"topology.kubernetes.io/zone":    fmt.Sprintf("zone-%c", 'a'+i%3),
			},
		},
	}
	if notReady {
		node.Spec.Taints = []corev1.Taint{
			{Key: "node.kubernetes.io/unreachable", Effect: corev1.TaintEffectNoSchedule},
			{Key: "node.kubernetes.io/unreachable", Effect: corev1.TaintEffectNoExecute},
		}
	}
	got, err := s.cs.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{FieldManager: seedFieldManager})
	if apierrors.IsAlreadyExists(err) {
		return nil // shared by an earlier seeding: keep it as it is
	}
	if err != nil {
		return fmt.Errorf("creating node %s: %w", name, err)
	}
	s.created()
	pods := int64(110)
	if s.opts.ExtraPods > 0 {
		pods = 250
	}
	capacity := corev1.ResourceList{
		corev1.ResourceCPU:    resource.MustParse("4"),
		corev1.ResourceMemory: resource.MustParse("16Gi"),
		corev1.ResourcePods:   *resource.NewQuantity(pods, resource.DecimalSI),
	}
	allocatable := corev1.ResourceList{
		corev1.ResourceCPU:    resource.MustParse("3800m"),
		corev1.ResourceMemory: resource.MustParse("15872Mi"),
		corev1.ResourcePods:   *resource.NewQuantity(pods, resource.DecimalSI),
	}
	beat := metav1.NewTime(s.now.Add(-10 * time.Second))
	since := metav1.NewTime(s.now.Add(-30 * 24 * time.Hour))
	cond := func(t corev1.NodeConditionType, st corev1.ConditionStatus, reason, msg string) corev1.NodeCondition {
		return corev1.NodeCondition{Type: t, Status: st, Reason: reason, Message: msg, LastHeartbeatTime: beat, LastTransitionTime: since}
	}
	conds := []corev1.NodeCondition{
		cond(corev1.NodeMemoryPressure, corev1.ConditionFalse, "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
		cond(corev1.NodeDiskPressure, corev1.ConditionFalse, "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
		cond(corev1.NodePIDPressure, corev1.ConditionFalse, "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
		cond(corev1.NodeReady, corev1.ConditionTrue, "KubeletReady", "kubelet is posting ready status"),
	}
	if notReady {
		lost := metav1.NewTime(s.now.Add(-25 * time.Minute))
		for j := range conds {
			conds[j].Status, conds[j].Reason = corev1.ConditionUnknown, "NodeStatusUnknown"
			conds[j].Message = "Kubelet stopped posting node status."
			conds[j].LastHeartbeatTime, conds[j].LastTransitionTime = lost, lost
		}
	}
	got.Status = corev1.NodeStatus{
		Capacity:    capacity,
		Allocatable: allocatable,
		Conditions:  conds,
		Addresses: []corev1.NodeAddress{
			// Loopback: the API server reaches the node's kubelet there
			// (the sandbox's fake kubelet), and never anything else.
			{Type: corev1.NodeInternalIP, Address: nodeIP(name)},
			{Type: corev1.NodeHostName, Address: name},
		},
		DaemonEndpoints: corev1.NodeDaemonEndpoints{KubeletEndpoint: corev1.DaemonEndpoint{Port: int32(s.opts.KubeletPort)}},
		NodeInfo: corev1.NodeSystemInfo{
			KubeletVersion:          KubeVersion,
			OSImage:                 "Ubuntu 24.04.1 LTS",
			KernelVersion:           "6.8.0-45-generic",
			ContainerRuntimeVersion: "containerd://2.1.4",
			OperatingSystem:         "linux",
			Architecture:            "amd64",
		},
	}
	if _, err := s.cs.CoreV1().Nodes().UpdateStatus(ctx, got, metav1.UpdateOptions{FieldManager: seedFieldManager}); err != nil {
		return fmt.Errorf("setting status of node %s: %w", name, err)
	}
	return nil
}

// ---- namespace, config, services, workloads ----

func (s *kubeSeeder) seedNamespace(ctx context.Context) error {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: s.ns, Labels: map[string]string{"app.kubernetes.io/part-of": "stockapp"}}}
	if _, err := s.cs.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{FieldManager: seedFieldManager}); err != nil {
		if apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("namespace %s already exists — seed another namespace or a fresh server: %w", s.ns, err)
		}
		return fmt.Errorf("creating namespace %s: %w", s.ns, err)
	}
	s.created()
	co := metav1.CreateOptions{FieldManager: seedFieldManager}
	meta := func(name string) metav1.ObjectMeta {
		return metav1.ObjectMeta{Name: name, Namespace: s.ns, Labels: map[string]string{"app.kubernetes.io/part-of": "stockapp"}}
	}
	if _, err := s.cs.CoreV1().ServiceAccounts(s.ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: meta("stockapp")}, co); err != nil {
		return fmt.Errorf("creating service account: %w", err)
	}
	s.created()
	cm := &corev1.ConfigMap{ObjectMeta: meta("stockapp-config"), Data: map[string]string{
		"LOG_LEVEL": "info", "WORKER_CONCURRENCY": "8", "MARKET_DATA_REFRESH": "60s", "REDIS_DB": "0",
	}}
	if _, err := s.cs.CoreV1().ConfigMaps(s.ns).Create(ctx, cm, co); err != nil {
		return fmt.Errorf("creating config map: %w", err)
	}
	s.created()
	secret := &corev1.Secret{ObjectMeta: meta("stockapp-db"), Type: corev1.SecretTypeOpaque, StringData: map[string]string{
		"username": "stockapp", "password": "sandbox-only-not-a-secret",
	}}
	if _, err := s.cs.CoreV1().Secrets(s.ns).Create(ctx, secret, co); err != nil {
		return fmt.Errorf("creating secret: %w", err)
	}
	s.created()
	for _, svc := range []struct {
		name string
		port int32
	}{{"api", 8000}, {"postgres", 5432}, {"redis", 6379}} {
		obj := &corev1.Service{ObjectMeta: meta(svc.name), Spec: corev1.ServiceSpec{
			Selector: map[string]string{"app": svc.name},
			Ports:    []corev1.ServicePort{{Name: "tcp", Port: svc.port, TargetPort: intstr.FromInt32(svc.port)}},
		}}
		if _, err := s.cs.CoreV1().Services(s.ns).Create(ctx, obj, co); err != nil {
			return fmt.Errorf("creating service %s: %w", svc.name, err)
		}
		s.created()
	}
	for _, cj := range []struct{ name, schedule, cmd string }{
		{"backup", "0 2 * * *", "opsdeck backup --target postgres"},
		{"maintenance", "30 3 * * 0", "opsdeck maintain --vacuum-analyze"},
	} {
		obj := &batchv1.CronJob{ObjectMeta: meta(cj.name), Spec: batchv1.CronJobSpec{
			Schedule:          cj.schedule,
			ConcurrencyPolicy: batchv1.ForbidConcurrent,
			JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": cj.name}},
				Spec:       jobPodSpec(cj.name, cj.cmd),
			}}},
		}}
		if _, err := s.cs.BatchV1().CronJobs(s.ns).Create(ctx, obj, co); err != nil {
			return fmt.Errorf("creating cron job %s: %w", cj.name, err)
		}
		s.created()
	}
	return nil
}

func jobPodSpec(name, cmd string) corev1.PodSpec {
	return corev1.PodSpec{
		RestartPolicy:      corev1.RestartPolicyNever,
		ServiceAccountName: "stockapp",
		Containers: []corev1.Container{{
			Name: name, Image: "stockapp/ops:1.4.0", Command: strings.Fields(cmd),
			Resources: requests("100m", "128Mi"),
		}},
	}
}

func requests(cpu, mem string) corev1.ResourceRequirements {
	return corev1.ResourceRequirements{Requests: corev1.ResourceList{
		corev1.ResourceCPU: resource.MustParse(cpu), corev1.ResourceMemory: resource.MustParse(mem),
	}}
}

// app describes one workload of the sample application.
type app struct {
	name, image string
	replicas    int
	port        int32
	cpu, mem    string
	stateful    bool
}

var stockApps = []app{
	{name: "api", image: "stockapp/api:2.14.1", replicas: 3, port: 8000, cpu: "250m", mem: "512Mi"},
	{name: "worker", image: "stockapp/worker:2.14.1", replicas: 2, cpu: "500m", mem: "1Gi"},
	{name: "scheduler", image: "stockapp/scheduler:2.14.1", replicas: 1, cpu: "100m", mem: "256Mi"},
	{name: "postgres", image: "postgres:16.4", replicas: 1, port: 5432, cpu: "1", mem: "4Gi", stateful: true},
	{name: "redis", image: "redis:7.4", replicas: 1, port: 6379, cpu: "250m", mem: "1Gi", stateful: true},
}

func (a app) podSpec() corev1.PodSpec {
	c := corev1.Container{
		Name: a.name, Image: a.image, Resources: requests(a.cpu, a.mem),
		EnvFrom: []corev1.EnvFromSource{{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "stockapp-config"}}}},
	}
	if a.port > 0 {
		c.Ports = []corev1.ContainerPort{{Name: "tcp", ContainerPort: a.port}}
	}
	return corev1.PodSpec{ServiceAccountName: "stockapp", Containers: []corev1.Container{c}}
}

func (a app) template() corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": a.name}},
		Spec:       a.podSpec(),
	}
}

// owner is what a seeded pod is controlled by.
type owner struct {
	ref  metav1.OwnerReference
	name string // pod name prefix
}

func controllerRef(kind, apiVersion, name string, uid string) metav1.OwnerReference {
	t := true
	return metav1.OwnerReference{APIVersion: apiVersion, Kind: kind, Name: name, UID: types.UID(uid), Controller: &t, BlockOwnerDeletion: &t}
}

// createWorkload creates the Deployment+ReplicaSet or the StatefulSet of a
// and returns the owner of its pods.
func (s *kubeSeeder) createWorkload(ctx context.Context, a app) (owner, error) {
	co := metav1.CreateOptions{FieldManager: seedFieldManager}
	replicas := int32(a.replicas)
	sel := &metav1.LabelSelector{MatchLabels: map[string]string{"app": a.name}}
	labels := map[string]string{"app": a.name, "app.kubernetes.io/part-of": "stockapp"}
	if a.stateful {
		sts := &appsv1.StatefulSet{
			ObjectMeta: metav1.ObjectMeta{Name: a.name, Namespace: s.ns, Labels: labels},
			Spec:       appsv1.StatefulSetSpec{Replicas: &replicas, Selector: sel, ServiceName: a.name, Template: a.template()},
		}
		got, err := s.cs.AppsV1().StatefulSets(s.ns).Create(ctx, sts, co)
		if err != nil {
			return owner{}, fmt.Errorf("creating statefulset %s: %w", a.name, err)
		}
		s.created()
		got.Status = appsv1.StatefulSetStatus{ObservedGeneration: got.Generation, Replicas: replicas, ReadyReplicas: replicas,
			CurrentReplicas: replicas, UpdatedReplicas: replicas, AvailableReplicas: replicas}
		if _, err := s.cs.AppsV1().StatefulSets(s.ns).UpdateStatus(ctx, got, metav1.UpdateOptions{}); err != nil {
			return owner{}, fmt.Errorf("setting status of statefulset %s: %w", a.name, err)
		}
		return owner{ref: controllerRef("StatefulSet", "apps/v1", a.name, string(got.UID)), name: a.name}, nil
	}
	dep := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: a.name, Namespace: s.ns, Labels: labels},
		Spec:       appsv1.DeploymentSpec{Replicas: &replicas, Selector: sel, Template: a.template()},
	}
	got, err := s.cs.AppsV1().Deployments(s.ns).Create(ctx, dep, co)
	if err != nil {
		return owner{}, fmt.Errorf("creating deployment %s: %w", a.name, err)
	}
	s.created()
	hash := shortHash(s.ns+"/"+a.name, 10)
	rsName := a.name + "-" + hash
	tmpl := a.template()
	tmpl.Labels["pod-template-hash"] = hash
	rs := &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{
			Name: rsName, Namespace: s.ns,
			Labels:          map[string]string{"app": a.name, "pod-template-hash": hash},
			OwnerReferences: []metav1.OwnerReference{controllerRef("Deployment", "apps/v1", a.name, string(got.UID))},
		},
		Spec: appsv1.ReplicaSetSpec{Replicas: &replicas, Template: tmpl, Selector: &metav1.LabelSelector{
			MatchLabels: map[string]string{"app": a.name, "pod-template-hash": hash},
		}},
	}
	gotRS, err := s.cs.AppsV1().ReplicaSets(s.ns).Create(ctx, rs, co)
	if err != nil {
		return owner{}, fmt.Errorf("creating replicaset %s: %w", rsName, err)
	}
	s.created()
	return owner{ref: controllerRef("ReplicaSet", "apps/v1", rsName, string(gotRS.UID)), name: rsName}, nil
}

// setDeploymentStatus records the replica counts the seeded pods imply.
func (s *kubeSeeder) setDeploymentStatus(ctx context.Context, name string, replicas, ready int32) error {
	d, err := s.cs.AppsV1().Deployments(s.ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("reading deployment %s: %w", name, err)
	}
	d.Status = appsv1.DeploymentStatus{ObservedGeneration: d.Generation, Replicas: replicas, UpdatedReplicas: replicas,
		ReadyReplicas: ready, AvailableReplicas: ready, UnavailableReplicas: replicas - ready}
	if _, err := s.cs.AppsV1().Deployments(s.ns).UpdateStatus(ctx, d, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("setting status of deployment %s: %w", name, err)
	}
	return nil
}

// ---- pods ----

// podState is the status a seeded pod is given.
type podState int

const (
	podRunning      podState = iota // Running, all containers ready
	podCrashLoop                    // CrashLoopBackOff, 14 restarts, last exit Error 1
	podPending                      // unschedulable
	podNotReady                     // Running on the NotReady node, not ready
	podOOMRestarted                 // Running and ready, 2 restarts after OOMKilled
	podCompleted                    // Succeeded job pod
)

// podPlan is one pod to create.
type podPlan struct {
	name   string
	labels map[string]string
	owner  metav1.OwnerReference
	spec   corev1.PodSpec
	node   string
	state  podState
}

func (s *kubeSeeder) nextNode() string {
	if len(s.readyNodes) == 0 {
		return ""
	}
	i := s.podIndex.Add(1) - 1
	return s.readyNodes[int(i)%len(s.readyNodes)]
}

func (s *kubeSeeder) seedApp(ctx context.Context) error {
	var plans []podPlan
	deployReady := map[string][2]int32{}
	for _, a := range stockApps {
		o, err := s.createWorkload(ctx, a)
		if err != nil {
			return err
		}
		ready := int32(0)
		for r := 0; r < a.replicas; r++ {
			p := podPlan{labels: a.template().Labels, owner: o.ref, spec: a.podSpec(), state: podRunning, node: s.nextNode()}
			if a.stateful {
				p.name = fmt.Sprintf("%s-%d", a.name, r)
			} else {
				p.name = o.name + "-" + podSuffix(int(s.objects.Load())*31+r)
				p.labels = withLabel(p.labels, "pod-template-hash", strings.TrimPrefix(o.name, a.name+"-"))
			}
			switch {
			case a.name == "api" && r == 2:
				p.state, p.node = podPending, ""
				s.stats.PendingPod = p.name
			case a.name == "worker" && r == 1:
				p.state = podCrashLoop
				s.stats.CrashLoopPod = p.name
				s.stats.RestartedPods = append(s.stats.RestartedPods, p.name)
			case a.name == "scheduler" && s.notReadyNode != "":
				p.state, p.node = podNotReady, s.notReadyNode
				s.stats.NotReadyPod = p.name
			case a.name == "redis":
				p.state = podOOMRestarted
				s.stats.RestartedPods = append(s.stats.RestartedPods, p.name)
			}
			if p.state == podRunning || p.state == podOOMRestarted {
				ready++
			}
			plans = append(plans, p)
		}
		if !a.stateful {
			deployReady[a.name] = [2]int32{int32(a.replicas), ready}
		}
	}
	job, err := s.createBackupJob(ctx)
	if err != nil {
		return err
	}
	plans = append(plans, job)
	s.stats.CompletedPod = job.name

	uids := make([]types.UID, len(plans))
	if err := s.parallel(ctx, len(plans), func(ctx context.Context, i int) error {
		uid, err := s.createPod(ctx, plans[i])
		uids[i] = uid
		return err
	}); err != nil {
		return err
	}
	for name, counts := range deployReady {
		if err := s.setDeploymentStatus(ctx, name, counts[0], counts[1]); err != nil {
			return err
		}
	}
	byName := map[string]types.UID{}
	for i, p := range plans {
		byName[p.name] = uids[i]
		s.stats.Pods++
		if p.state == podRunning || p.state == podOOMRestarted {
			s.stats.RunningReady++
		}
	}
	return s.seedEvents(ctx, plans, byName)
}

func withLabel(m map[string]string, k, v string) map[string]string {
	out := make(map[string]string, len(m)+1)
	for a, b := range m {
		out[a] = b
	}
	out[k] = v
	return out
}

// createBackupJob creates last night's backup Job (owned by the backup
// CronJob) and returns the plan of its completed pod.
func (s *kubeSeeder) createBackupJob(ctx context.Context) (podPlan, error) {
	cj, err := s.cs.BatchV1().CronJobs(s.ns).Get(ctx, "backup", metav1.GetOptions{})
	if err != nil {
		return podPlan{}, fmt.Errorf("reading cron job backup: %w", err)
	}
	name := fmt.Sprintf("backup-%d", s.now.Add(-5*time.Hour).Unix()/60)
	job := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: s.ns,
			OwnerReferences: []metav1.OwnerReference{controllerRef("CronJob", "batch/v1", cj.Name, string(cj.UID))}},
		Spec: batchv1.JobSpec{Template: cj.Spec.JobTemplate.Spec.Template},
	}
	got, err := s.cs.BatchV1().Jobs(s.ns).Create(ctx, job, metav1.CreateOptions{FieldManager: seedFieldManager})
	if err != nil {
		return podPlan{}, fmt.Errorf("creating job %s: %w", name, err)
	}
	s.created()
	return podPlan{
		name:   name + "-" + podSuffix(7),
		labels: withLabel(got.Spec.Template.Labels, "app", "backup"),
		owner:  controllerRef("Job", "batch/v1", name, string(got.UID)),
		spec:   got.Spec.Template.Spec,
		node:   s.nextNode(),
		state:  podCompleted,
	}, nil
}

func (s *kubeSeeder) createPod(ctx context.Context, p podPlan) (types.UID, error) {
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: p.name, Namespace: s.ns, Labels: p.labels, OwnerReferences: []metav1.OwnerReference{p.owner}},
		Spec:       p.spec,
	}
	pod.Spec.NodeName = p.node
	got, err := s.cs.CoreV1().Pods(s.ns).Create(ctx, pod, metav1.CreateOptions{FieldManager: seedFieldManager})
	if err != nil {
		return "", fmt.Errorf("creating pod %s: %w", p.name, err)
	}
	s.created()
	s.setPodStatus(got, p.state)
	if _, err := s.cs.CoreV1().Pods(s.ns).UpdateStatus(ctx, got, metav1.UpdateOptions{FieldManager: seedFieldManager}); err != nil {
		return "", fmt.Errorf("setting status of pod %s: %w", p.name, err)
	}
	return got.UID, nil
}

// setPodStatus fills pod.Status as a kubelet would report state.
func (s *kubeSeeder) setPodStatus(pod *corev1.Pod, state podState) {
	t := func(ago time.Duration) metav1.Time { return metav1.NewTime(s.now.Add(-ago).Truncate(time.Second)) }
	started := t(72 * time.Hour)
	cond := func(ct corev1.PodConditionType, ok bool, reason, msg string) corev1.PodCondition {
		st := corev1.ConditionTrue
		if !ok {
			st = corev1.ConditionFalse
		}
		return corev1.PodCondition{Type: ct, Status: st, Reason: reason, Message: msg, LastTransitionTime: started}
	}
	c := pod.Spec.Containers[0]
	cs := corev1.ContainerStatus{
		Name: c.Name, Image: c.Image,
		ImageID:     "sha256:" + longHash(c.Image),
		ContainerID: "containerd://" + longHash(pod.Name),
		Ready:       true,
		Started:     ptrTo(true),
		State:       corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: started}},
	}
	st := &pod.Status
	st.Phase = corev1.PodRunning
	st.StartTime = &started
	if pod.Spec.NodeName != "" {
		st.HostIP = nodeIP(pod.Spec.NodeName)
		st.HostIPs = []corev1.HostIP{{IP: st.HostIP}}
		st.PodIP = podIP(int(s.podIndex.Add(1)))
		st.PodIPs = []corev1.PodIP{{IP: st.PodIP}}
	}
	ready := func(ok bool, reason, msg string) []corev1.PodCondition {
		return []corev1.PodCondition{
			cond(corev1.PodReadyToStartContainers, true, "", ""),
			cond(corev1.PodInitialized, true, "", ""),
			cond(corev1.PodReady, ok, reason, msg),
			cond(corev1.ContainersReady, ok, reason, msg),
			cond(corev1.PodScheduled, true, "", ""),
		}
	}
	st.Conditions = ready(true, "", "")
	switch state {
	case podCrashLoop:
		cs.Ready, cs.Started, cs.RestartCount = false, ptrTo(false), 14
		cs.State = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{
			Reason:  "CrashLoopBackOff",
			Message: fmt.Sprintf("back-off 5m0s restarting failed container=%s pod=%s_%s(%s)", c.Name, pod.Name, pod.Namespace, pod.UID),
		}}
		cs.LastTerminationState = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
			ExitCode: 1, Reason: "Error", StartedAt: t(3 * time.Minute), FinishedAt: t(150 * time.Second),
			ContainerID: "containerd://" + longHash(pod.Name+"-prev"),
		}}
		msg := "containers with unready status: [" + c.Name + "]"
		st.Conditions = ready(false, "ContainersNotReady", msg)
	case podNotReady:
		cs.Ready = false
		st.Conditions = ready(false, "ContainersNotReady", "containers with unready status: ["+c.Name+"]")
	case podOOMRestarted:
		cs.RestartCount = 2
		cs.State.Running.StartedAt = t(6 * time.Hour)
		cs.LastTerminationState = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
			ExitCode: 137, Reason: "OOMKilled", StartedAt: t(30 * time.Hour), FinishedAt: t(6*time.Hour + 5*time.Second),
			ContainerID: "containerd://" + longHash(pod.Name+"-prev"),
		}}
	case podCompleted:
		st.Phase = corev1.PodSucceeded
		start := t(5 * time.Hour)
		st.StartTime = &start
		cs.Ready, cs.Started = false, ptrTo(false)
		cs.State = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
			ExitCode: 0, Reason: "Completed", StartedAt: start, FinishedAt: t(4*time.Hour + 52*time.Minute),
			ContainerID: cs.ContainerID,
		}}
		st.Conditions = ready(false, "PodCompleted", "")
	case podPending:
		st.Phase = corev1.PodPending
		st.StartTime = nil
		nodes := len(s.readyNodes)
		if s.notReadyNode != "" {
			nodes++
		}
		msg := fmt.Sprintf("0/%d nodes are available: %d Insufficient memory", nodes, len(s.readyNodes))
		if s.notReadyNode != "" {
			msg = fmt.Sprintf("0/%d nodes are available: 1 node(s) had untolerated taint {node.kubernetes.io/unreachable: }, %d Insufficient memory", nodes, len(s.readyNodes))
		}
		msg += ". preemption: 0/" + fmt.Sprint(nodes) + " nodes are available: " + fmt.Sprint(nodes) + " No preemption victims found for incoming pod."
		sc := cond(corev1.PodScheduled, false, corev1.PodReasonUnschedulable, msg)
		sc.LastTransitionTime = t(40 * time.Minute)
		st.Conditions = []corev1.PodCondition{sc}
		return
	}
	st.ContainerStatuses = []corev1.ContainerStatus{cs}
}

// ---- extra pods (scale) ----

func (s *kubeSeeder) seedExtra(ctx context.Context) error {
	a := app{name: "analyzer", image: "stockapp/analyzer:2.14.1", replicas: s.opts.ExtraPods, cpu: "10m", mem: "32Mi"}
	o, err := s.createWorkload(ctx, a)
	if err != nil {
		return err
	}
	labels := withLabel(a.template().Labels, "pod-template-hash", strings.TrimPrefix(o.name, a.name+"-"))
	if err := s.parallel(ctx, a.replicas, func(ctx context.Context, i int) error {
		_, err := s.createPod(ctx, podPlan{
			name: o.name + "-" + podSuffix(1000+i), labels: labels, owner: o.ref,
			spec: a.podSpec(), node: s.nextNode(), state: podRunning,
		})
		return err
	}); err != nil {
		return err
	}
	s.stats.Pods += a.replicas
	s.stats.RunningReady += a.replicas
	return s.setDeploymentStatus(ctx, a.name, int32(a.replicas), int32(a.replicas))
}

// ---- events ----

type seedEvent struct {
	ns        string
	obj       corev1.ObjectReference
	typ       string
	reason    string
	msg       string
	component string
	host      string
	count     int32
	first     time.Duration // ago
	last      time.Duration // ago
}

func (s *kubeSeeder) seedEvents(ctx context.Context, plans []podPlan, uids map[string]types.UID) error {
	podRef := func(name string) corev1.ObjectReference {
		return corev1.ObjectReference{Kind: "Pod", APIVersion: "v1", Namespace: s.ns, Name: name, UID: uids[name]}
	}
	nodeOf := map[string]string{}
	var healthy string
	for _, p := range plans {
		nodeOf[p.name] = p.node
		if healthy == "" && p.state == podRunning {
			healthy = p.name
		}
	}
	var evs []seedEvent
	if n := s.stats.CrashLoopPod; n != "" {
		ref := podRef(n)
		ref.FieldPath = "spec.containers{worker}"
		evs = append(evs, seedEvent{ns: s.ns, obj: ref, typ: corev1.EventTypeWarning, reason: "BackOff",
			msg: "Back-off restarting failed container worker in pod " + n + "_" + s.ns + "(" + string(uids[n]) + ")", component: "kubelet",
			host: nodeOf[n], count: 57, first: 55 * time.Minute, last: 40 * time.Second})
	}
	if n := s.stats.PendingPod; n != "" {
		evs = append(evs, seedEvent{ns: s.ns, obj: podRef(n), typ: corev1.EventTypeWarning, reason: "FailedScheduling",
			msg: "0/" + fmt.Sprint(s.stats.Nodes) + " nodes are available: insufficient memory.", component: "default-scheduler",
			count: 12, first: 40 * time.Minute, last: 2 * time.Minute})
	}
	if n := s.stats.NotReadyPod; n != "" {
		evs = append(evs, seedEvent{ns: s.ns, obj: podRef(n), typ: corev1.EventTypeWarning, reason: "NodeNotReady",
			msg: "Node is not ready", component: "node-controller", count: 1, first: 24 * time.Minute, last: 24 * time.Minute})
		evs = append(evs, seedEvent{ns: metav1.NamespaceDefault,
			obj: corev1.ObjectReference{Kind: "Node", APIVersion: "v1", Name: s.notReadyNode, UID: types.UID(s.notReadyNode)},
			typ: corev1.EventTypeNormal, reason: "NodeNotReady", msg: "Node " + s.notReadyNode + " status is now: NodeNotReady",
			component: "node-controller", count: 1, first: 25 * time.Minute, last: 25 * time.Minute})
	}
	if healthy != "" {
		for i, e := range []struct{ reason, msg, comp string }{
			{"Scheduled", "Successfully assigned " + s.ns + "/" + healthy + " to " + nodeOf[healthy], "default-scheduler"},
			{"Pulled", "Container image already present on machine", "kubelet"},
			{"Created", "Created container: api", "kubelet"},
			{"Started", "Started container api", "kubelet"},
		} {
			ago := 50*time.Minute - time.Duration(i)*time.Second
			evs = append(evs, seedEvent{ns: s.ns, obj: podRef(healthy), typ: corev1.EventTypeNormal, reason: e.reason,
				msg: e.msg, component: e.comp, host: nodeOf[healthy], count: 1, first: ago, last: ago})
		}
	}
	co := metav1.CreateOptions{FieldManager: seedFieldManager}
	for _, e := range evs {
		ev := &corev1.Event{
			ObjectMeta:     metav1.ObjectMeta{Name: e.obj.Name + "." + shortHash(e.reason+e.obj.Name+s.ns, 16), Namespace: e.ns},
			InvolvedObject: e.obj,
			Type:           e.typ,
			Reason:         e.reason,
			Message:        e.msg,
			Source:         corev1.EventSource{Component: e.component, Host: e.host},
			Count:          e.count,
			FirstTimestamp: metav1.NewTime(s.now.Add(-e.first).Truncate(time.Second)),
			LastTimestamp:  metav1.NewTime(s.now.Add(-e.last).Truncate(time.Second)),
		}
		_, err := s.cs.CoreV1().Events(e.ns).Create(ctx, ev, co)
		if apierrors.IsAlreadyExists(err) && e.ns != s.ns {
			continue // the node event of an earlier seeding
		}
		if err != nil {
			return fmt.Errorf("creating event %s %s: %w", e.reason, e.obj.Name, err)
		}
		s.created()
		s.stats.Events++
		if e.typ == corev1.EventTypeWarning {
			s.stats.WarningEvents++
		}
	}
	return nil
}

// ---- names and addresses ----

// nameAlphabet is the alphabet of generated Kubernetes names (no vowels).
const nameAlphabet = "bcdfghjklmnpqrstvwxz2456789"

func shortHash(s string, n int) string {
	h := fnv.New64a()
	_, _ = h.Write([]byte(s))
	v := h.Sum64()
	b := make([]byte, n)
	for i := range b {
		b[i] = nameAlphabet[v%uint64(len(nameAlphabet))]
		v /= uint64(len(nameAlphabet))
		if v == 0 {
			v = h.Sum64() ^ uint64(i+1)*0x9e3779b97f4a7c15
		}
	}
	return string(b)
}

// podSuffix is a unique 5-character suffix for i < 27^5: a bijective
// scramble of i written in nameAlphabet.
func podSuffix(i int) string {
	const n = 27 * 27 * 27 * 27 * 27
	v := (uint64(i)*7919 + 12345) % n
	b := make([]byte, 5)
	for j := range b {
		b[j] = nameAlphabet[v%27]
		v /= 27
	}
	return string(b)
}

func longHash(s string) string {
	h := fnv.New64a()
	_, _ = h.Write([]byte(s))
	a := h.Sum64()
	_, _ = h.Write([]byte("#"))
	b := h.Sum64()
	return fmt.Sprintf("%016x%016x%016x%016x", a, b, a^b, a+b)
}

// nodeIP is every sandbox node's address: loopback, where the fake kubelet
// listens, so that the API server contacts nothing else.
func nodeIP(string) string { return "127.0.0.1" }

func podIP(i int) string {
	return fmt.Sprintf("10.%d.%d.%d", 244+i/(256*254), (i/254)%256, 1+i%254)
}

func ptrTo[T any](v T) *T { return &v }
