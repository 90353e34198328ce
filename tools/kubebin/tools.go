//go:build tools

// Package kubebin pins the server binaries built by scripts/kube-test-bins.sh.
package kubebin

import (
	_ "go.etcd.io/etcd/server/v3"
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
)
