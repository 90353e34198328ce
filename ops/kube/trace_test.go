package kube_test

import (
	"context"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/opsdeck/opsdeck/ops/kube"
	"github.com/opsdeck/opsdeck/ops/logging"
	"github.com/opsdeck/opsdeck/ops/logging/loggingtest"
)

func TestTraceRecordsRequests(t *testing.T) {
	c := adminClient(t)
	rec := loggingtest.Capture(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := kube.FetchFacts(ctx, c, nil); err != nil {
		t.Fatal(err)
	}
	// A client built from the traced client's config records each request
	// once.
	again, err := kube.NewClientForConfig(c.RESTConfig(), "again", nil, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := again.Clientset().CoreV1().Namespaces().Get(ctx, "no-such-namespace-7", metav1.GetOptions{}); err == nil {
		t.Fatal("found a namespace that does not exist")
	}
	nodes := rec.Find(t, "kube request", logging.KeyClass, logging.ClassKube, logging.KeyTarget, c.Host(),
		logging.KeyMethod, "GET", logging.KeyPath, "/api/v1/nodes", logging.KeyHTTPStatus, "200", logging.KeyOutcome, "ok")
	if len(nodes) != 1 {
		t.Fatalf("nodes requests = %v\n%s", nodes, rec)
	}
	if _, ok := nodes[0][logging.KeyDuration]; !ok {
		t.Errorf("request record without its duration: %v", nodes[0])
	}
	if n := len(rec.Find(t, "kube request", logging.KeyPath, "/api/v1/namespaces/no-such-namespace-7", logging.KeyHTTPStatus, "404", logging.KeyOutcome, "error")); n != 1 {
		t.Errorf("%d records of the missing namespace, want 1:\n%s", n, rec)
	}
	rc := c.RESTConfig()
	for _, s := range []string{rc.BearerToken, string(rc.KeyData)} {
		if s != "" && strings.Contains(rec.String(), s) {
			t.Errorf("the trace holds a credential:\n%s", rec)
		}
	}
}
