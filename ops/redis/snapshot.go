package redis

import (
	"context"
	"fmt"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// Snapshot is what one INFO shows about a Redis server. Counters are
// cumulative since the server started or CONFIG RESETSTAT.
type Snapshot struct {
	CollectedAt time.Time     `json:"collected_at"`
	Took        time.Duration `json:"took_ns"`

	// Version is redis_version, e.g. "7.0.15".
	Version string `json:"version"`
	// Mode is redis_mode: "standalone", "cluster" or "sentinel".
	Mode string `json:"mode"`
	// Role is "master" or "slave" (a replica).
	Role   string        `json:"role"`
	Uptime time.Duration `json:"uptime_ns"`

	UsedMemory     int64 `json:"used_memory"`
	UsedMemoryRSS  int64 `json:"used_memory_rss"`
	UsedMemoryPeak int64 `json:"used_memory_peak"`
	// MaxMemory is the maxmemory setting in bytes; 0 means unlimited.
	MaxMemory       int64  `json:"maxmemory"`
	MaxMemoryPolicy string `json:"maxmemory_policy"`
	// FragmentationRatio is used_memory_rss / used_memory as INFO reports it.
	FragmentationRatio float64 `json:"fragmentation_ratio"`

	KeyspaceHits   int64 `json:"keyspace_hits"`
	KeyspaceMisses int64 `json:"keyspace_misses"`
	// HitRatePercent is hits / (hits + misses) × 100, in 0..100. It is 0
	// and NoLookupsYet is true when no key was looked up yet.
	HitRatePercent float64 `json:"hit_rate_percent"`
	NoLookupsYet   bool    `json:"no_lookups_yet"`

	EvictedKeys         int64 `json:"evicted_keys"`
	ExpiredKeys         int64 `json:"expired_keys"`
	RejectedConnections int64 `json:"rejected_connections"`
	OpsPerSec           int64 `json:"instantaneous_ops_per_sec"`
	TotalCommands       int64 `json:"total_commands_processed"`

	ConnectedClients int64 `json:"connected_clients"`
	BlockedClients   int64 `json:"blocked_clients"`
	// MaxClients is the maxclients setting, 0 when INFO does not show it.
	MaxClients int64 `json:"maxclients"`

	// Keyspace has one entry per database holding keys.
	Keyspace  []KeyspaceDB `json:"keyspace"`
	TotalKeys int64        `json:"total_keys"`

	// Notes list fields INFO did not report (managed services hide some).
	Notes []string `json:"notes,omitempty"`
}

// MemoryPercent returns used_memory as a percentage of maxmemory; ok is
// false when maxmemory is 0 (unlimited).
func (s Snapshot) MemoryPercent() (pct float64, ok bool) {
	if s.MaxMemory <= 0 {
		return 0, false
	}
	return float64(s.UsedMemory) / float64(s.MaxMemory) * 100, true
}

// TakeSnapshot runs INFO (its default sections: server, clients, memory,
// stats, replication, keyspace and more) under ctx and reads the facts.
// Failures are *Error values; see Classify.
func TakeSnapshot(ctx context.Context, client *goredis.Client) (Snapshot, error) {
	start := time.Now()
	text, err := client.Info(ctx).Result()
	if err != nil {
		return Snapshot{}, wrapErr(err, targetOf(client.Options()))
	}
	s := SnapshotFromInfo(ParseInfo(text))
	s.CollectedAt = start
	s.Took = time.Since(start)
	return s, nil
}

// SnapshotFromInfo reads a Snapshot from parsed INFO. Fields INFO lacks
// stay zero and are named in Notes.
func SnapshotFromInfo(info Info) Snapshot {
	s := Snapshot{}
	var missing []string
	str := func(section, field string, dst *string) {
		if v, ok := info.Get(section, field); ok {
			*dst = v
		} else {
			missing = append(missing, field)
		}
	}
	num := func(section, field string, dst *int64) {
		if v, ok := info.Int(section, field); ok {
			*dst = v
		} else {
			missing = append(missing, field)
		}
	}
	var uptime int64
	str("server", "redis_version", &s.Version)
	str("server", "redis_mode", &s.Mode)
	num("server", "uptime_in_seconds", &uptime)
	s.Uptime = time.Duration(uptime) * time.Second
	str("replication", "role", &s.Role)

	num("memory", "used_memory", &s.UsedMemory)
	num("memory", "used_memory_rss", &s.UsedMemoryRSS)
	num("memory", "used_memory_peak", &s.UsedMemoryPeak)
	num("memory", "maxmemory", &s.MaxMemory)
	str("memory", "maxmemory_policy", &s.MaxMemoryPolicy)
	if f, ok := info.Float("memory", "mem_fragmentation_ratio"); ok {
		s.FragmentationRatio = f
	} else {
		missing = append(missing, "mem_fragmentation_ratio")
	}

	num("stats", "keyspace_hits", &s.KeyspaceHits)
	num("stats", "keyspace_misses", &s.KeyspaceMisses)
	num("stats", "evicted_keys", &s.EvictedKeys)
	num("stats", "expired_keys", &s.ExpiredKeys)
	num("stats", "rejected_connections", &s.RejectedConnections)
	num("stats", "instantaneous_ops_per_sec", &s.OpsPerSec)
	num("stats", "total_commands_processed", &s.TotalCommands)

	num("clients", "connected_clients", &s.ConnectedClients)
	num("clients", "blocked_clients", &s.BlockedClients)
	s.MaxClients, _ = info.Int("clients", "maxclients") // only newer servers report it

	s.Keyspace = info.Keyspace()
	for _, db := range s.Keyspace {
		s.TotalKeys += db.Keys
	}
	if lookups := s.KeyspaceHits + s.KeyspaceMisses; lookups > 0 {
		s.HitRatePercent = float64(s.KeyspaceHits) / float64(lookups) * 100
	} else {
		s.NoLookupsYet = true
	}
	if len(missing) > 0 {
		s.Notes = append(s.Notes, fmt.Sprintf("INFO did not report %v; those values are shown as 0", missing))
	}
	return s
}
