// Package monitoring renders monitoring as code from the opsdeck config:
// the Prometheus alert rules (with promtool unit tests) and scrape
// configuration with Kubernetes service discovery, the Alertmanager
// configuration (routes by severity and team, inhibition, receivers) and
// Grafana dashboards. The levels are the config's thresholds, the same the
// morning check and the cockpit judge by, and every alert links to its
// section of the monitoring runbook.
//
// It never prints; cmd/opsdeck/monitoring writes what Render returns.
package monitoring
