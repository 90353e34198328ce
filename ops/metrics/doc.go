// Package metrics samples the watched systems on an interval and keeps a
// bounded history per series: Postgres, Redis and Kubernetes at the system
// level, Prometheus (PromQL from the config) at the application level and
// SQL queries from the config at the business level.
//
// Each source is a Sampler run by an Engine in its own goroutine, so a slow
// or failing source delays and fails only its own series. Every series keeps
// a fixed-size ring of points (window / interval), has a threshold from the
// config and a state judged by ops/health's Above and Below. Rates are the
// difference of two cumulative readings; a reading below the previous one is
// a counter reset (server restart, statistics reset) and counts from zero.
//
// The package returns plain values; the cockpit and `opsdeck metrics` render
// them. It imports no UI package.
package metrics
