package kube

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"syscall"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

func forbidden(msg string) error {
	return &apierrors.StatusError{ErrStatus: metav1.Status{
		Status: metav1.StatusFailure, Code: 403, Reason: metav1.StatusReasonForbidden, Message: msg,
	}}
}

func TestClassify(t *testing.T) {
	refused := &url.Error{Op: "Get", URL: "https://10.1.2.3:6443/api/v1/nodes?limit=500",
		Err: &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}}
	timeout := &url.Error{Op: "Get", URL: "https://k8s.example:443/api/v1/pods",
		Err: fmt.Errorf("net/http: request canceled (Client.Timeout exceeded): %w", context.DeadlineExceeded)}
	tests := []struct {
		name string
		err  error
		kind ErrorKind
		want string
	}{
		{"nil", nil, KindNone, ""},
		{"forbidden pods", forbidden(`pods is forbidden: User "bob" cannot list resource "pods" in API group "" in the namespace "stockapp"`),
			KindForbidden, `user "bob" cannot list pods in namespace "stockapp" — ask for RBAC get/list/watch on pods, nodes, events`},
		{"forbidden nodes", forbidden(`nodes is forbidden: User "system:serviceaccount:ops:opsdeck" cannot watch resource "nodes" in API group "" at the cluster scope`),
			KindForbidden, `user "system:serviceaccount:ops:opsdeck" cannot watch nodes at the cluster scope — ask for RBAC`},
		{"forbidden odd message", apierrors.NewForbidden(schema.GroupResource{Resource: "pods"}, "x", errors.New("policy says no")),
			KindForbidden, "forbidden (403)"},
		{"unauthorized", apierrors.NewUnauthorized("Unauthorized"), KindUnauthorized, "rejected the credentials (401)"},
		{"not found", apierrors.NewNotFound(schema.GroupResource{Resource: "pods"}, "p"), KindNotFound, "not found"},
		{"refused", refused, KindUnreachable, "cannot reach API server 10.1.2.3:6443 — check kubernetes.kubeconfig/context, VPN"},
		{"timeout", timeout, KindUnreachable, "timed out talking to API server k8s.example:443"},
		{"wrapped refused", fmt.Errorf("listing: %w", refused), KindUnreachable, "10.1.2.3:6443"},
		{"canceled", context.Canceled, KindCanceled, "canceled"},
		{"tls", &url.Error{Op: "Get", URL: "https://h:1/", Err: errors.New("tls: failed to verify certificate: x509: certificate signed by unknown authority")}, KindTLS, "certificate-authority"},
		{"server timeout", apierrors.NewServerTimeout(schema.GroupResource{Resource: "pods"}, "list", 1), KindUnreachable, "overloaded"},
		{"other", errors.New("boom"), KindOther, "boom"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			kind, msg := Classify(tc.err)
			if kind != tc.kind || !strings.Contains(msg, tc.want) {
				t.Errorf("Classify = %s %q; want %s containing %q", kind, msg, tc.kind, tc.want)
			}
			explained := Explain(tc.err)
			if tc.err == nil {
				if explained != nil {
					t.Errorf("Explain(nil) = %v", explained)
				}
				return
			}
			if !errors.Is(explained, tc.err) {
				t.Error("Explain lost the original error")
			}
			if k2, m2 := Classify(explained); k2 != kind || m2 != msg {
				t.Errorf("Classify(Explain) = %s %q", k2, m2)
			}
			if Explain(explained) != explained {
				t.Error("Explain is not idempotent")
			}
		})
	}
	if !apierrors.IsForbidden(Explain(forbidden("x"))) {
		t.Error("apierrors.IsForbidden does not see through Explain")
	}
}
